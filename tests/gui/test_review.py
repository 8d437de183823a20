"""The review flow and never losing work: switching images, done, drops, closing, failed saves."""

from __future__ import annotations

import shutil
import threading

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from gui_helpers import IGNORE, key, make_image, settle, stroke, wait_for_masks
from segstudio.core.project import Project, Source, Status


def record_mask_writers(project) -> list[threading.Thread]:
    """The threads that write masks into labels/ from now on; the real write still happens."""
    writers = []
    real_write = project.write_masks

    def write_masks(*args, **kwargs):
        writers.append(threading.current_thread())
        return real_write(*args, **kwargs)

    project.write_masks = write_masks
    return writers


def test_switching_images_saves_and_coming_back_shows_the_edit(opened, qtbot, project_root):
    window = opened
    first = window.state.image_id
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    assert window.state.image_id != first
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())  # folded into labels/
    assert window.state.project.image(first).status == Status.IN_PROGRESS
    key(qtbot, window, Qt.Key.Key_Left)
    settle(qtbot, window)
    assert window.state.image_id == first
    assert (window.state.document.label[10, 10:31] == 1).all()


def test_mark_done_accepts_proposals_and_moves_on(window, project_root, qtbot):
    with Project.open(project_root) as project:
        first = project.images()[0]
        label = np.full((first.height, first.width), IGNORE, np.uint8)
        label[:20] = 1
        source = np.where(label == 1, Source.PROPOSAL, Source.NONE).astype(np.uint8)
        project.write_masks(first.id, label, source)
    assert window.open_project(project_root)
    settle(qtbot, window)
    assert window.state.image_id == first.id
    key(qtbot, window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, window)
    assert window.state.image_id != first.id  # on to the next unreviewed image
    assert window.state.project.image(first.id).status == Status.DONE
    wait_for_masks(qtbot, window, first.id, lambda source: (source[:20] == Source.ACCEPTED).all(), source=True)
    assert window.status.currentMessage() == f"{first.name} is done. Ctrl+Z takes it back."
    assert window.review.counter.text() == "1 / 3 done"
    for record in window.state.project.images():
        window.state.project.set_status(record.id, Status.DONE)
    current = window.state.image_id
    window.actions.next_uncertain.trigger()
    assert window.state.image_id == current and "No other image" in window.status.currentMessage()


def test_dropping_a_folder_adds_its_images(opened, tmp_path, qtbot):
    window = opened
    extra = tmp_path / "dropped"
    extra.mkdir()
    for seed in (10, 11):
        make_image(extra / f"extra_{seed}.png", seed=seed)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(extra))])
    center = QPointF(window.rect().center())
    enter = QDragEnterEvent(center.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    # QApplication delivers drops only inside a real drag session, so the event goes straight in.
    window.dropEvent(QDropEvent(center, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert len(window.state.project.images()) == 5
    assert window.image_list.model.rowCount() == 5


def test_close_and_reopen_from_the_welcome_page_goes_on_at_the_last_image(opened, project_root, qtbot):
    window = opened
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    last = window.state.image_id
    key(qtbot, window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.state.project is None
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.recent.count() == 1
    window.welcome.recent.itemActivated.emit(window.welcome.recent.item(0))
    settle(qtbot, window)
    assert window.state.project is not None and window.state.document is not None
    assert window.state.image_id == last != window.image_list.model.records[0].id  # not the first image


def test_a_failing_journal_write_keeps_the_person_on_the_image(opened, qtbot):
    window = opened
    first = window.state.image_id
    window.brush_size.setValue(3)
    journal = window.state.project.journal_dir
    shutil.rmtree(journal, ignore_errors=True)
    journal.write_text("not a folder")  # every journal write now fails, even as root
    stroke(qtbot, window, [(10, 10), (30, 10)])
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    assert window.state.image_id == first  # the edit, only in memory, is not left behind
    assert window.message_bar.kind == "error"
    assert "could not" in window.message_bar.text().lower() or "cannot" in window.message_bar.text().lower()
    assert (window.state.document.label[10, 10:31] == 1).all()
    journal.unlink()
    journal.mkdir()
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    assert window.state.image_id != first
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())


def test_a_failing_fold_is_shown_and_the_edit_waits_in_the_journal(opened, qtbot):
    window = opened
    first = window.state.image_id
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    labels = window.state.project.root / "labels"
    shutil.rmtree(labels)
    labels.write_text("not a folder")  # every write below labels/ now fails, even as root
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    assert window.state.image_id != first  # the edit is safe in the journal: the person moves on
    qtbot.waitUntil(lambda: window.status.autosave.text().startswith("Not saved"), timeout=10_000)
    assert window.message_bar.kind == "error" and "could not be saved" in window.message_bar.text()
    key(qtbot, window, Qt.Key.Key_Left)
    settle(qtbot, window)
    assert window.state.image_id == first
    assert (window.state.document.label[10, 10:31] == 1).all()  # opened from the journal
    labels.unlink()
    labels.mkdir()
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())
    qtbot.waitUntil(lambda: window.message_bar.kind == "info", timeout=10_000)


def test_folds_run_on_the_autosave_thread_and_closing_folds_the_rest(opened, qtbot, project_root):
    """A 16k mask takes seconds to write: the GUI thread must never be the one writing it."""
    window = opened
    project = window.state.project
    writers = record_mask_writers(project)
    first = window.state.image_id
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    key(qtbot, window, Qt.Key.Key_N)
    settle(qtbot, window)
    second = window.state.image_id
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())
    assert writers and all(thread is not threading.main_thread() for thread in writers)
    stroke(qtbot, window, [(10, 20), (30, 20)])
    window.close()  # the open image's edit, not yet folded, goes in before the project closes
    with Project.open(project_root) as reopened:
        assert (reopened.read_label(second)[20, 10:31] == 1).all()
        assert not list(reopened.journal_dir.iterdir())


def test_closing_the_window_with_a_failing_save_asks_first(opened, qtbot):
    window = opened
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    labels = window.state.project.root / "labels"
    shutil.rmtree(labels)
    labels.write_text("not a folder")
    assert not window.close()  # refused once, with the reason in the window
    assert "close again" in window.message_bar.text()
    labels.unlink()
    labels.mkdir()
    assert window.close()


def test_f1_shows_the_shortcut_sheet(window, qtbot):
    from PySide6.QtWidgets import QTextBrowser

    from segstudio.gui.shortcuts_sheet import ShortcutsSheet

    qtbot.keyClick(window, Qt.Key.Key_F1)
    sheets = [w for w in QApplication.topLevelWidgets() if isinstance(w, ShortcutsSheet) and w.isVisible()]
    assert len(sheets) == 1
    text = sheets[0].findChild(QTextBrowser).toPlainText()
    assert "Ctrl+Shift+Z" in text and "Mark done" in text and "Space + drag" in text
    sheets[0].close()
    qtbot.keyClicks(window.canvas, "?")
    assert any(isinstance(w, ShortcutsSheet) and w.isVisible() for w in QApplication.topLevelWidgets())


def test_big_images_are_read_in_the_background_while_painting_goes_on(opened, qtbot, monkeypatch):
    from segstudio.gui import session

    window = opened
    monkeypatch.setattr(session, "BACKGROUND_READ_PIXELS", 0)  # treat the test images as big
    first = window.state.image_id
    key(qtbot, window, Qt.Key.Key_N)
    target = window.session.loading
    assert target is not None and target != first and window.state.image_id == first
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])  # the current image stays editable meanwhile
    settle(qtbot, window)
    assert window.state.image_id == target
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())


def test_autosave_trouble_shows_and_clears_when_saving_works_again(opened, qtbot):
    window = opened
    journal = window.state.project.journal_dir
    shutil.rmtree(journal, ignore_errors=True)
    journal.write_text("not a folder")  # the journal cannot be written now
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    qtbot.waitUntil(lambda: window.status.autosave.text().startswith("Not saved"), timeout=10_000)
    assert window.message_bar.kind == "error" and "could not be saved" in window.message_bar.text()
    journal.unlink()
    journal.mkdir()
    qtbot.waitUntil(lambda: window.status.autosave.text() == "All changes saved", timeout=10_000)
    assert window.message_bar.kind == "info"
    window.session.save()
    assert (window.state.project.read_label(window.state.image_id)[10, 10:31] == 1).all()


def test_switching_in_the_middle_of_a_stroke_keeps_what_was_painted(opened, qtbot):
    from gui_helpers import at

    window = opened
    first = window.state.image_id
    window.brush_size.setValue(3)
    qtbot.mousePress(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 10, 10))
    qtbot.mouseMove(window.canvas, at(window, 30, 10))
    key(qtbot, window, Qt.Key.Key_N)  # the button is still down
    settle(qtbot, window)
    assert window.state.image_id != first
    wait_for_masks(qtbot, window, first, lambda label: (label[10, 10:31] == 1).all())
    qtbot.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, pos=at(window, 30, 10))
    assert (window.state.document.label == IGNORE).all()  # the release paints nothing here


def test_panels_hear_of_the_close_while_the_project_is_still_open(opened):
    """Training and proposal refresh stop on project_closed; their last reads must still work."""
    project = opened.state.project
    seen = []
    opened.state.project_closed.connect(lambda: seen.append(len(project.images())))
    opened.session.close_project()
    assert seen == [3]


def test_ctrl_s_folds_on_a_worker_thread_and_says_so(opened, qtbot):
    window = opened
    project = window.state.project
    writers = record_mask_writers(project)
    window.brush_size.setValue(3)
    stroke(qtbot, window, [(10, 10), (30, 10)])
    key(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.status.currentMessage() == "Saved into the project.", timeout=10_000)
    assert (project.read_label(window.state.image_id)[10, 10:31] == 1).all()
    assert writers and all(thread is not threading.main_thread() for thread in writers)

    labels = project.root / "labels"
    shutil.rmtree(labels)
    labels.write_text("not a folder")
    stroke(qtbot, window, [(10, 20), (30, 20)])
    key(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.message_bar.text().startswith("Could not save"), timeout=10_000)
    labels.unlink()
    labels.mkdir()
