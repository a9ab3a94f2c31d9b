"""Drawing pen strokes as ink, and the model's input made from strokes. No Qt.

People draw with one pen, so a small digit gets bold strokes and a large one thin strokes, while
MNIST's strokes are ~2-3 px in the 20-px box whatever the writer's size. The canvas keeps its
strokes as vectors, so the model's input is re-drawn from them with a pen width relative to the
digit's own box (:func:`strokes_input`): the same digit drawn small in a corner or filling the
canvas gives the same 28×28 input. The drawing sets built from real pen trajectories
(:mod:`mnistdesk.data.pen`) use the same functions, so they measure exactly what the canvas feeds
the model.

A stroke is a sequence of (x, y) points, y pointing down; a smooth curve (centripetal
Catmull-Rom) is drawn through them with a round, anti-aliased pen, and pen-ups are never joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from mnistdesk.ink.preprocess import STROKE_RATIO, Placement, preprocess_placed

#: The canvas's pen, as a fraction of the canvas's shorter side, and its eraser's.
CANVAS_PEN_FRACTION = 0.075
CANVAS_ERASER_FRACTION = 2.5 * CANVAS_PEN_FRACTION
#: Resolution of the model's re-drawing: the longer side of the digit's box, in pixels.
MODEL_BOX_PX = 80
SUPERSAMPLE = 4
CURVE_STEP_PX = 1.5  # the smooth curve is drawn as segments about this long


@dataclass(frozen=True, eq=False)
class Stroke:
    """One pen-down to pen-up: points (N, 2) as (x, y), and whether it erases."""

    points: np.ndarray
    erase: bool = False


def render(strokes: Sequence[Stroke], shape: tuple[int, int], scale: float, offset: tuple[float, float], pen_width: float, eraser_width: float = 0.0) -> np.ndarray:
    """Ink (float32 in [0, 1], ``shape`` = (rows, cols)) of ``strokes`` drawn in order.

    A point ``p`` lands at pixel coordinates ``p * scale + offset`` (x, y); widths are in pixels.
    Drawn ``SUPERSAMPLE`` times larger and averaged down, so the pen's edges are anti-aliased.
    """
    rows, cols = shape
    image = Image.new("L", (cols * SUPERSAMPLE, rows * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(image)
    step = CURVE_STEP_PX * SUPERSAMPLE
    for stroke in strokes:
        width = (eraser_width if stroke.erase else pen_width) * SUPERSAMPLE
        pixels = (np.asarray(stroke.points, np.float64) * scale + np.asarray(offset)) * SUPERSAMPLE
        curve = smooth(_thinned(pixels[np.isfinite(pixels).all(axis=1)], step / 2), step)
        _draw_round_polyline(draw, curve, width, 0 if stroke.erase else 255, image.size)
    return np.asarray(image.reduce(SUPERSAMPLE), np.float32) / 255.0


def strokes_input(strokes: Sequence[Stroke], eraser_width: float = CANVAS_ERASER_FRACTION) -> np.ndarray | None:
    """The 28×28 model input for ``strokes``, re-drawn with a pen relative to the digit's box.

    ``eraser_width`` is in the strokes' own units (an eraser erases the same places at any
    size). ``None`` when there is no ink.
    """
    return strokes_input_placed(strokes, eraser_width)[0]


def strokes_input_placed(strokes: Sequence[Stroke], eraser_width: float = CANVAS_ERASER_FRACTION) -> tuple[np.ndarray | None, Placement | None]:
    """:func:`strokes_input`, and where the ink went, in the strokes' own coordinates."""
    ink = [np.asarray(stroke.points, np.float64) for stroke in strokes if not stroke.erase]
    points = np.concatenate([np.zeros((0, 2)), *ink])
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return None, None
    erasing = any(stroke.erase for stroke in strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    # A dot still gets a box; with an eraser, a box no smaller than the eraser keeps its disc
    # (drawn at the same scale) a sensible size however tiny the ink.
    side = max(float(max(high - low)), eraser_width if erasing else 0.0, 1e-6)
    scale = MODEL_BOX_PX / side
    pen = STROKE_RATIO * MODEL_BOX_PX
    margin = pen + 2
    size = (high - low) * scale + 2 * margin
    shape = (int(np.ceil(size[1])), int(np.ceil(size[0])))
    offset = tuple(margin - low * scale)
    # Erased ink still counts in the box above, so after erasing, the width is evened out again.
    image, placement = preprocess_placed(render(strokes, shape, scale, offset, pen, eraser_width * scale), even_strokes=erasing)
    return image, None if placement is None else placement.moved(scale, offset)


def drawing_input_placed(
    strokes: Sequence[Stroke],
    ink: Callable[[], np.ndarray],
    mode: str = "mnist",
    has_background: bool = False,
    eraser_width: float = CANVAS_ERASER_FRACTION,
    scale: float = 1.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> tuple[np.ndarray | None, Placement | None]:
    """The model's input for a canvas drawing: re-drawn from its strokes in ``mnist`` mode, from
    the canvas's ``ink()`` image when the drawing holds an opened image or in ``naive`` mode.
    And where the ink went, in the pixels of ``ink()``, where a stroke point ``p`` lands at
    ``p * scale + offset`` (x, y): a saliency map of the input goes back onto the canvas."""
    if mode == "mnist" and not has_background:
        image, placement = strokes_input_placed(strokes, eraser_width)
        return image, None if placement is None else placement.moved(1 / scale, (-offset[0] / scale, -offset[1] / scale))
    return preprocess_placed(ink(), mode)


def smooth(points: np.ndarray, step: float) -> np.ndarray:
    """A centripetal Catmull-Rom curve through ``points`` (N, 2), sampled every ~``step``.

    It passes through every recorded point, so a slow pen's dense points change nothing, and a
    fast pen's sparse points become a curve instead of a polygon.
    """
    points = np.asarray(points, np.float64)
    if len(points) > 1:
        keep = np.r_[True, np.any(np.diff(points, axis=0) != 0, axis=1)]
        points = points[keep]
    if len(points) < 3:
        return points
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    p0, p1, p2, p3 = padded[:-3], padded[1:-2], padded[2:-1], padded[3:]
    lengths = np.linalg.norm(p2 - p1, axis=1)
    counts = np.maximum(np.ceil(lengths / step).astype(int), 1)
    segment = np.repeat(np.arange(len(p1)), counts)
    t = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) / np.repeat(counts, counts)
    curve = _centripetal(p0[segment], p1[segment], p2[segment], p3[segment], t[:, None])
    return np.vstack([curve, points[-1:]])


def _centripetal(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Barry-Goldman evaluation of centripetal Catmull-Rom at ``t`` in [0, 1] between p1 and p2."""
    t01 = np.sqrt(np.linalg.norm(p1 - p0, axis=1, keepdims=True)) + 1e-9
    t12 = np.sqrt(np.linalg.norm(p2 - p1, axis=1, keepdims=True)) + 1e-9
    t23 = np.sqrt(np.linalg.norm(p3 - p2, axis=1, keepdims=True)) + 1e-9
    u = t * t12  # time between p1 (0) and p2 (t12)
    a1 = ((t12 - u) * p1 + u * p2) / t12
    a0 = ((-u) * p0 + (u + t01) * p1) / t01
    a2 = ((t12 + t23 - u) * p2 + (u - t12) * p3) / t23
    b1 = ((t12 - u) * a0 + (u + t01) * a1) / (t01 + t12)
    b2 = ((t12 + t23 - u) * a1 + u * a2) / (t12 + t23)
    return ((t12 - u) * b1 + u * b2) / t12


def _thinned(points: np.ndarray, spacing: float) -> np.ndarray:
    """The points at least ~``spacing`` apart along the path (a mouse reports many more than a
    curve needs), always keeping the first and the last."""
    if len(points) < 3:
        return points
    travelled = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    keep = np.r_[True, np.diff(np.floor(travelled / spacing)) > 0]
    keep[-1] = True
    return points[keep]


def _draw_round_polyline(draw: ImageDraw.ImageDraw, pixels: np.ndarray, width: float, fill: int, size: tuple[int, int]) -> None:
    """A polyline with round caps and joins: a disc at every vertex that can touch the image,
    a thick line between (PIL's own ``joint="curve"`` leaves slivers between short, thick segments)."""
    radius = width / 2
    near = (pixels > -radius).all(axis=1) & (pixels[:, 0] < size[0] + radius) & (pixels[:, 1] < size[1] + radius)
    for x, y in pixels[near].tolist():
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    if len(pixels) > 1:
        draw.line([tuple(p) for p in pixels.tolist()], fill=fill, width=max(1, round(width)))
