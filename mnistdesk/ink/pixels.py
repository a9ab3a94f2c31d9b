"""Pixel operations on 28×28 digit images (one or a batch, in numpy): scaling to [0, 1], thicker
and thinner strokes, and the bilinear warp behind augmentation and the robustness sliders. The
lowest piece of the ink layer: preprocessing, data and inspection all build on it.
"""

from __future__ import annotations

import numpy as np


def normalize(batch: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 → float32 in [0, 1]: the single place input scaling happens."""
    return np.divide(batch, 255, dtype=np.float32)


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
