"""The window driven like a person would: mouse strokes, keys, files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from mnistdesk import paths
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow

SEVEN = [(0.2, 0.2), (0.5, 0.2), (0.8, 0.2), (0.65, 0.5), (0.5, 0.8)]
ONE = [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]


def draw(canvas, points, button=Qt.MouseButton.LeftButton, steps: int = 8):
    """Press, drag through ``points`` (canvas fractions) in small steps, release."""
    def send(kind, x, y, buttons):
        position = QPointF(x * canvas.width(), y * canvas.height())
        event = QMouseEvent(kind, position, canvas.mapToGlobal(position), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)

    send(QEvent.Type.MouseButtonPress, *points[0], button)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for t in np.linspace(0, 1, steps)[1:]:
            send(QEvent.Type.MouseMove, x0 + t * (x1 - x0), y0 + t * (y1 - y0), button)
    send(QEvent.Type.MouseButtonRelease, *points[-1], Qt.MouseButton.NoButton)


@pytest.fixture
def window(qtbot, tmp_path):
    configure_pyqtgraph()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_empty_canvas_predicts_nothing(window):
    assert window.last_probabilities is None
    assert "Draw a digit" in window.softmax.verdict.text()


def test_a_stroke_updates_the_bars_while_drawing(window, qtbot):
    with qtbot.waitSignal(window.prediction_made, timeout=2000, check_params_cb=lambda p: p is not None):
        draw(window.canvas, ONE)
    qtbot.waitUntil(lambda: window.softmax.verdict.text().startswith("1"), timeout=2000)
    assert int(np.argmax(window.last_probabilities)) == 1
    heights = window.softmax.bars.opts["height"]
    np.testing.assert_allclose(heights, window.last_probabilities)


def test_a_drawn_seven_reads_as_seven(window, qtbot):
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_probabilities is not None and np.argmax(window.last_probabilities) == 7, timeout=2000)
    assert window.last_probabilities[7] > 0.8


def test_predictions_are_coalesced_while_drawing(window, qtbot):
    calls = []
    window.prediction_made.connect(calls.append)
    draw(window.canvas, SEVEN, steps=40)  # 160 mouse moves delivered at once
    qtbot.wait(100)
    assert 1 <= len(calls) <= 3


def test_undo_and_clear(window, qtbot):
    draw(window.canvas, ONE)
    draw(window.canvas, [(0.2, 0.5), (0.8, 0.5)])
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_probabilities is not None and np.argmax(window.last_probabilities) == 1, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.last_probabilities is None, timeout=2000)
    assert window.canvas.is_empty() and window.canvas.ink().max() == 0


def test_right_button_erases(window, qtbot):
    draw(window.canvas, ONE)
    draw(window.canvas, [(0.5, 0.05), (0.5, 0.95)], button=Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: window.last_probabilities is None, timeout=2000)
    assert window.canvas.ink().max() < 0.05


def test_naive_mode_changes_what_the_model_sees(window, qtbot):
    draw(window.canvas, [(0.1, 0.1), (0.1, 0.3)])
    qtbot.waitUntil(lambda: window.last_input is not None, timeout=2000)
    centred = window.last_input.copy()
    window.mode_box.setCurrentIndex(window.mode_box.findData("naive"))
    assert np.abs(window.last_input - centred).mean() > 0.02
    assert window.last_input[:, 14:].max() == 0  # the stroke stays top-left, tiny


def test_drawing_survives_a_resize(window, qtbot):
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_input is not None, timeout=2000)
    before, width = window.last_input.copy(), window.canvas.width()
    for dock in window.docks.values():
        dock.hide()
    qtbot.waitUntil(lambda: window.canvas.width() > width + 100, timeout=2000)
    window.canvas.changed.emit()
    qtbot.wait(50)
    assert np.abs(window.last_input - before).mean() < 0.03


def test_save_then_open_gives_the_same_prediction(window, qtbot, tmp_path):
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    before = window.last_probabilities.copy()
    assert window.canvas.save_png(tmp_path / "seven.png")
    window.clear_drawing()
    assert window.open_image(tmp_path / "seven.png")
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert np.argmax(window.last_probabilities) == np.argmax(before)
    np.testing.assert_allclose(window.last_probabilities, before, atol=0.05)


def test_opening_a_real_mnist_digit(window, qtbot, tmp_path, sample):
    Image.fromarray(sample.x_test[5]).resize((140, 140)).save(tmp_path / "digit.bmp")
    assert window.open_image(tmp_path / "digit.bmp")
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert np.argmax(window.last_probabilities) == sample.y_test[5]


def test_corrupt_image_shows_a_message_and_keeps_the_drawing(window, qtbot, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    draw(window.canvas, ONE)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    assert not window.open_image(tmp_path / "broken.png")
    assert warnings and "broken.png" in warnings[0]
    assert not window.canvas.is_empty()


def test_garbage_model_is_refused_and_the_old_one_kept(window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    (tmp_path / "junk.keras").write_bytes(b"junk")
    predictor = window.predictor
    assert not window.open_model(tmp_path / "junk.keras")
    assert window.predictor is predictor and "not a Keras model file" in warnings[0]


def test_status_bar_names_the_model(window):
    text = window.model_label.text()
    assert "lean" in text and "sample" in text and "98" in text


def test_settings_persist_between_sessions(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(first)
    first.mode_box.setCurrentIndex(first.mode_box.findData("naive"))
    first.resize(850, 480)
    first.show()
    size = first.size()
    first.close()
    second = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(second)
    assert second.mode_box.currentData() == "naive"
    assert second.height() == size.height() == 480
    assert second.model_path == paths.SHIPPED_MODEL_PATH


def test_tensorflow_loads_in_the_background(window, qtbot):
    window._start_tensorflow_import()
    qtbot.waitUntil(lambda: window.tensorflow_label.text() == "TensorFlow: ready", timeout=30000)
    window.tensorflow_thread.wait(5000)


def test_window_predicts_before_tensorflow_is_imported():
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "import numpy as np\n"
        "from mnistdesk.gui.app import create_app\n"
        "from mnistdesk.gui.main_window import MainWindow\n"
        "app = create_app()\n"
        "w = MainWindow(preload_tensorflow=False)\n"
        "w.show(); app.processEvents()\n"
        "ink = np.zeros((280, 280), np.float32); ink[40:240, 130:150] = 1\n"
        "w.canvas.set_background(ink); w._predict_now()\n"
        "assert int(np.argmax(w.last_probabilities)) == 1\n"
        "assert 'tensorflow' not in sys.modules, 'the window imported TensorFlow'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_app_starts_and_exits_cleanly(tmp_path):
    """The real entry point: window up, quit, exit status 0 (no crash on the way out)."""
    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtCore import QTimer\n"
        "from mnistdesk.gui import app as gui\n"
        "create = gui.create_app\n"
        "def create_and_quit():\n"
        "    application = create()\n"
        "    QTimer.singleShot(500, application.quit)\n"
        "    return application\n"
        "gui.create_app = create_and_quit\n"
        "sys.exit(gui.run())\n"
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
