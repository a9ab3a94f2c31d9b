"""Read an image file (PNG, JPEG, BMP, …) as a bright-on-dark ink array for :mod:`preprocess`.

Dark ink on light paper and light ink on dark are both common (a scanned note vs an MNIST
digit), so the background is detected from the image's border and the image is flipped and
levelled so that the background is 0 and full ink is 1. No Qt here: the CLI uses it too.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnistdesk.base.untrusted import MAX_IMAGE_PIXELS, file_problem
from mnistdesk.ink.pixels import normalize

MAX_SIDE = 1024
MIN_CONTRAST = 0.1
#: Pillow modes with more than 8 bits per grey pixel (16-bit PNG, 32-bit int or float TIFF).
HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class ImageFileError(Exception):
    """An image file is missing, empty or unreadable; the message names the file and the problem."""


@contextmanager
def opened_image(path: str | os.PathLike, draft: bool = False) -> Iterator[Image.Image]:
    """The one guarded way into an image file, for every reader (an opened image, *Add folder*,
    the handwriting folder, the CLI): the declared size is checked before anything is decoded,
    and every failure — Pillow's decompression-bomb error included — becomes one
    :class:`ImageFileError` naming the file. ``draft``: let a JPEG decode at a smaller scale."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ImageFileError(f"{path}: {problem}")
    if path.stat().st_size == 0:
        raise ImageFileError(f"{path}: the file is empty")
    too_big = f"{path}: refused: the image has over {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, the most mnistdesk reads; scale it down first"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings about a file are not the user's business
            with Image.open(path) as image:
                if draft:
                    image.draft("L", (MAX_SIDE, MAX_SIDE))  # a JPEG decodes at up to 1/8 scale
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ImageFileError(f"{too_big} ({image.width}×{image.height})")
                yield image
    except Image.DecompressionBombError:
        raise ImageFileError(too_big) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as error:
        raise ImageFileError(f"{path}: not an image that can be read ({error})") from None


def load_ink(path: str | os.PathLike) -> np.ndarray:
    """Return a float32 ink image in [0, 1] (background 0) read from ``path``."""
    with opened_image(path, draft=True) as image:
        image.load()
        gray = _to_gray(ImageOps.exif_transpose(image))  # phone photos store "rotate me" in EXIF
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
    if image.mode in HIGH_DEPTH_MODES:
        image = Image.fromarray(_scaled_to_unit(np.asarray(image)), mode="F")
        if max(image.size) > MAX_SIDE:
            image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
        return np.asarray(image, np.float32)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    image = image.convert("L")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return normalize(np.asarray(image))


def _scaled_to_unit(values: np.ndarray) -> np.ndarray:
    """16-bit or float grey levels → [0, 1], scaled, never clipped (clipping made them blank):
    integers by the depth they fit (255 or 65535), floats as they are when within [0, 1];
    anything else by its own range."""
    integers = np.issubdtype(values.dtype, np.integer)
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    for top in (255.0, 65535.0) if integers else (1.0,):
        if low >= 0 and high <= top:
            return values / np.float32(top)
    return (values - low) / np.float32((high - low) or 1.0)
