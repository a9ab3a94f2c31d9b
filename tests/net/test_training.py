"""Training without the GUI: the validation hold-out and TensorBoard logs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mnistdesk.net.live import TrainingControl
from mnistdesk.net.models import STEPS_PER_EXECUTION, TrainConfig
from mnistdesk.net.training import LiveCallback, TensorBoardLogger, describe, fit, new_model, split_validation


def test_validation_split_is_stratified_disjoint_and_always_the_same(sample):
    train, validation = split_validation(sample.y_train, 0.1)
    assert len(validation) == 400 and len(train) + len(validation) == len(sample.y_train)
    assert not set(train) & set(validation)
    counts = np.bincount(sample.y_train[validation], minlength=10)
    expected = np.round(0.1 * np.bincount(sample.y_train, minlength=10))
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(split_validation(sample.y_train, 0.1)[1], validation)


def test_no_validation_split_trains_on_everything(sample):
    train, validation = split_validation(sample.y_train, 0.0)
    assert len(validation) == 0 and len(train) == len(sample.y_train)


def test_runs_validate_on_held_out_training_digits_not_on_the_test_split(tiny):
    config = TrainConfig("dense", "tiny", epochs=1, batch_size=32, seed=1)
    model = new_model(config)
    history = fit(model, tiny, config)
    metadata = describe(model, config, tiny, history, 1.0)
    assert metadata["validation_n"] == len(split_validation(tiny.y_train, 0.1)[1]) and metadata["test_n"] == len(tiny.y_test)
    assert history["val_accuracy"][-1] == pytest.approx(metadata["validation_accuracy"], abs=1e-5)
    # the test split is scored only in describe: its score is not what Keras validated on
    assert metadata["test_accuracy"] != pytest.approx(history["val_accuracy"][-1], abs=1e-9) or metadata["test_loss"] != pytest.approx(history["val_loss"][-1], abs=1e-6)


def test_dense_trains_several_batches_a_call_and_still_stops_within_one(tiny):
    """Keras's Python around each call cost the dense model a fifth of its speed: it runs
    several batches a call. The live callback then acts between calls: Stop within one."""
    per_call = STEPS_PER_EXECUTION["dense"]
    config = TrainConfig("dense", "tiny", epochs=3, batch_size=8, seed=1)
    model = new_model(config)
    assert model.steps_per_execution == per_call > 1
    control, readings = TrainingControl(), []

    def on_batch(info: dict) -> None:
        readings.append(info["batch"])
        if len(readings) == 2:
            control.stop()

    samples = len(split_validation(tiny.y_train, config.validation_fraction)[0])
    live = LiveCallback(control, math.ceil(samples / 8), 3, samples, on_batch, lambda info: None, lambda weights: None, batch_interval=0)
    history = fit(model, tiny, config, [live])
    assert readings[:2] == [per_call, 2 * per_call]  # a reading between calls
    assert len(history["loss"]) == 1 and live.done_in_epoch <= 3 * per_call + 1, "Stop ended the run within one more call"


def test_tensorboard_logs_hold_epoch_scalars_and_the_weight_image(tiny, tmp_path):
    import tensorflow as tf
    from tensorflow.core.util.event_pb2 import Event

    config = TrainConfig("dense", "tiny", epochs=2, batch_size=64, seed=1)
    fit(new_model(config), tiny, config, [TensorBoardLogger(tmp_path)])
    found: dict[str, set] = {"train": set(), "validation": set()}
    for split in found:
        (events,) = (tmp_path / split).glob("events.out.tfevents.*")
        for record in tf.data.TFRecordDataset(str(events)):
            event = Event.FromString(record.numpy())
            for value in event.summary.value:
                found[split].add((value.tag, event.step, value.HasField("image")))
    assert {("epoch_loss", 0, False), ("epoch_accuracy", 1, False), ("first_layer_weights", 1, True)} <= found["train"]
    assert {("epoch_loss", 1, False), ("epoch_accuracy", 0, False)} <= found["validation"]


def test_tensorboard_logger_hooks_no_batch_end():
    """Overriding on_train_batch_end makes Keras sync every batch (~40% slower)."""
    import keras

    assert TensorBoardLogger.on_train_batch_end is keras.callbacks.Callback.on_train_batch_end


def test_cosine_schedule_ends_the_run_with_small_steps(tiny):
    import keras

    class Rates(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(float(self.model.optimizer.learning_rate.numpy()))

    config = TrainConfig("dense", "tiny", epochs=4, batch_size=64, optimizer="adam", learning_rate=0.002, seed=1, lr_schedule="cosine")
    rates = Rates()
    fit(new_model(config), tiny, config, [rates])
    np.testing.assert_allclose(rates.seen, [0.002 * 0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)], rtol=1e-5)
    constant = TrainConfig("dense", "tiny", epochs=2, batch_size=64, optimizer="adam", learning_rate=0.002, seed=1)
    rates = Rates()
    fit(new_model(constant), tiny, constant, [rates])
    np.testing.assert_allclose(rates.seen, [0.002, 0.002], rtol=1e-5)


def test_weight_snapshots_are_spaced_by_what_they_cost():
    """Copying a big model's weights holds training up (cnn: ~14 ms for 3.2M weights); five a
    second cost cnn ~7% of its speed. A snapshot that took t waits at least 50·t."""
    import time

    from mnistdesk.net.live import TrainingControl
    from mnistdesk.net.training import LiveCallback

    class SlowToCopy:
        def get_weights(self):
            time.sleep(0.01)
            return [np.zeros(3, np.float32)]

    class Model:
        layers = [SlowToCopy()]
        stop_training = False

        def get_metrics_result(self):
            return {}

    snapshots = []
    live = LiveCallback(TrainingControl(), steps=1000, epochs=1, samples=1000, on_batch=lambda info: None, on_epoch=lambda info: None, on_weights=snapshots.append, weights_interval=0.01)
    live.set_model(Model())
    live.on_train_begin()
    live.on_epoch_begin(0)
    until = time.perf_counter() + 0.3
    batch = 0
    while time.perf_counter() < until:
        batch += 1
        live.on_train_batch_begin(batch)
        time.sleep(0.005)
    assert len(snapshots) <= 2, f"{len(snapshots)} snapshots in 0.3 s, each taking 10 ms"  # at the start and the first batch


def test_validating_each_epoch_leaves_no_garbage_behind(tiny):
    """The GUI's collector waits while a run's thread is alive, so a 300-epoch run must not make
    cyclic garbage every epoch (a fresh ``predict`` pipeline per epoch grew memory ~60 MB)."""
    import gc
    from dataclasses import replace

    config = TrainConfig("dense", "tiny", epochs=1, batch_size=64, seed=1)
    model = new_model(config)
    fit(model, tiny, config)  # traced once
    garbage = []
    for epochs in (1, 6):  # the suite runs with the automatic collector off, as the app does during a run
        gc.collect()
        fit(model, tiny, replace(config, epochs=epochs))
        garbage.append(gc.collect())
    assert garbage[1] - garbage[0] < 50 * 5, garbage  # five more epochs, next to no more garbage


def test_continuing_a_long_history_keeps_it_bounded_with_its_first_and_last_epochs():
    from mnistdesk.net.training import continued_history

    previous = {"loss": [float(epoch) for epoch in range(20_000)], "accuracy": [0.5] * 20_000}
    history = continued_history(previous, {"loss": [-1.0, -2.0], "accuracy": [0.9, 1.0]}, 20_000)
    assert len(history["loss"]) == len(history["accuracy"]) <= 10_000
    assert history["loss"][0] == 0.0 and history["loss"][-1] == -2.0 and history["accuracy"][-1] == 1.0
