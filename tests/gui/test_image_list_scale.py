"""The image list at scale: one changed image changes one row (seen through the model's own
signals), the order after any change is the order the database gives, the last image is looked up by id."""

from __future__ import annotations

import random

import pytest

from segstudio.bench.review import make_project
from segstudio.core.project import Status
from segstudio.gui.image_list import ImageListModel


class Signals:
    """Every structural signal of a QAbstractItemModel, recorded."""

    def __init__(self, model):
        self.seen = []
        model.dataChanged.connect(lambda a, b, _roles=(): self.seen.append(("changed", a.row(), b.row())))
        model.modelReset.connect(lambda: self.seen.append(("reset",)))
        model.rowsInserted.connect(lambda _p, a, b: self.seen.append(("inserted", a, b)))
        model.rowsRemoved.connect(lambda _p, a, b: self.seen.append(("removed", a, b)))
        model.layoutChanged.connect(lambda *_: self.seen.append(("layout",)))


@pytest.fixture
def project(tmp_path):
    with make_project(tmp_path / "p", 300, seed=4) as p:
        yield p


def test_a_status_change_updates_that_row_only(qapp, project):
    model = ImageListModel()
    model.set_project(project)
    signals = Signals(model)
    image_id = model.ids[17]
    project.set_status(image_id, Status.DONE if model.records[17].status != Status.DONE else Status.NEW)
    model.update_image(image_id)
    assert signals.seen == [("changed", 17, 17)]
    assert model.records[17].status == project.image(image_id).status


@pytest.mark.parametrize("order", ["name", "status", "uncertainty"])
@pytest.mark.parametrize("status", [None, "new"])
def test_rows_move_where_a_fresh_read_puts_them(qapp, project, order, status):
    model = ImageListModel()
    model.filters.update(order=order, status=status)
    model.set_project(project)
    signals = Signals(model)
    rng = random.Random(9)
    for step in range(60):
        image_id = rng.choice(project.image_ids())
        if step % 2:
            project.set_status(image_id, rng.choice(list(Status)))
        else:
            project.set_uncertainty(image_id, rng.choice([None, round(rng.random(), 1)]))
        model.update_image(image_id)
        assert model.ids == project.image_ids(model.listing)
        assert all(model.row_of(i) == row for row, i in enumerate(model.ids[:50]))
    assert ("reset",) not in signals.seen and ("layout",) not in signals.seen
    assert all(kind == "changed" or a == b for kind, a, b in signals.seen)  # one row at a time


def test_the_window_updates_one_row_when_the_person_marks_done(opened, qtbot):
    from gui_helpers import settle

    model = opened.image_list.model
    signals = Signals(model)
    current = opened.state.image_id
    opened.actions.done.trigger()
    settle(qtbot, opened)
    row = model.row_of(current)
    assert ("reset",) not in signals.seen and ("changed", row, row) in signals.seen
    assert model.records[row].status == Status.DONE and opened.state.image_id != current
    assert opened.review.counter.text() == "1 / 3 done"
