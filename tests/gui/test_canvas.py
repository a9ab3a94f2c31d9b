"""The live canvas draws like the pen-drawing set: a recorded trajectory replayed with the mouse
gives the model nearly the same 28×28 input as the same trajectory rendered by the core."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from mnistdesk.data import pen
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.ink.preprocess import preprocess
from mnistdesk.ink.strokes import Stroke, strokes_input

PEN_RATE_HZ = 10  # the tablet recorded a point every 100 ms


@pytest.fixture
def canvas(qtbot):
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(pen.CANVAS_PX, pen.CANVAS_PX)
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def replay(canvas: DrawingCanvas, strokes, mouse_hz: int, button=Qt.MouseButton.LeftButton) -> None:
    """Press, move and release along each stroke as a mouse reports it: whole pixels, at
    ``mouse_hz`` points a second between the tablet's points (10 a second)."""
    per_segment = max(1, round(mouse_hz / PEN_RATE_HZ))

    def send(kind, point, buttons):
        position = QPointF(*np.round(point))
        event = QMouseEvent(kind, position, canvas.mapToGlobal(position), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)

    for stroke in strokes:
        points = stroke.points
        send(QEvent.Type.MouseButtonPress, points[0], button)
        for start, end in zip(points, points[1:]):
            for t in np.arange(1, per_segment + 1) / per_segment:
                send(QEvent.Type.MouseMove, start + t * (end - start), button)
        send(QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.NoButton)


@pytest.mark.parametrize("mouse_hz", [60, 125])
def test_mouse_drawn_trajectory_gives_the_rendered_input(canvas, mouse_hz):
    digits = [d for d in pen.load_digits()[:400] if d.label in (1, 4, 7, 9)][:12]
    rng = np.random.default_rng(mouse_hz)
    for digit in digits:
        placed = pen.place_on_canvas(digit, rng)
        canvas.clear()
        replay(canvas, placed, mouse_hz)
        drawn, rendered = canvas.model_input(), strokes_input(placed)
        assert np.abs(drawn - rendered).mean() < 0.02, f"a {digit.label} by writer {digit.writer}"
        # What the person sees on the canvas is what the core draws with the canvas's pen.
        shown, core = preprocess(canvas.ink()), preprocess(pen.canvas_ink(placed))
        assert np.abs(shown - core).mean() < 0.04, f"a {digit.label} by writer {digit.writer}"


def test_small_digit_in_a_corner_is_not_a_blob(canvas):
    three = next(d for d in pen.load_digits() if d.label == 3)
    small = pen.place_on_canvas(three, np.random.default_rng(0), (0.22, 0.22))
    replay(canvas, small, 60)
    small_input = canvas.model_input()
    canvas.clear()
    replay(canvas, pen.place_on_canvas(three, np.random.default_rng(0), (0.9, 0.9)), 60)
    assert np.abs(small_input - canvas.model_input()).mean() < 0.02


def test_a_drag_past_the_edge_gives_the_model_only_visible_ink(canvas):
    inside = [Stroke(np.array([[140.0, 40.0], [140.0, 240.0]]))]
    replay(canvas, inside, 60)
    visible = canvas.model_input()
    canvas.clear()
    replay(canvas, [Stroke(np.array([[140.0, 40.0], [140.0, 240.0], [140.0, 900.0]]))], 60)
    assert np.abs(canvas.model_input() - visible).mean() < 0.02


def test_erasing_around_a_tiny_mark_stays_fast(canvas):
    """An eraser sweep across the canvas, then a 3-pixel dash (the shortest drag that draws): the model's re-drawing is scaled to
    the ink, and must not blow the eraser up to thousands of pixels (seconds per update)."""
    import time

    replay(canvas, [Stroke(np.array([[0.0, 50.0], [280.0, 50.0]]))], 125, Qt.MouseButton.RightButton)
    replay(canvas, [Stroke(np.array([[140.0, 140.0], [143.0, 140.0]]))], 60)
    started = time.perf_counter()
    assert canvas.model_input() is not None
    assert time.perf_counter() - started < 0.2
