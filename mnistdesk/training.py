"""Training a model on a dataset: the batch pipeline and one ``train`` used by the CLI and the
app's worker. Imports Keras (TensorFlow) at import time: load it only when training.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import keras
import numpy as np

from mnistdesk.augment import augment_batch
from mnistdesk.data import Dataset, normalize
from mnistdesk.engine import Engine
from mnistdesk.evaluation import evaluate
from mnistdesk.live import BatchValues, Throttle, TrainingControl, format_eta
from mnistdesk.models import TrainConfig, build_model, save_model


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


def train(config: TrainConfig, dataset: Dataset, out: str | os.PathLike | None = None, callbacks: Sequence[keras.callbacks.Callback] = (), model: Any = None) -> tuple[Any, dict[str, Any]]:
    """Fit ``model`` (default: a fresh one for ``config``), score it and, if ``out``, save it.

    Returns the model and its metadata.
    """
    if model is None:
        model = new_model(config)
    started = time.perf_counter()
    history = fit(model, dataset, config, callbacks)
    metadata = describe(model, config, dataset, history, time.perf_counter() - started)
    if out is not None:
        save_model(model, Path(out), metadata)
    return model, metadata


def describe(model: Any, config: TrainConfig, dataset: Dataset, history: dict[str, list[float]], seconds: float) -> dict[str, Any]:
    """The metadata saved with a model: how it was made and how it scores on the test split.
    A run stopped early is scored and described all the same."""
    score = evaluate(Engine.from_keras_model(model), dataset.x_test, dataset.y_test)
    return {
        "architecture": config.architecture,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "train_config": {**asdict(config), "optimizer": config.resolved_optimizer()},
        "history": history,
        "test_accuracy": score.accuracy,
        "test_loss": score.loss,
        "test_n": score.n,
        "train_seconds": round(seconds, 1),
    }


def new_model(config: TrainConfig) -> Any:
    """A fresh compiled model for ``config`` (seeded when the config has a seed)."""
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    return build_model(config.architecture, config.resolved_optimizer(), config.learning_rate)


class LiveCallback(keras.callbacks.Callback):
    """Thin adapter from Keras's callback API to plain Python values for a live display.

    ``on_batch`` gets throttled per-batch metrics (by time, not count: emitting and re-plotting
    every 5 ms batch cost the dense model 13-35% of its speed), ``on_weights`` gets numpy copies
    of every layer's weights at most every ``weights_interval`` seconds and after each epoch,
    ``on_epoch`` gets the epoch's metrics with validation. ``control`` is polled between batches
    for stop, pause and learning-rate changes. A non-finite loss restores the last good weights
    and stops the run, leaving ``nan_message`` set.
    """

    def __init__(self, control: TrainingControl, steps: int, epochs: int, samples: int, on_batch: Callable[[dict], None], on_epoch: Callable[[dict], None], on_weights: Callable[[list], None], batch_interval: float = 1 / 25, weights_interval: float = 0.1):
        super().__init__()
        self.control, self.steps, self.epochs, self.samples = control, steps, epochs, samples
        self.on_batch, self.on_epoch, self.on_weights = on_batch, on_epoch, on_weights
        self.batch_throttle, self.weights_throttle = Throttle(batch_interval), Throttle(weights_interval)
        self.values = BatchValues()
        self.epoch = 0
        self.seen = 0
        self.seen_at_last_emit = 0
        self.nan_message: str | None = None
        self.good_weights: list[np.ndarray] = []
        self.started = self.last_emit = time.perf_counter()

    def on_train_begin(self, logs=None) -> None:
        self.started = self.last_emit = time.perf_counter()
        self._snapshot()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch = epoch
        self.values.start_epoch()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        rate = self.control.take_learning_rate()
        if rate is not None:
            self.model.optimizer.learning_rate.assign(rate)

    def on_train_batch_end(self, batch, logs=None) -> None:
        values = self.values.add(batch, logs or {})
        self.seen += self.samples / self.steps
        if not all(math.isfinite(v) for v in values.values()):
            self.model.set_weights(self.good_weights)
            self.nan_message = f"The loss became {values.get('loss')} at epoch {self.epoch + 1}, batch {batch + 1}."
            self.model.stop_training = True
            return
        if self.control.stop_requested:
            self.model.stop_training = True
            return
        if self.batch_throttle.ready():
            self._emit_batch(batch)
        if self.weights_throttle.ready():
            self._snapshot()
        if self.control.paused:
            self._emit_batch(batch)
            paused_at = time.perf_counter()
            self.control.wait_while_paused()
            self.started += time.perf_counter() - paused_at  # a pause is not training time
            self.last_emit = time.perf_counter()
            self.seen_at_last_emit = self.seen

    def on_epoch_end(self, epoch, logs=None) -> None:
        if self.nan_message is not None:
            return
        self._snapshot()
        # A run stopped mid-epoch still validates; place that point where training stopped.
        progress = min(epoch + 1, epoch + (self.values.count / self.steps))
        self.on_epoch({"epoch": epoch + 1, "progress": progress, **{key: float(value) for key, value in (logs or {}).items()}})

    def _emit_batch(self, batch: int) -> None:
        now = time.perf_counter()
        total = self.samples * self.epochs
        rate = (self.seen - self.seen_at_last_emit) / max(now - self.last_emit, 1e-9)
        average = self.seen / max(now - self.started, 1e-9)
        self.last_emit, self.seen_at_last_emit = now, self.seen
        self.on_batch(
            {
                **self.values.take(),
                "epoch": self.epoch + 1,
                "epochs": self.epochs,
                "batch": batch + 1,
                "steps": self.steps,
                "progress": self.epoch + (batch + 1) / self.steps,
                "samples_per_s": rate,
                "eta_s": (total - self.seen) / average if self.seen else math.inf,
                "learning_rate": float(self.model.optimizer.learning_rate),
            }
        )

    def _snapshot(self) -> None:
        weights = [layer.get_weights() for layer in self.model.layers]
        if all(np.isfinite(w).all() for layer in weights for w in layer):
            self.good_weights = [w for layer in weights for w in layer]
            self.on_weights(weights)


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
        self.stream.write(f"{prefix}epoch {done}/{self.epochs}  {metrics}  {now - self.epoch_started:.1f}s  ETA {format_eta(eta)}\n")
        self.stream.flush()
