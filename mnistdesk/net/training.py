"""Training a model on a dataset: the batch pipeline and one ``train`` used by the CLI and the
app's worker. Imports Keras (TensorFlow) at import time: load it only when training.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import keras
import numpy as np

from mnistdesk.base.files import LogFolderError, writing_problem
from mnistdesk.base.untrusted import terminal_text
from mnistdesk.data.augment import augment_batch
from mnistdesk.data.datasets import Dataset
from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Engine, Predictor, UnsupportedModel, predictor_for, softmax
from mnistdesk.net.evaluation import evaluate, score
from mnistdesk.net.live import BATCH_READING_S, LIVE_REFRESH_S, RunningMeans, Throttle, TrainingClock, TrainingControl, eta_seconds, format_eta, weight_mosaic
from mnistdesk.net.models import ModelFileError, TrainConfig, TrainingDiverged, build_model, compile_model, save_model, thin_history
from mnistdesk.net.networks import build as build_network

VALIDATION_SEED = 0
#: A weight snapshot holds training up (every weight is copied, then the window re-predicts
#: with them): one that took t seconds is followed by at least t × this of training, so
#: snapshots cost training ~2% at most (cnn's 3.2M weights: ~1 a second instead of 5).
SNAPSHOT_SPACING = 50


#: The input shape of the app's own networks; a lesson network may read (28, 28) or (784,).
IMAGE_SHAPE = (28, 28, 1)


class Batches(keras.utils.PyDataset):
    """Shuffled (optionally augmented) batches, normalised to float32 one batch at a time and
    shaped as the model reads them (``shape``: its input shape without the batch axis)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, augment: bool = False, shuffle: bool = True, seed: int | None = None, indices: np.ndarray | None = None, shape: tuple[int, ...] = IMAGE_SHAPE):
        super().__init__()
        self.shape = tuple(shape)
        self.images, self.labels = images, labels.astype(np.int32)
        self.batch_size, self.augment, self.shuffle = batch_size, augment, shuffle
        self.indices = np.arange(len(images)) if indices is None else indices  # a split, without copying images
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.indices) if shuffle else self.indices

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[chosen]
        if self.augment:
            images = augment_batch(images, self.rng)
        return normalize(images).reshape((len(chosen), *self.shape)), self.labels[chosen]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(self.indices)


def split_validation(labels: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): ``fraction`` of each class held out of training.

    Stratified, and seeded with a fixed seed rather than the run's: every run and every
    continued run on the same data validates on the same digits, never on ones it trained on.
    """
    rng = np.random.default_rng(VALIDATION_SEED)
    held_out = [rng.permutation(members)[: round(fraction * len(members))] for members in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    validation = np.sort(np.concatenate(held_out)) if held_out else np.empty(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), validation), validation


def training_batches(dataset: Dataset, config: TrainConfig, shape: tuple[int, ...] = IMAGE_SHAPE) -> Batches:
    """The batches a run trains on: the training split less its validation hold-out."""
    train_indices, _ = split_validation(dataset.y_train, config.validation_fraction)
    return Batches(dataset.x_train, dataset.y_train, config.batch_size, config.augment, seed=config.seed, indices=train_indices, shape=shape)


def fit(model: Any, dataset: Dataset, config: TrainConfig, callbacks: Sequence[keras.callbacks.Callback] = (), initial_epoch: int = 0, on_validation: Callable[[int, np.ndarray], None] | None = None) -> dict[str, list[float]]:
    """``model.fit`` for ``config.epochs`` more epochs, validating each epoch on the held-out
    validation split; ``on_validation(epoch, probabilities)`` gets that pass's predictions.
    The test split is not touched here: :func:`describe` scores it once."""
    callbacks = list(callbacks)
    shape = input_shape(model)
    validation = validation_pass(dataset, config.validation_fraction, on_validation, shape)
    if validation is not None:
        callbacks.insert(0, validation)
    if config.lr_schedule == "cosine":
        callbacks.append(cosine_decay(config.resolved_learning_rate(), initial_epoch, config.epochs))
    history = model.fit(training_batches(dataset, config, shape), epochs=initial_epoch + config.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=0)
    # The scheduler logs the rate; the saved history keeps what every run has (a continued run merges series by name).
    return {key: [float(v) for v in values] for key, values in history.history.items() if key != "learning_rate"}


def cosine_decay(rate: float, first_epoch: int, epochs: int) -> keras.callbacks.Callback:
    """The learning rate falls from ``rate`` along a half cosine over the run's epochs, set once
    per epoch: the last epochs take small steps, so the run ends on settled weights rather than
    wherever the last large steps left them."""
    return keras.callbacks.LearningRateScheduler(lambda epoch, _: rate * 0.5 * (1 + math.cos(math.pi * (epoch - first_epoch) / epochs)))


def validation_pass(dataset: Dataset, fraction: float, on_validation: Callable[[int, np.ndarray], None] | None = None, shape: tuple[int, ...] = IMAGE_SHAPE) -> ValidationPass | None:
    """The callback that validates each epoch on the dataset's held-out validation split (None
    when there is none)."""
    _, indices = split_validation(dataset.y_train, fraction)
    if not len(indices):
        return None
    return ValidationPass(Batches(dataset.x_train, dataset.y_train, 500, shuffle=False, indices=indices, shape=shape), dataset.y_train[indices], on_validation)


def input_shape(model: Any) -> tuple[int, ...]:
    """The shape one digit must have for ``model`` (batch axis left out)."""
    return tuple(model.input_shape[1:])


class ValidationPass(keras.callbacks.Callback):
    """Validates at the end of each epoch with one ``predict`` over the validation split, and
    derives ``val_loss`` and ``val_accuracy`` from it as Keras's own validation would: the
    same single pass also gives every digit's probabilities, for a confusion matrix. Runs
    before the other callbacks, so they (and the history) see the validation values."""

    def __init__(self, batches: Batches, labels: np.ndarray, on_predictions: Callable[[int, np.ndarray], None] | None = None):
        super().__init__()
        self.batches, self.labels, self.on_predictions = batches, labels, on_predictions

    def on_epoch_end(self, epoch, logs=None) -> None:
        # Called directly, batch by batch: ``predict`` would build a fresh input pipeline every
        # epoch, cyclic garbage that piles up while the collector waits for the run to end.
        probabilities = np.concatenate([np.asarray(self.model(self.batches[i][0], training=False)) for i in range(len(self.batches))])
        if _from_logits(self.model):  # a lesson model that ends without a softmax
            probabilities = softmax(probabilities)
        validation = score(probabilities, self.labels)
        if logs is not None:
            logs.update(val_loss=validation.loss, val_accuracy=validation.accuracy)
        if self.on_predictions is not None:
            self.on_predictions(epoch, probabilities)


def train(config: TrainConfig, dataset: Dataset, out: str | os.PathLike | None = None, callbacks: Sequence[keras.callbacks.Callback] = (), model: Any = None, history: dict[str, list[float]] | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit ``model`` (default: a fresh one for ``config``), score it and, if ``out``, save it.
    ``history``: a continued model's curves, which this run's epochs extend.

    Returns the model and its metadata.
    """
    release_between_runs()
    if model is None:
        model = new_model(config)
    started = time.perf_counter()
    initial_epoch = len((history or {}).get("loss", []))
    new = fit(model, dataset, config, callbacks, initial_epoch=initial_epoch)
    history = continued_history(history or {}, new, initial_epoch)
    release_traced_gradients()
    metadata = describe(model, config, dataset, history, time.perf_counter() - started)
    if out is not None:
        save_model(model, Path(out), metadata)
    return model, metadata


def continued_history(previous: dict[str, list[float]], new: dict[str, list[float]], initial_epoch: int) -> dict[str, list[float]]:
    """A continued model's curves: its first ``initial_epoch`` epochs, then this run's; thinned
    (:func:`~mnistdesk.net.models.thin_history`), so continuing a model never grows them unbounded."""
    return thin_history({key: list(previous.get(key, []))[:initial_epoch] + list(values) for key, values in new.items()})


def trained_predictor(model: Any, learning_rate: float) -> Predictor:
    """The predictor for a model a run has just trained. Its outputs were finite numbers before
    (checked when it was loaded or built), so outputs that no longer are mean the run diverged:
    that is said, with the learning rate, instead of blaming the model."""
    try:
        return predictor_for(model)
    except ModelFileError:
        raise TrainingDiverged(
            f"the training diverged: with learning rate {learning_rate:g} the loss and the weights grew until the model's outputs were no longer finite numbers (NaN or infinity); nothing was saved: try a lower learning rate"
        ) from None


def describe(model: Any, config: TrainConfig, dataset: Dataset, history: dict[str, list[float]], seconds: float) -> dict[str, Any]:
    """The metadata saved with a model: how it was made, how it scores on the validation split
    it was tuned on, and — once, at the end — on the test split. A run stopped early is scored
    and described all the same."""
    engine = trained_predictor(model, config.resolved_learning_rate())
    _, validation_indices = split_validation(dataset.y_train, config.validation_fraction)
    scores = {"test": evaluate(engine, dataset.x_test, dataset.y_test)}
    if len(validation_indices):
        scores["validation"] = evaluate(engine, dataset.x_train[validation_indices], dataset.y_train[validation_indices])
    return {
        "architecture": config.architecture,
        "dataset": dataset.name,
        "class_names": list(dataset.class_names),
        "train_config": {**{key: value for key, value in asdict(config).items() if key != "network"}, "optimizer": config.resolved_optimizer()},
        **({"network": config.network} if config.network is not None else {}),
        "history": history,
        **{f"{split}_{key}": value for split, score in scores.items() for key, value in (("accuracy", score.accuracy), ("loss", score.loss), ("n", score.n))},
        "train_seconds": round(seconds, 1),
    }


def _from_logits(model: Any) -> bool:
    """Whether the model was compiled with a loss that applies the softmax itself."""
    loss = getattr(model, "loss", None)
    return bool(getattr(loss, "get_config", dict)().get("from_logits", False))


def release_traced_gradients() -> None:
    """Unregister the custom gradients TensorFlow registered while ``fit`` traced a train step.

    Keras's optimizer sums gradients through ``tf.custom_gradient``, which puts a closure into
    TensorFlow's global gradient registry for every trace and never takes it out; each closure
    keeps a finished run's whole traced graph alive (~9 MB a run here; TensorFlow issue 97697).
    They are read only while that trace builds its gradients; a later trace (a new batch shape,
    continued training) registers its own. Call it only while nothing trains in any thread.
    """
    from tensorflow.python.framework import ops

    # Private, with no public way to unregister: should a TensorFlow release move it, skip this.
    registry = getattr(getattr(ops, "gradient_registry", None), "_registry", None)
    if isinstance(registry, dict):
        for name in [name for name in registry if str(name).startswith("CustomGradient-")]:
            del registry[name]


def release_between_runs() -> None:
    """Let go of what finished runs left in Keras's and TensorFlow's global state: traced
    gradients, layer-name counters, the default graph, cached kernels. Models built before keep
    working (their weights and traced functions are their own). Call it only while nothing
    trains in any thread; it collects no garbage (see gui/app.py for where that runs)."""
    release_traced_gradients()
    keras.utils.clear_session(free_memory=False)


def new_model(config: TrainConfig) -> Any:
    """A fresh compiled model for ``config`` (seeded when the config has a seed)."""
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    if config.network is not None:
        model = build_network(config.network)
        compile_model(model, config.resolved_optimizer(), config.resolved_learning_rate())
        return model
    return build_model(config.architecture, config.resolved_optimizer(), config.learning_rate)


class RunAbandoned(Exception):
    """Raised between batches when the app is closing: leaves ``model.fit`` at once, skipping
    the validation pass Keras would otherwise run for the interrupted epoch."""


class LiveCallback(keras.callbacks.Callback):
    """Thin adapter from Keras's callback API to plain Python values for a live display.

    It hooks only ``on_train_batch_begin`` and the epoch/train ends: overriding
    ``on_train_batch_end`` makes Keras convert every batch's logs (a device sync), which cost
    the dense model ~40% of its speed here. Between two batches it applies a learning-rate
    change, pauses, stops, and — throttled by time — reads the running metrics (``on_batch``,
    every ``batch_interval``) and copies every layer's weights (``on_weights``, every
    ``weights_interval``, less often for big models: see ``SNAPSHOT_SPACING``); ``on_epoch``
    gets each epoch's metrics with validation, right after the epoch's end weights went to
    ``on_weights`` (``weights_sent``: False if they were not finite, so not sent). A non-finite
    loss stops the run and puts the last good weights back, leaving ``nan_message`` set. A model
    that runs several batches a compiled call (``steps_per_execution``) is seen between calls.
    """

    def __init__(self, control: TrainingControl, steps: int, epochs: int, samples: int, on_batch: Callable[[dict], None], on_epoch: Callable[[dict], None], on_weights: Callable[[list], None], batch_interval: float = BATCH_READING_S, weights_interval: float = LIVE_REFRESH_S):
        super().__init__()
        self.control, self.steps, self.epochs, self.samples = control, steps, epochs, samples
        self.on_batch, self.on_epoch, self.on_weights = on_batch, on_epoch, on_weights
        self.batch_throttle, self.weights_throttle = Throttle(batch_interval), Throttle(weights_interval)
        self.weights_interval = weights_interval
        self.means = RunningMeans()
        self.epoch = 0
        self.first_epoch: int | None = None  # a continued run starts past epoch 0
        self.done_in_epoch = 0  # batches finished in the current epoch
        self.nan_message: str | None = None
        self.good_weights: list[np.ndarray] = []
        self.clock = TrainingClock()  # training time, pauses left out: speed, ETA, the run's duration

    def on_train_begin(self, logs=None) -> None:
        self.clock.restart()
        self._snapshot()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch, self.done_in_epoch = epoch, 0
        if self.first_epoch is None:
            self.first_epoch = epoch
        self.means.start_epoch()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        self.done_in_epoch = batch
        if self.control.abandoned:
            raise RunAbandoned
        rate = self.control.take_learning_rate()
        if rate is not None:
            self.model.optimizer.learning_rate.assign(rate)
        if self.control.stop_requested:
            self.model.stop_training = True
            return
        if batch and self.batch_throttle.ready():
            self._emit_batch(self.model.get_metrics_result())
        if self.nan_message is None and self.weights_throttle.ready():
            self._snapshot()
        if self.control.paused:
            self.clock.pause()
            self.control.wait_while_paused()
            self.clock.resume()

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        self.done_in_epoch = self.steps if not self.model.stop_training else self.done_in_epoch + 1
        self._emit_batch({key: value for key, value in logs.items() if not key.startswith("val_")})
        if self.nan_message is not None:
            return
        weights_sent = self._snapshot()
        # A run stopped mid-epoch still validates; place that point where training stopped.
        progress = epoch + self.done_in_epoch / self.steps
        self.on_epoch({"epoch": epoch + 1, "progress": progress, "weights_sent": weights_sent, **{key: float(value) for key, value in logs.items()}})

    def on_train_end(self, logs=None) -> None:
        if self.nan_message is not None:
            self.model.set_weights(self.good_weights)

    def _emit_batch(self, running_means: dict) -> None:
        values = self.means.since_last(self.done_in_epoch, running_means)
        if not values:
            return
        if not all(math.isfinite(v) for v in values.values()) and self.nan_message is None:
            self.nan_message = f"The loss became {values.get('loss')} in epoch {self.epoch + 1}, before batch {self.done_in_epoch + 1}."
            self.model.stop_training = True
            return
        first = self.first_epoch or 0
        seen = ((self.epoch - first) * self.steps + self.done_in_epoch) * self.samples / self.steps
        elapsed = self.clock.elapsed()  # validation included, pauses not
        self.on_batch(
            {
                **values,
                "epoch": self.epoch + 1,
                "epochs": self.epochs,
                "batch": self.done_in_epoch,
                "steps": self.steps,
                "progress": self.epoch + self.done_in_epoch / self.steps,
                "samples_per_s": seen / max(elapsed, 1e-9),
                "eta_s": eta_seconds(seen, self.samples * (self.epochs - first), elapsed),
                "learning_rate": float(self.model.optimizer.learning_rate),
            }
        )

    def _snapshot(self) -> bool:
        """Send every layer's weights to ``on_weights``; False if they were not finite (not sent)."""
        started = time.perf_counter()
        weights = [layer.get_weights() for layer in self.model.layers]
        finite = all(np.isfinite(w).all() for layer in weights for w in layer)
        if finite:
            self.good_weights = [w for layer in weights for w in layer]
            self.on_weights(weights)
        self.weights_throttle.interval = max(self.weights_interval, SNAPSHOT_SPACING * (time.perf_counter() - started))
        return finite


class ProgressPrinter(keras.callbacks.Callback):
    """One line per epoch with metrics and ETA; a live batch counter when the stream is a terminal."""

    def __init__(self, stream: TextIO, epochs: int, steps: int):
        super().__init__()
        self.stream, self.epochs, self.steps = stream, epochs, steps
        self.live = stream.isatty()
        self.throttle = Throttle(0.2)
        self.started = self.epoch_started = time.perf_counter()
        self.first_epoch: int | None = None  # a continued model's run starts past its earlier epochs

    def on_train_begin(self, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self.epoch_started = time.perf_counter()
        if self.first_epoch is None:
            self.first_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None) -> None:
        # Not on_train_batch_end: hooking it makes Keras sync every batch (~40% slower).
        if self.live and self.throttle.ready():
            self.stream.write(f"\r  batch {batch + 1}/{self.steps}")
            self.stream.flush()

    def on_epoch_end(self, epoch, logs=None) -> None:
        logs = logs or {}
        now = time.perf_counter()
        first = self.first_epoch or 0
        done = epoch - first + 1
        eta = (now - self.started) / done * (self.epochs - done)
        metrics = "  ".join(f"{key} {float(value):.4f}" for key, value in logs.items() if key != "learning_rate")
        prefix = "\r\033[K" if self.live else ""
        overall = f" (the model's epoch {epoch + 1})" if first else ""  # it printed "epoch 61/2"
        self.stream.write(f"{prefix}epoch {done}/{self.epochs}{overall}  {metrics}  {now - self.epoch_started:.1f}s  ETA {format_eta(eta)}\n")
        self.stream.flush()


#: Free space TensorBoard logs need to start: an epoch adds its metrics and a first-layer
#: weights picture, a few KB (dense's 512 tiles: ~0.1 MB).
MIN_LOG_FREE_BYTES = 16 << 20


class TensorBoardLogger(keras.callbacks.Callback):
    """TensorBoard logs laid out as Keras's own callback writes them (``train/`` and
    ``validation/`` folders, ``epoch_loss``, ``epoch_accuracy``, …) plus the first layer's
    weights as an image.

    Epoch hooks only, unlike ``keras.callbacks.TensorBoard``, which overrides
    ``on_train_batch_end`` and so makes Keras sync every batch. The event files are written
    with TensorFlow's record writer and protocol buffers, so writing logs needs no
    ``tensorboard`` package (TensorFlow 2.21 no longer installs it; viewing them does).

    The logs are a side channel: a folder that cannot take them is refused before training
    (:class:`LogFolderError`), and one that fails during the run (a full disk) stops the logs
    with one line to ``warn``, never the training."""

    def __init__(self, log_dir: str | os.PathLike, warn: Callable[[str], None] | None = None):
        super().__init__()
        import tensorflow as tf

        self.log_dir = Path(log_dir)
        self.warn = warn or _warn_on_stderr
        problem = writing_problem(self.log_dir, MIN_LOG_FREE_BYTES)
        if problem is not None:
            raise LogFolderError(f"{self.log_dir}: cannot write TensorBoard logs there: {problem}")
        self.writers = {}
        try:
            for split in ("train", "validation"):
                folder = self.log_dir / split
                folder.mkdir(parents=True, exist_ok=True)
                self.writers[split] = tf.io.TFRecordWriter(str(folder / f"events.out.tfevents.{time.time():.0f}.mnistdesk.v2"))
                self._write(split, file_version="brain.Event:2")
        except (OSError, tf.errors.OpError) as error:
            self._close()
            raise LogFolderError(f"{self.log_dir}: cannot write TensorBoard logs there: {_reason(error)}") from None

    def on_epoch_end(self, epoch, logs=None) -> None:
        import tensorflow as tf
        from tensorflow.core.framework.summary_pb2 import Summary

        if not self.writers:  # logging stopped after a failure
            return
        try:
            for key, value in (logs or {}).items():
                split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                self._write(split, step=epoch, summary=Summary(value=[Summary.Value(tag=f"epoch_{name}", simple_value=float(value))]))
            try:
                kernel = Engine.from_keras_model(self.model).first_layer_weights()
            except UnsupportedModel:  # a layer the numpy engine lacks: no weights picture, the curves still go
                kernel = None
            if kernel is not None:
                image = Summary.Image(height=0, width=0, colorspace=1, encoded_image_string=_weights_png(kernel))
                self._write("train", step=epoch, summary=Summary(value=[Summary.Value(tag="first_layer_weights", image=image)]))
            for writer in self.writers.values():
                writer.flush()
        except (OSError, tf.errors.OpError) as error:
            self._close()
            self.warn(f"TensorBoard logs stopped at epoch {epoch + 1}: writing to {self.log_dir} failed ({_reason(error)}); training goes on")

    def on_train_end(self, logs=None) -> None:
        self._close()

    def _write(self, split: str, **fields: Any) -> None:
        from tensorflow.core.util.event_pb2 import Event

        self.writers[split].write(Event(wall_time=time.time(), **fields).SerializeToString())

    def _close(self) -> None:
        """Close the writers and write no more; closing flushes, which may fail too (a full disk)."""
        import tensorflow as tf

        writers, self.writers = self.writers, {}
        for writer in writers.values():
            try:
                writer.close()
            except (OSError, tf.errors.OpError):
                pass


def _reason(error: Exception) -> str:
    """An I/O error in a few words: TensorFlow's own say which file and why."""
    return getattr(error, "message", None) or getattr(error, "strerror", None) or str(error)


def _warn_on_stderr(text: str) -> None:
    print(f"mnistdesk: warning: {terminal_text(text)}", file=sys.stderr, flush=True)


def _weights_png(kernel: np.ndarray) -> bytes:
    """The first-layer mosaic as a grey PNG, mid-grey at zero (scaled up: tiles are tiny)."""
    import io

    from PIL import Image

    mosaic = np.nan_to_num(weight_mosaic(kernel)[0])
    limit = float(np.abs(mosaic).max()) or 1.0
    pixels = np.round(127.5 + 127.5 * mosaic / limit).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((pixels.shape[1] * 2, pixels.shape[0] * 2), Image.Resampling.NEAREST).save(buffer, "PNG")
    return buffer.getvalue()
