"""Teach it your handwriting in the window: label drawings with keys 0-9, review and delete
them, add a folder, and fine-tune the model in use with the live panels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from test_gui import ONE, SEVEN, draw

from mnistdesk.data.personal import PersonalDrawings
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow

TIMEOUT_MS = 120_000


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    """A window whose labelled drawings live in ``tmp_path/handwriting`` (never the user's);
    closing it discards a fine-tuned model without asking."""
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    made = []

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, preload_tensorflow=False, personal_dir=tmp_path / "handwriting")
        qtbot.addWidget(window)
        window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.training.shutdown()


def test_a_digit_key_on_the_canvas_keeps_the_drawing_and_it_survives_a_restart(make_window, qtbot, tmp_path):
    window = make_window()
    draw(window.canvas, SEVEN, steps=20)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_7)
    store = PersonalDrawings(tmp_path / "handwriting")
    [entry] = store.entries()
    assert entry.label == 7 and entry.drawing.exists() and entry.model_input.exists()
    assert window.canvas.is_empty(), "the canvas is not cleared for the next drawing"
    assert window.teach.gallery.count() == 1 and window.teach.counts.text() == "1 drawing — 7s: 1"
    assert str(tmp_path / "handwriting") in window.teach.counts.toolTip()  # where they are kept
    window.close()
    again = make_window()
    assert again.teach.gallery.count() == 1


def test_ctrl_z_right_after_a_digit_key_takes_the_keeping_back(make_window, qtbot, tmp_path):
    """A wrong key (4 for a 9) left the drawing kept under it although Ctrl+Z put it back on the canvas."""
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)  # window shortcuts need it
    draw(window.canvas, SEVEN, steps=20)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_4)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.canvas.is_empty(), "Ctrl+Z does not bring the kept drawing back"
    assert PersonalDrawings(tmp_path / "handwriting").entries() == [] and window.teach.gallery.count() == 0
    qtbot.keyClick(window.canvas, Qt.Key.Key_7)
    draw(window.canvas, ONE, steps=20)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the new stroke, not the kept 7
    [entry] = PersonalDrawings(tmp_path / "handwriting").entries()
    assert entry.label == 7 and window.canvas.is_empty()


def test_taking_a_kept_drawing_back_from_a_folder_that_refuses_says_so(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    draw(window.canvas, SEVEN, steps=20)
    assert window.teaching.label_drawing(4)
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    monkeypatch.setattr(window.personal, "remove", lambda entry: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    window.teaching.undo()
    assert not window.canvas.is_empty() and len(warned) == 1 and "Permission denied" in warned[0]


def test_labelling_an_empty_canvas_keeps_nothing_and_says_why(make_window, qtbot, tmp_path):
    window = make_window()
    window.teach.label_buttons[3].click()
    assert PersonalDrawings(tmp_path / "handwriting").entries() == []
    assert "Draw a digit first" in window.statusBar().currentMessage()


def test_the_gallery_deletes_what_is_selected_after_asking(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    for points, digit in ((SEVEN, 7), (ONE, 1)):
        draw(window.canvas, points, steps=10)
        window.teach.label_buttons[digit].click()
    assert window.teach.gallery.count() == 2
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *args: answers.pop(0) if answers else QMessageBox.StandardButton.Discard)
    window.teach.gallery.item(0).setSelected(True)
    window.teach.delete_button.click()  # No: nothing goes
    assert len(PersonalDrawings(tmp_path / "handwriting").entries()) == 2
    window.teach.delete_button.click()
    [left] = PersonalDrawings(tmp_path / "handwriting").entries()
    assert window.teach.gallery.count() == 1 and left.label == 7  # digit folders list 1 before 7


def test_double_clicking_a_kept_drawing_puts_it_back_on_the_canvas(make_window, qtbot):
    window = make_window()
    draw(window.canvas, SEVEN, steps=20)
    window.teach.label_buttons[7].click()
    gallery = window.teach.gallery
    gallery.itemDoubleClicked.emit(gallery.item(0))
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert int(np.argmax(window.last_probabilities)) == 7


def test_a_folder_of_labelled_images_is_added_and_bad_files_are_named(make_window, qtbot, tmp_path, sample, monkeypatch):
    folder = tmp_path / "mine"
    for index in range(4):
        label = int(sample.y_test[index])
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        big = np.kron(255 - sample.x_test[index], np.ones((5, 5), np.uint8))  # 140×140, dark on light
        Image.fromarray(big).save(folder / str(label) / f"{index}.png")
    (folder / "3").mkdir(exist_ok=True)
    (folder / "3" / "broken.png").write_bytes(b"not a png")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    window = make_window()
    assert window.teaching.add_drawings_folder(folder) == 4
    assert window.teach.gallery.count() == 4
    assert len(warned) == 1 and "broken.png" in warned[0]
    stored = PersonalDrawings(tmp_path / "handwriting").arrays()
    assert sorted(stored.labels) == sorted(int(label) for label in sample.y_test[:4])


def test_fine_tune_continues_the_model_in_use_and_shows_before_and_after(make_window, qtbot, tmp_path, sample):
    window = make_window()
    for index in np.flatnonzero(sample.y_test < 5)[:12]:
        image = sample.x_test[index]
        window.personal.add(int(sample.y_test[index]), image, image)
    window.teaching.refresh()
    window.teach.epochs.setValue(1)
    progress = []
    window.training.progress.connect(progress.append)
    with qtbot.waitSignal(window.training.fine_tuned, timeout=TIMEOUT_MS) as tuned:
        window.teach.fine_tune_button.click()
        assert not window.teach.fine_tune_button.isEnabled(), "fine-tuning can be started twice"
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert "your handwriting" in tuned.args[0] and "→" in tuned.args[0]
    assert window.teach.result.text() == tuned.args[0]
    assert window.minimumSizeHint().width() <= 1024, "the scores widened the window past a 1024-pixel screen"
    assert progress, "no live progress reached the panels"
    tuning = window.models.metadata["fine_tune"]
    assert tuning["drawings"] == 12 and tuning["held_out"] >= 2 and tuning["epochs"] == 1
    shipped_epochs = 60
    assert len(window.models.metadata["history"]["loss"]) == shipped_epochs + 1, "the curves do not carry the model's history on"
    assert window.models.unsaved and window.models.trained is not None
    assert window.teach.fine_tune_button.isEnabled()
    window.training.panel.epochs.setValue(1)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.continue_training()  # a plain run: the scores stay until it ends, then the hint
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert "Fine-tune" in window.teach.result.text() and "Training:" not in window.teach.result.text()


def test_offline_fine_tuning_offers_the_sample_and_fine_tunes_on_it(make_window, qtbot, tmp_path, sample, monkeypatch):
    window = make_window()
    for index in range(6):
        window.personal.add(int(sample.y_test[index]), sample.x_test[index], sample.x_test[index])
    model, path, metadata = window.training.current_model
    window.training.current_model = (model, path, {**metadata, "dataset": "mnist"})  # needs a download
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    runs = []
    window.training.run_started.connect(runs.append)
    with qtbot.waitSignal(window.training.fine_tuned, timeout=TIMEOUT_MS):
        window.teaching.fine_tune(1)
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert [run["dataset"] for run in runs] == ["sample"]
    assert window.models.metadata["fine_tune"]["dataset"] == "sample"


def test_a_damaged_stored_drawing_is_named_and_left_out(make_window, qtbot, tmp_path, sample):
    store = PersonalDrawings(tmp_path / "handwriting")
    kept = store.add(3, sample.x_test[0], sample.x_test[0])
    damaged = store.add(5, sample.x_test[1], sample.x_test[1])
    damaged.model_input.write_bytes(b"\x89PNG truncated")
    window = make_window()
    assert window.teach.gallery.count() == 1 and window.teach.entries == [kept]
    assert damaged.name in window.statusBar().currentMessage()


def test_a_stored_file_name_shows_as_typed_in_the_gallery(make_window, tmp_path, sample):
    """Names come from the file system: markup in one must not be interpreted by a tooltip."""
    store = PersonalDrawings(tmp_path / "handwriting")
    entry = store.add(3, sample.x_test[0], sample.x_test[0])
    entry.model_input.rename(entry.model_input.with_name("<img src=x>.png"))
    window = make_window()
    tip = window.teach.gallery.item(0).toolTip()
    assert "&lt;img" in tip and "<img" not in tip
