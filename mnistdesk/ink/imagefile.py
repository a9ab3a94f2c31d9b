"""Read an image file (PNG, JPEG, BMP, …) as a bright-on-dark ink array for :mod:`preprocess`.

Dark ink on light paper and light ink on dark are both common (a scanned note vs an MNIST
digit), so the background is detected from the image's border and the image is flipped and
levelled so that the background is 0 and full ink is 1. No Qt here: the CLI uses it too.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
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
        ImageOps.exif_transpose(image, in_place=True)  # phone photos store "rotate me" in EXIF; in place: no copy when they do not
        gray = _to_gray(image)
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


#: Tiles of at most this many pixels on a side are converted at a time (see :func:`_to_gray`).
TILE_SIDE = 1024


def _to_gray(image: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1], at most :data:`MAX_SIDE` on a side; transparent pixels count as the
    paper (white). Converted a tile at a time, each reduced as it comes: converting a 6300×6300
    float, 16-bit or RGBA image whole took several full-size copies (1.5 GB); the result is the
    same as a thumbnail of the whole converted image."""
    if image.mode in HIGH_DEPTH_MODES:
        scaled = _unit_scale(image)
        reduced = _reduced(image, "F", lambda tile: Image.fromarray(scaled(np.asarray(tile))))
        return np.asarray(reduced, np.float32)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        reduced = _reduced(image, "L", _on_paper)
    else:
        reduced = _reduced(image, "L", lambda tile: tile.convert("L"))
    return normalize(np.asarray(reduced))


def _on_paper(tile: Image.Image) -> Image.Image:
    """A tile with transparency as grey levels over white paper."""
    rgba = tile.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")


def _reduced(image: Image.Image, mode: str, convert: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """``image`` converted to ``mode`` tile by tile and shrunk to at most :data:`MAX_SIDE` on a
    side, exactly as ``thumbnail`` shrinks it with box sampling: reduced by whole factors first
    (each tile on its own, tiles aligned to the factors), then resized."""
    width, height = image.size
    size = _thumbnail_size(width, height)
    factor_x, factor_y = (int(width / size[0] / 2) or 1, int(height / size[1] / 2) or 1) if size else (1, 1)
    reduced = Image.new(mode, (-(-width // factor_x), -(-height // factor_y)))
    for left, top, tile in _tiles(image, factor_x * max(1, TILE_SIDE // factor_x), factor_y * max(1, TILE_SIDE // factor_y)):
        converted = convert(tile)
        reduced.paste(converted.reduce((factor_x, factor_y)) if size else converted, (left // factor_x, top // factor_y))
    return reduced.resize(size, Image.Resampling.BOX, box=(0, 0, width / factor_x, height / factor_y)) if size else reduced


def _thumbnail_size(width: int, height: int) -> tuple[int, int] | None:
    """The size ``thumbnail((MAX_SIDE, MAX_SIDE))`` gives an image (Pillow's rounding); None
    when it fits as it is."""
    if width <= MAX_SIDE and height <= MAX_SIDE:
        return None
    aspect = width / height

    def rounded(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if aspect <= 1:
        return rounded(MAX_SIDE * aspect, lambda n: abs(aspect - n / MAX_SIDE)), MAX_SIDE
    return MAX_SIDE, rounded(MAX_SIDE / aspect, lambda n: 0 if n == 0 else abs(aspect - MAX_SIDE / n))


def _tiles(image: Image.Image, step_x: int, step_y: int) -> Iterator[tuple[int, int, Image.Image]]:
    """The image in tiles of ``step_x`` × ``step_y`` (smaller at the right and bottom edges)."""
    width, height = image.size
    for top in range(0, height, step_y):
        for left in range(0, width, step_x):
            yield left, top, image.crop((left, top, min(width, left + step_x), min(height, top + step_y)))


def _unit_scale(image: Image.Image) -> Callable[[np.ndarray], np.ndarray]:
    """How a 16-bit or float image's grey levels go to [0, 1]: scaled, never clipped (clipping
    made them blank): integers by the depth they fit (255 or 65535), floats as they are when
    within [0, 1]; anything else by the image's own range (found tile by tile). NaN and
    infinities count as 0."""
    low, high = math.inf, -math.inf
    for _, _, tile in _tiles(image, TILE_SIDE, TILE_SIDE):
        values = _finite(np.asarray(tile))
        low, high = min(low, float(values.min())), max(high, float(values.max()))
    for top in (255.0, 65535.0) if image.mode != "F" else (1.0,):
        if low >= 0 and high <= top:
            return lambda values: _finite(values) / np.float32(top)
    return lambda values: (_finite(values) - low) / np.float32((high - low) or 1.0)


def _finite(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
