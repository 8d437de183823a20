"""The Qt-free workspace: open, switch, close, review, status, classes and settings, with real
projects on disk and the typed events a listener sees."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segstudio.core.errors import ProjectError, SaveError
from segstudio.core.project import IGNORE, Project, Source, Status
from segstudio.core.workspace import (
    ClassesChanged, DocumentReplaced, HistoryChanged, ProjectClosed, ProjectOpened, SettingChanged, StatusChanged,
    Workspace,
)


def _images(folder, names=("a.png", "b.png", "c.png")):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        pixels = np.full((24, 32, 3), 30 + 40 * i, np.uint8)
        pixels[0, 0] = i  # unique files
        Image.fromarray(pixels).save(folder / name)
    return folder


@pytest.fixture
def workspace(tmp_path):
    ws = Workspace()
    seen = []
    ws.subscribe(seen.append)
    ws.seen = seen
    ws.create(tmp_path / "project", ["background", "cell", "other"], [_images(tmp_path / "pictures")])
    yield ws
    ws.close()


def ids(ws):
    return {r.name: r.id for r in ws.project.images()}


def _propose(ws, image_id):
    """A model's proposal on the left half of an image, written like inference does."""
    label = np.full((24, 32), IGNORE, np.uint8)
    source = np.zeros((24, 32), np.uint8)
    label[:, :16], source[:, :16] = 1, Source.PROPOSAL
    ws.project.write_masks(image_id, label, source)


def test_create_opens_the_project_and_says_so(workspace, tmp_path):
    assert workspace.project.root == tmp_path / "project"
    assert sorted(ids(workspace)) == ["a.png", "b.png", "c.png"]
    assert [type(e) for e in workspace.seen] == [ProjectOpened]
    assert workspace.document is None and workspace.review_counts() == (0, 3)


def test_a_failed_create_or_open_leaves_the_open_project_alone(workspace, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("mine")
    with pytest.raises(ProjectError):
        workspace.create(tmp_path / "full", ["a", "b"])
    with pytest.raises(ProjectError, match="not a SegStudio project"):
        workspace.open(tmp_path / "full")
    assert workspace.project is not None and workspace.project.root == tmp_path / "project"
    assert not any(isinstance(e, ProjectClosed) for e in workspace.seen)


def test_switching_project_closes_the_old_one_after_the_new_one_opened(workspace, tmp_path):
    Project.create(tmp_path / "second").close()
    workspace.open_image(ids(workspace)["a.png"])
    workspace.document.paint_segment((2, 2), (10, 2), 1, 1)
    workspace.open(tmp_path / "second")
    kinds = [type(e) for e in workspace.seen]
    assert kinds.index(ProjectClosed) < len(kinds) - 1 and kinds[-1] is ProjectOpened
    assert workspace.project.root == tmp_path / "second" and workspace.document is None
    with Project.open(tmp_path / "project", readonly=True) as old:  # the edit was folded on the way out
        assert (old.read_label(ids_of(old)["a.png"])[2, 2:11] == 1).all()


def ids_of(project):
    return {r.name: r.id for r in project.images()}


def test_open_switch_and_close_images(workspace):
    a, b = ids(workspace)["a.png"], ids(workspace)["b.png"]
    workspace.open_image(a)
    workspace.document.paint_segment((1, 1), (5, 1), 1, 2)
    assert workspace.project.image(a).status == Status.IN_PROGRESS  # the first stroke starts it
    workspace.open_image(b)
    replaced = [e for e in workspace.seen if isinstance(e, DocumentReplaced)]
    assert [e.image_id for e in replaced] == [a, b] and workspace.image_id == b
    assert workspace.image.display.shape == (24, 32, 3)
    workspace.close()
    assert workspace.project is None and isinstance(workspace.seen[-1], ProjectClosed)


def test_review_navigation_walks_unreviewed_images_and_ranks_by_uncertainty(workspace):
    a, b, c = (ids(workspace)[n] for n in ("a.png", "b.png", "c.png"))
    workspace.open_image(a)
    assert workspace.next_unreviewed() == b
    workspace.project.set_uncertainty(c, 0.9)
    workspace.project.set_uncertainty(b, 0.1)
    assert workspace.most_uncertain() == c
    workspace.project.set_status(b, Status.DONE)
    workspace.open_image(c)
    assert workspace.next_unreviewed() == a  # wraps, passing the done one
    workspace.project.set_status(a, Status.SKIPPED)
    assert workspace.next_unreviewed() is None and workspace.most_uncertain() is None


def test_mark_done_is_one_undoable_step_with_the_accepted_proposals(workspace):
    a = ids(workspace)["a.png"]
    _propose(workspace, a)
    workspace.open_image(a)
    workspace.mark_done()
    assert workspace.project.image(a).status == Status.DONE and workspace.review_counts() == (1, 3)
    assert (workspace.document.source[:, :16] == Source.ACCEPTED).all()
    workspace.undo()
    assert workspace.project.image(a).status == Status.NEW
    assert (workspace.document.source[:, :16] == Source.PROPOSAL).all()
    workspace.redo()
    assert workspace.project.image(a).status == Status.DONE
    assert (workspace.document.source[:, :16] == Source.ACCEPTED).all()


def test_undo_crosses_back_to_the_image_just_marked_done(workspace):
    a, b = ids(workspace)["a.png"], ids(workspace)["b.png"]
    _propose(workspace, a)
    workspace.open_image(a)
    workspace.document.paint_segment((20, 2), (25, 2), 1, 2)
    workspace.mark_done()
    workspace.open_image(workspace.next_unreviewed())
    assert workspace.image_id == b
    workspace.undo()  # nothing to undo on b: back to a, and its done is taken back
    assert workspace.image_id == a
    assert workspace.project.image(a).status == Status.IN_PROGRESS
    assert (workspace.document.source[:, :16] == Source.PROPOSAL).all()
    assert workspace.document.label[2, 22] == 2  # the stroke before it stays
    history = [e for e in workspace.seen if isinstance(e, HistoryChanged)][-1]
    assert history.steps[history.done - 1] != "accept" and history.done == 1


def test_set_back_and_skip_with_a_reason_are_undoable(workspace):
    a = ids(workspace)["a.png"]
    workspace.open_image(a)
    workspace.mark_done()  # nothing proposed: the status alone is the step
    workspace.set_status(Status.IN_PROGRESS)
    workspace.skip("out of focus")
    assert workspace.project.image(a).status == Status.SKIPPED
    assert workspace.skip_reason(a) == "out of focus"
    changes = [e for e in workspace.seen if isinstance(e, StatusChanged)]
    assert [(e.old, e.new) for e in changes] == [(Status.NEW, Status.DONE), (Status.DONE, Status.IN_PROGRESS),
                                                (Status.IN_PROGRESS, Status.SKIPPED)]
    assert changes[-1].reason == "out of focus"
    for expected in (Status.IN_PROGRESS, Status.DONE, Status.NEW):
        workspace.undo()
        assert workspace.project.image(a).status == expected
    assert workspace.skip_reason(a) == ""


def test_class_usage_and_removal_count_unsaved_edits_and_renumber(workspace):
    a = ids(workspace)["a.png"]
    workspace.open_image(a)
    workspace.document.paint_segment((2, 2), (9, 2), 0, 1)  # 8 pixels of "cell", only in memory
    workspace.document.paint_segment((2, 5), (5, 5), 0, 2)  # 4 of "other"
    assert workspace.class_usage(1) == (8, 1)
    workspace.remove_class(1)
    assert workspace.project.class_names() == ["background", "other"]
    assert any(isinstance(e, ClassesChanged) for e in workspace.seen)
    assert (workspace.document.label[2, 2:10] == IGNORE).all() and (workspace.document.label[5, 2:6] == 1).all()
    workspace.edit_classes(lambda project: project.add_class("debris"))
    assert workspace.project.class_names()[-1] == "debris"


def test_settings_are_kept_in_the_project_and_announced(workspace, tmp_path):
    workspace.set_setting("architecture", "unet")
    assert workspace.setting("architecture") == "unet" and workspace.setting("missing", 3) == 3
    assert SettingChanged("architecture", "unet") in workspace.seen
    workspace.close()
    workspace.open(tmp_path / "project")
    assert workspace.setting("architecture") == "unet"


def test_a_listener_can_unsubscribe(workspace):
    later = []
    stop = workspace.subscribe(later.append)
    workspace.open_image(ids(workspace)["a.png"])
    stop()
    workspace.open_image(ids(workspace)["b.png"])
    assert [e.image_id for e in later if isinstance(e, DocumentReplaced)] == [ids(workspace)["a.png"]]


def test_a_failed_save_keeps_the_project_open(workspace):
    a = ids(workspace)["a.png"]
    workspace.open_image(a)
    workspace.document.paint_segment((2, 2), (9, 2), 0, 1)
    labels = workspace.project.labels_dir
    labels.rename(labels.with_name("labels-away"))
    labels.write_bytes(b"")  # a file where the folder was: folding fails
    with pytest.raises(SaveError):
        workspace.close()
    assert workspace.project is not None
    labels.unlink()
    labels.with_name("labels-away").rename(labels)


def test_adding_images_names_the_files_that_failed_and_why(workspace, tmp_path):
    broken = tmp_path / "more" / "broken.png"
    _images(tmp_path / "more", names=("x.png",))  # a.png again: a duplicate
    Image.fromarray(np.full((24, 32, 3), 222, np.uint8)).save(tmp_path / "more" / "d.png")
    broken.write_bytes(b"not a png")
    report = workspace.add_images([tmp_path / "more"])
    assert len(report.added) == 1 and len(report.failed) == 1
    assert report.summary().startswith("1 added, 1 duplicates skipped, 1 failed: broken.png (")
    assert workspace.review_counts() == (0, 4)
