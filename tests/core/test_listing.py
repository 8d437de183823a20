"""The image list's queries and the review navigation at scale: LIMIT 1 lookups give the answers
the old full scans gave, Python's sort key is the SQL order, counts follow every change."""

from __future__ import annotations

import random

import pytest

from segstudio.bench.review import make_project
from segstudio.core.project import Status
from segstudio.core.project.listing import ORDERS, ListFilter
from segstudio.core.workspace import review

UNREVIEWED = (Status.NEW, Status.IN_PROGRESS)


def old_next_unreviewed(project, current_id):
    """The full scan this replaced (issue 15), kept here as the reference."""
    records = [r for r in project.images(status=list(UNREVIEWED), order="name") if r.id != current_id]
    if not records:
        return None
    current = project.image(current_id).name.lower() if current_id is not None else ""
    return next((r.id for r in records if r.name.lower() > current), records[0].id)


def old_most_uncertain(project, current_id):
    records = project.images(status=list(UNREVIEWED), order="name")
    scored = sorted((r for r in records if r.uncertainty is not None), key=lambda r: (-r.uncertainty, r.name))
    ranked = scored + [r for r in records if r.uncertainty is None]
    return next((r.id for r in ranked if r.id != current_id), None)


@pytest.fixture
def project(tmp_path):
    with make_project(tmp_path / "p", 400, seed=3) as p:
        yield p


def test_limit_one_navigation_answers_as_the_full_scan_did(project):
    rng = random.Random(5)
    ids = project.image_ids()
    for step in range(150):
        current = rng.choice(ids + [None])
        assert review.next_unreviewed(project, current) == old_next_unreviewed(project, current)
        assert review.next_most_uncertain(project, current) == old_most_uncertain(project, current)
        changed = rng.choice(ids)  # the project changes between lookups, as it does while reviewing
        if step % 2:
            project.set_status(changed, rng.choice(list(Status)))
        else:
            project.set_uncertainty(changed, rng.choice([None, 0.5, round(rng.random(), 2)]))


def test_navigation_runs_dry_when_nothing_is_left(project):
    for image_id in project.image_ids():
        project.set_status(image_id, Status.DONE)
    assert review.next_unreviewed(project, None) is None and review.next_most_uncertain(project, None) is None
    last = project.image_ids()[7]
    project.set_status(last, Status.NEW)
    assert review.next_unreviewed(project, last) is None and review.next_unreviewed(project, None) == last


def test_images_of_the_same_name_are_each_visited(tmp_path):
    with make_project(tmp_path / "p", 6, seed=1) as project:
        with project._tx() as conn:
            conn.execute("UPDATE images SET name = 'same.png', status = 'new'")
        ids = sorted(project.image_ids())
        seen, current = [], ids[0]
        for _ in ids[1:]:
            current = review.next_unreviewed(project, current)
            seen.append(current)
        assert seen == ids[1:]  # the old scan skipped every other image called same.png


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_the_python_sort_key_is_the_sql_order(project, order):
    with project._tx() as conn:  # names SQLite's NOCASE and Python's lower() disagree about
        for image_id, name in zip(project.image_ids()[:6], ["Ärger.png", "ärger.png", "Zebra.png", "apple.png",
                                                            "émile.png", "_under.png"]):
            conn.execute("UPDATE images SET name = ? WHERE id = ?", (name, image_id))
    for status, search in ((None, None), ("new", None), (None, "ar"), (["done", "skipped"], "1")):
        listing = ListFilter.of(status, None, search, order)
        ids = project.image_ids(listing)
        assert ids == [r.id for r in project.images(status=status, search=search, order=order)]
        rows = project.image_rows(project.image_ids())
        kept = sorted((r for r in rows.values() if listing.matches(r)), key=listing.sort_key)
        assert [r.id for r in kept] == ids


def test_the_status_counts_follow_every_change(project, tmp_path):
    rng = random.Random(2)
    for _ in range(50):
        project.set_status(rng.choice(project.image_ids()), rng.choice(list(Status)))
    project.remove_image(project.image_ids()[0])
    project.add_images([tmp_path / "p" / "images" / "shared_0.png"])  # the bench rows carry made-up checksums
    truth = {s.value: 0 for s in Status}
    for record in project.images():
        truth[record.status.value] += 1
    assert project.status_counts() == truth
    assert review.review_counts(project) == (truth["done"], sum(truth.values()))
