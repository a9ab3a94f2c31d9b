"""The user's own labelled drawings: a personal dataset on disk that fine-tuning learns from.

Each drawing is kept twice, in the folder layout Keras's ``image_dataset_from_directory``
reads (``<digit>/<name>.png``): the canvas as drawn under ``drawings/`` and the 28×28 model
input it gave under ``inputs/``. Every file is written atomically, so a crash loses at most the
drawing being saved. Folders of labelled images from elsewhere (any size, dark on light or
light on dark) are read through the same preprocessing as an opened image. No Qt here: the
caller passes the folder (the app: its data location; the CLI: ``--drawings``).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mnistdesk.base.files import replacing
from mnistdesk.ink.imagefile import ImageFileError, load_ink, opened_image
from mnistdesk.ink.preprocess import preprocess

DRAWINGS_DIR = "drawings"
INPUTS_DIR = "inputs"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: A labelled folder is read up to this many images: fine-tuning wants dozens, not a dataset.
MAX_FOLDER_IMAGES = 5000
NO_LABELLED_IMAGES = "no labelled images found; put each digit's images in a folder named after it (0/, 1/, … 9/)"


@dataclass(frozen=True)
class PersonalDrawing:
    """One labelled drawing: its digit, its name (shared by its two files) and their paths."""

    label: int
    name: str
    drawing: Path
    model_input: Path


@dataclass(frozen=True)
class LabelledImages:
    """Images read from a labelled folder: model inputs (N, 28, 28) uint8, labels, and one line
    per file that could not be used."""

    images: np.ndarray
    labels: np.ndarray
    problems: tuple[str, ...] = ()


class PersonalDrawings:
    """A folder of the user's labelled drawings (created on the first drawing added)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def add(self, label: int, drawing: np.ndarray, model_input: np.ndarray) -> PersonalDrawing:
        """Store a drawing (the canvas's ink, float [0, 1] or uint8, bright on dark) and its
        model input (28×28 in [0, 1]) under ``label``."""
        if not 0 <= int(label) <= 9:
            raise ValueError(f"a digit label is 0-9, not {label}")
        now = time.time_ns()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now // 1_000_000_000))
        nanoseconds = now % 1_000_000_000
        entry = self._entry(int(label), f"{stamp}-{nanoseconds:09d}")
        while entry.model_input.exists() or entry.drawing.exists():  # a coarse clock (Windows): never overwrite
            nanoseconds += 1
            entry = self._entry(int(label), f"{stamp}-{nanoseconds:09d}")
        _write_png(entry.drawing, 255 - _as_uint8(drawing))  # dark ink on white, as people expect to see it
        _write_png(entry.model_input, _as_uint8(model_input))  # as the model sees it: bright on dark
        return entry

    def add_folder(self, folder: str | os.PathLike, mode: str = "mnist", progress: Callable[[int, int], bool] | None = None) -> tuple[int, list[str]]:
        """Copy a folder of labelled images (``<digit>/`` of any size, any polarity) into the
        store, each through the preprocessing; returns how many were added and one line per
        file that could not be. ``progress(done, total)`` returning False stops early."""
        folder = Path(folder)
        if not _is_folder(folder):
            raise ImageFileError(f"{folder}: no such folder")
        problems: list[str] = []
        paths = list(_labelled_paths(folder, problems))
        if not paths:
            raise ImageFileError(f"{folder}: {NO_LABELLED_IMAGES}")
        added = 0
        for done, (label, path) in enumerate(paths):
            if progress is not None and not progress(done, len(paths)):
                break
            try:
                ink, image = _read_labelled(path, mode)
            except ImageFileError as error:
                problems.append(str(error))
                continue
            self.add(label, ink, image)
            added += 1
        return added, problems

    def remove(self, entry: PersonalDrawing) -> None:
        """Delete a drawing's two files."""
        entry.drawing.unlink(missing_ok=True)
        entry.model_input.unlink(missing_ok=True)

    def entries(self) -> list[PersonalDrawing]:
        """Every stored drawing with its model input, oldest first within each digit."""
        found = []
        for label in range(10):
            folder = self.root / INPUTS_DIR / str(label)
            if folder.is_dir():
                found += [self._entry(label, path.stem) for path in sorted(folder.glob("*.png"))]
        return found

    def arrays(self) -> LabelledImages:
        """The stored model inputs as arrays (as the canvas made them, not re-processed)."""
        return self.read()[1]

    def read(self) -> tuple[list[PersonalDrawing], LabelledImages]:
        """The drawings whose model input could be read, and those inputs (in the same order)."""
        entries, images, labels, problems = [], [], [], []
        for entry in self.entries():
            try:
                images.append(self.read_input(entry))
            except ImageFileError as error:
                problems.append(str(error))
                continue
            entries.append(entry)
            labels.append(entry.label)
        return entries, _labelled(images, labels, problems)

    def read_input(self, entry: PersonalDrawing) -> np.ndarray:
        """A stored drawing's 28×28 model input (uint8), checked as any file is."""
        return _read_input(entry.model_input)

    def _entry(self, label: int, name: str) -> PersonalDrawing:
        return PersonalDrawing(label, name, self.root / DRAWINGS_DIR / str(label) / f"{name}.png", self.root / INPUTS_DIR / str(label) / f"{name}.png")


def read_labelled_folder(folder: str | os.PathLike, mode: str = "mnist") -> LabelledImages:
    """Model inputs of the images in ``folder/<digit>/``, through the preprocessing an opened
    image gets. A personal-drawings folder is read from its stored inputs."""
    folder = Path(folder)
    if not _is_folder(folder):
        raise ImageFileError(f"{folder}: no such folder")
    if (folder / INPUTS_DIR).is_dir():
        return PersonalDrawings(folder).arrays()
    images, labels, problems = [], [], []
    for label, path in _labelled_paths(folder, problems):
        try:
            _, image = _read_labelled(path, mode)
        except ImageFileError as error:
            problems.append(str(error))
            continue
        images.append(image)
        labels.append(label)
    if not images:
        raise ImageFileError(f"{folder}: {NO_LABELLED_IMAGES}")
    return _labelled(images, labels, problems)


def _read_labelled(path: Path, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """An image file's ink and its model input (uint8), through the canvas's preprocessing."""
    ink = load_ink(path)
    image = preprocess(ink, mode)
    if image is None:
        raise ImageFileError(f"{path}: no ink found (a blank image)")
    return ink, _as_uint8(image)


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long, a null byte
        return False


def _labelled_paths(folder: Path, problems: list[str]) -> Iterable[tuple[int, Path]]:
    """Image files under ``folder/0`` … ``folder/9``; a sub-folder that cannot be listed is a problem."""
    count = 0
    for label in range(10):
        sub = folder / str(label)
        if not _is_folder(sub):
            continue
        try:
            paths = sorted(path for path in sub.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as error:
            problems.append(f"{sub}: cannot be read ({error.strerror or error})")
            continue
        for path in paths:
            count += 1
            if count > MAX_FOLDER_IMAGES:
                problems.append(f"{folder}: only the first {MAX_FOLDER_IMAGES} images are read")
                return
            yield label, path


def _labelled(images: list[np.ndarray], labels: list[int], problems: list[str]) -> LabelledImages:
    stacked = np.stack(images) if images else np.empty((0, 28, 28), np.uint8)
    return LabelledImages(stacked, np.array(labels, np.uint8), tuple(problems))


def _read_input(path: Path) -> np.ndarray:
    with opened_image(path) as image:  # the guarded reader: a 20000×20000 PNG here stopped every start
        if image.size != (28, 28):
            raise ImageFileError(f"{path}: a stored model input is 28×28, not {image.width}×{image.height}")
        return np.asarray(image.convert("L"), np.uint8)


def _as_uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _write_png(path: Path, pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    with replacing(path, suffix=".png") as tmp:
        tmp.write_bytes(buffer.getvalue())
