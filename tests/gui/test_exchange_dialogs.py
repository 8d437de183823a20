"""The export and import dialogs, driven with real clicks on a tiny project."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from core.test_formats_data import CLASSES, make_project
from segstudio.core.formats import ExportOptions, export_dataset
from segstudio.core.progress import drive
from segstudio.core.project import Project
from segstudio.gui.exchange_dialogs import ExportDialog, ImportDialog
from segstudio.gui.state import AppState


@pytest.fixture
def state(tmp_path):
    state = AppState()
    state.project = make_project(tmp_path, count=4)
    yield state
    state.project.close()


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_export_dialog_writes_the_chosen_formats_in_the_background(qtbot, state, tmp_path):
    dialog = ExportDialog(state)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.format_boxes["coco"].setChecked(True)
    dialog.split_combo.setCurrentIndex(1)
    assert dialog.ratios_edit.isEnabled()
    dialog.out_edit.setText(str(tmp_path / "out"))
    _click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.start_button.isEnabled(), timeout=30_000)
    assert "exported 4 images" in dialog.status.text()
    assert (tmp_path / "out" / "voc" / "README.md").is_file() and (tmp_path / "out" / "coco" / "README.md").is_file()
    assert dialog.progress.value() == dialog.progress.maximum() == 4


def _gated(generator_function, reached: threading.Event, gate: threading.Event):
    """The real generator, held after its first event until `gate` opens: the test decides
    what happens while a step is under way instead of racing the worker thread."""

    def gated(*args, **kwargs):
        steps = generator_function(*args, **kwargs)
        yield next(steps)
        reached.set()
        assert gate.wait(30)
        return (yield from steps)

    return gated


def test_cancelling_an_export_leaves_no_folder(qtbot, state, tmp_path, monkeypatch):
    from segstudio.gui import exchange_dialogs

    reached, gate = threading.Event(), threading.Event()
    monkeypatch.setattr(exchange_dialogs, "export_dataset", _gated(export_dataset, reached, gate))
    dialog = ExportDialog(state)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.out_edit.setText(str(tmp_path / "out"))
    _click(qtbot, dialog.start_button)
    assert reached.wait(30)  # the export is inside its second step
    assert dialog.cancel_button.text() == "Cancel"
    _click(qtbot, dialog.cancel_button)
    gate.set()
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.start_button.isEnabled(), timeout=30_000)
    # The export saw the stop itself and returned its report: the result wins, and says so.
    assert dialog.status.text() == "export cancelled; nothing was written"
    assert not (tmp_path / "out").exists()
    assert [p for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_finished_export_is_never_reported_cancelled(qtbot, state, tmp_path, monkeypatch):
    """Cancel pressed after the last step: the export's result stands."""
    from segstudio.gui import exchange_dialogs

    def whole_export(*args, **kwargs):
        return (yield from _drain(export_dataset(*args, **kwargs)))

    def _drain(steps):
        events = []
        try:
            while True:
                events.append(next(steps))
        except StopIteration as done:
            yield from events
            reached.set()
            assert gate.wait(30)
            return done.value

    reached, gate = threading.Event(), threading.Event()
    monkeypatch.setattr(exchange_dialogs, "export_dataset", whole_export)
    dialog = ExportDialog(state)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.out_edit.setText(str(tmp_path / "out"))
    _click(qtbot, dialog.start_button)
    assert reached.wait(30)  # everything is written; the result is about to come back
    _click(qtbot, dialog.cancel_button)
    gate.set()
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.start_button.isEnabled(), timeout=30_000)
    assert "exported 4 images" in dialog.status.text()
    assert (tmp_path / "out" / "README.md").is_file()


def test_import_dialog_previews_the_mapping_and_imports_with_the_edited_one(qtbot, state, tmp_path):
    drive(export_dataset(state.project, tmp_path / "masks", ExportOptions(formats=("masks",))))
    (tmp_path / "masks" / "masks" / "img_001.png").write_bytes(b"not a png")
    target_state = AppState()
    target_state.project = Project.create(tmp_path / "target", CLASSES[:2])
    dialog = ImportDialog(target_state)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("masks"))
    dialog.path_edit.setText(str(tmp_path / "masks"))
    _click(qtbot, dialog.preview_button)
    cells = [[dialog.table.item(r, c).text() for c in range(3)] for r in range(dialog.table.rowCount())]
    assert cells == [["background", "background", "same name"], ["cell", "cell", "same name"],
                     ["nucleus", "nucleus", "new class"]]
    assert target_state.project.images() == []  # the preview wrote nothing

    dialog.table.item(2, 1).setText("cell")
    assert dialog.table.item(2, 2).text() == "mapped"
    with qtbot.waitSignal(target_state.images_changed, timeout=30_000):
        _click(qtbot, dialog.start_button)
    assert "imported 3 images" in dialog.status.text()
    assert dialog.problems.count() == 1 and "img_001.png" in dialog.problems.item(0).text()
    project = target_state.project
    assert project.class_names() == ["background", "cell"] and len(project.images()) == 3
    assert all((project.read_label(r.id) == 1).sum() > 0 for r in project.images())
    project.close()


def test_export_from_the_file_menu_includes_the_strokes_just_painted(opened, qtbot, tmp_path):
    from gui_helpers import key, stroke
    from PIL import Image

    window = opened
    key(qtbot, window, Qt.Key.Key_B)
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 20), (30, 20)])  # still only in memory / the journal
    qtbot.waitUntil(lambda: "open_ExportDialog" in {a.objectName() for a in window.menus["&File"].actions()})
    next(a for a in window.menus["&File"].actions() if a.objectName() == "open_ExportDialog").trigger()
    (dialog,) = window.findChildren(ExportDialog)
    dialog.format_boxes["voc"].setChecked(False)
    dialog.format_boxes["masks"].setChecked(True)
    dialog.images_combo.setCurrentIndex(1)  # all images with labels: nothing is done yet
    dialog.out_edit.setText(str(tmp_path / "out"))
    _click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: not dialog.busy() and dialog.start_button.isEnabled(), timeout=30_000)
    assert "exported 1 images" in dialog.status.text()
    (mask_path,) = (tmp_path / "out" / "masks").glob("*.png")
    assert (np.array(Image.open(mask_path))[20, 10:31] == 1).all()
