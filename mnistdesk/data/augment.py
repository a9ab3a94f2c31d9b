"""On-the-fly augmentation of uint8 digit batches in numpy: small rotations, slant, shifts, zoom,
a gentle elastic wobble, and thicker or thinner strokes, the ways one person's handwriting
differs from another's. No TF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistdesk.ink.pixels import dilate, erode, linear_weights, warp


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random changes; each image gets its own draw."""

    max_rotation_deg: float = 12.0
    max_shear: float = 0.3  # slant: horizontal shift per row, relative (0.3 ≈ 17°)
    max_shift_px: float = 2.0
    zoom: tuple[float, float] = (0.9, 1.1)
    elastic_px: float = 1.2  # largest displacement of the smooth random wobble
    thickness_probability: float = 0.5


def augment_batch(images: np.ndarray, rng: np.random.Generator, spec: Augmentation = Augmentation()) -> np.ndarray:
    """Return a randomly transformed copy of ``images`` (N, 28, 28) uint8."""
    n, height, width = images.shape
    angle = np.deg2rad(rng.uniform(-spec.max_rotation_deg, spec.max_rotation_deg, n))
    shear = rng.uniform(-spec.max_shear, spec.max_shear, n)
    zoom = rng.uniform(*spec.zoom, n)
    shift = rng.uniform(-spec.max_shift_px, spec.max_shift_px, (n, 2))
    wobble = _smooth_field(rng, n, height, width, spec.elastic_px)
    out = warp(images.astype(np.float32), angle, shear, zoom, shift, wobble)
    change = rng.random(n)
    thicker = change < spec.thickness_probability / 2
    thinner = (change >= spec.thickness_probability / 2) & (change < spec.thickness_probability)
    out[thicker] = dilate(out[thicker])
    out[thinner] = 0.5 * (out[thinner] + erode(out[thinner]))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _smooth_field(rng: np.random.Generator, n: int, height: int, width: int, amplitude: float) -> np.ndarray:
    """Random displacements (N, P, 2) that vary smoothly over the image: random values on a
    4×4 grid, bilinearly interpolated (a cheap stand-in for Simard's blurred noise)."""
    coarse = rng.uniform(-amplitude, amplitude, (n, 2, 4, 4)).astype(np.float32)
    rows = np.linspace(0, 3, height, dtype=np.float32)
    cols = np.linspace(0, 3, width, dtype=np.float32)
    row_weights, col_weights = linear_weights(rows, 4), linear_weights(cols, 4)  # (H, 4), (W, 4)
    field = row_weights @ coarse @ col_weights.T  # (N, 2, H, W)
    return field.transpose(0, 2, 3, 1).reshape(n, height * width, 2)
