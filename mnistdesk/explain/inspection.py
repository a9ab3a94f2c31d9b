"""Looking inside a model, in plain numpy: confusion matrices and their mistakes, the hidden
layers as image mosaics, and the robustness transforms (shift, rotate, scale, stroke thickness)
applied to a 28×28 input. No Qt, no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mnistdesk.ink.pixels import dilate, erode, warp
from mnistdesk.net.live import mosaic


@dataclass(frozen=True)
class SplitScore:
    """A model's predictions on a labelled split, e.g. the validation split after an epoch.

    ``images`` are uint8 (N, 28, 28), ``probabilities`` (N, classes)."""

    split: str  # what to call it on screen: "validation split, epoch 3"
    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    def confusion(self) -> np.ndarray:
        """Counts (classes, classes): rows the true class, columns the predicted one."""
        classes = self.probabilities.shape[1]
        counts = np.zeros((classes, classes), np.int64)
        np.add.at(counts, (self.labels.astype(np.int64), self.predicted), 1)
        return counts

    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean()) if len(self.labels) else math.nan

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the digits of class ``true`` predicted as ``predicted``, the most
        confident first: the mistakes the model is surest of are the telling ones."""
        members = np.flatnonzero((self.labels == true) & (self.predicted == predicted))
        confidence = self.probabilities[members, predicted]
        return members[np.argsort(-confidence, kind="stable")]


def row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row as fractions of its class (0 for a class with no digits), for colour."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, np.float64), where=totals > 0)


def per_class_accuracy(counts: np.ndarray) -> np.ndarray:
    """The diagonal over each row's total; NaN for a class with no digits."""
    totals = counts.sum(axis=1)
    return np.divide(np.diag(counts), totals, out=np.full(len(counts), np.nan), where=totals > 0)


def activation_image(values: np.ndarray) -> np.ndarray:
    """One layer's output for one input as an image: a conv layer's feature maps (h, w, F) as
    a mosaic of F maps, a dense layer's units (U,) as a near-square grid (NaN past the end)."""
    if values.ndim == 3:
        return mosaic(values.transpose(2, 0, 1), cols=math.ceil(math.sqrt(values.shape[-1] * 1.5)))[0]
    flat = values.reshape(-1)
    cols = math.ceil(math.sqrt(len(flat)))
    grid = np.full(cols * math.ceil(len(flat) / cols), np.nan, np.float32)
    grid[: len(flat)] = flat
    return grid.reshape(-1, cols)


@dataclass(frozen=True)
class Transform:
    """A change to the 28×28 input: shift in pixels, rotation in degrees (anticlockwise),
    scale about the centre, and stroke thickness in pixel steps (+ thicker, − thinner)."""

    shift_x: float = 0.0
    shift_y: float = 0.0
    rotation: float = 0.0
    scale: float = 1.0
    thickness: float = 0.0

    def is_identity(self) -> bool:
        return self == Transform()


#: Each transform's range and the value that changes nothing, for the sliders and sweeps.
TRANSFORM_RANGES = {
    "shift_x": (-8.0, 8.0),
    "shift_y": (-8.0, 8.0),
    "rotation": (-90.0, 90.0),
    "scale": (0.5, 1.6),
    "thickness": (-2.0, 3.0),
}


def transformed(images: np.ndarray, transforms: list[Transform]) -> np.ndarray:
    """Each transform applied to the matching image (N, 28, 28) in [0, 1]: thickness first
    (on the drawing as it is), then rotate and scale about the centre and shift."""
    images = np.asarray(images, np.float32)
    out = np.stack([_thickened(image, t.thickness) for image, t in zip(images, transforms, strict=True)])
    angle = np.deg2rad([-t.rotation for t in transforms])  # rows grow downwards: negate for anticlockwise
    zoom = np.array([t.scale for t in transforms], np.float32)
    shift = np.array([(t.shift_y, t.shift_x) for t in transforms], np.float32)
    n, height, width = out.shape
    out = warp(out, angle, np.zeros(n), zoom, shift, np.zeros((n, height * width, 2), np.float32))
    return np.clip(out, 0.0, 1.0)


def sweep(image: np.ndarray, base: Transform, name: str, points: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Inputs along one transform's whole range, the others kept at ``base``: the values and the
    transformed images (points, 28, 28), to be scored in one batch."""
    low, high = TRANSFORM_RANGES[name]
    values = np.linspace(low, high, points)
    transforms = [Transform(**{**base.__dict__, name: float(value)}) for value in values]
    return values, transformed(np.repeat(np.asarray(image, np.float32)[None], points, axis=0), transforms)


def _thickened(image: np.ndarray, steps: float) -> np.ndarray:
    """Whole steps of dilation (+) or erosion (−), the fraction blended with the next step."""
    grow = dilate if steps > 0 else erode
    whole, fraction = divmod(abs(steps), 1.0)
    for _ in range(int(whole)):
        image = grow(image)
    return image if fraction == 0 else (1 - fraction) * image + fraction * grow(image)
