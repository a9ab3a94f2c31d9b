"""Datasets: MNIST and Fashion-MNIST (downloaded once, cached where Keras caches them), the
bundled offline sample, and a user's own ``.npz``. No Qt and no TensorFlow here.

Every loader returns ``uint8`` images ``(N, 28, 28)`` and ``uint8`` labels; :func:`mnistdesk.ink.pixels.normalize`
is the one place where pixels become float32 model input, one batch at a time, so a float32
copy of a whole dataset (188 MB for MNIST) is never made.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistdesk.base import paths
from mnistdesk.base.files import replacing
from mnistdesk.base.untrusted import MAX_DATASET_BYTES, FileRefused, check_npz_members, check_zip_directory, file_problem, format_bytes

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
BUILTIN_DATASETS = ("sample", "pen", "sample+pen", "mnist", "fashion_mnist")
CONNECT_TIMEOUT_S = 8.0  # per network operation (connect, one read)
#: A whole download may take this long (MNIST is 11 MB: ~2 minutes at 100 kB/s).
DOWNLOAD_DEADLINE_S = 600.0
#: Fewer than STALL_MIN_BYTES in STALL_WINDOW_S counts as a stalled connection.
STALL_WINDOW_S = 30.0
STALL_MIN_BYTES = 16 << 10
#: No dataset file we download is bigger (Fashion-MNIST's largest is 26 MB).
MAX_DOWNLOAD_BYTES = 64 << 20
POLL_S = 0.1  # how often a download checks its clock and the Stop button
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")

#: ``progress(done_bytes, total_bytes_or_None)``; return ``False`` to cancel the download.
Progress = Callable[[int, "int | None"], "bool | None"]


class DatasetError(Exception):
    """A dataset could not be had; the message says what is wrong and what to do."""


class DownloadCancelled(DatasetError):
    """The user cancelled a download."""


class DatasetOffline(DatasetError):
    """A download failed because the machine seems to be offline; the message names the files
    to copy by hand and suggests the bundled sample (without naming a CLI flag or a button)."""


@dataclass(frozen=True)
class Dataset:
    """Train and test images (uint8, N×28×28) with their labels (uint8 0-9)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = DIGIT_NAMES


def dataset_of_model(trained_on: object, known: tuple[str, ...] = BUILTIN_DATASETS) -> str:
    """The dataset to score a model on: the one it was trained on when that is one of ``known``,
    else the bundled sample (a model's metadata names any path or text it likes)."""
    return trained_on if trained_on in known else "sample"


def load_dataset(source: str | os.PathLike, progress: Progress | None = None) -> Dataset:
    """Load a built-in dataset (:data:`BUILTIN_DATASETS`) or a path to a Keras-layout ``.npz``."""
    name = str(source)
    if name == "sample":
        return _load_npz(paths.SAMPLE_PATH, "sample")
    if name == "pen":
        return _load_pen()
    if name == "sample+pen":
        return _joined("sample+pen", _load_npz(paths.SAMPLE_PATH, "sample"), _load_pen())
    if name == "mnist":
        return _load_mnist(progress)
    if name == "fashion_mnist":
        return _load_fashion_mnist(progress)
    if name.endswith(".npz") or file_problem(name) != "no such file":
        return _load_npz(Path(name), Path(name).name)
    raise DatasetError(f"unknown dataset {name!r}: use one of {', '.join(BUILTIN_DATASETS)} or a path to a .npz file")


NPZ_READ_ERRORS = (FileRefused, ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError)


def check_npz(path: str | os.PathLike) -> None:
    """Fail fast on a file that cannot be a dataset, reading only the zip directory and the
    arrays' headers (a dataset picked in the window is checked at once, not at Train)."""
    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise DatasetError(f"{path}: {problem}")
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: not a readable .npz file (an .npz is a zip archive of .npy arrays), or truncated")
    try:
        check_zip_directory(path)
        with zipfile.ZipFile(path) as members:
            missing = [key for key in ARRAY_NAMES if f"{key}.npy" not in members.namelist()]
            if missing:
                raise DatasetError(
                    f"{path}: missing array(s) {', '.join(missing)}; "
                    "expected x_train, y_train, x_test, y_test as in Keras's mnist.npz"
                )
            check_npz_members(members, ARRAY_NAMES)  # headers only: nothing big is allocated yet
    except NPZ_READ_ERRORS as error:
        raise _npz_error(path, error) from None


def _load_npz(path: Path, name: str) -> Dataset:
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ARRAY_NAMES}
    except NPZ_READ_ERRORS as error:
        raise _npz_error(path, error) from None
    return _checked(name, path, **arrays)


def _npz_error(path: Path, error: Exception) -> DatasetError:
    """One line naming the file and why it cannot be read."""
    if isinstance(error, FileRefused):
        return DatasetError(f"{path}: {error}")
    if isinstance(error, ValueError):
        if "allow_pickle" in str(error):
            return DatasetError(f"{path}: holds Python objects, which are never loaded; store plain numeric arrays")
        return DatasetError(f"{path}: not a readable .npz file ({error})")
    return DatasetError(f"{path}: not a readable .npz file, or truncated ({error or type(error).__name__})")


def _load_pen() -> Dataset:
    """Real pen trajectories drawn as on the canvas (:mod:`mnistdesk.data.pen`), split by writer.

    Drawing them takes several seconds, so the result is cached beside the downloaded datasets,
    named by :func:`pen.drawing_fingerprint`, and read back through the same checks as any ``.npz``.
    """
    from mnistdesk.data import pen

    try:
        cache = paths.datasets_dir() / f"mnistdesk-pen-{pen.drawing_fingerprint()}.npz"
        try:
            return _load_npz(cache, "pen")
        except DatasetError:
            pass
        arrays = pen.drawing_set()
    except (OSError, KeyError, ValueError, IndexError) as error:
        raise DatasetError(f"{paths.PENDIGITS_PATH}: cannot read the bundled pen trajectories ({error}); reinstall mnistdesk") from None
    try:
        with replacing(cache, suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
    except OSError:  # a read-only cache only costs the drawing time again next time
        pass
    return _checked("pen", paths.PENDIGITS_PATH, **arrays)


def _joined(name: str, *datasets: Dataset) -> Dataset:
    """Several digit datasets as one: their training splits together, their test splits together."""
    return Dataset(
        name,
        np.concatenate([d.x_train for d in datasets]),
        np.concatenate([d.y_train for d in datasets]),
        np.concatenate([d.x_test for d in datasets]),
        np.concatenate([d.y_test for d in datasets]),
    )


def _checked(name: str, origin: Path | str, x_train, y_train, x_test, y_test, class_names=DIGIT_NAMES) -> Dataset:
    """Validate shapes, dtypes and labels so a bad file fails here, with its name, not mid-training."""
    checked = {}
    for split, images, labels in (("train", x_train, y_train), ("test", x_test, y_test)):
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DatasetError(f"{origin}: x_{split} has shape {images.shape}; expected (N, 28, 28)")
        if images.dtype != np.uint8:
            raise DatasetError(f"{origin}: x_{split} has dtype {images.dtype}; expected uint8 pixels 0-255")
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"{origin}: y_{split} must be a 1-D integer array, got {labels.dtype} {labels.shape}")
        if len(labels) != len(images):
            raise DatasetError(f"{origin}: {len(images)} images but {len(labels)} labels in the {split} split")
        if len(labels) == 0:
            raise DatasetError(f"{origin}: the {split} split is empty")
        if labels.min() < 0 or labels.max() > 9:
            raise DatasetError(f"{origin}: y_{split} has labels outside 0-9 (min {labels.min()}, max {labels.max()})")
        checked[split] = (np.ascontiguousarray(images), labels.astype(np.uint8))
    return Dataset(name, *checked["train"], *checked["test"], class_names=class_names)


def _load_mnist(progress: Progress | None) -> Dataset:
    path = paths.datasets_dir() / "mnist.npz"
    if not (path.is_file() and _sha256(path) == MNIST_SHA256):
        try:
            _download(KERAS_ORIGIN + "mnist.npz", path, progress, MNIST_SHA256)
        except DatasetOffline as error:
            raise _offline(error, path.parent, [path.name]) from None
    return _load_npz(path, "mnist")


def _load_fashion_mnist(progress: Progress | None) -> Dataset:
    folder = paths.datasets_dir() / "fashion-mnist"
    arrays = []
    for filename in FASHION_FILES:
        path = folder / filename
        try:
            arrays.append(_read_idx(path))
        except (OSError, EOFError, ValueError):
            try:
                _download(KERAS_ORIGIN + filename, path, progress)
            except DatasetOffline as error:
                raise _offline(error, folder, FASHION_FILES) from None
            try:
                arrays.append(_read_idx(path))
            except (OSError, EOFError, ValueError) as error:
                raise DatasetError(f"{path}: downloaded file is damaged ({error}); try again") from None
    y_train, x_train, y_test, x_test = arrays
    return _checked("fashion_mnist", folder, x_train, y_train, x_test, y_test, class_names=FASHION_NAMES)


def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the format of the original MNIST distribution), unpacking
    at most :data:`MAX_DATASET_BYTES`: a gzip bomb fails here instead of filling memory."""
    with gzip.open(path) as stream:
        raw = stream.read(MAX_DATASET_BYTES + 1)
    if len(raw) > MAX_DATASET_BYTES:
        raise ValueError(f"it unpacks to over {format_bytes(MAX_DATASET_BYTES)}")
    ndim = raw[3] if len(raw) >= 4 else 0
    if raw[:2] != b"\0\0" or raw[2:3] != b"\x08" or ndim not in (1, 3):
        raise ValueError("not an IDX file of unsigned bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"expected {int(np.prod(shape))} values, found {data.size}")
    return data.reshape(shape)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, dest: Path, progress: Progress | None, sha256: str | None = None) -> None:
    """Fetch ``url`` to ``dest`` atomically, failing fast and clearly when offline, when the
    connection stalls or the whole download takes too long, and stopping at once on cancel."""
    try:
        with replacing(dest, suffix=".part") as tmp:
            _fetch(url, tmp, progress)
            if sha256 is not None and _sha256(tmp) != sha256:
                raise DatasetError(f"{url}: the download is damaged (checksum mismatch); try again")
    except (urllib.error.URLError, OSError) as error:
        raise DatasetOffline(f"cannot download {url} ({_plain_reason(getattr(error, 'reason', error))})") from None


def _plain_reason(reason: object) -> str:
    """Why a download failed, in words: "no internet connection" for a name that cannot be looked
    up (the usual offline case, "[Errno -2] Name or service not known"), else the system's own."""
    import socket

    if isinstance(reason, socket.gaierror) or "Name or service not known" in str(reason) or "Temporary failure in name resolution" in str(reason):
        return "no internet connection: the server's name cannot be looked up"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "the connection timed out"
    return str(getattr(reason, "strerror", None) or reason)


def _offline(error: DatasetOffline, folder: Path, files: "tuple[str, ...] | list[str]") -> DatasetOffline:
    """The offline message, naming every file the dataset needs (Fashion-MNIST has four)."""
    listing = files[0] if len(files) == 1 else ", ".join(files[:-1]) + " and " + files[-1]
    them = "it" if len(files) == 1 else "them"
    return DatasetOffline(f"{error}. You seem to be offline: copy {listing} from a machine that has {them} into {folder}, or use the bundled sample")


def _fetch(url: str, target: Path, progress: Progress | None) -> None:
    """Copy ``url`` into ``target``. The reads happen in a daemon thread, because a read can
    block for a whole socket timeout (and a proxy that trickles a byte every few seconds never
    times out): this thread checks the deadline, the stall window and ``progress`` (the Stop
    button) every :data:`POLL_S` and gives up at once; the reader then ends by itself."""
    state: dict = {"done": 0, "total": None, "error": None}
    finished, abandoned = threading.Event(), threading.Event()

    def copy() -> None:
        try:
            with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response, target.open("wb") as out:
                state["total"] = int(response.headers.get("Content-Length") or 0) or None
                while not abandoned.is_set() and (chunk := response.read1(1 << 16)):
                    out.write(chunk)
                    state["done"] += len(chunk)
        except BaseException as error:  # handed to the waiting thread, which raises it
            state["error"] = error
        finally:
            finished.set()

    threading.Thread(target=copy, name="mnistdesk-download", daemon=True).start()
    started = window_started = time.monotonic()
    window_done = 0
    try:
        while not finished.wait(POLL_S):
            done, total, now = state["done"], state["total"], time.monotonic()
            if progress is not None and progress(done, total) is False:
                raise DownloadCancelled(f"download of {url} cancelled")
            if max(done, total or 0) > MAX_DOWNLOAD_BYTES:
                raise DatasetError(f"cannot download {url}: it is over {format_bytes(MAX_DOWNLOAD_BYTES)}, far more than the dataset; refused")
            if now - started > DOWNLOAD_DEADLINE_S:
                raise DatasetError(
                    f"cannot download {url}: not finished after {DOWNLOAD_DEADLINE_S:.0f} s ({format_bytes(done)} so far; "
                    "the connection is too slow). Try again later, or use the bundled sample"
                )
            if now - window_started >= STALL_WINDOW_S:
                if done - window_done < STALL_MIN_BYTES:
                    raise DatasetError(
                        f"cannot download {url}: the connection stalled ({format_bytes(done - window_done)} in the last "
                        f"{STALL_WINDOW_S:.0f} s). Try again later, or use the bundled sample"
                    )
                window_started, window_done = now, done
    finally:
        abandoned.set()
    if state["error"] is not None:
        raise state["error"]
    if progress is not None and progress(state["done"], state["total"]) is False:
        raise DownloadCancelled(f"download of {url} cancelled")
