"""Read an image file (PNG, JPEG, BMP, …) as a bright-on-dark ink array for :mod:`preprocess`.

Dark ink on light paper and light ink on dark are both common (a scanned note vs an MNIST
digit), so the background is detected from the image's border and the image is flipped and
levelled so that the background is 0 and full ink is 1. No Qt here: the CLI uses it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnistdesk.data import normalize

MAX_SIDE = 1024
MIN_CONTRAST = 0.1


class ImageFileError(Exception):
    """An image file is missing, empty or unreadable; the message names the file and the problem."""


def load_ink(path: str | os.PathLike) -> np.ndarray:
    """Return a float32 ink image in [0, 1] (background 0) read from ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageFileError(f"{path}: the file is empty")
    try:
        with Image.open(path) as image:
            image.draft("L", (MAX_SIDE, MAX_SIDE))
            image.load()
            gray = _to_gray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageFileError(f"{path}: not an image that can be read ({error})") from None
    return ink_from_gray(gray)


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Flip dark-on-light to light-on-dark, level the paper to 0 and the strongest ink to 1."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = 1.0 - gray if background > 0.5 else gray
    level = 1.0 - background if background > 0.5 else background
    contrast = float(ink.max()) - level
    if contrast < MIN_CONTRAST:  # blank paper: do not blow its noise up into "ink"
        return np.zeros_like(ink, dtype=np.float32)
    return np.clip((ink - level) / contrast, 0.0, 1.0).astype(np.float32)


def _to_gray(image: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1]; transparent pixels count as the paper (white)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    image = image.convert("L")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return normalize(np.asarray(image))
