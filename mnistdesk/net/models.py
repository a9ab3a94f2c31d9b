"""The reference models, and saving/loading them with their metadata. No Qt.

Keras (and so TensorFlow) is imported inside the functions that need it, so importing this
module stays instant: the app can read a model's metadata and predict before TensorFlow loads.

- ``dense``: the classic MLP of Chollet's MNIST write-up (98.0% on MNIST in 5 epochs).
- ``cnn``: the classic Keras CNN recipe (>99% in 5 epochs).
- ``lean``: the app's default: three small 3×3 convolutions with pooling; ~44k parameters, a
  fraction of ``cnn``'s cost on a laptop CPU, and as accurate.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mnistdesk import __version__
from mnistdesk.base.files import replacing, scratch_folder, writing_problem
from mnistdesk.base.untrusted import (
    CODE_REFUSED,
    MAX_CONFIG_BYTES,
    MAX_METADATA_BYTES,
    MAX_WEIGHT_ARRAYS,
    MAX_WEIGHT_BYTES,
    FileRefused,
    check_code_free,
    check_declared_layers,
    check_hdf5_arrays,
    check_size,
    check_zip_directory,
    file_problem,
    format_bytes,
    read_member,
)

ARCHITECTURES = ("lean", "cnn", "dense")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEFAULT_OPTIMIZER = {"dense": "rmsprop", "cnn": "adam", "lean": "adam"}
DEFAULT_LEARNING_RATE = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}
#: How the learning rate moves during a run: held, or falling along a half cosine towards 0.
LR_SCHEDULES = ("constant", "cosine")
DEFAULT_VALIDATION_FRACTION = 0.1
#: Batches per compiled call (Keras's ``steps_per_execution``). A dense step is ~5 ms of
#: arithmetic here, and Keras's Python around each call must also wait for Python's lock while
#: the window paints: eight a call trained dense ~10% faster with plain ``fit`` and ~50% faster
#: through the window. A convolutional step (25 ms and up) gains nothing. Callbacks (progress,
#: Pause, Stop) then act every eight batches, ~40 ms.
STEPS_PER_EXECUTION = {"dense": 8}
PREPROCESSING_VERSION = "mnist-com-v1"
METADATA_MEMBER = "mnistdesk.json"
CONFIG_MEMBER = "config.json"
#: The model files the app opens: Keras 3's zip and Keras 2's single HDF5 file.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
WEIGHTS_MEMBER = "model.weights.h5"
KERAS_METADATA_MEMBER = "metadata.json"
ASSETS_FOLDER = "assets/"
#: Room in the weights file beyond its arrays (HDF5's own bookkeeping).
WEIGHTS_FILE_SLACK = 16 << 20
#: What a ``.keras`` file may hold, and the most each may unpack to: Keras 3 writes its config,
#: a ~100-byte ``metadata.json``, the weights and, for the few layers that keep files (a
#: vocabulary), ``assets/`` (all its files together); mnistdesk adds its own metadata. Keras
#: unpacks a model to the temporary folder, so any other member would be written there for nothing.
MODEL_MEMBER_LIMITS = {
    CONFIG_MEMBER: MAX_CONFIG_BYTES,
    KERAS_METADATA_MEMBER: 64 << 10,
    WEIGHTS_MEMBER: MAX_WEIGHT_BYTES + WEIGHTS_FILE_SLACK,
    METADATA_MEMBER: MAX_METADATA_BYTES,
    ASSETS_FOLDER: 16 << 20,
}
#: Free space a save needs: the biggest model here (cnn, with its optimizer state) is ~38 MB.
MIN_FREE_BYTES = 64 << 20


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; stored in the saved model's metadata."""

    architecture: str = "lean"
    dataset: str = "sample"
    epochs: int = 5
    batch_size: int = 128
    optimizer: str | None = None
    learning_rate: float | None = None
    augment: bool = False
    seed: int | None = None
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION  # of the training split, held out to validate each epoch
    lr_schedule: str = "constant"
    network: dict[str, Any] | None = None  # a network built in the editor (mnistdesk.net.networks); ``architecture`` is its name

    def resolved_optimizer(self) -> str:
        return self.optimizer or (self.network or {}).get("optimizer") or DEFAULT_OPTIMIZER.get(self.architecture, "adam")

    def resolved_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        own = (self.network or {}).get("learning_rate") if self.resolved_optimizer() == (self.network or {}).get("optimizer") else None
        return own or DEFAULT_LEARNING_RATE[self.resolved_optimizer()]


#: Fine-tuning holds this share of the person's drawings out, to score before and after.
FINE_TUNE_HOLD_OUT = 0.2
#: Fewer labelled drawings cannot teach a style, nor leave one out to score it.
FINE_TUNE_MIN_DRAWINGS = 2
#: Of every fine-tuning epoch's digits, this share are the person's drawings (augmented repeats).
FINE_TUNE_PERSONAL_SHARE = 0.25


@dataclass(frozen=True)
class FineTuneConfig:
    """Everything that decides a fine-tuning run; stored in the model's metadata."""

    epochs: int = 6
    learning_rate: float = 3e-4
    batch_size: int = 128
    hold_out_fraction: float = FINE_TUNE_HOLD_OUT
    personal_share: float = FINE_TUNE_PERSONAL_SHARE
    seed: int = 0


#: Below this many held-out drawings a percentage looks precise and is not ("100% → 100%" on 3).
FINE_TUNE_MIN_MEASURED = 10


def fine_tuning_summary(tuning: dict, test_accuracy: float) -> str:
    """One line on what fine-tuning did (``tuning``: a fine-tuned model's "fine_tune" metadata)."""
    held_out = tuning.get("held_out") or 0
    if held_out >= FINE_TUNE_MIN_MEASURED:
        mine = f"your handwriting {tuning['before_accuracy']:.0%} → {tuning['after_accuracy']:.0%} ({held_out} held-out drawings)"
    elif held_out:
        before, after = round(tuning["before_accuracy"] * held_out), round(tuning["after_accuracy"] * held_out)
        mine = f"your handwriting: {before} → {after} of {held_out} held-out drawing{'s' if held_out != 1 else ''} read right (too few for a score: {FINE_TUNE_MIN_MEASURED / FINE_TUNE_HOLD_OUT:.0f} or more drawings give one)"
    else:
        mine = "your handwriting: too few drawings to hold any out (add more for a before/after score)"
    return f"{mine} · {tuning['dataset']} test {tuning['test_accuracy_before']:.1%} → {test_accuracy:.1%}"


class ModelFileError(Exception):
    """A model file is missing, not a Keras model, unsafe, or of the wrong shape."""


class TrainingDiverged(ModelFileError):
    """Training made the model's outputs NaN or infinite: the learning rate was too high for it.
    A kind of refused model, so every place that reports one reports this too, in its own words."""


def build_model(architecture: str = "lean", optimizer: str | None = None, learning_rate: float | None = None) -> Any:
    """A compiled ``keras.Sequential`` taking (28, 28, 1) inputs in [0, 1] and giving 10 probabilities."""
    import keras
    from keras import layers

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown model {architecture!r}; use one of {', '.join(ARCHITECTURES)}")
    stacks = {
        "dense": [layers.Flatten(), layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax")],
        "cnn": [
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 2, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1000, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        "lean": [
            layers.Conv2D(24, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(48, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
    }
    model = keras.Sequential([keras.Input((28, 28, 1)), *stacks[architecture]], name=architecture)
    compile_model(model, optimizer or DEFAULT_OPTIMIZER[architecture], learning_rate)
    return model


def compile_model(model: Any, optimizer: str, learning_rate: float | None = None, from_logits: bool = False) -> None:
    """(Re)compile with a fresh optimizer; sparse labels, accuracy metric; as many batches a
    call as its architecture (the model's name) runs. A model read from a file comes
    uncompiled, so a continued one is compiled here too. ``from_logits``: the model ends
    without a softmax (as many lessons' models do), so the loss applies it."""
    import keras

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    rate = learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATE[optimizer]
    instance = {
        "adam": lambda: keras.optimizers.Adam(rate),
        "rmsprop": lambda: keras.optimizers.RMSprop(rate),
        "sgd": lambda: keras.optimizers.SGD(rate, momentum=0.9),
    }[optimizer]()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if from_logits else "sparse_categorical_crossentropy"
    model.compile(optimizer=instance, loss=loss, metrics=["accuracy"], steps_per_execution=STEPS_PER_EXECUTION.get(model.name, 1))


def save_model(model: Any, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``model`` and ``metadata`` to ``path`` atomically: a crash leaves the old file intact."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: model files must end in .keras")
    with replacing(path, suffix=".keras") as tmp:  # Keras insists on the .keras suffix
        model.save(tmp)
        record = {"mnistdesk_version": __version__, "preprocessing": PREPROCESSING_VERSION, "saved": time.time(), **metadata}
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_MEMBER, _metadata_text(record))
    return path


def _metadata_text(record: dict[str, Any]) -> str:
    """The metadata as saved, never over what :func:`read_metadata` reads: past that, the fields
    mnistdesk does not know (carried over from the model a run started from) are left out; the
    known ones are bounded (histories are thinned), so our own files always open."""
    text = json.dumps(record, indent=1)
    if len(text) > MAX_METADATA_BYTES:  # ASCII (json escapes the rest): a character is a byte
        text = json.dumps({key: value for key, value in record.items() if key in METADATA_SCHEMA}, indent=1)
    return text


def check_model_target(path: str | os.PathLike) -> None:
    """Refuse, before any work, a place a model cannot be saved to: a name not ending in
    ``.keras``, a directory or special file, a folder that cannot be written, or a disk with
    less than :data:`MIN_FREE_BYTES` free — so an hour of training is never lost at the end."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: model files must end in .keras")
    problem = file_problem(path)
    if problem not in (None, "no such file", "permission denied"):  # an unreadable file can still be replaced
        raise ModelFileError(f"{path}: cannot save a model there: {problem}")
    problem = writing_problem(path.parent, MIN_FREE_BYTES)
    if problem is not None:
        raise ModelFileError(f"{path}: cannot save a model there: {problem}")


def copy_model_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Copy a model file atomically (temporary file, then rename)."""
    source, target = Path(source), Path(target)
    check_model_file(source)
    if source.resolve() == target.resolve():
        return target
    with replacing(target, suffix=".keras") as tmp:
        shutil.copyfile(source, tmp)
    return target


def check_model_file(path: str | os.PathLike) -> None:
    """Fail fast, without TensorFlow, on anything but a sane ``.keras`` or legacy ``.h5`` file:
    an unreadable path, neither a zip nor HDF5, Python code or custom classes in its config, or
    members and weight arrays that declare more than the caps in :mod:`mnistdesk.base.untrusted`
    (a 330 KB file can declare a 6 GB kernel)."""
    problem = file_problem(path)
    if problem is not None:
        raise ModelFileError(f"{path}: {'no such model file' if problem == 'no such file' else problem}")
    legacy = is_legacy_h5(path)
    if not legacy and not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (.keras or .h5); it may be damaged or truncated")
    try:
        if legacy:
            _check_legacy_file(path)
        else:
            check_zip_directory(path)
            with zipfile.ZipFile(path) as archive:
                _check_declared_sizes(archive)
    except FileRefused as reason:
        raise ModelFileError(f"{path}: {reason}") from None
    except Exception as error:  # h5py and zipfile raise many types for crafted files
        raise ModelFileError(f"{path}: not a Keras model file, or damaged ({type(error).__name__}: {error})") from None


def _check_declared_sizes(archive: zipfile.ZipFile) -> None:
    names = set(archive.namelist())
    if CONFIG_MEMBER not in names:
        raise FileRefused(f"cannot load this model: it has no {CONFIG_MEMBER}, so it is not a Keras model file")
    _check_members(archive)
    _check_config(json.loads(read_member(archive, CONFIG_MEMBER, MAX_CONFIG_BYTES)), CONFIG_MEMBER)
    if WEIGHTS_MEMBER in names:
        with opened_weights(archive) as weights:
            check_hdf5_arrays(weights)


#: A weights member up to this size is unpacked into memory to be read, a bigger one into a
#: temporary file (the shipped model's is 0.5 MB, cnn's with its optimizer state ~38 MB).
WEIGHTS_IN_MEMORY = 8 << 20


@contextmanager
def opened_weights(archive: zipfile.ZipFile) -> Iterator[Any]:
    """The ``model.weights.h5`` of a ``.keras`` (its size checked by :func:`_check_members`) as
    an open ``h5py.File``, read from a copy unpacked once: h5py seeks back and forth, and each
    seek back in a zip member unpacks it again from its start (a 280 KB file holding 1,000
    arrays took minutes to check). Small weights are copied into memory, others into a scratch
    folder removed however the block ends, as :func:`_keras_source` does for Keras."""
    import io

    import h5py

    info = archive.getinfo(WEIGHTS_MEMBER)
    limit = MODEL_MEMBER_LIMITS[WEIGHTS_MEMBER]
    with archive.open(info) as stream:  # before unpacking 270 MB of something else
        if stream.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise FileRefused(f"its {WEIGHTS_MEMBER} is not an HDF5 file; it may be damaged")
    if info.file_size <= WEIGHTS_IN_MEMORY:
        with h5py.File(io.BytesIO(read_member(archive, WEIGHTS_MEMBER, limit)), "r") as weights:
            yield weights
        return
    check_size(WEIGHTS_MEMBER, info.file_size, limit, "unpacks to")
    with scratch_folder("mnistdesk-weights-") as folder:
        free = shutil.disk_usage(folder).free
        if free < info.file_size:
            raise FileRefused(f"cannot read its weights: they unpack to {format_bytes(info.file_size)}, and the temporary folder {folder.parent} has only {format_bytes(free)} free")
        copy = folder / WEIGHTS_MEMBER
        try:  # zipfile never unpacks more than the size the member declares
            with archive.open(info) as source, copy.open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        except OSError as error:
            raise FileRefused(f"cannot read its weights: unpacking them into the temporary folder {folder.parent} failed ({error.strerror or error})") from None
        with h5py.File(copy, "r") as weights:
            yield weights


def _check_members(archive: zipfile.ZipFile) -> None:
    """Refuse a ``.keras`` holding anything but the members of :data:`MODEL_MEMBER_LIMITS`, one
    listed twice, or members that declare more than its limits: from the directory alone,
    before anything is unpacked."""
    totals = dict.fromkeys(MODEL_MEMBER_LIMITS, 0)
    seen: set[str] = set()
    for info in archive.infolist():
        name = info.filename
        kind = ASSETS_FOLDER if name.startswith(ASSETS_FOLDER) else name
        if kind not in totals or ".." in PurePosixPath(name).parts or "\\" in name:
            raise FileRefused(f"refused: it holds {_preview(name)}, which a Keras model file has no use for (one holds only {', '.join(MODEL_MEMBER_LIMITS)})")
        if name in seen:
            raise FileRefused(f"refused: it lists {_preview(name)} twice")
        seen.add(name)
        totals[kind] += info.file_size
        check_size(f"the files in {ASSETS_FOLDER}" if kind == ASSETS_FOLDER else name, totals[kind], MODEL_MEMBER_LIMITS[kind], "unpack to" if kind == ASSETS_FOLDER else "unpacks to")


def _check_config(config: Any, where: str) -> None:
    """Refuse a model config that holds Python code or classes from outside Keras, or declares
    layers too big to build; before Keras reads it."""
    try:
        check_declared_layers(config)
        check_code_free(config)
    except RecursionError:
        raise FileRefused(f"refused: {where} is nested too deeply") from None


#: An HDF5 file starts with this signature (Keras writes no user block before it).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_legacy_h5(path: str | os.PathLike) -> bool:
    """Whether the file is HDF5: Keras 2's single-file format (``model.save("m.h5")``)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def legacy_config(file: Any) -> dict[str, Any]:
    """The model config of an open legacy ``.h5`` file (checked by :func:`check_model_file`)."""
    raw = file.attrs.get("model_config")
    if raw is None:
        raise FileRefused("this .h5 file holds weights only (model.save_weights), not a model: save the whole model with model.save(...)")
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    check_size("its model_config", len(text.encode("utf-8", "replace")), MAX_CONFIG_BYTES)
    config = json.loads(text)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise FileRefused("its model_config is not a Keras model description")
    return config


def legacy_layer_weights(file: Any, layer: dict[str, Any]) -> tuple[Any, ...]:
    """A legacy ``.h5`` layer's weights as h5py datasets, not yet read, in the order its
    ``weight_names`` lists them: the reader counts what it reads (a config may name a layer twice)."""
    name = layer.get("name", layer.get("config", {}).get("name"))
    group = file.get(f"model_weights/{name}") if isinstance(name, str) else None
    if group is None:
        return ()
    return tuple(group[weight] for weight in _name_list(group, "weight_names"))


def _check_legacy_file(path: str | os.PathLike) -> None:
    import h5py

    check_size("the file", os.path.getsize(path), MAX_WEIGHT_BYTES + WEIGHTS_FILE_SLACK, "is")
    with h5py.File(path, "r") as file:
        _check_config(legacy_config(file), "its model_config")
        check_hdf5_arrays(file)
        _check_legacy_mentions(file)


def _check_legacy_mentions(file: Any) -> None:
    """Refuse a legacy ``.h5`` whose name lists (``layer_names``, each layer's ``weight_names``)
    lead to one layer or array twice: Keras reads an array at each mention, while
    :func:`check_hdf5_arrays` counts it once (an 8 KB file naming one 196 MB array 12 times
    cost 2.3 GB). Counts the names before reading them: at most twice :data:`MAX_WEIGHT_ARRAYS`."""
    import h5py

    lists: list[tuple[Any, str]] = []

    def visit(_: str, group: Any) -> None:
        if isinstance(group, h5py.Group):
            lists.extend((group, key) for key in ("layer_names", "weight_names"))

    visit("/", file)
    file.visititems(visit)
    declared = sum(math.prod(group.attrs.get_id(part).shape) for group, key in lists for part in _name_parts(group, key))
    if declared > 2 * MAX_WEIGHT_ARRAYS:
        raise FileRefused(f"refused: its layer_names and weight_names list {declared} names, over the limit of {2 * MAX_WEIGHT_ARRAYS}")
    seen: dict[str, set[Any]] = {"layer_names": set(), "weight_names": set()}
    for group, key in lists:
        for name in _name_list(group, key):
            target = group.get(name) if name not in ("", ".") else group
            if target is None:
                continue  # a missing weight: Keras says so when it loads
            if target.id in seen[key]:
                raise FileRefused(f"refused: its {key} lead to {_preview(target.name)} more than once; it would be read again each time")
            seen[key].add(target.id)


def _name_parts(group: Any, key: str) -> list[str]:
    """The attributes holding a legacy ``.h5`` name list, as Keras reads it: ``key``, or
    ``key0``, ``key1``… (HDF5 once capped an attribute at 64 KB)."""
    if key in group.attrs:
        return [key]
    parts: list[str] = []
    while f"{key}{len(parts)}" in group.attrs:
        parts.append(f"{key}{len(parts)}")
    return parts


def _name_list(group: Any, key: str) -> list[str]:
    """A legacy ``.h5`` name list (see :func:`_name_parts`), as text."""
    return [name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name) for part in _name_parts(group, key) for name in group.attrs[part]]


def compiled_settings(path: str | os.PathLike) -> dict[str, Any]:
    """How a model file from elsewhere says it was compiled, in :class:`TrainConfig`'s terms:
    ``optimizer`` (when it is one the app trains with) and ``learning_rate`` (when a plain
    number); empty when the file does not say. Reads a checked file; no TensorFlow."""
    import h5py

    try:
        if is_legacy_h5(path):
            with h5py.File(path, "r") as file:
                raw = file.attrs.get("training_config")
                training = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)) if raw is not None and len(raw) <= MAX_CONFIG_BYTES else {}
            optimizer = training.get("optimizer_config") if isinstance(training, dict) else None
        else:
            with zipfile.ZipFile(path) as archive:
                config = json.loads(read_member(archive, CONFIG_MEMBER, MAX_CONFIG_BYTES))
            compiled = config.get("compile_config") if isinstance(config, dict) else None
            optimizer = compiled.get("optimizer") if isinstance(compiled, dict) else None
    except (OSError, ValueError, RecursionError, FileRefused, zipfile.BadZipFile):
        return {}
    if isinstance(optimizer, str):
        optimizer = {"class_name": optimizer, "config": {}}
    if not isinstance(optimizer, dict):
        return {}
    settings: dict[str, Any] = {}
    name = str(optimizer.get("class_name", "")).lower()
    if name in OPTIMIZERS:
        settings["optimizer"] = name
    rate = (optimizer.get("config") or {}).get("learning_rate") if isinstance(optimizer.get("config"), dict) else None
    if name in OPTIMIZERS and _is_number(rate) and 0 < rate <= 1:
        settings["learning_rate"] = float(rate)
    return settings


def input_problem(shape: tuple[Any, ...]) -> str | None:
    """Why a model with this input shape (batch axis left out) cannot read the app's digits, and
    what would fix it; None when it can."""
    if shape in ((28, 28), (28, 28, 1), (784,)):
        return None
    shown = tuple(shape)
    return f"the model expects input of shape {shown}, but the app gives it 28×28 grey digits: give it Input((28, 28, 1)), Input((28, 28)) or Input((784,))"


def output_problem(shape: tuple[Any, ...]) -> str | None:
    """Why a model with this output shape (batch axis left out) cannot be read as 10 classes, and
    what would fix it; None when it can."""
    shape = tuple(shape)
    if shape == (10,):
        return None
    if len(shape) > 1 and shape[-1] == 10:
        return f"the model outputs shape {shape}, one answer per row or pixel, not 10 class probabilities: add a Flatten layer before its first Dense layer"
    return f"the model outputs shape {shape}, not 10 class probabilities: end it with Dense(10, activation=\"softmax\")"


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata mnistdesk stored with a model, its known fields checked (empty for models
    from elsewhere). No TensorFlow."""
    return read_metadata_checked(path)[0]


def read_metadata_checked(path: str | os.PathLike) -> tuple[dict[str, Any], list[str]]:
    """The checked metadata, and one note per field that was ignored because it was malformed.
    A legacy ``.h5`` file has no place for it: empty, without a note."""
    if is_legacy_h5(path):
        return {}, []
    try:
        check_zip_directory(path)
        archive = zipfile.ZipFile(path)
    except FileRefused as reason:
        return {}, [f"metadata ignored: {reason}"]
    except (OSError, zipfile.BadZipFile, ValueError):  # not a model archive: the model's own check says so
        return {}, []
    try:
        with archive:
            if METADATA_MEMBER not in archive.namelist():
                return {}, []
            raw = read_member(archive, METADATA_MEMBER, MAX_METADATA_BYTES)
    except FileRefused as reason:
        return {}, [f"metadata ignored: {reason}"]
    # zipfile's own words for a damaged, encrypted or oddly compressed member (a bad CRC, say)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError, EOFError, zlib.error) as error:
        return {}, [f"metadata ignored: it cannot be read ({error})"]
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return {}, ["metadata ignored: it is not valid JSON"]
    return validate_metadata(record)


def validate_metadata(record: Any) -> tuple[dict[str, Any], list[str]]:
    """Drop each known field whose value has the wrong type or range (a note says which), so
    file-provided metadata can never crash a consumer; unknown fields pass through as data.
    A long history is thinned (:func:`thin_history`), so it costs little to draw or carry on."""
    if not isinstance(record, dict):
        return {}, [f"metadata ignored: expected a JSON object, got {type(record).__name__}"]
    clean, notes = {}, []
    for key, value in record.items():
        check, expected = METADATA_SCHEMA.get(key, (None, ""))
        if check is None or check(value):
            clean[key] = value
        else:
            notes.append(f"metadata field {key!r} ignored: {_preview(value)} is not {expected}")
    if "history" in clean:
        clean["history"] = thin_history(clean["history"])
    return clean, notes


#: Points a history keeps per series: one per epoch up to this many epochs (as many as one run
#: may have), then thinned; ~1 MB of metadata at most, and a quick draw.
MAX_HISTORY_POINTS = 10_000


def thin_history(history: dict[str, list[float]], limit: int = MAX_HISTORY_POINTS) -> dict[str, list[float]]:
    """``history`` with every series of more than ``limit`` points cut to ``limit`` evenly spread
    ones, the first and last epochs always among them; series of one length keep the same
    epochs. A thinned series has no longer one point per epoch: point ``i`` of ``n`` stands for
    the epoch ``i / (n - 1)`` of the way through training."""
    return {key: [values[i * (len(values) - 1) // (limit - 1)] for i in range(limit)] if len(values) > limit else list(values) for key, values in history.items()}


def _preview(value: Any) -> str:
    text = json.dumps(value, allow_nan=True, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and len(value) <= limit and value.isprintable()


def _number(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: _is_number(value) and low <= value <= high


def _is_number(value: Any) -> bool:
    # an int is finite however long (and math.isfinite would overflow on 10**400)
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and math.isfinite(value)


def _scalars(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, (str, bool, type(None))) or _is_number(v) for v in value.values()) and len(json.dumps(value)) <= 64 << 10


def _history(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(series, list) and all(map(_plottable, series)) for series in value.values())


def _plottable(value: Any) -> bool:
    """A float (NaN and infinity included: a curve shows the gap), or an int a float can hold
    (10**400 is valid JSON, and stopped the window from starting when it was drawn)."""
    if isinstance(value, float):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= sys.float_info.max


#: Each known metadata field: its check, and what it must be (for the note when it is not).
METADATA_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "mnistdesk_version": (_text(40), "a short text"),
    "preprocessing": (_text(40), "a short text"),
    "saved": (_number(0, math.inf), "a time"),
    "architecture": (_text(80), "a name of at most 80 printable characters"),
    "dataset": (_text(4096), "a printable name"),
    "class_names": (lambda value: isinstance(value, list) and len(value) == 10 and all(map(_text(40), value)), "a list of 10 short names"),
    "train_config": (_scalars, "an object of plain values"),
    "history": (_history, "an object of number lists"),
    "test_accuracy": (_number(0, 1), "a number between 0 and 1"),
    "test_loss": (_number(0, math.inf), "a non-negative number"),
    "test_n": (lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= 0, "a count"),
    "train_seconds": (_number(0, math.inf), "a non-negative number"),
    "fine_tune": (_scalars, "an object of plain values"),
    "network": (lambda value: isinstance(value, dict) and isinstance(value.get("layers"), list) and len(json.dumps(value)) <= 64 << 10, "a network description"),
}


def load_model(path: str | os.PathLike) -> Any:
    """Load a ``.keras`` or legacy ``.h5`` model with ``safe_mode=True`` and check it maps
    28×28 images to 10 classes."""
    import keras

    check_model_file(path)
    try:
        with _keras_source(path) as source:
            model = keras.saving.load_model(source, compile=False, safe_mode=True)
    except ModelFileError:
        raise
    except Exception as error:  # Keras raises many types for bad files; the user needs one message.
        if "safe_mode" in str(error) or "Lambda" in str(error):
            raise ModelFileError(f"{path}: {CODE_REFUSED}") from None
        raise ModelFileError(f"{path}: cannot load this model ({type(error).__name__}: {error})") from None
    problem = input_problem(tuple(model.input_shape[1:])) or output_problem(tuple(model.output_shape[1:]))
    if problem is not None:
        raise ModelFileError(f"{path}: {problem}")
    return model


@contextmanager
def _keras_source(path: str | os.PathLike) -> Iterator[str | os.PathLike]:
    """What Keras loads a checked model file from. A ``.keras`` is unpacked here, into a scratch
    folder removed however the load ends, with only the members Keras reads: Keras would unpack
    the whole archive into the temporary folder itself, and leave it there when the load fails.
    A legacy ``.h5`` is read in place."""
    if is_legacy_h5(path):
        yield path
        return
    with zipfile.ZipFile(path) as archive, scratch_folder("mnistdesk-model-") as folder:
        members = [info for info in archive.infolist() if info.filename != METADATA_MEMBER]
        needed = sum(info.file_size for info in members)
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise ModelFileError(f"{path}: cannot load this model: it unpacks to {format_bytes(needed)}, and the temporary folder {folder.parent} has only {format_bytes(free)} free")
        try:
            for info in members:
                archive.extract(info, folder)
        except OSError as error:
            raise ModelFileError(f"{path}: cannot load this model: unpacking it into the temporary folder {folder.parent} failed ({error.strerror or error})") from None
        yield folder
