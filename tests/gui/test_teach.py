"""Teach it your handwriting in the window: label drawings with keys 0-9, review and delete
them, add a folder, and fine-tune the model in use with the live panels."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from test_gui import ONE, SEVEN, draw

from mnistdesk.data.personal import LEFTOVER_AFTER_S, PersonalDrawings
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow

#: Waits for a fine-tuning: a few seconds of work (the pen digits come drawn, see
#: ``pen_digits_cached``), ten times over for a loaded machine; a failure still ends the test alone.
TIMEOUT_MS = 300_000
READ_MS = 60_000  # reading a few stored drawings on their thread


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    """A window whose labelled drawings live in ``tmp_path/handwriting`` (never the user's),
    shown, its drawings read; closing it discards a fine-tuned model without asking. Its
    threads are stopped and waited for in teardown, however the test ended."""
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    made = []

    def make(read: bool = True) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, preload_tensorflow=False, personal_dir=tmp_path / "handwriting")
        made.append(window)
        qtbot.addWidget(window)
        window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        if read:
            qtbot.waitUntil(lambda: not window.teach.reading, timeout=READ_MS)
        return window

    yield make
    for window in made:
        window.training.shutdown()
        window.teaching.stop()
        window.wait_for_threads()


def shown(window) -> int:
    """How many drawings the Teach gallery shows."""
    return window.teach.gallery.model().rowCount()


def status(window) -> str:
    """The status line's whole message (one too long for the window shows elided, whole in its tooltip)."""
    return window.statusBar().toolTip() or window.statusBar().currentMessage()


def test_a_digit_key_on_the_canvas_keeps_the_drawing_and_it_survives_a_restart(make_window, qtbot, tmp_path):
    window = make_window()
    draw(window.canvas, SEVEN, steps=20)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_7)
    store = PersonalDrawings(tmp_path / "handwriting")
    [entry] = store.entries()
    assert entry.label == 7 and entry.drawing.exists() and entry.model_input.exists()
    assert window.canvas.is_empty(), "the canvas is not cleared for the next drawing"
    assert shown(window) == 1 and window.teach.counts.text() == "1 drawing — 7s: 1"
    assert str(tmp_path / "handwriting") in window.teach.counts.toolTip()  # where they are kept
    window.close()
    again = make_window()
    assert shown(again) == 1


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
    assert PersonalDrawings(tmp_path / "handwriting").entries() == [] and shown(window) == 0
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
    assert "Draw a digit first" in status(window)


def test_the_gallery_deletes_what_is_selected_after_asking(make_window, qtbot, tmp_path, monkeypatch):
    window = make_window()
    for points, digit in ((SEVEN, 7), (ONE, 1)):
        draw(window.canvas, points, steps=10)
        window.teach.label_buttons[digit].click()
    assert shown(window) == 2
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *args: answers.pop(0) if answers else QMessageBox.StandardButton.Discard)
    gallery = window.teach.gallery
    gallery.selectionModel().select(gallery.model().index(0), QItemSelectionModel.SelectionFlag.Select)
    window.teach.delete_button.click()  # No: nothing goes
    assert len(PersonalDrawings(tmp_path / "handwriting").entries()) == 2
    window.teach.delete_button.click()
    [left] = PersonalDrawings(tmp_path / "handwriting").entries()
    assert shown(window) == 1 and left.label == 7  # digit folders list 1 before 7


def test_double_clicking_a_kept_drawing_puts_it_back_on_the_canvas(make_window, qtbot):
    window = make_window()
    draw(window.canvas, SEVEN, steps=20)
    window.teach.label_buttons[7].click()
    gallery = window.teach.gallery
    gallery.doubleClicked.emit(gallery.model().index(0))
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert int(np.argmax(window.last_probabilities)) == 7


def labelled_folder(folder, sample, count: int):
    """``count`` test digits as scanned pages would be: ``folder/<digit>/<n>.png``, 140×140, dark on light."""
    for index in range(count):
        label = int(sample.y_test[index])
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        big = np.kron(255 - sample.x_test[index], np.ones((5, 5), np.uint8))
        Image.fromarray(big).save(folder / str(label) / f"{index}.png")
    return folder


def test_a_folder_of_labelled_images_is_added_and_bad_files_are_named(make_window, qtbot, tmp_path, sample, monkeypatch):
    folder = labelled_folder(tmp_path / "mine", sample, 4)
    (folder / "3").mkdir(exist_ok=True)
    (folder / "3" / "broken.png").write_bytes(b"not a png")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    window = make_window()
    assert window.teaching.add_drawings_folder(folder) == 4
    assert shown(window) == 4
    assert len(warned) == 1 and "broken.png" in warned[0]
    stored = PersonalDrawings(tmp_path / "handwriting").arrays()
    assert sorted(stored.labels) == sorted(int(label) for label in sample.y_test[:4])


def test_adding_a_folder_on_a_disk_that_fills_says_how_many_were_added_and_shows_them(make_window, tmp_path, sample, monkeypatch):
    """It said "0 of 35 written" and showed none of those it had added."""
    folder = labelled_folder(tmp_path / "mine", sample, 6)
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[2]))
    window = make_window()
    store = tmp_path / "handwriting"
    written, write_bytes = [], Path.write_bytes

    def filling(path, data):
        if store in path.parents:
            written.append(path)
            if len(written) > 4:  # the third image's first file: the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", filling)
    assert window.teaching.add_drawings_folder(folder) == 2
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    assert shown(window) == 2 and len(PersonalDrawings(store).entries()) == 2
    assert len(warned) == 1 and "Added 2 of the 6 images" in warned[0] and "No space left on device" in warned[0]
    assert "Added 2 drawings" in status(window)
    assert len(list((store / "drawings").rglob("*.png"))) == 2, "a drawing without its input was left behind"


@pytest.fixture
def slow_read(monkeypatch):
    """Reading the stored drawings takes until ``set()`` is called (thousands of them), and
    records the threads it ran in."""
    release, threads, read = threading.Event(), [], PersonalDrawings.read

    def slow(self, *args, **kwargs):
        threads.append(threading.current_thread())
        release.wait(10)
        return read(self, *args, **kwargs)

    monkeypatch.setattr(PersonalDrawings, "read", slow)
    release.threads = threads
    yield release
    release.set()


def test_the_stored_drawings_are_read_while_the_window_starts_and_shown_once_read(make_window, qtbot, tmp_path, sample, slow_read):
    """Starting with 20,000 stored drawings blocked the window for 8.7 s."""
    store = PersonalDrawings(tmp_path / "handwriting")
    for index in range(12):
        store.add(int(sample.y_test[index]), sample.x_test[index], sample.x_test[index])
    window = make_window(read=False)
    assert window.teach.counts.text() == "Reading your drawings…" and not window.teach.fine_tune_button.isEnabled()
    draw(window.canvas, SEVEN, steps=20)
    window.teach.label_buttons[7].click()  # the window works meanwhile: this one is kept and shown at once
    assert shown(window) == 1
    slow_read.set()
    qtbot.waitUntil(lambda: not window.teach.reading, timeout=READ_MS)
    assert slow_read.threads and threading.main_thread() not in slow_read.threads
    assert shown(window) == 13 and window.teach.counts.text().startswith("13 drawings") and window.teach.fine_tune_button.isEnabled()


def test_fine_tune_asked_for_while_the_drawings_are_read_starts_once_they_are(make_window, qtbot, tmp_path, sample, slow_read, monkeypatch):
    store = PersonalDrawings(tmp_path / "handwriting")
    for index in range(12):
        store.add(int(sample.y_test[index]), sample.x_test[index], sample.x_test[index])
    window = make_window(read=False)
    asked = []
    monkeypatch.setattr(window.training, "fine_tune", lambda drawings, epochs, dataset=None: asked.append((drawings, epochs)) or True)
    window.teaching.fine_tune(2)  # Ctrl+Shift+F right after the start
    assert asked == []
    slow_read.set()
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=READ_MS)
    [(drawings, epochs)] = asked
    assert epochs == 2 and len(drawings.labels) == 12 and sorted(drawings.labels) == sorted(sample.y_test[:12])


def test_a_digit_folder_that_cannot_be_read_is_named(make_window, tmp_path, sample, monkeypatch):
    """A locked (chmod 000) digit folder was skipped without a word."""
    store = PersonalDrawings(tmp_path / "handwriting")
    for index in range(4):
        store.add(int(sample.y_test[index]), sample.x_test[index], sample.x_test[index])
    locked = store.entries()[0].model_input.parent
    scandir = os.scandir

    def locked_scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", locked_scandir)
    window = make_window()
    message = status(window)
    assert f"{locked}: cannot be read (Permission denied)" in message, message
    assert shown(window) == 4 - sum(1 for label in sample.y_test[:4] if str(label) == locked.name)


def test_what_a_killed_keeping_left_is_removed_at_start_and_never_shown(make_window, tmp_path, sample):
    """``kill -9`` while keeping drawings left hidden temporary files (one in the inputs folder
    was read as a drawing at every start) and drawings without their input."""
    store = PersonalDrawings(tmp_path / "handwriting")
    kept = store.add(3, sample.x_test[0], sample.x_test[0])
    without_input = store.add(5, sample.x_test[1], sample.x_test[1])
    without_input.model_input.unlink()
    without_drawing = store.add(6, sample.x_test[2], sample.x_test[2])
    without_drawing.drawing.unlink()
    temporaries = [path.with_name(f".{path.name}.99999-k1ll3d_.png") for path in (kept.model_input, kept.drawing)]
    for temporary, source in zip(temporaries, (kept.model_input, kept.drawing)):
        temporary.write_bytes(source.read_bytes())
    long_ago = time.time() - 2 * LEFTOVER_AFTER_S
    for path in [without_input.drawing, without_drawing.model_input, *temporaries]:
        os.utime(path, (long_ago, long_ago))
    in_flight = kept.model_input.with_name(f".{kept.name}.png.{os.getpid()}-n0w_.png")  # another window keeping one now
    in_flight.write_bytes(kept.model_input.read_bytes())
    users_own = without_input.drawing.with_name("my own.png")
    users_own.write_bytes(without_input.drawing.read_bytes())
    os.utime(users_own, (long_ago, long_ago))
    window = make_window()
    # An input whose drawing is gone stays: it is the training sample (a drawing deleted by hand).
    assert window.teach.entries == [kept, without_drawing] and shown(window) == 2
    left = sorted(path.relative_to(store.root) for path in store.root.rglob("*") if path.is_file())
    expected = [kept.drawing, users_own, kept.model_input, in_flight, without_drawing.model_input]
    assert left == sorted(path.relative_to(store.root) for path in expected)


def test_fine_tune_continues_the_model_in_use_and_shows_before_and_after(make_window, qtbot, tmp_path, sample, pen_digits_cached):
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


LEAVING_ITS_THREAD_RUNNING = """
import time
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QWidget

windows = []  # as a fixture keeps them


class StillDrawingThePenDigits(QThread):
    def run(self):
        time.sleep(3)


def test_ends_with_its_thread_running(qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    windows.append(window)
    thread = StillDrawingThePenDigits(window)
    thread.start()


def test_next(qtbot):
    windows.clear()  # the first test's window goes, and its thread with it
    qtbot.addWidget(QWidget())
    qtbot.wait(200)
"""


def test_a_test_that_leaves_its_thread_running_fails_alone(tmp_path):
    """Under load a fine-tuning test here timed out with its QThread running, and the next test
    aborted the whole run ("Fatal Python error: Aborted")."""
    shutil.copyfile(Path(__file__).parents[1] / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_leaving.py").write_text(LEAVING_ITS_THREAD_RUNNING)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert "Fatal Python error" not in run.stdout + run.stderr
    assert "2 passed, 1 error" in run.stdout and "ERROR test_leaving.py::test_ends_with_its_thread_running" in run.stdout, run.stdout[-2000:]
    assert "test left Qt threads or timers running" in run.stdout


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
    assert shown(window) == 1 and window.teach.entries == [kept]
    assert damaged.name in status(window)


def test_a_stored_file_name_shows_as_typed_in_the_gallery(make_window, tmp_path, sample):
    """Names come from the file system: markup in one must not be interpreted by a tooltip."""
    store = PersonalDrawings(tmp_path / "handwriting")
    entry = store.add(3, sample.x_test[0], sample.x_test[0])
    entry.model_input.rename(entry.model_input.with_name("<img src=x>.png"))
    window = make_window()
    gallery = window.teach.gallery
    tip = gallery.model().data(gallery.model().index(0), Qt.ItemDataRole.ToolTipRole)
    assert "&lt;img" in tip and "<img" not in tip
