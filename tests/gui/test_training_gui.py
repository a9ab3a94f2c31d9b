"""Live training in the app: the worker thread, its controls, and the faults a user can cause."""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from mnistdesk.base import paths
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.net.live import LIVE_REFRESH_S
from mnistdesk.net.models import TrainConfig, read_metadata

TIMEOUT_MS = 60_000


def test_worker_trains_a_tiny_model_for_one_epoch(run_worker, qtbot, tiny_npz):
    config = TrainConfig("dense", str(tiny_npz), epochs=1, batch_size=32, seed=1)
    worker = run_worker(config)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as finished:
        pass
    metadata = finished.args[0]
    assert metadata["architecture"] == "dense" and len(metadata["history"]["loss"]) == 1
    assert metadata["test_n"] == 100 and 0.3 < metadata["test_accuracy"] <= 1
    assert worker.records["epoch"] and "val_accuracy" in worker.records["epoch"][0]
    assert worker.records["weights"], "no weight snapshot reached the GUI"
    snapshot = worker.records["weights"][-1]
    assert isinstance(snapshot[1][0], np.ndarray) and snapshot[1][0].shape == (784, 512)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_training_yields_the_cores_to_the_window(run_worker, qtbot, tiny_npz):
    """Drawing stays smooth while a network trains: the training thread runs at a lower
    priority than the window's, so a mouse move is handled at once, not after a slice of it."""
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=200, batch_size=8))
    qtbot.waitUntil(lambda: bool(worker.records["batch"]), timeout=TIMEOUT_MS)
    window_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert os.getpriority(os.PRIO_PROCESS, worker.native_thread_id) > window_niceness or window_niceness == 19
    worker.control.stop()


def test_stop_takes_effect_within_a_batch(run_worker, qtbot, tiny_npz):
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=200, batch_size=8))
    qtbot.waitUntil(lambda: bool(worker.records["batch"]), timeout=TIMEOUT_MS)
    stopped_at = time.perf_counter()
    with qtbot.waitSignal(worker.stopped, timeout=TIMEOUT_MS) as stopped:
        worker.control.stop()
    assert time.perf_counter() - stopped_at < 60  # within a batch (ms here); the bound is against a hang, on a loaded machine too
    assert len(stopped.args[0]["history"]["loss"]) < 200


def test_closing_abandons_a_run_without_validating_or_scoring(run_worker, qtbot, tiny_npz):
    """Close must not wait for the interrupted epoch's validation pass or the final scoring
    (with cnn they made quitting take 1.8-2.4 s)."""
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=200, batch_size=8))
    qtbot.waitUntil(lambda: bool(worker.records["batch"]), timeout=TIMEOUT_MS)
    epochs_before = len(worker.records["epoch"])
    with qtbot.waitSignal(worker.done, timeout=TIMEOUT_MS):
        worker.control.abandon()
    assert len(worker.records["epoch"]) == epochs_before and worker.metadata is None
    assert not worker.records["failed"]


def test_pause_holds_training_and_resume_goes_on(run_worker, qtbot, tiny_npz):
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=3, batch_size=8))
    qtbot.waitUntil(lambda: bool(worker.records["batch"]), timeout=TIMEOUT_MS)
    worker.control.pause()
    qtbot.wait(300)
    count = len(worker.records["batch"])
    qtbot.wait(700)
    assert len(worker.records["batch"]) == count, "batches went on while paused"
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS):
        worker.control.resume()


def test_a_pause_counts_neither_in_the_eta_nor_in_the_reported_training_time(run_worker, qtbot, tiny_npz, monkeypatch):
    """A long pause (the clock jumps 1000 s while the run waits) must not push the ETA up after
    Resume, nor end up in "Done in … s" and the saved metadata."""
    offset = [0.0]
    real_clock = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + offset[0])
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=10, batch_size=8))  # long enough to pause on a fast machine
    qtbot.waitUntil(lambda: len(worker.records["batch"]) >= 2, timeout=TIMEOUT_MS)
    worker.control.pause()
    qtbot.wait(300)  # the run is now waiting between two batches
    before = len(worker.records["batch"])
    eta_before = worker.records["batch"][-1]["eta_s"]
    offset[0] += 1000.0
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as finished:
        worker.control.resume()
    after = worker.records["batch"][before:]
    assert after and all(info["eta_s"] < eta_before + 30 for info in after), (eta_before, [info["eta_s"] for info in after])
    assert finished.args[0]["train_seconds"] < 100


def test_learning_rate_change_applies_from_the_next_batch(run_worker, qtbot, tiny_npz):
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=50, batch_size=8, learning_rate=1e-3))
    qtbot.waitUntil(lambda: bool(worker.records["batch"]), timeout=TIMEOUT_MS)
    worker.control.set_learning_rate(0.0123)
    qtbot.waitUntil(lambda: worker.records["batch"][-1]["learning_rate"] == pytest.approx(0.0123), timeout=TIMEOUT_MS)


def test_nan_loss_stops_and_keeps_the_last_good_weights(run_worker, qtbot, tiny_npz):
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=20, batch_size=8, optimizer="sgd", learning_rate=1e12))
    with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as failed:
        pass
    title, message = failed.args
    assert "no longer a number" in title and "lower learning rate" in message
    assert all(np.isfinite(w).all() for w in worker.model.get_weights())
    assert all(np.isfinite(w).all() for layer in worker.records["weights"][-1] for w in layer)


def test_unavailable_dataset_fails_with_its_reason(run_worker, qtbot):
    worker = run_worker(TrainConfig("lean", "mnist", epochs=1))
    qtbot.waitUntil(lambda: bool(worker.records["failed"]), timeout=TIMEOUT_MS)
    title, message = worker.records["failed"][0]
    assert title == "Dataset unavailable" and "bundled sample" in message
    assert "--" not in message, "GUI dialogs name no CLI flags"


def test_an_invalid_dataset_file_is_titled_invalid(run_worker, qtbot, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    worker = run_worker(TrainConfig("lean", str(bad), epochs=1))
    qtbot.waitUntil(lambda: bool(worker.records["failed"]), timeout=TIMEOUT_MS)
    title, message = worker.records["failed"][0]
    assert title == "Invalid dataset" and "bad.npz" in message


def test_an_exception_in_training_is_reported_not_raised(run_worker, qtbot, tiny_npz, monkeypatch):
    import mnistdesk.net.training

    def broken(*args, **kwargs):
        raise RuntimeError("GPU on fire")

    monkeypatch.setattr(mnistdesk.net.training, "fit", broken)
    worker = run_worker(TrainConfig("dense", str(tiny_npz), epochs=1))
    qtbot.waitUntil(lambda: bool(worker.records["failed"]), timeout=TIMEOUT_MS)
    title, message = worker.records["failed"][0]
    assert title == "Training failed" and "GPU on fire" in message


# -- the whole window -------------------------------------------------------------------------
@pytest.fixture
def window(quick_training_window):
    return quick_training_window


def train_once(window, qtbot) -> None:
    """A quick run to its end: the window then holds a trained, unsaved model."""
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)


def test_train_button_trains_and_the_drawing_is_rescored_live(window, qtbot, sample):
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    scored = []
    window.prediction_made.connect(scored.append)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.panel.train_button.click()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert len(scored) >= 3, "the drawing was not re-scored as the weights changed"
    assert window.models.unsaved and "unsaved" in window.models.label.text()
    assert window.training.curves.buffers["loss"].size > 0
    assert window.training.weights.layout_info[0] == (28, 28)
    assert window.training.panel.train_button.isEnabled()


def test_progress_follows_a_run_about_three_times_a_second_not_every_batch_reading(window, qtbot):
    """A progress bar repaints itself at once on each change: with every batch reading it was taken from training."""
    window.training.panel.batch_size.setValue(8)
    window.training.panel.epochs.setValue(500)
    shown, readings = [], []
    window.training.progress.connect(lambda info: shown.append(time.perf_counter()))
    window.training.start()
    window.training.worker.batch_done.connect(readings.append)
    qtbot.waitUntil(lambda: len(shown) > 1 and shown[-1] - shown[0] > 1.5, timeout=TIMEOUT_MS)  # however fast the machine
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert len(shown) >= 2 and len(readings) > len(shown)
    assert min(later - earlier for earlier, later in zip(shown, shown[1:])) >= LIVE_REFRESH_S - 0.01


def test_live_panels_follow_a_run_about_three_times_a_second(window, qtbot, monkeypatch):
    """Each refresh of the bars, activations, history, weights and curves is taken from training:
    they follow a run every LIVE_REFRESH_S (plus each epoch's end), not five or seven times a second.
    The run is stopped after a fixed time, so a fast machine cannot make it too short to tell."""
    window.training.panel.batch_size.setValue(8)
    window.training.panel.epochs.setValue(500)
    snapshots, redraws, epochs_ended = [], [], []
    curve = window.training.curves.raw["loss"]
    set_data = curve.setData
    monkeypatch.setattr(curve, "setData", lambda *args: (redraws.append(time.perf_counter()), set_data(*args)))
    window.training.predictor_changed.connect(lambda *args: snapshots.append(time.perf_counter()))
    window.training.epoch_reached.connect(lambda *args: epochs_ended.append(args[0]))
    window.training.start()
    qtbot.waitUntil(lambda: len(snapshots) > 1 and snapshots[-1] - snapshots[0] > 3, timeout=TIMEOUT_MS)
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    for times in (snapshots, redraws):
        seconds = times[-1] - times[0]
        assert seconds > 2, "the run was too short to tell"
        assert len(times) <= seconds / LIVE_REFRESH_S + len(epochs_ended) + 3  # + each epoch's end, start, stop, end


def test_pressing_train_twice_starts_one_run(window, qtbot):
    assert window.training.start()
    thread = window.training.thread
    assert not window.training.start()
    window.training.panel.train_button.click()
    assert window.training.thread is thread
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)


def test_closing_mid_training_exits_well_within_two_seconds(window, qtbot):
    window.training.panel.epochs.setValue(500)
    window.training.start()
    qtbot.waitUntil(lambda: window.training.curves.buffers["loss"].size > 0, timeout=TIMEOUT_MS)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 0.5 and not window.isVisible()
    qtbot.waitUntil(lambda: window.training.thread is None, timeout=2000)  # the run ends on its own, soon


def test_saving_a_trained_model_then_reopening_it(window, qtbot, tmp_path):
    train_once(window, qtbot)
    target = tmp_path / "mine.keras"
    assert window.models.save_to(target)
    assert not window.models.unsaved and read_metadata(target)["architecture"] == "dense"
    assert window.models.open(target)
    qtbot.waitUntil(lambda: window.models.path == target, timeout=10_000)  # a busy machine may load in the background
    assert str(target) in window.models.recent()


def test_offline_download_offers_the_sample(window, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: asked.append(args[2]) or QMessageBox.StandardButton.No)
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    window.training.start()
    qtbot.waitUntil(lambda: bool(asked), timeout=TIMEOUT_MS)
    assert "bundled sample" in asked[0] and not window.training.is_running()


def test_yes_to_the_sample_trains_on_it_once(window, qtbot, monkeypatch):
    """Yes starts the sample run at once; that run ends by itself and is not started again."""
    asked, runs = [], []

    def answer_yes(*args):
        asked.append(args[1])
        assert not window.training.is_running(), "asked while the failed run's thread was still up"
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "warning", answer_yes)
    panel = window.training.panel
    panel.epochs.setValue(1)
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    window.training.run_started.connect(runs.append)
    train_once(window, qtbot)
    qtbot.wait(300)
    assert asked == ["Dataset unavailable"] and panel.dataset.currentData() == "sample"
    assert [run["dataset"] for run in runs] == ["sample"] and not window.training.is_running()
    assert window.models.metadata["dataset"] == "sample"


def test_yes_to_the_sample_asks_about_the_unsaved_model_once(window, qtbot, monkeypatch):
    """Train new asked Save/Discard, then the offline dialog's Yes asked it again."""
    train_once(window, qtbot)
    questions = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: questions.append(args[1]) or QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    with qtbot.waitSignal(window.training.run_started, timeout=TIMEOUT_MS, check_params_cb=lambda run: run["dataset"] == "sample"):
        window.training.start()
    assert questions == ["Save the trained model?"]
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)


def test_yes_to_the_sample_after_continue_continues_the_model(window, qtbot, monkeypatch):
    """Continue offline, then Yes: the model in use trains on; it started a fresh network instead."""
    train_once(window, qtbot)
    first = window.models.trained
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.Yes)
    panel = window.training.panel
    panel.epochs.setValue(1)
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    model, metadata = trained.args
    assert model is first and len(metadata["history"]["loss"]) == 3 and metadata["dataset"] == "sample"


def test_opening_a_broken_model_file_does_not_ask_about_the_unsaved_model_first(window, qtbot, monkeypatch, tmp_path):
    """Save/Discard was asked, then the file turned out not to be a model: Discard discarded nothing."""
    train_once(window, qtbot)
    questions, warnings = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: questions.append(args[1]) or QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    (tmp_path / "x.keras").write_bytes(b"")
    assert not window.models.open(tmp_path / "x.keras")
    assert questions == [] and len(warnings) == 1 and "x.keras" in warnings[0] and window.models.unsaved
    assert window.models.open(paths.SHIPPED_MODEL_PATH)
    assert questions == ["Save the trained model?"] and not window.models.unsaved


def test_a_model_that_loads_but_cannot_be_used_is_refused_before_asking_about_the_unsaved_one(window, qtbot, monkeypatch, tmp_path):
    """A sound file whose model reads five classes passed the quick checks: Save/Discard was asked,
    then it could not open. Now the new model opens first, and only then is the old one given up."""
    import keras

    train_once(window, qtbot)
    questions, warnings = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: questions.append(args[1]) or QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warnings.append(args[2]))
    keras.Sequential([keras.Input((784,)), keras.layers.Dense(5, activation="softmax")]).save(tmp_path / "five.keras")
    assert not window.models.open(tmp_path / "five.keras", wait_ms=10_000)
    assert questions == [] and len(warnings) == 1 and "not 10 class" in warnings[0] and window.models.unsaved
    monkeypatch.setattr(QMessageBox, "question", lambda *args: questions.append(args[1]) or QMessageBox.StandardButton.Cancel)
    trained = window.models.trained
    assert not window.models.open(paths.SHIPPED_MODEL_PATH)
    assert questions == ["Save the trained model?"] and window.models.trained is trained and window.models.unsaved
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)  # so the window can close


def test_the_train_panel_reports_the_run_until_another_model_is_opened(window, qtbot):
    """After Restore shipped model the panel still said "Stopped: test accuracy 96.40% so far"
    beside the shipped model; a finished run's bar was left empty by its scoring phase."""
    panel = window.training.panel
    train_once(window, qtbot)
    assert panel.status.text().startswith("Done") and panel.progress.value() == panel.progress.maximum()
    window.models.unsaved = False
    assert window.models.open(paths.SHIPPED_MODEL_PATH)
    assert panel.status.text() == f"Ready: {paths.SHIPPED_MODEL_PATH.name} in use"
    assert panel.detail.text() == "" and panel.progress.value() == 0


def test_a_picked_dataset_file_is_checked_at_once_and_named_by_its_file(window, monkeypatch, tmp_path, tiny_npz):
    """A truncated .npz was accepted until Train (after the save question), and the box showed
    only the start of its folder's path."""
    from PySide6.QtWidgets import QFileDialog

    from mnistdesk.gui.training_controller import OWN_DATASET

    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(tiny_npz.read_bytes()[: tiny_npz.stat().st_size // 2])
    critical = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: critical.append((args[1], args[2])))
    picked = [str(truncated)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args: (picked[0], ""))
    panel = window.training.panel
    own = panel.dataset.findData(OWN_DATASET)
    panel.dataset.setCurrentIndex(own)
    panel.dataset.activated.emit(own)
    assert len(critical) == 1 and critical[0][0] == "Invalid dataset" and "trunc.npz" in critical[0][1]
    assert panel.dataset.findData(str(truncated)) < 0
    mine = tmp_path / "my digits.npz"
    mine.write_bytes(tiny_npz.read_bytes())
    picked[0] = str(mine)
    panel.dataset.setCurrentIndex(own)
    panel.dataset.activated.emit(own)
    assert panel.dataset.currentData() == str(mine) and panel.dataset.currentText() == "my digits.npz"
    assert panel.dataset.toolTip() == str(mine) and len(critical) == 1


def test_the_train_panels_controls_stay_put_when_its_texts_wrap(window, qtbot):
    """The Epochs row sat 171, 162 or 155 px down as the status and figures wrapped to more lines.
    The texts of a run fit one line of the column, down to a 1024-pixel-wide window."""
    window.resize(1024, 640)
    panel = window.training.panel
    qtbot.waitUntil(lambda: panel.epochs.isVisible(), timeout=2000)

    def epochs_row() -> int:
        QApplication.processEvents()
        return panel.epochs.mapTo(window, panel.epochs.rect().topLeft()).y()

    idle = epochs_row()
    panel.show_batch({"progress": 4.5, "epochs": 40, "epoch": 5, "batch": 29, "steps": 29, "eta_s": 41, "samples_per_s": 13070, "loss": 0.2139, "accuracy": 0.946})
    training = epochs_row()
    assert training == idle
    panel.set_running(True, paused=True)
    assert epochs_row() == training and panel.status.text() == "Paused at epoch 5/40 · batch 29/29"
    window.training._report("Done in 17 s · test 96.40%", done=1)
    assert epochs_row() == training


def test_an_invalid_npz_is_reported_without_offering_the_sample(window, qtbot, monkeypatch, tmp_path):
    critical, warned = [], []
    monkeypatch.setattr(QMessageBox, "critical", lambda *args: critical.append(args[1]))
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: warned.append(args[1]))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    panel = window.training.panel
    panel.dataset.insertItem(0, str(bad), str(bad))
    panel.dataset.setCurrentIndex(0)
    window.training.start()
    qtbot.waitUntil(lambda: bool(critical), timeout=TIMEOUT_MS)
    assert critical == ["Invalid dataset"] and not warned


def test_train_new_asks_before_replacing_an_unsaved_model(window, qtbot, monkeypatch):
    train_once(window, qtbot)
    trained = window.models.trained
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.Cancel)
    window.training.panel.train_button.click()
    assert asked == ["Save the trained model?"] and not window.training.is_running()
    assert window.models.trained is trained and window.models.unsaved
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)


def test_continue_trains_the_model_in_use_and_carries_the_curves_on(window, qtbot):
    train_once(window, qtbot)
    first = window.models.trained
    points = window.training.curves.buffers["loss"].size
    window.training.panel.epochs.setValue(1)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.panel.continue_button.click()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    model, metadata = trained.args
    assert model is first, "Continue must keep training the same model, not a fresh one"
    assert len(metadata["history"]["loss"]) == 3 and len(metadata["history"]["val_loss"]) == 3
    x, _ = window.training.curves.buffers["loss"].data()
    assert window.training.curves.buffers["loss"].size > points and x[-1] > 2.5
    assert window.training.curves.validation["loss"][0][-1] == pytest.approx(3)


def test_continue_an_opened_model_file(window, qtbot):
    window.training.panel.epochs.setValue(1)
    window.training.panel.dataset.setCurrentIndex(window.training.panel.dataset.findData("sample"))
    shipped_epochs = len(window.models.metadata["history"]["loss"])
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    metadata = trained.args[1]
    assert metadata["architecture"] == "lean" and len(metadata["history"]["loss"]) == shipped_epochs + 1
    assert metadata["test_accuracy"] > 0.9, "continuing from the shipped weights, not from scratch"


def test_continuing_a_dense_model_file_runs_eight_batches_a_call(run_worker, qtbot, tiny_npz, tmp_path):
    """A model read from a file comes uncompiled: continued, dense ran one batch a compiled call,
    slower than a fresh run (see STEPS_PER_EXECUTION)."""
    from mnistdesk.net.models import STEPS_PER_EXECUTION
    from mnistdesk.net.training import new_model

    config = TrainConfig("dense", str(tiny_npz), epochs=1, batch_size=8, seed=1)
    new_model(config).save(tmp_path / "old.keras")
    worker = run_worker(config, start_from=tmp_path / "old.keras")
    qtbot.waitUntil(lambda: worker.metadata is not None, timeout=TIMEOUT_MS)
    assert worker.model.steps_per_execution == STEPS_PER_EXECUTION["dense"] and len(worker.records["epoch"]) == 1


def test_validation_is_held_out_and_test_scored_once(window, qtbot):
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    metadata = trained.args[1]
    assert 24 <= metadata["validation_n"] <= 27 and metadata["test_n"] == 100  # 10% of each class of 256 digits
    assert metadata["train_config"]["validation_fraction"] == pytest.approx(0.1)
    assert metadata["history"]["val_accuracy"][-1] == pytest.approx(metadata["validation_accuracy"], abs=1e-5)
    assert window.training.panel.validation.text() == "10% held out"


def test_the_tensorboard_option_writes_a_log_folder_per_run(window, qtbot, tmp_path):
    window.settings.setValue("train/log_dir", str(tmp_path / "logs"))
    window.training.panel.tensorboard.setChecked(True)
    train_once(window, qtbot)
    (run,) = (tmp_path / "logs").iterdir()
    assert run.name.startswith("dense-tiny-") and list((run / "validation").glob("events.out.tfevents.*"))


def test_progress_text_is_readable_in_busy_phases_and_paused(window, qtbot):
    panel = window.training.panel
    panel.epochs.setValue(200)
    statuses = []
    window.training.start()
    window.training.worker.status.connect(statuses.append)
    qtbot.waitUntil(lambda: window.training.curves.buffers["loss"].size > 0, timeout=TIMEOUT_MS)
    assert not panel.progress.isTextVisible() and panel.status.isVisible()
    window.training.toggle_pause()
    qtbot.wait(300)
    assert panel.status.text().startswith("Paused") and "ETA" not in panel.status.text()
    window.training.toggle_pause()
    window.training.stop()
    assert panel.status.text().startswith("Stopping") and panel.progress.maximum() == 0  # busy, with its text
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)


def test_closing_with_an_unsaved_model_asks_first(window, qtbot, monkeypatch):
    train_once(window, qtbot)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert asked == ["Save the trained model?"] and window.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    assert window.close()


def test_hovering_a_weight_tile_names_the_unit_and_its_range(qtbot):
    from PySide6.QtCore import QPointF

    from mnistdesk.gui.training_panels import WeightsPanel

    configure_pyqtgraph()
    panel = WeightsPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 400)
    panel.show()
    qtbot.waitExposed(panel)
    kernel = np.zeros((784, 64), np.float32)
    kernel[:, 9] = np.linspace(-0.5, 0.25, 784)
    panel.show_kernel(kernel)
    qtbot.wait(50)  # the view fits itself to the new image on the next event-loop pass
    assert panel.image.levels is not None and tuple(panel.image.levels) == (-0.5, 0.5)
    # unit 9 sits in grid row 1, column 1 of an 8×8 grid of 28×28 tiles with 1-px gaps
    panel._on_scene_mouse_moved(panel.view.mapViewToScene(QPointF(29 + 10, 29 + 10)))
    assert panel.hover_text == "unit 9: min -0.500, max 0.250"


def test_a_finished_runs_model_is_released_once_the_next_run_starts(window, qtbot):
    """Train pressed fifty times in an afternoon keeps one model, not fifty (issue 12). The
    collection is the app's own, after the run: none here while a thread trains."""
    window.training.panel.epochs.setValue(1)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    finished_model = weakref.ref(trained.args[0])
    del trained
    window.models.unsaved = False  # as if saved: Train new would otherwise ask first
    with qtbot.waitSignal(window.training.run_started, timeout=TIMEOUT_MS):
        window.training.start()
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert window.models.trained is not None, "the second run's model is the one in use"
    assert finished_model() is None, "the finished run's Keras model is still reachable"


def test_after_stop_the_epoch_axis_follows_the_epochs_that_exist_and_continue_keeps_it_so(quick_training_window, qtbot):
    """Stopped at epoch 2 of 30, the x-axis stayed 0–30, and Continue did not fix it."""
    window = quick_training_window
    window.training.panel.epochs.setValue(30)
    plot = window.training.curves.plots["loss"]
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.start()
        qtbot.waitUntil(lambda: window.training.trained_epochs >= 1.5, timeout=TIMEOUT_MS)
        window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    stopped_at = window.training.trained_epochs
    assert plot.getViewBox().viewRange()[0][1] < stopped_at + 1.5, plot.getViewBox().viewRange()
    window.training.panel.epochs.setValue(2)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    done = len(window.models.metadata["history"]["loss"])
    assert done <= stopped_at + 3 and plot.getViewBox().viewRange()[0][1] < done + 1, plot.getViewBox().viewRange()


def test_closing_mid_run_asks_and_save_stops_the_run_and_saves_it_before_closing(window, qtbot, monkeypatch, tmp_path):
    """Closing discarded a run without asking; now: Cancel keeps training, Save stops, saves, closes."""
    from PySide6.QtWidgets import QFileDialog

    window.training.panel.epochs.setValue(500)
    window.training.start()
    qtbot.waitUntil(lambda: window.training.latest_batch is not None, timeout=TIMEOUT_MS)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert asked == ["A model is training"] and window.isVisible() and window.training.is_running()
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[1]) or QMessageBox.StandardButton.Save)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "so-far.keras"), ""))
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT_MS)
    assert (tmp_path / "so-far.keras").exists() and read_metadata(tmp_path / "so-far.keras")["architecture"] == "dense"
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)


def test_declining_the_offline_fallback_leaves_the_model_in_use_and_its_curves(window, qtbot, monkeypatch):
    """MNIST offline, Train new, No: the curves of the model in use were gone, the old loss text
    stayed, and the status bar still said "Loading mnist…"."""
    train_once(window, qtbot)
    points = window.training.curves.buffers["loss"].size
    trained = window.models.trained
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: QMessageBox.StandardButton.No)
    messages = []
    window.training.message.connect(messages.append)
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running() and any("did not start" in m for m in messages), timeout=TIMEOUT_MS)
    assert window.models.trained is trained and window.models.unsaved
    assert window.training.curves.buffers["loss"].size > 0 and len(window.models.metadata["history"]["loss"]) == 2
    assert panel.detail.text() == "" and "Not trained" in panel.status.text()
    assert "Loading" not in window.statusBar().currentMessage()
    assert points > 0


def test_a_history_of_two_million_epochs_is_drawn_at_once(qtbot, monkeypatch):
    """Opening a model whose history held 1.9 M points froze the window for 132 s: the curves
    were drawn point by point. Now in one pass, thinned to what the plots can show."""
    from mnistdesk.gui.training_panels import CurvesPanel

    configure_pyqtgraph()
    curves = CurvesPanel()
    qtbot.addWidget(curves)
    curves.resize(700, 300)
    curves.show()
    epochs = 2_000_000
    falling = np.linspace(2.0, 0.05, epochs).tolist()
    rising = np.linspace(0.1, 0.99, epochs).tolist()
    history = {"loss": falling, "accuracy": rising, "val_loss": falling, "val_accuracy": rising}
    drawn = []
    for item in (*curves.raw.values(), *curves.smooth.values(), *curves.markers.values()):

        def counted(*args, item=item, set_data=item.setData, **kwargs):
            drawn.append(item)
            assert len(drawn) < 50, "drawn point by point"
            return set_data(*args, **kwargs)

        monkeypatch.setattr(item, "setData", counted)
    started = time.perf_counter()
    curves.show_history(history)
    assert time.perf_counter() - started < 5  # about 0.05 s here; generous for a loaded machine
    x, loss = curves.buffers["loss"].data()
    assert x[0] == 1 and x[-1] == epochs and loss[-1] == pytest.approx(0.05) and len(x) <= 4000
    dots_x, dots_y = curves.markers["accuracy"].getData()
    assert 10 <= len(dots_x) <= 200 and dots_x[-1] == epochs and dots_y[-1] == pytest.approx(0.99)
    assert curves.epochs == epochs and curves.plots["loss"].getViewBox().viewRange()[0][1] >= epochs
