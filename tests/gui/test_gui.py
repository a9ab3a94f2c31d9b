"""The window driven like a person would: mouse strokes, keys, files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtGui import QKeySequence, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from mnistdesk.base import paths
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.inspect_panels import HistoryPanel
from mnistdesk.gui.main_window import MainWindow, key_sequences
from mnistdesk.gui.panels import SoftmaxPanel
from mnistdesk.gui.training_panels import CurvesPanel

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


def test_a_click_on_the_canvas_draws_nothing(window, qtbot):
    """A click (to give the canvas the keys 0-9) drew an invisible dot that the model saw as a
    digit-sized disk, and that moved a finished digit's box."""
    draw(window.canvas, [(0.5, 0.5)])
    qtbot.wait(50)
    assert window.canvas.is_empty() and window.last_probabilities is None and "Draw a digit" in window.softmax.verdict.text()
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    seven = window.canvas.model_input().copy()
    draw(window.canvas, [(0.9, 0.9)])
    np.testing.assert_array_equal(window.canvas.model_input(), seven)
    window.canvas.undo()
    assert window.canvas.is_empty(), "a click made an undo step"


def test_a_drag_that_outlives_an_undo_draws_nothing_more(window, qtbot):
    """Ctrl+Z mid-drag takes the stroke under way back; the rest of the drag went on onto the
    stroke before it."""
    canvas = window.canvas
    draw(canvas, ONE)
    one = canvas.ink().copy()

    def send(kind, x, y):
        point = QPointF(canvas.width() * x, canvas.height() * y)
        QApplication.sendEvent(canvas, QMouseEvent(kind, point, canvas.mapToGlobal(point), Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, 0.2, 0.8)
    for step in range(1, 7):
        send(QEvent.Type.MouseMove, 0.2 + step * 0.1, 0.8)
        if step == 3:
            qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(canvas.ink(), one)


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
    window.drawing.mode_box.setCurrentIndex(window.drawing.mode_box.findData("naive"))
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
    window.canvas.clear()
    assert window.drawing.open_image(tmp_path / "seven.png")
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert np.argmax(window.last_probabilities) == np.argmax(before)
    np.testing.assert_allclose(window.last_probabilities, before, atol=0.05)


def test_opening_a_real_mnist_digit(window, qtbot, tmp_path, sample):
    Image.fromarray(sample.x_test[5]).resize((140, 140)).save(tmp_path / "digit.bmp")
    assert window.drawing.open_image(tmp_path / "digit.bmp")
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert np.argmax(window.last_probabilities) == sample.y_test[5]


def test_corrupt_image_shows_a_message_and_keeps_the_drawing(window, qtbot, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    draw(window.canvas, ONE)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    assert not window.drawing.open_image(tmp_path / "broken.png")
    assert warnings and "broken.png" in warnings[0]
    assert not window.canvas.is_empty()


def test_garbage_model_is_refused_and_the_old_one_kept(window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    (tmp_path / "junk.keras").write_bytes(b"junk")
    predictor = window.predictor
    assert not window.models.open(tmp_path / "junk.keras")
    assert window.predictor is predictor and "not a Keras model file" in warnings[0]


def test_status_bar_names_the_model(window):
    text = window.models.label.text()
    accuracy = window.models.metadata["test_accuracy"]
    assert "lean" in text and "sample+pen" in text and f"trained on sample+pen · {accuracy:.1%} on its test split" in text and accuracy > 0.97


def test_settings_persist_between_sessions(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(first)
    first.drawing.mode_box.setCurrentIndex(first.drawing.mode_box.findData("naive"))
    first.resize(1030, 650)  # at least the smallest supported size, 1024×640
    first.show()
    size = first.size()
    first.close()
    second = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(second)
    assert second.drawing.mode_box.currentData() == "naive"
    assert second.height() == size.height() == 650
    assert second.models.path == paths.SHIPPED_MODEL_PATH


def test_tensorflow_loads_in_the_background(window, qtbot):
    window.tensorflow.start()
    qtbot.waitUntil(lambda: window.tensorflow.label.text() == "TensorFlow: ready", timeout=30000)
    window.tensorflow.thread.wait(5000)


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
        "w.canvas.set_background(ink); w.drawing.predict_now()\n"
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


def test_a_blank_image_is_refused_with_the_reason(window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    draw(window.canvas, ONE)
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    assert not window.drawing.open_image(tmp_path / "blank.png")
    assert warnings and "blank.png" in warnings[0] and "no ink" in warnings[0]
    assert not window.canvas.is_empty()


def test_probability_axis_labels_match_their_ticks(window):
    (ticks,) = window.softmax.plot.getAxis("left")._tickLevels
    assert ticks == [(0, "0%"), (0.25, "25%"), (0.5, "50%"), (0.75, "75%"), (1.0, "100%")]


def test_an_opened_models_history_is_drawn(window):
    history = window.models.metadata["history"]
    curves = window.training.curves
    assert curves.buffers["loss"].size == len(history["loss"])
    assert curves.validation["accuracy"][1] == pytest.approx(history["val_accuracy"])
    assert curves.epochs == len(history["loss"])


def test_curves_follow_the_data_after_a_spike_and_smooth_without_lag(window):
    curves = window.training.curves
    curves.reset(2)
    for index in range(200):
        loss = 45.0 if index == 20 else 0.5 - index * 0.001
        curves.add_batch({"progress": index / 100, "loss": loss, "accuracy": 0.7 if index < 150 else 0.85})
    curves.flush()
    low, high = curves.plots["loss"].viewRange()[1]
    assert high < 1, "one spike squashed the loss curve for the rest of the run"
    assert curves.buffers["accuracy"].smoothed()[-1] > 0.84
    low, high = curves.plots["accuracy"].viewRange()[1]
    assert high > 1.02, "dots at 100% would be clipped"
    assert (1.0, "1.0") in curves.plots["accuracy"].getAxis("left")._tickLevels[0]
    curves.set_log_loss(True)
    low, high = curves.plots["loss"].viewRange()[1]
    assert high < 0.1 and low < np.log10(0.35)
    drawn = curves.smooth["loss"].getData()[1]
    assert low < drawn[-1] < high, "the loss curve is drawn in the log axis's units"
    assert drawn[-1] == pytest.approx(np.log10(curves.buffers["loss"].smoothed()[-1]))
    curves.add_epoch({"epoch": 2, "progress": 2.0, "val_loss": 0.05, "val_accuracy": 0.9})
    low, high = curves.plots["loss"].viewRange()[1]
    assert low < np.log10(0.05) < high, "a validation dot below the training curve stays in sight"
    labels = {label for level in curves.plots["loss"].getAxis("left")._tickLevels for _, label in level}
    assert labels == {"0.05", "0.1", "0.2", "0.5"}, "1, 2 and 5 of each decade: not every multiple, crowded"


def test_live_updates_do_not_redraw_the_axes(qtbot, monkeypatch):
    """While a model trains, the curves, the history and the bars redraw several times a second;
    their axes (tick labels, grid: ~1 ms each) are drawn again only when a range changes, so
    the window takes less time from training."""
    configure_pyqtgraph()
    axis_draws, curve_draws = [], []
    for item, draws in ((pg.AxisItem, axis_draws), (pg.PlotCurveItem, curve_draws)):
        monkeypatch.setattr(item, "paint", lambda self, *args, paint=item.paint, draws=draws: (draws.append(self), paint(self, *args)))
    curves, history, bars = CurvesPanel(), HistoryPanel(), SoftmaxPanel()
    for panel in (curves, history, bars):
        qtbot.addWidget(panel)
        panel.resize(500, 300)
        panel.show()
    rng = np.random.default_rng(0)
    curves.reset(2)

    def update(readings: range) -> None:
        for index in readings:
            curves.add_batch({"progress": index / 100, "loss": 0.5 - index / 1000, "accuracy": 0.8})
        curves.flush()
        x = np.arange(readings.stop) / 100
        history.show_history(x, rng.dirichlet(np.ones(10), len(x)))
        bars.show_probabilities(rng.dirichlet(np.ones(10)))
        qtbot.wait(100)  # the panels repaint

    update(range(0, 50))
    assert axis_draws, "the first paint draws the axes"

    def settled() -> bool:  # the windows are shown and laid out: nothing left to paint
        drawn = len(axis_draws)
        qtbot.wait(150)
        return len(axis_draws) == drawn

    qtbot.waitUntil(settled, timeout=5000)
    axis_draws.clear()
    curve_draws.clear()
    update(range(50, 60))  # later in the same epoch
    assert curve_draws, "the new data was drawn"
    assert not axis_draws


def test_validation_dots_of_a_long_history_stay_apart(window):
    """At 7 px, the shipped model's 60 epochs of validation dots drew one solid bar."""
    curves = window.training.curves

    def history(epochs: int) -> dict:
        falling = list(np.linspace(1.0, 0.1, epochs))
        return {"loss": falling, "accuracy": [0.9] * epochs, "val_loss": falling, "val_accuracy": [0.95] * epochs}

    curves.show_history(history(60))
    for key, marker in curves.markers.items():
        assert marker.opts["symbolSize"] < curves.plots[key].getViewBox().width() / 60
    curves.show_history(history(3))
    assert curves.markers["loss"].opts["symbolSize"] == 7, "a few epochs keep big, easy dots"


def test_curve_legend_sits_outside_the_plots(window):
    curves = window.training.curves
    legend = curves.legend.sceneBoundingRect()
    for plot in curves.plots.values():
        assert not legend.intersects(plot.getViewBox().sceneBoundingRect())
    (sample, label), = [(s, l) for s, l in curves.legend.items if l.text == "validation"]
    assert sample.item.opts["symbolBrush"] == curves.markers["loss"].opts["symbolBrush"]


def test_optimizer_and_learning_rate_show_defaults_and_picking_a_network_keeps_choices(window):
    panel = window.training.panel
    panel.architecture.setCurrentIndex(panel.architecture.findData("lean"))
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.architecture.setCurrentIndex(panel.architecture.findData("dense"))
    assert panel.chosen_optimizer() == "sgd", "choosing dense silently switched the optimizer"
    panel.optimizer.setCurrentIndex(0)
    assert panel.chosen_optimizer() is None and panel.optimizer.currentText() == "Default (rmsprop)"
    panel.learning_rate.setValue(0)
    assert panel.chosen_learning_rate() is None and panel.learning_rate.text() == "Default (0.001)"


def test_train_panel_and_status_bar_name_different_things(window):

    form = window.training.panel.layout().itemAt(0).layout()
    roles = form.ItemRole
    row = next(row for row in range(form.rowCount()) if (field := form.itemAt(row, roles.FieldRole)) and field.layout() and field.layout().indexOf(window.training.panel.architecture) >= 0)
    assert form.itemAt(row, roles.LabelRole).widget().text() == "Network"  # beside it, Edit…
    assert window.models.label.text().startswith(f"Predicting with: {paths.SHIPPED_MODEL_PATH.name}")


def test_window_title_names_the_model_and_marks_unsaved(window):
    assert window.windowTitle() == f"{paths.SHIPPED_MODEL_PATH.name}[*] — mnistdesk" and not window.isWindowModified()
    window.models.unsaved = True
    window.models.update_label()
    assert window.isWindowModified()
    window.models.unsaved = False  # closing would ask


def test_help_lists_the_shortcuts(window, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "information", lambda *args: shown.append(args[2]))
    window._show_shortcuts()
    assert "Ctrl+Z" in shown[0] and "Ctrl+T" in shown[0] and "Continue training" in shown[0]
    assert "Ctrl+Shift+Z or Ctrl+Y" in shown[0] and "Esc or Del" in shown[0] and "0 – 9" in shown[0]
    assert "Epochs slider" in shown[0] and "← / →" in shown[0], "the slider's keys were missing from the list"


def test_the_shortcuts_fit_a_1024_by_640_screen(window, qtbot):
    """The list in one column was 672 px tall: its button was off a 1024×640 screen."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    heights = []

    def measure_and_close() -> None:
        box = QApplication.activeModalWidget()
        heights.append(box.sizeHint().height())
        box.accept()

    QTimer.singleShot(200, measure_and_close)
    window._show_shortcuts()
    assert heights and heights[0] <= 600, heights


def test_no_two_shortcuts_are_the_same_key(window):
    """Qt fires neither of two equal shortcuts: Redo listed Ctrl+Shift+Z and the standard Redo,
    which on Linux is Ctrl+Shift+Z too, so the key did nothing."""
    keys = [key.toString() for action in window.actions() for key in action.shortcuts()]
    assert len(keys) == len(set(keys)), sorted(key for key in keys if keys.count(key) > 1)
    assert [key.toString() for key in key_sequences("Ctrl+Shift+Z", "Ctrl+Z", QKeySequence.StandardKey.Undo)][:2] == ["Ctrl+Shift+Z", "Ctrl+Z"]
    assert len(key_sequences("Ctrl+Z", QKeySequence.StandardKey.Undo, "Ctrl+Z")) == len(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))


def test_undo_takes_back_clear_and_an_opened_image_and_redo_redoes(window, qtbot, tmp_path, sample):
    draw(window.canvas, ONE)
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    drawn = window.canvas.ink().copy()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.canvas.is_empty()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(window.canvas.ink(), drawn)
    Image.fromarray(sample.x_test[5]).resize((140, 140)).save(tmp_path / "digit.bmp")
    assert window.drawing.open_image(tmp_path / "digit.bmp")
    opened = window.canvas.ink().copy()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(window.canvas.ink(), drawn)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(window.canvas.ink(), opened)


def test_a_long_status_message_stops_at_a_rule_before_the_model_name(window, qtbot):
    """A long hover hint ran on into "Predicting with:" as if one sentence."""
    window.statusBar().showMessage("Lay a heat map over the canvas: which pixels raised or lowered the probability " * 3)
    QApplication.processEvents()
    image = window.statusBar().grab().toImage()
    label = window.models.label.geometry()
    paper = image.pixelColor(label.left() - 1, label.top() + 1).lightness()

    def full_height_line(x: int) -> bool:  # text never draws a line from the top of the bar to its bottom
        return all(image.pixelColor(x, y).lightness() < paper - 30 for y in range(label.top() + 2, label.bottom() - 1))

    assert any(full_height_line(x) for x in range(label.left(), label.left() + 8))


def test_the_canvas_shows_its_edge(window):
    image = window.canvas.grab().toImage()
    edge, paper = image.pixelColor(0, image.height() // 2), image.pixelColor(image.width() // 2, 2)
    assert edge.lightness() < paper.lightness() - 40


def test_model_and_image_dialogs_remember_their_own_folders(window, tmp_path, monkeypatch, sample):
    import shutil

    from PySide6.QtWidgets import QFileDialog

    images, models = tmp_path / "images", tmp_path / "models"
    images.mkdir(), models.mkdir()
    Image.fromarray(sample.x_test[5]).save(images / "digit.png")
    shutil.copyfile(paths.SHIPPED_MODEL_PATH, models / "mine.keras")
    started_in = []

    def dialog(parent, caption, start, *rest):
        started_in.append((caption, start))
        return str(images / "digit.png" if caption == "Open image" else models / "mine.keras"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog)
    window.drawing.choose_image()
    window.models.choose()
    window.drawing.choose_image()
    window.models.choose()
    assert started_in[2] == ("Open image", str(images)) and started_in[3] == ("Open model", str(models))


def test_first_start_fits_the_screen(qtbot, tmp_path):
    """No saved geometry on a small screen: the window opens no larger than the screen allows,
    with room for the window manager's title bar (on a 1024×640 laptop it pushed the status
    bar below the screen's edge)."""
    window = MainWindow(settings=QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    available = window.screen().availableGeometry()
    assert window.width() <= max(available.width() - 8, window.minimumSizeHint().width())
    assert window.height() <= max(available.height() - 30, window.minimumSizeHint().height()), "no room for a title bar"
