"""The user's own labelled drawings: a personal dataset on disk that fine-tuning learns from.

Each drawing is kept twice, in the folder layout Keras's ``image_dataset_from_directory``
reads (``<digit>/<name>.png``): the canvas as drawn under ``drawings/`` and the 28×28 model
input it gave under ``inputs/``. Keeping one is all or nothing: both files are written
atomically, the input last (a drawing is listed by its input), and what a killed process left
half-done is removed by :meth:`PersonalDrawings.tidy` at the next start. Folders of labelled
images from elsewhere (any size, dark on light or light on dark) are read through the same
preprocessing as an opened image. No Qt here: the caller passes the folder (the app: its data
location; the CLI: ``--drawings``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
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
#: The name :meth:`PersonalDrawings.add` gives a drawing's two files: the time it was kept.
KEPT_NAME = re.compile(r"\d{8}-\d{6}-\d{9}\.png")
#: The temporary file that :func:`mnistdesk.base.files.replacing` writes before it becomes one of them.
KEPT_TEMPORARY = re.compile(r"\.\d{8}-\d{6}-\d{9}\.png\.\d+-\w+\.png")
#: A half-kept drawing's files are this old at least before they are taken for leftovers: keeping
#: one takes milliseconds, and another window sharing the folder may be keeping one right now.
LEFTOVER_AFTER_S = 60.0


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


@dataclass(frozen=True)
class FolderAdded:
    """What *Add folder* did: the drawings it kept and their model inputs (N, 28, 28) uint8, how
    many images it found, one line per file it could not use, and why it stopped before the end
    (a full disk), if it did: what it kept before stays kept and is counted."""

    entries: tuple[PersonalDrawing, ...]
    images: np.ndarray
    found: int
    problems: tuple[str, ...] = ()
    stopped: str | None = None


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
        shown = _png(255 - _as_uint8(drawing))  # dark ink on white, as people expect to see it
        seen = _png(_as_uint8(model_input))  # as the model sees it: bright on dark
        try:
            with replacing(entry.model_input, suffix=".png") as input_tmp:
                with replacing(entry.drawing, suffix=".png") as drawing_tmp:
                    drawing_tmp.write_bytes(shown)
                    input_tmp.write_bytes(seen)
                # The drawing is in place; its input, renamed last, makes it a kept drawing.
        except BaseException:  # a full disk, Ctrl+C: never a drawing without its input
            with contextlib.suppress(OSError):
                entry.drawing.unlink(missing_ok=True)
            raise
        return entry

    def add_folder(self, folder: str | os.PathLike, mode: str = "mnist", progress: Callable[[int, int], bool] | None = None) -> FolderAdded:
        """Copy a folder of labelled images (``<digit>/`` of any size, any polarity) into the
        store, each through the preprocessing. ``progress(done, total)`` returning False stops
        early; so does a file that cannot be written (a full disk)."""
        folder = Path(folder)
        if not _is_folder(folder):
            raise ImageFileError(f"{folder}: no such folder")
        problems: list[str] = []
        paths = list(_labelled_paths(folder, problems))
        if not paths:
            raise ImageFileError(f"{folder}: {NO_LABELLED_IMAGES}")
        added, images, stopped = [], [], None
        for done, (label, path) in enumerate(paths):
            if progress is not None and not progress(done, len(paths)):
                break
            try:
                ink, image = _read_labelled(path, mode)
            except ImageFileError as error:
                problems.append(str(error))
                continue
            try:
                added.append(self.add(label, ink, image))
            except OSError as error:
                stopped = f"cannot write to {self.root}: {error.strerror or error}"
                break
            images.append(image)
        return FolderAdded(tuple(added), _stacked(images), len(paths), tuple(problems), stopped)

    def remove(self, entry: PersonalDrawing) -> None:
        """Delete a drawing's two files, its input first: from then on it is no longer listed."""
        entry.model_input.unlink(missing_ok=True)
        entry.drawing.unlink(missing_ok=True)

    def may_hold_drawings(self) -> bool:
        """False only when nothing was ever kept here (no inputs folder): nothing to read or tidy."""
        try:
            return (self.root / INPUTS_DIR).exists()
        except OSError:  # a locked parent: reading it says so
            return True

    def entries(self) -> list[PersonalDrawing]:
        """Every stored drawing with its model input, oldest first within each digit."""
        return self._listing()[0]

    def tidy(self, older_than_s: float = LEFTOVER_AFTER_S) -> list[Path]:
        """Remove what a killed process left half-done while keeping drawings: temporary files,
        and a drawing without its input (the input is written last). Only files named as
        :meth:`add` names them, and only ones older than ``older_than_s`` (another window may be
        keeping one right now); a digit whose two folders cannot both be listed is left alone.
        An input without its drawing is kept: no save of ours leaves one, and it is the training
        sample itself (a drawing deleted by hand, a backup restored in part). Returns what went."""
        cutoff = time.time() - older_than_s
        removed = []
        for label in range(10):
            folders = [self.root / kind / str(label) for kind in (DRAWINGS_DIR, INPUTS_DIR)]
            drawings, inputs = (_plain_files(folder) for folder in folders)
            for folder, files, others in ((folders[0], drawings, inputs), (folders[1], inputs, None)):
                for name, plain in (files or {}).items():
                    half_kept = others is not None and KEPT_NAME.fullmatch(name) is not None and name not in others
                    path = folder / name
                    if plain and (half_kept or KEPT_TEMPORARY.fullmatch(name)) and _older_than(path, cutoff):
                        with contextlib.suppress(OSError):
                            path.unlink()
                            removed.append(path)
        return removed

    def arrays(self) -> LabelledImages:
        """The stored model inputs as arrays (as the canvas made them, not re-processed)."""
        return self.read()[1]

    def read(self, cancelled: Callable[[], bool] = lambda: False) -> tuple[list[PersonalDrawing], LabelledImages]:
        """The drawings whose model input could be read, and those inputs (in the same order),
        with one line per input or digit folder that could not be. Stops early, with what it has
        read, once ``cancelled()`` is true (a window closing while it reads thousands)."""
        listed, problems = self._listing()
        entries, images, labels = [], [], []
        for entry in listed:
            if cancelled():
                break
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

    def _listing(self) -> tuple[list[PersonalDrawing], list[str]]:
        """The stored inputs by digit and name, and one line per digit folder that cannot be
        listed (a locked one is named, not skipped in silence). Hidden files (a save's
        temporary file) are never drawings."""
        found, problems = [], []
        for label in range(10):
            folder = self.root / INPUTS_DIR / str(label)
            try:
                with os.scandir(folder) as items:
                    names = sorted(item.name for item in items if item.name.endswith(".png") and not item.name.startswith("."))
            except FileNotFoundError:
                continue
            except NotADirectoryError:
                problems.append(f"{folder}: is not a folder; the {label}s in it are left out")
                continue
            except OSError as error:
                problems.append(f"{folder}: cannot be read ({error.strerror or error}); the {label}s in it are left out")
                continue
            found += [self._entry(label, name[: -len(".png")]) for name in names]
        return found, problems

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
    return LabelledImages(_stacked(images), np.array(labels, np.uint8), tuple(problems))


def _stacked(images: list[np.ndarray]) -> np.ndarray:
    return np.stack(images) if images else np.empty((0, 28, 28), np.uint8)


def _plain_files(folder: Path) -> dict[str, bool] | None:
    """Every name in ``folder``, and whether it is a plain file (links and folders are never ours
    to remove); None when it cannot be listed (missing or locked): then nothing in it, or matched
    against it, is removed."""
    try:
        with os.scandir(folder) as items:
            return {item.name: item.is_file(follow_symlinks=False) for item in items}
    except OSError:
        return None


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except OSError:
        return False


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


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
