"""Turn a drawing into the 28×28 input a model sees, the way MNIST's digits were made.

MNIST recipe (LeCun et al.): take the ink's bounding box, scale it with anti-aliasing to fit a
20×20 box keeping its aspect ratio, and paste it into a 28×28 field so that its centre of mass
sits at the centre. In the sample, the mean centre of mass of real digits is (14.0, 14.0) in
pixel-index coordinates, so that is where we put it. Pure numpy: the canvas and the CLI's
``classify`` share this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistdesk.ink.pixels import dilate, erode, normalize

SIZE = 28
BOX = 20
CENTRE = 14.0
INK_THRESHOLD = 0.05
MODES = ("mnist", "naive")
#: MNIST's strokes are ~2-3 px in the 20-px box whatever the writer's size: a pen width of this
#: fraction of the longer side of the digit's centre-line box (as :mod:`mnistdesk.ink.strokes`
#: re-draws canvas strokes). Images whose strokes are far thicker or thinner are evened out.
STROKE_RATIO = 0.13
WORK_PX = 80  # the ink box's longer side while strokes are evened out
STROKE_TOLERANCE = 1.6  # strokes within this factor of the target width are left as they are


@dataclass(frozen=True)
class Placement:
    """Where a drawing's ink went in the 28×28 input: the ink's box ``(top, left, height,
    width)`` in the ink's own pixels fills ``field_box`` (the same, in input pixels)."""

    ink_box: tuple[float, float, float, float]
    field_box: tuple[float, float, float, float]

    def moved(self, scale: float, offset: tuple[float, float]) -> Placement:
        """The same placement for ink drawn at ``ink * scale + offset`` (x, y) of other coordinates."""
        top, left, height, width = self.ink_box
        return Placement(((top - offset[1]) / scale, (left - offset[0]) / scale, height / scale, width / scale), self.field_box)


def preprocess(ink: np.ndarray, mode: str = "mnist", even_strokes: bool = True) -> np.ndarray | None:
    """Return the 28×28 float32 model input in [0, 1] for a 2-D ink image, or ``None`` if empty.

    ``ink`` is bright-on-dark: uint8 0-255 or floats in [0, 1], any size. ``mode="naive"`` just
    scales the whole image to 28×28, to show why the MNIST recipe matters. ``even_strokes=False``
    skips evening out the stroke width, for ink already drawn in MNIST's proportions.
    """
    return preprocess_placed(ink, mode, even_strokes)[0]


def preprocess_placed(ink: np.ndarray, mode: str = "mnist", even_strokes: bool = True) -> tuple[np.ndarray | None, Placement | None]:
    """:func:`preprocess`, and where the ink went (:func:`field_to_ink` maps back)."""
    if mode not in MODES:
        raise ValueError(f"unknown preprocessing mode {mode!r}; use one of {MODES}")
    ink = _as_unit_float(ink)
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    if rows.size == 0:
        return None, None
    if mode == "naive":
        height, width = ink.shape
        return resample(ink, (SIZE, SIZE), (SIZE / height, SIZE / width), (0.0, 0.0)), Placement((0.0, 0.0, height, width), (0.0, 0.0, SIZE, SIZE))
    top, left, crop = _ink_box(ink, rows)
    box = (float(top), float(left), float(crop.shape[0]), float(crop.shape[1]))
    if even_strokes:
        crop = _even_strokes(crop)
    scale = BOX / max(crop.shape)
    # Place the crop's centre of mass on the centre, then correct once for resampling error.
    row_offset, col_offset = (CENTRE + 0.5 - scale * (com + 0.5) for com in _centre_of_mass(crop))
    row_offset, col_offset = _clamped(row_offset, col_offset, crop.shape, scale)
    out = resample(crop, (SIZE, SIZE), (scale, scale), (row_offset, col_offset))
    com_row, com_col = _centre_of_mass(out)
    row_offset, col_offset = _clamped(row_offset + CENTRE - com_row, col_offset + CENTRE - com_col, crop.shape, scale)
    placement = Placement(box, (row_offset, col_offset, crop.shape[0] * scale, crop.shape[1] * scale))
    return resample(crop, (SIZE, SIZE), (scale, scale), (row_offset, col_offset)), placement


def field_to_ink(field: np.ndarray, placement: Placement, shape: tuple[int, int]) -> np.ndarray:
    """A 28×28 map (e.g. a saliency map) carried back onto the ink's pixels (``shape``).

    The preprocessing's resampling is linear in the ink, and resampling with the inverse
    geometry is its transpose up to a constant: a map of the input lands on the ink it came from.
    """
    top, left, height, width = placement.ink_box
    row, col, rows, cols = placement.field_box
    scale = (height / rows, width / cols)
    return resample(np.asarray(field, np.float32), shape, scale, (top - row * scale[0], left - col * scale[1]), clip=False)


def _ink_box(ink: np.ndarray, rows: np.ndarray | None = None) -> tuple[int, int, np.ndarray]:
    """The smallest rectangle holding all the ink: its top row, left column and pixels."""
    if rows is None:
        rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    return int(rows[0]), int(cols[0]), ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the inked area over the length of its edge."""
    shape = ink > 0.5
    edge = max(int((shape & ~erode(shape)).sum()), 1)
    return 2.0 * float(shape.sum()) / edge


def _even_strokes(crop: np.ndarray) -> np.ndarray:
    """A tight ink crop whose strokes are far too thick or thin for its size (a small digit
    drawn with a broad pen, a large one with a fine pen), thinned or thickened towards MNIST's
    proportion; other crops (and ink too faint or fine to measure) come back unchanged."""
    scale = WORK_PX / max(crop.shape)
    shape = (max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale)))
    work = resample(crop, shape, (scale, scale), (0.0, 0.0))
    target = WORK_PX * STROKE_RATIO / (1 + STROKE_RATIO)
    width = stroke_width(work)
    if width == 0 or target / STROKE_TOLERANCE <= width <= target * STROKE_TOLERANCE:
        return crop
    return _ink_box(set_stroke_width(np.pad(work, WORK_PX // 4), target, WORK_PX // 4))[2]


def set_stroke_width(ink: np.ndarray, target: float, most_steps: int) -> np.ndarray:
    """Thin or thicken the strokes one pixel layer at a time while that brings their width
    (:func:`stroke_width`) closer to ``target``; ink is never erased entirely."""
    width = stroke_width(ink)
    for _ in range(most_steps):
        changed = erode(ink) if width > target else dilate(ink)
        changed_width = stroke_width(changed)
        if changed_width == 0 or abs(changed_width - target) >= abs(width - target):
            break
        ink, width = changed, changed_width
    return ink


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) centre of mass of a 2-D image in pixel-index coordinates."""
    return _centre_of_mass(np.asarray(image, dtype=np.float64))


def _as_unit_float(ink: np.ndarray) -> np.ndarray:
    ink = np.asarray(ink)
    if ink.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {ink.shape}")
    if ink.dtype == np.uint8:
        return normalize(ink)
    unit = np.nan_to_num(np.asarray(ink, np.float32))  # a copy: the caller's array stays as it was
    return np.clip(unit, 0.0, 1.0, out=unit)


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    total = float(image.sum())
    row_mass = image.sum(axis=1)
    col_mass = image.sum(axis=0)
    return (
        float(row_mass @ np.arange(image.shape[0])) / total,
        float(col_mass @ np.arange(image.shape[1])) / total,
    )


def _clamped(row_offset: float, col_offset: float, shape: tuple[int, int], scale: float) -> tuple[float, float]:
    """Keep the scaled box inside the field (only lopsided digits ever need this)."""
    return (
        min(max(row_offset, 0.0), SIZE - shape[0] * scale),
        min(max(col_offset, 0.0), SIZE - shape[1] * scale),
    )


def resample(image: np.ndarray, shape: tuple[int, int], scale: tuple[float, float], offset: tuple[float, float], clip: bool = True) -> np.ndarray:
    """Area-weighted (anti-aliased) resampling of ``image`` into a field of ``shape``.

    Input pixel ``i`` covers ``[i, i+1)``, which maps to ``[i*scale + offset, (i+1)*scale + offset)``
    in output coordinates; each output pixel averages what falls inside it, and whatever falls
    outside the field is dropped. Ink is clipped to [0, 1]; other maps (``clip=False``) are not.
    """
    rows = _coverage(image.shape[0], shape[0], scale[0], offset[0])
    cols = _coverage(image.shape[1], shape[1], scale[1], offset[1])
    out = rows @ image.astype(np.float32) @ cols.T
    return (np.clip(out, 0.0, 1.0) if clip else out).astype(np.float32)


def _coverage(n_in: int, n_out: int, scale: float, offset: float) -> np.ndarray:
    """Matrix (n_out, n_in): the area of output pixel j covered by input pixel i."""
    starts = np.arange(n_in) * scale + offset
    ends = starts + scale
    out = np.arange(n_out)[:, None]
    overlap = np.minimum(ends[None, :], out + 1) - np.maximum(starts[None, :], out)
    return np.maximum(overlap, 0.0).astype(np.float32)
