"""The reference models, and saving/loading them with their metadata. No Qt.

Keras (and so TensorFlow) is imported inside the functions that need it, so importing this
module stays instant: the app can read a model's metadata and predict before TensorFlow loads.

- ``dense``: the classic MLP of Chollet's MNIST write-up (98.0% on MNIST in 5 epochs).
- ``cnn``: the classic Keras CNN recipe (>99% in 5 epochs).
- ``lean``: the app's default: three small 3×3 convolutions with pooling; ~30k parameters, a
  fraction of ``cnn``'s cost on a laptop CPU, and as accurate.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistdesk import __version__
from mnistdesk.files import replacing

ARCHITECTURES = ("lean", "cnn", "dense")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEFAULT_OPTIMIZER = {"dense": "rmsprop", "cnn": "adam", "lean": "adam"}
DEFAULT_LEARNING_RATE = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 1e-2}
DEFAULT_VALIDATION_FRACTION = 0.1
PREPROCESSING_VERSION = "mnist-com-v1"
METADATA_MEMBER = "mnistdesk.json"


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

    def resolved_optimizer(self) -> str:
        return self.optimizer or DEFAULT_OPTIMIZER.get(self.architecture, "adam")


class ModelFileError(Exception):
    """A model file is missing, not a Keras model, unsafe, or of the wrong shape."""


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
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
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


def compile_model(model: Any, optimizer: str, learning_rate: float | None = None) -> None:
    """(Re)compile with a fresh optimizer; sparse labels, accuracy metric."""
    import keras

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    rate = learning_rate if learning_rate is not None else DEFAULT_LEARNING_RATE[optimizer]
    instance = {
        "adam": lambda: keras.optimizers.Adam(rate),
        "rmsprop": lambda: keras.optimizers.RMSprop(rate),
        "sgd": lambda: keras.optimizers.SGD(rate, momentum=0.9),
    }[optimizer]()
    model.compile(optimizer=instance, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def save_model(model: Any, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``model`` and ``metadata`` to ``path`` atomically: a crash leaves the old file intact."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: model files must end in .keras")
    with replacing(path, suffix=".keras") as tmp:  # Keras insists on the .keras suffix
        model.save(tmp)
        record = {"mnistdesk_version": __version__, "preprocessing": PREPROCESSING_VERSION, "saved": time.time(), **metadata}
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_MEMBER, json.dumps(record, indent=1))
    return path


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
    """Fail fast, without TensorFlow, on a missing, empty or non-zip model file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a Keras model file (.keras); it may be damaged or truncated")


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata mnistdesk stored with a model (empty for models from elsewhere). No TensorFlow."""
    try:
        with zipfile.ZipFile(path) as archive:
            if METADATA_MEMBER not in archive.namelist():
                return {}
            record = json.loads(archive.read(METADATA_MEMBER))
    except (OSError, zipfile.BadZipFile, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def load_model(path: str | os.PathLike) -> Any:
    """Load a ``.keras`` model with ``safe_mode=True`` and check it maps 28×28 images to 10 classes."""
    import keras

    check_model_file(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad files; the user needs one message.
        if "safe_mode" in str(error) or "Lambda" in str(error):
            raise ModelFileError(
                f"{path}: refused: the model contains Python code (e.g. a Lambda layer), "
                "which mnistdesk never runs from a file"
            ) from None
        raise ModelFileError(f"{path}: cannot load this model ({type(error).__name__}: {error})") from None
    input_shape, output_shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if input_shape not in ((28, 28), (28, 28, 1)):
        raise ModelFileError(f"{path}: the model expects input of shape {input_shape}, not a 28×28 image")
    if output_shape != (10,):
        raise ModelFileError(f"{path}: the model outputs shape {output_shape}, not 10 class probabilities")
    return model
