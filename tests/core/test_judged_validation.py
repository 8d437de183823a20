"""Validation does not count accepted proposal pixels at class edges: there the labels are the
proposing model's own edges, and scored on them that model beats every candidate."""

from __future__ import annotations

import json

import numpy as np

from segstudio.core.compare import decide, score_images
from segstudio.core.training.cache import ACCEPTED_CODE, INDEX_FILE, TrainingCache
from segstudio.core.training.validation import JudgedImage, judged_target

PAINTED, ACCEPTED = 3, 2


def squares(size: int, corners, side: int, grow: int = 0) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    for y, x in corners:
        mask[max(0, y - grow):y + side + grow, max(0, x - grow):x + side + grow] = 1
    return mask


def test_accepted_pixels_near_a_class_edge_are_left_out_and_painted_ones_kept():
    target = squares(32, [(10, 10)], 10)
    target[:, 30:] = 255  # unreviewed: its border is not a class edge
    accepted = np.ones(target.shape, bool)
    accepted[10:20, 10:12] = False  # a person painted the square's left side
    judged = judged_target(target, accepted)
    assert (judged[10:20, 10:12] == 1).all()  # painted edge pixels all count
    assert (judged[9, 12:20] == 255).all() and (judged[8, 12:20] == 255).all()  # accepted, 1-2 px outside
    assert (judged[7, 12:20] == 0).all()  # 3 px out: counts
    assert (judged[14:16, 14:16] == 1).all()  # the inside counts
    assert (judged[:, 27:30] == 0).all()  # beside the unreviewed band: no class edge there
    assert (judged[:, 30:] == 255).all()


def test_a_candidate_that_finds_what_the_proposer_missed_wins_even_where_its_edges_were_accepted():
    """The proposing model drew its squares 2 px too fat and missed four others, which the
    person painted; they accepted the fat edges. A candidate with exact squares and all eight
    found is better, and only the judged target says so."""
    size, side = 128, 12
    drawn, missed = [(8, 8), (8, 72), (72, 8), (72, 72)], [(8, 40), (40, 8), (40, 104), (104, 40)]
    truth = squares(size, drawn + missed, side)
    proposer = squares(size, drawn, side, grow=2)
    label = np.maximum(proposer, squares(size, missed, side))  # what the person marked done
    painted = squares(size, missed, side, grow=3).astype(bool)
    source = np.where(painted, PAINTED, ACCEPTED)
    label = np.where(painted, truth, label).astype(np.uint8)

    class Image:
        def __init__(self, target):
            self.image_id, self.target = 1, target

    def verdict(target):
        image = Image(target)
        new = score_images(lambda _: truth, [image], 2)
        old = score_images(lambda _: proposer, [image], 2)
        return decide(new, old)

    assert not verdict(label).better  # every accepted fat edge counts against the candidate
    assert verdict(judged_target(label, source == ACCEPTED)).better


def test_the_cache_marks_accepted_pixels_and_rebuilds_an_index_of_the_older_format(reviewed_shapes_project):
    project = reviewed_shapes_project
    cache = TrainingCache(project, 3)
    image_id = cache.refresh()[0]
    label = project.read_label(image_id)
    source = np.full_like(label, ACCEPTED)
    source[:8, :8] = PAINTED
    project.write_masks(image_id, label, source)
    cache.refresh()
    entry = cache.entries[image_id]
    assert (entry.part("weight")[8:, 8:] == ACCEPTED_CODE).all()
    (judged,) = [JudgedImage(image) for image in cache.readable([entry])]
    assert (judged.target == judged_target(label, source == ACCEPTED)).all()
    assert (judged.target[:8, :8] == label[:8, :8]).all()

    index = cache.folder / INDEX_FILE
    older = json.loads(index.read_text())
    del older["format"]  # written before accepted pixels had their own code
    index.write_text(json.dumps(older))
    assert sorted(TrainingCache(project, 3).refresh()) == sorted(cache.entries)
