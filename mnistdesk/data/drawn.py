"""An evaluation set of *drawn-looking* digits: real MNIST test digits re-drawn the way people
draw on the canvas — solid ink of one pen width with anti-aliased edges, at a random size
(30-90% of the canvas height) and position, thin or thick — then sent through the same
preprocessing as the canvas. It measures what users meet, which MNIST's own test set does not.
"""

from __future__ import annotations

import numpy as np

from mnistdesk.ink.pixels import neighbours, normalize
from mnistdesk.ink.preprocess import preprocess, resample, set_stroke_width

CANVAS = 280
UPSCALE = 4  # shapes are re-inked at 112×112 before being placed on the canvas
HEIGHT_RANGE = (0.3, 0.9)
#: Pen width relative to the digit's height: the canvas pen (7.5% of the canvas) on digits
#: drawn at 90% and at 30% of the canvas height, with some margin either way.
PEN_RATIO_RANGE = (0.07, 0.26)


def redraw(digit: np.ndarray, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """One uint8 MNIST digit re-drawn as canvas ink (float32 ``canvas``×``canvas`` in [0, 1])."""
    big = resample(normalize(digit), (28 * UPSCALE,) * 2, (UPSCALE, UPSCALE), (0.0, 0.0))
    shape = _box_blur(_box_blur(_box_blur(big))) > rng.uniform(0.3, 0.55)
    rows, cols = np.flatnonzero(shape.any(1)), np.flatnonzero(shape.any(0))
    height = rows[-1] - rows[0] + 1
    target_width = rng.uniform(*PEN_RATIO_RANGE) * height
    shape = set_stroke_width(shape, target_width, 12)
    rows, cols = np.flatnonzero(shape.any(1)), np.flatnonzero(shape.any(0))
    crop = shape[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    scale = rng.uniform(*HEIGHT_RANGE) * canvas / crop.shape[0]
    scale = min(scale, 0.95 * canvas / crop.shape[1])
    free_rows, free_cols = canvas - crop.shape[0] * scale, canvas - crop.shape[1] * scale
    offset = (rng.uniform(0, free_rows), rng.uniform(0, free_cols))
    return resample(crop, (canvas, canvas), (scale, scale), offset)


def drawn_inputs(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The 28×28 model inputs of re-drawn ``images`` (N, 28, 28) uint8, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    return np.stack([preprocess(redraw(image, rng)) for image in images])


def _box_blur(image: np.ndarray) -> np.ndarray:
    return np.mean(neighbours(image), axis=0)
