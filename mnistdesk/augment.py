"""On-the-fly augmentation of uint8 digit batches in numpy: small rotations, slant, shifts, zoom,
a gentle elastic wobble, and thicker or thinner strokes, the ways one person's handwriting
differs from another's. No TF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def linear_weights(positions: np.ndarray, knots: int) -> np.ndarray:
    """Bilinear interpolation weights of each position on knots 0..knots-1."""
    return np.maximum(0.0, 1.0 - np.abs(positions[:, None] - np.arange(knots, dtype=np.float32)[None])).astype(np.float32)


def warp(images: np.ndarray, angle: np.ndarray, shear: np.ndarray, zoom: np.ndarray, shift: np.ndarray, wobble: np.ndarray) -> np.ndarray:
    """Rotate, slant and zoom about the image centre, shift, and wobble; bilinear, zeros outside."""
    n, height, width = images.shape
    centre = np.array([(height - 1) / 2, (width - 1) / 2], np.float32)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = np.stack([rows.ravel(), cols.ravel()], axis=1) - centre  # (P, 2) output coordinates
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    inverse = np.stack([np.stack([cos, -sin], 1), np.stack([sin, cos], 1)], 1).astype(np.float32)  # (N, 2, 2)
    unslant = np.stack([np.stack([np.ones(n), np.zeros(n)], 1), np.stack([shear, np.ones(n)], 1)], 1).astype(np.float32)
    inverse = inverse @ unslant  # undo the slant (col += shear * row) first, then rotate and zoom
    source = (grid[None] - shift[:, None].astype(np.float32)) @ inverse.transpose(0, 2, 1) + centre + wobble  # (N, P, 2)
    top_left = np.floor(source).astype(np.int64)
    fraction = source - top_left
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2)))
    stride = width + 3
    r = np.clip(top_left[..., 0] + 1, 0, height + 1)
    c = np.clip(top_left[..., 1] + 1, 0, width + 1)
    index = (np.arange(n)[:, None] * padded[0].size + r * stride + c).astype(np.int32)
    inside = (top_left[..., 0] >= -1) & (top_left[..., 0] < height) & (top_left[..., 1] >= -1) & (top_left[..., 1] < width)
    flat = padded.ravel()
    fr, fc = fraction[..., 0], fraction[..., 1]
    top = flat.take(index) * (1 - fc) + flat.take(index + 1) * fc
    bottom = flat.take(index + stride) * (1 - fc) + flat.take(index + stride + 1) * fc
    value = top * (1 - fr) + bottom * fr
    return np.where(inside, value, 0).reshape(n, height, width).astype(np.float32)


def neighbours(images: np.ndarray) -> list[np.ndarray]:
    """The image(s) and their four one-pixel shifts (a cross-shaped structuring element),
    over the last two axes, so one image or a batch both work."""
    padded = np.pad(images, [(0, 0)] * (images.ndim - 2) + [(1, 1), (1, 1)])
    return [
        padded[..., 1:-1, 1:-1],
        padded[..., :-2, 1:-1],
        padded[..., 2:, 1:-1],
        padded[..., 1:-1, :-2],
        padded[..., 1:-1, 2:],
    ]


def dilate(images: np.ndarray) -> np.ndarray:
    """Thicker strokes: each pixel takes the brightest of its cross neighbourhood."""
    return np.maximum.reduce(neighbours(images))


def erode(images: np.ndarray) -> np.ndarray:
    """Thinner strokes: each pixel takes the darkest of its cross neighbourhood."""
    return np.minimum.reduce(neighbours(images))
