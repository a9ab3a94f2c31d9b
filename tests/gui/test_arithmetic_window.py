"""The Arithmetic panel in the window: Alt+5 shows it; a click on a Prediction bar shows that
class's softmax, a click on an activation map's pixel that unit's convolution, and the panel
follows the unit as the drawing changes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from mnistdesk.explain.arithmetic import ConvView, SoftmaxView
from mnistdesk.gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False, personal_dir=tmp_path / "handwriting")
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.teaching.stop()
    window.wait_for_threads()


def draw_one(window, column: int) -> None:
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, column : column + 20] = 1.0
    window.canvas.set_background(ink)
    window.drawing.predict_now()


def test_alt_5_then_a_bar_shows_its_softmax_and_follows_the_drawing(window, qtbot):
    next(action for action in window.actions() if action.shortcut() == QKeySequence("Alt+5")).trigger()
    qtbot.waitUntil(window.inspect.arithmetic_on_screen)
    draw_one(window, 130)
    window.softmax.class_clicked.emit(1)
    shown = window.arithmetic.result
    assert isinstance(shown.view, SoftmaxView) and shown.unit.index == (1,)
    assert np.allclose(shown.view.shares, window.last_probabilities, atol=1e-6)
    draw_one(window, 60)  # another drawing: the same bar, its new numbers
    assert window.arithmetic.result.unit.index == (1,)
    assert np.allclose(window.arithmetic.result.view.shares, window.last_probabilities, atol=1e-6)


def test_a_click_on_an_activation_map_shows_that_units_convolution(window, qtbot):
    window.show_dock(window.docks["activations"])
    draw_one(window, 130)
    panel = window.activations
    qtbot.waitUntil(lambda: bool(panel.images))
    image = panel.images[0]
    centre = image.mapToScene(QPointF(image.width() / 2, image.height() / 2))
    QApplication.processEvents()
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton, pos=panel.mapFromScene(centre))
    qtbot.waitUntil(window.inspect.arithmetic_on_screen)  # brought to the front
    qtbot.waitUntil(lambda: window.arithmetic.result is not None)
    assert isinstance(window.arithmetic.result.view, ConvView)


def test_a_bar_clicked_for_the_arithmetic_panel_leaves_the_saliency_overlay_off(window, qtbot):
    """Clicking a bar turned the saliency overlay on, tinting the canvas of someone who only
    wanted the bar's arithmetic."""
    window.show_dock(window.docks["arithmetic"])
    qtbot.waitUntil(window.inspect.arithmetic_on_screen)
    draw_one(window, 130)
    assert not window.saliency.action.isChecked()
    window.softmax.class_clicked.emit(3)
    assert not window.saliency.action.isChecked() and window.arithmetic.result.unit.index == (3,)
    window.show_dock(window.docks["curves"])  # the Arithmetic panel out of sight: a bar is for saliency again
    qtbot.waitUntil(lambda: not window.inspect.arithmetic_on_screen())
    window.softmax.class_clicked.emit(4)
    assert window.saliency.action.isChecked()
