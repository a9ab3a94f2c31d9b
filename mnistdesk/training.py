"""Training a model on a dataset: the batch pipeline and one ``train`` used by the CLI and the
app's worker. Imports Keras (TensorFlow) at import time: load it only when training.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import keras
import numpy as np

from mnistdesk.augment import augment_batch
from mnistdesk.data import Dataset, normalize
from mnistdesk.engine import Engine
from mnistdesk.evaluation import evaluate
from mnistdesk.models import DEFAULT_OPTIMIZER, build_model, save_model


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

    def resolved_optimizer(self) -> str:
        return self.optimizer or DEFAULT_OPTIMIZER[self.architecture]


class Batches(keras.utils.PyDataset):
    """Shuffled (optionally augmented) batches, normalised to float32 one batch at a time."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, augment: bool = False, shuffle: bool = True, seed: int | None = None):
        super().__init__()
        self.images, self.labels = images, labels.astype(np.int32)
        self.batch_size, self.augment, self.shuffle = batch_size, augment, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images)) if shuffle else np.arange(len(images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[chosen]
        if self.augment:
            images = augment_batch(images, self.rng)
        return normalize(images)[..., None], self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.images))


def fit(model: Any, dataset: Dataset, config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = (), initial_epoch: int = 0) -> dict[str, list[float]]:
    """``model.fit`` on the dataset's training split, validating on its test split each epoch."""
    train = Batches(dataset.x_train, dataset.y_train, config.batch_size, config.augment, seed=config.seed)
    test = Batches(dataset.x_test, dataset.y_test, 500, shuffle=False)
    history = model.fit(train, validation_data=test, epochs=initial_epoch + config.epochs, initial_epoch=initial_epoch, callbacks=list(callbacks), verbose=0)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def train(config: TrainConfig, dataset: Dataset, out: str | os.PathLike | None, callbacks: Sequence[keras.callbacks.Callback] = ()) -> tuple[Any, dict[str, Any]]:
    """Build, fit, score and (if ``out``) save a model; returns it and its metadata."""
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    model = build_model(config.architecture, config.resolved_optimizer(), config.learning_rate)
    started = time.perf_counter()
    history = fit(model, dataset, config, callbacks)
    score = evaluate(Engine.from_keras_model(model), dataset.x_test, dataset.y_test)
    metadata = {
        "architecture": config.architecture,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "train_config": {**asdict(config), "optimizer": config.resolved_optimizer()},
        "history": history,
        "test_accuracy": score.accuracy,
        "test_loss": score.loss,
        "test_n": score.n,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    if out is not None:
        save_model(model, Path(out), metadata)
    return model, metadata


class ProgressPrinter(keras.callbacks.Callback):
    """One line per epoch with metrics and ETA; a live batch counter when the stream is a terminal."""

    def __init__(self, stream: TextIO, epochs: int, steps: int):
        super().__init__()
        self.stream, self.epochs, self.steps = stream, epochs, steps
        self.live = stream.isatty()
        self.started = self.epoch_started = time.perf_counter()

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None) -> None:
        if self.live and batch % 5 == 0:
            self.stream.write(f"\r  batch {batch + 1}/{self.steps}  loss {float(logs.get('loss', math.nan)):.4f}")
            self.stream.flush()

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        now = time.perf_counter()
        done = epoch + 1
        eta = (now - self.started) / done * (self.epochs - done)
        metrics = "  ".join(f"{key} {float(value):.4f}" for key, value in logs.items() if key != "learning_rate")
        prefix = "\r\033[K" if self.live else ""
        self.stream.write(f"{prefix}epoch {done}/{self.epochs}  {metrics}  {now - self.epoch_started:.1f}s  ETA {format_duration(eta)}\n")
        self.stream.flush()


def format_duration(seconds: float) -> str:
    """``75`` → ``1m15s``: short enough for a progress line."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
