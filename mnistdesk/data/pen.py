"""Real people's handwriting: digits from real pen trajectories, drawn as the canvas draws them.

``assets/pendigits.npz`` holds 7,494 digits written by 30 people on a tablet with the screen
under the pen (UCI pendigits; provenance and licence in ``assets/README.md``). Each digit is
placed on a canvas the way a person draws it there — 30-90% of the canvas height, anywhere on
it, with the canvas's pen — and turned into the model's input exactly as the canvas does
(:func:`mnistdesk.ink.strokes.strokes_input`). Training and validation are split **by writer**:
no validation writer's digit is ever trained on. No Qt, no TensorFlow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mnistdesk.base import paths
from mnistdesk.data.drawn import CANVAS as CANVAS_PX
from mnistdesk.data.drawn import HEIGHT_RANGE
from mnistdesk.ink.pixels import linear_weights
from mnistdesk.ink.strokes import CANVAS_PEN_FRACTION, Stroke, render, strokes_input

#: Bump when the drawing of these digits changes: rendered sets are cached under this name.
DRAWING_VERSION = "3"
#: Each training writer's digit is drawn as recorded and this many more times, distorted as the
#: same person might write it another time (:func:`distorted`); validation digits only as recorded.
TRAINING_VARIANTS = 4
#: 8 of the 30 writers, drawn once with a fixed seed; never trained on.
VALIDATION_WRITERS = (2, 5, 11, 14, 18, 22, 25, 29)
DISTORTION_SEED = 11


@dataclass(frozen=True)
class PenDigit:
    """One handwritten digit: its strokes in tablet units (x, y; y down), label and writer."""

    strokes: tuple[np.ndarray, ...]
    label: int
    writer: int


@lru_cache(maxsize=1)
def load_digits() -> tuple[PenDigit, ...]:
    """Every digit of the bundled trajectories, in file order."""
    with np.load(paths.PENDIGITS_PATH, allow_pickle=False) as archive:
        steps, stroke_starts, digit_starts = archive["steps"], archive["stroke_starts"], archive["digit_starts"]
        labels, writers = archive["labels"], archive["writers"]
    points = np.cumsum(steps.astype(np.int32), axis=1).T.astype(np.float32)
    strokes = [points[a:b] for a, b in zip(stroke_starts[:-1], stroke_starts[1:])]
    return tuple(
        PenDigit(tuple(strokes[a:b]), int(label), int(writer))
        for a, b, label, writer in zip(digit_starts[:-1], digit_starts[1:], labels, writers)
    )


def split_by_writer(digits: Sequence[PenDigit]) -> tuple[list[PenDigit], list[PenDigit]]:
    """(training writers' digits, validation writers' digits)."""
    train = [digit for digit in digits if digit.writer not in VALIDATION_WRITERS]
    validation = [digit for digit in digits if digit.writer in VALIDATION_WRITERS]
    return train, validation


def place_on_canvas(digit: PenDigit, rng: np.random.Generator, height_range: tuple[float, float] = HEIGHT_RANGE, canvas: int = CANVAS_PX) -> list[Stroke]:
    """The digit's strokes in canvas pixels: a random height within ``height_range`` of the
    canvas, anywhere on it (the pen's width inside), as a person would draw it there."""
    points = np.concatenate(digit.strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    size = np.maximum(high - low, 1.0)
    pen = CANVAS_PEN_FRACTION * canvas
    scale = rng.uniform(*height_range) * canvas / size[1]
    scale = min(scale, (canvas - 2 * pen) / size[0])  # a wide digit still fits
    free = canvas - pen - size * scale
    offset = rng.uniform(pen / 2, np.maximum(free, pen / 2 + 1e-3)) - low * scale
    return [Stroke(stroke * scale + offset) for stroke in digit.strokes]


def distorted(digit: PenDigit, rng: np.random.Generator) -> PenDigit:
    """The same digit as the same person might write it another time: a little more or less
    slanted, rotated, wider or narrower, wobbled by a smooth random displacement, and strokes
    started late or lifted early (loops left open). The trajectory is changed, not the picture,
    so the pen stays round and its width even."""
    strokes = [_trimmed(stroke, rng) for stroke in digit.strokes]
    points = np.concatenate(strokes)
    centre, size = points.mean(axis=0), max(float(np.ptp(points, axis=0).max()), 1.0)
    angle, slant = np.deg2rad(rng.uniform(-10, 10)), rng.uniform(-0.35, 0.35)
    aspect = np.exp(rng.uniform(-0.2, 0.2))
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, -slant], [0.0, 1.0]])
    knots = rng.uniform(-0.06, 0.06, (2, 3, 3)) * size  # displacement at a 3×3 grid over the box
    low, span = points.min(axis=0), np.maximum(np.ptp(points, axis=0), 1.0)

    def move(stroke: np.ndarray) -> np.ndarray:
        grid = (stroke - low) / span * 2  # 0..2 across the box, in knot units
        weights = [linear_weights(grid[:, axis], 3) for axis in (0, 1)]
        wobble = np.stack([np.einsum("pi,ij,pj->p", weights[1], knots[k], weights[0]) for k in (0, 1)], axis=1)
        return ((stroke - centre) @ linear.T + centre + wobble).astype(np.float32)

    return PenDigit(tuple(move(stroke) for stroke in strokes), digit.label, digit.writer)


def _trimmed(stroke: np.ndarray, rng: np.random.Generator, most: float = 0.12) -> np.ndarray:
    """Half the time, up to ``most`` of the stroke's points cut from its start and its end."""
    if len(stroke) < 10 or rng.random() < 0.5:
        return stroke
    start, end = (int(rng.uniform(0, most) * len(stroke)) for _ in range(2))
    return stroke[start : len(stroke) - end]


def canvas_ink(strokes: Sequence[Stroke], canvas: int = CANVAS_PX) -> np.ndarray:
    """What the canvas shows for ``strokes`` (canvas pixels): its fixed pen, anti-aliased."""
    return render(strokes, (canvas, canvas), 1.0, (0.0, 0.0), CANVAS_PEN_FRACTION * canvas)


def drawn_inputs(digits: Sequence[PenDigit], seed: int = 0, height_range: tuple[float, float] = HEIGHT_RANGE) -> np.ndarray:
    """The model inputs (N, 28, 28) uint8 of ``digits`` drawn on the canvas; reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    images = [strokes_input(place_on_canvas(digit, rng, height_range)) for digit in digits]
    return np.stack([np.round(image * 255).astype(np.uint8) for image in images])


def drawing_fingerprint() -> str:
    """Names one drawing of the set: the trajectories file, the drawing code's version and every
    setting that changes the pictures, so a cached drawing is never used after any of them changed."""
    from mnistdesk.ink import preprocess, strokes

    digest = hashlib.sha256(paths.PENDIGITS_PATH.read_bytes())
    settings = (DRAWING_VERSION, VALIDATION_WRITERS, TRAINING_VARIANTS, DISTORTION_SEED, preprocess.STROKE_RATIO, strokes.MODEL_BOX_PX, strokes.SUPERSAMPLE, strokes.CURVE_STEP_PX)
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:12]


def drawing_set() -> dict[str, np.ndarray]:
    """The ``pen`` dataset's arrays in Keras's layout: the training writers' digits (each also
    distorted :data:`TRAINING_VARIANTS` times) and the validation writers' digits, as uint8 inputs."""
    train, validation = split_by_writer(load_digits())
    rng = np.random.default_rng(DISTORTION_SEED)
    train = train + [distorted(digit, rng) for _ in range(TRAINING_VARIANTS) for digit in train]
    return {
        "x_train": drawn_inputs(train, seed=1),
        "y_train": labels_of(train),
        "x_test": drawn_inputs(validation, seed=0),
        "y_test": labels_of(validation),
    }


def labels_of(digits: Sequence[PenDigit]) -> np.ndarray:
    return np.array([digit.label for digit in digits], np.uint8)
