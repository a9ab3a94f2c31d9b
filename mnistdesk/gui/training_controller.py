"""Runs training for the window: owns the worker thread and the three training panels, and
turns the worker's plain-value signals into panel updates and a live numpy predictor."""

from __future__ import annotations

import ctypes
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSettings, QThread, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from mnistdesk.base.settings import bool_setting, choice_setting, float_setting, int_setting, text_setting
from mnistdesk.data.datasets import DatasetError, check_npz, dataset_of_model
from mnistdesk.data.personal import LabelledImages
from mnistdesk.gui.folders import last_folder, remember_folder
from mnistdesk.gui.model_loader import plain
from mnistdesk.gui.training_panels import CurvesPanel, TrainPanel, WeightsPanel
from mnistdesk.gui.worker import DATASET_UNAVAILABLE, INVALID_DATASET, FineTuning, TrainingWorker, wait_for_thread_exit
from mnistdesk.net.engine import Engine
from mnistdesk.net.live import LIVE_REFRESH_S, Throttle
from mnistdesk.net.models import ARCHITECTURES, DEFAULT_LEARNING_RATE, DEFAULT_OPTIMIZER, OPTIMIZERS, FineTuneConfig, ModelFileError, TrainConfig, fine_tuning_summary

SHUTDOWN_WAIT_MS = 10_000  # a run stops within one compiled call; TensorFlow's import cannot be interrupted
OWN_DATASET = "own"


def trim_heap() -> None:
    """Hand the memory a run freed back to the system: glibc keeps it for reuse otherwise, and
    after each run the window sat ~10 MB higher and less steady. A no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # another C library (musl)
        pass


def collect_between_runs() -> None:
    """Free what finished runs left behind, with no thread running TensorFlow: tearing down its
    graphs while another thread trained or exited crashed TensorFlow (SIGSEGV). So the collector
    that runs in the GUI thread (app.py) is paused while a run's thread is alive (a 300-epoch run
    grew as little without it; drawing leaves no cyclic garbage), and this collects instead,
    before the thread starts and once it is gone: Keras's and TensorFlow's global state is reset,
    then the previous model, which the window let go of as the run started, is collected.
    """
    training = sys.modules.get("mnistdesk.net.training")
    if training is not None and not getattr(training.__spec__, "_initializing", False):  # the window's preload may be importing it
        training.release_between_runs()
    gc.collect()
    trim_heap()


def pause_garbage_collector(paused: bool) -> None:
    """Hold the GUI thread's periodic collector (app.py) while a run's thread is alive."""
    collector = getattr(QCoreApplication.instance(), "garbage_collector", None)
    if collector is not None:
        collector.timer.stop() if paused else collector.timer.start()


class TrainingController(QObject):
    """Train new / Continue / Pause / Stop for one run at a time."""

    predictor_changed = Signal(object, float)  # Engine with the newest weights, where in the run (epochs)
    splits_ready = Signal(object)  # the run's labelled digits: {"validation"/"test": (images, labels)}
    validation_scored = Signal(int, object)  # epoch, probabilities on the validation split
    #: For the epoch scrubber: epoch (the run's first: its start), Engine with the exact weights at
    #: its end, its validation probabilities (or None), its metrics.
    epoch_reached = Signal(int, object, object, object)
    run_started = Signal(object)  # dict: architecture, dataset
    model_trained = Signal(object, object)  # Keras model, metadata: a finished or stopped run
    running_changed = Signal(bool)
    run_starting = Signal()  # before anything of the run happens: background work must stop
    message = Signal(str)
    progress = Signal(object)  # the worker's batch info (epoch, epochs, progress, eta_s, …), every LIVE_REFRESH_S
    fine_tuned = Signal(str)  # what fine-tuning did: your handwriting and the test split, before → after

    def __init__(self, window: QWidget, settings: QSettings):
        super().__init__(window)
        self.window, self.settings = window, settings
        self.panel, self.curves, self.weights = TrainPanel(), CurvesPanel(), WeightsPanel()
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.engine: Engine | None = None
        self.latest_batch: dict | None = None  # the newest progress, shown or not
        # A progress bar repaints itself at once on every change: not with each batch reading.
        self.progress_throttle = Throttle(LIVE_REFRESH_S)
        self.trained_epochs = 0.0  # epochs trained so far in the run, as of the latest report
        self.engine_is_newest = False  # the engine holds the newest weights the worker sent
        self.model_built = False  # the run got as far as building (or loading) its model
        self.last_validation: tuple[int, Any] | None = None  # epoch, probabilities
        self._failure: tuple[str, str] | None = None  # answered once the run's thread has finished
        self._retry_with_sample: Callable[[], object] = self._start_on_sample  # offline: the same run on the bundled sample
        #: Asked before Train new replaces the model in use; the window answers (unsaved work).
        self.may_replace_model: Callable[[], bool] = lambda: True
        #: The model in use, which Continue trains further: (Keras model or None, file or None, metadata).
        self.current_model: tuple[Any, Path | None, dict] = (None, None, {})
        self.panel.dataset.addItem("Your own .npz…", OWN_DATASET)
        self.panel.train_clicked.connect(self.start)
        self.panel.continue_clicked.connect(self.continue_training)
        self.panel.tensorboard_toggled.connect(self._on_panel_tensorboard_toggled)
        self.panel.pause_clicked.connect(self.toggle_pause)
        self.panel.stop_clicked.connect(self.stop)
        self.panel.learning_rate_changed.connect(self._on_panel_learning_rate_changed)
        self.panel.dataset.activated.connect(self._on_panel_dataset_activated)
        self._restore_options()

    # -- commands ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.thread is not None

    def start(self) -> bool:
        """Train a fresh network with the panel's settings; does nothing while one is running,
        and asks first when that would throw away an unsaved model."""
        return self._start(ask=True)

    def _start(self, ask: bool) -> bool:
        if self.is_running() or (ask and not self.may_replace_model()):
            return False
        config = self._config(self.panel.network_name(), network=self.panel.chosen_network())
        if config is None:
            return False
        self.curves.reset(config.epochs)
        self._retry_with_sample = self._start_on_sample
        return self._launch(TrainingWorker(config, log_dir=self._run_log_dir(config)))

    def continue_training(self) -> bool:
        """Train the model in use for the panel's number of epochs more, its curves carrying on."""
        if self.is_running():
            return False
        model, path, metadata = self.current_model
        if model is None and path is None:
            return False
        config = self._config(metadata.get("architecture") or (path.stem if path else "model"), self._trained_with(metadata))
        if config is None:
            return False
        history = metadata.get("history") if isinstance(metadata.get("history"), dict) else {}
        done = len(history.get("loss", []))
        self.curves.cut_at(done)  # the run carries on from the model in use's last epoch (an earlier one put to use)
        self.curves.extend_to(done + config.epochs, shrink=True)
        self._retry_with_sample = self._continue_on_sample
        return self._launch(TrainingWorker(config, start_from=model if model is not None else path, history=history, log_dir=self._run_log_dir(config)))

    def fine_tune(self, drawings: LabelledImages, epochs: int, dataset: str | None = None) -> bool:
        """Fine-tune the model in use on ``drawings`` mixed with its own training data (or
        ``dataset``), its curves carrying on; the Teach panel shows the scores before and after."""
        if self.is_running():
            return False
        model, path, metadata = self.current_model
        if model is None and path is None:
            return False
        history = metadata.get("history") if isinstance(metadata.get("history"), dict) else {}
        tuning = FineTuning(drawings, FineTuneConfig(epochs=epochs), metadata)
        config = TrainConfig(
            architecture=metadata.get("architecture") or (path.stem if path else "model"),
            dataset=dataset or dataset_of_model(metadata.get("dataset")),
            epochs=epochs,
            batch_size=tuning.config.batch_size,
            learning_rate=tuning.config.learning_rate,
        )
        self.curves.cut_at(len(history.get("loss", [])))
        self.curves.extend_to(len(history.get("loss", [])) + epochs, shrink=True)
        self._retry_with_sample = lambda: self.fine_tune(drawings, epochs, "sample")
        return self._launch(TrainingWorker(config, start_from=model if model is not None else path, history=history, fine_tuning=tuning))

    def _config(self, architecture: str, trained_with: dict | None = None, network: dict | None = None) -> TrainConfig | None:
        """The panel's settings; where it says Default, a continued model's own optimizer and
        rate; ``network``: a network from the editor, built under the name ``architecture``."""
        source = self.dataset_source()
        if source is None:
            return None
        panel, trained_with = self.panel, trained_with or {}
        return TrainConfig(
            architecture=architecture,
            dataset=source,
            epochs=panel.epochs.value(),
            batch_size=panel.batch_size.value(),
            optimizer=panel.chosen_optimizer() or trained_with.get("optimizer"),
            learning_rate=panel.chosen_learning_rate() or (trained_with.get("learning_rate") if not panel.chosen_optimizer() else None),
            augment=panel.augment.isChecked(),
            validation_fraction=panel.validation_fraction(),
            network=network,
        )

    def _launch(self, worker: TrainingWorker) -> bool:
        self._save_options()
        self._failure = None
        self.latest_batch = None
        self.model_built = False  # the run got as far as building (or loading) its model
        self.run_starting.emit()
        collect_between_runs()
        pause_garbage_collector(True)
        self.thread = QThread(self)
        self.worker = worker
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.status.connect(self._on_worker_status)
        self.worker.download_progress.connect(self.panel.show_download)
        self.worker.model_ready.connect(self._on_worker_model_ready)
        self.worker.batch_done.connect(self._on_worker_batch_done)
        self.worker.epoch_done.connect(self._on_worker_epoch_done)
        self.worker.weights_changed.connect(self._on_worker_weights_changed)
        self.worker.splits_ready.connect(self.splits_ready)
        self.worker.validation_scored.connect(self.validation_scored)
        self.worker.validation_scored.connect(self._on_worker_validation_scored)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.stopped.connect(self._on_worker_stopped)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.done.connect(self.thread.quit)
        self.thread.finished.connect(self._on_thread_finished)
        self.panel.set_running(True)
        self.running_changed.emit(True)
        self.thread.start()
        return True

    def _run_log_dir(self, config: TrainConfig) -> str | None:
        """A fresh folder per run under the chosen TensorBoard folder, so runs sit side by side."""
        root = str(self.settings.value("train/log_dir", ""))
        if not (self.panel.tensorboard.isChecked() and root):
            return None
        name = f"{config.architecture}-{Path(config.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        return str(Path(root) / name)

    def toggle_pause(self) -> None:
        if self.worker is None:
            return
        control = self.worker.control
        if control.paused:
            control.resume()
            self.message.emit("Training resumed")
        else:
            control.pause()
            self.message.emit("Training paused — press Resume (Ctrl+P) to go on")
        if self.latest_batch is not None:
            self.panel.show_batch(self.latest_batch)  # where it paused, not as of the last progress shown
        self.panel.set_running(True, paused=control.paused)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.control.stop()
            self.panel.show_status("Stopping after this batch…", busy=True)

    def shutdown(self, wait_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop any run (a download is cancelled at once) and wait up to ``wait_ms`` for its
        thread: called when the window closes. False while the thread still runs (an import
        of TensorFlow cannot be interrupted): the thread must then not be destroyed yet."""
        self.blockSignals(True)  # updates still queued from the worker must not reach a closed window
        self.curves.redraw_timer.stop()
        if self.worker is not None and self.thread is not None:
            self.worker.control.abandon()
            self.worker.blockSignals(True)  # nor its results (a failure dialog for a closed window)
            self.thread.quit()
            if not self.thread.wait(wait_ms):
                return False
            wait_for_thread_exit(self.worker.native_thread_id)
            pause_garbage_collector(False)
        return True

    def dataset_source(self) -> str | None:
        data = self.panel.dataset.currentData()
        if data == OWN_DATASET:
            name, _ = QFileDialog.getOpenFileName(self.window, "Open a dataset", last_folder(self.settings, "datasets"), "NumPy archives (*.npz)")
            if not name:
                return None
            remember_folder(self.settings, "datasets", Path(name).parent)
            try:
                check_npz(name)
            except DatasetError as error:
                QMessageBox.critical(self.window, INVALID_DATASET, plain(str(error)))
                return None
            self.panel.add_dataset_file(name)
            return name
        return data

    # -- worker events -----------------------------------------------------------------------
    def _on_worker_status(self, text: str) -> None:
        self.panel.show_status(text, busy=True)
        self.message.emit(text)

    def _on_worker_model_ready(self, engine: Engine | None, unsupported: str) -> None:
        self.engine = engine
        kernel = engine.first_layer_weights() if engine is not None else None
        self.weights.set_reference(kernel)
        self.weights.show_kernel(kernel)
        worker = self.worker
        self.trained_epochs = float(len(worker.history.get("loss", [])))
        self.run_started.emit({"architecture": worker.config.architecture, "dataset": worker.config.dataset, "continued": worker.start_from is not None})
        self.engine_is_newest, self.last_validation, self.model_built = engine is not None, None, True
        if engine is None:
            self.message.emit(f"Training without a live preview: the fast preview has no {unsupported}; the curves still follow, and the model is used when the run ends")
            return
        self.predictor_changed.emit(engine, self.trained_epochs)
        start = {key: values[-1] for key, values in worker.history.items() if values}  # a continued model's last epoch
        self.epoch_reached.emit(int(self.trained_epochs), engine, None, {**start, "progress": self.trained_epochs})

    def _on_worker_batch_done(self, info: dict) -> None:
        self.trained_epochs = info["progress"]
        self.curves.add_batch(info)
        self.latest_batch = info
        if self.worker is not None and not self.worker.control.stop_requested and self.progress_throttle.ready():
            self.panel.show_batch(info)
            self.progress.emit(info)

    def _on_worker_epoch_done(self, info: dict) -> None:
        self.trained_epochs = info["progress"]
        self.curves.add_epoch(info)
        if "val_accuracy" in info:
            self.message.emit(f"Epoch {info['epoch']}: validation accuracy {info['val_accuracy']:.2%}, loss {info['val_loss']:.4f}")
        # The epoch's end weights came just before this (weights_changed, same thread, in order).
        if info.get("weights_sent") and self.engine_is_newest:
            validation = self.last_validation
            probabilities = validation[1] if validation is not None and validation[0] == info["epoch"] else None
            self.epoch_reached.emit(info["epoch"], self.engine, probabilities, info)

    def _on_worker_validation_scored(self, epoch: int, probabilities: Any) -> None:
        self.last_validation = (epoch, probabilities)

    def _on_worker_weights_changed(self, weights: list) -> None:
        if self.engine is None:
            return
        try:
            self.engine = self.engine.with_weights(weights)
        except ModelFileError:  # finite weights so large that the outputs overflow: keep the last good ones
            self.engine_is_newest = False
            return
        self.engine_is_newest = True
        self.weights.show_kernel(self.engine.first_layer_weights())
        self.predictor_changed.emit(self.engine, self.trained_epochs)

    def _on_worker_finished(self, metadata: dict) -> None:
        if self.worker.fine_tuning is not None:
            self._report_fine_tuning(metadata, "Fine-tuned", done=1)
            self.model_trained.emit(self.worker.model, metadata)
            return
        validation = f"validation {metadata['validation_accuracy']:.2%}, " if "validation_accuracy" in metadata else ""
        summary = f"Done in {metadata['train_seconds']:.0f} s: {validation}test {metadata['test_accuracy']:.2%}"
        self._report(f"Done in {metadata['train_seconds']:.0f} s · test {metadata['test_accuracy']:.2%}", f"{summary} — File → Save model as… keeps it", done=1)
        self.model_trained.emit(self.worker.model, metadata)

    def _on_worker_stopped(self, metadata: dict) -> None:
        if metadata and self.worker.fine_tuning is not None:
            self._report_fine_tuning(metadata, "Fine-tuning stopped")
            self.model_trained.emit(self.worker.model, metadata)
        elif metadata:
            self._report(f"Stopped: test accuracy {metadata['test_accuracy']:.2%} so far")
            self.curves.extend_to(max(self.trained_epochs, 1), shrink=True)  # the axis follows the epochs that exist, not the ones planned
            self.model_trained.emit(self.worker.model, metadata)
        else:
            self._report("Cancelled")

    def _report_fine_tuning(self, metadata: dict, how: str, done: float | None = None) -> None:
        """Your handwriting and the test split, before → after, on the status line and the Teach panel."""
        tuning = metadata["fine_tune"]
        summary = f"{how} in {metadata['train_seconds']:.0f} s: " + fine_tuning_summary(tuning, metadata["test_accuracy"])
        self._report(f"{how} in {metadata['train_seconds']:.0f} s · scores in Teach", f"{summary} — File → Save model as… keeps it", done)
        self.fine_tuned.emit(summary)

    def _report(self, text: str, message: str | None = None, done: float | None = None) -> None:
        """``text`` on the progress bar; ``message`` (default: the same) on the status line."""
        self.panel.show_status(text, done=done)
        self.message.emit(message or text)

    def show_model_opened(self, name: str, metadata: dict) -> None:
        """A model from a file is in use: the last run's result no longer describes it; for a
        model from elsewhere, say what Continue will train it with."""
        trained_with = self._trained_with(metadata)
        if metadata.get("architecture") in ARCHITECTURES:
            self.panel.choose_network(metadata["architecture"])  # what Continue trains; Train new builds it afresh
        if metadata.get("history") or not trained_with:
            self.panel.show_idle(f"Ready: {name} in use")
            return
        optimizer = trained_with.get("optimizer") or DEFAULT_OPTIMIZER.get(str(metadata.get("architecture")), "adam")
        rate = trained_with.get("learning_rate") or DEFAULT_LEARNING_RATE[optimizer]
        origin = "as the file was compiled" if trained_with.get("compiled_in_file") else "the file does not say how it was compiled"
        self.panel.show_idle(f"Ready: {name} in use. Continue trains it with {optimizer}, learning rate {rate:g} ({origin}), on the data chosen above; the Optimizer and Learning rate boxes override this. Train new builds the network chosen above")

    @staticmethod
    def _trained_with(metadata: dict) -> dict:
        """How the model in use was trained or compiled (its metadata's ``train_config``)."""
        config = metadata.get("train_config")
        if not isinstance(config, dict):
            return {}
        rate = config.get("learning_rate")
        return {
            "optimizer": config.get("optimizer") if config.get("optimizer") in OPTIMIZERS else None,
            "learning_rate": float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate <= 1 else None,
            "compiled_in_file": bool(config.get("compiled_in_file")),
        }

    def _on_worker_failed(self, title: str, message: str) -> None:
        self.panel.show_status(title)
        worker = self.worker
        if worker.metadata:  # a NaN stop: the model holds the last good weights
            self.model_trained.emit(worker.model, worker.metadata)
        # A modal dialog here would run while the thread finishes; ask once it has.
        self._failure = (title, message)

    def _on_thread_finished(self) -> None:
        self.curves.flush()
        worker, thread = self.worker, self.thread
        thread.wait()
        wait_for_thread_exit(worker.native_thread_id)
        worker.model = worker.start_from = None  # the window keeps the model it wants (model_trained)
        worker.deleteLater()
        thread.deleteLater()
        self.worker = self.thread = None
        collect_between_runs()
        pause_garbage_collector(False)
        self.panel.set_running(False)
        self.running_changed.emit(False)
        failure, self._failure = self._failure, None
        if failure is not None and not self.model_built:  # it failed before a model was built: nothing changed
            self._restore_model_in_use(failure[0])
        if failure is not None:
            self._answer_failure(*failure)

    def _restore_model_in_use(self, title: str) -> None:
        """A run that never started leaves the window as it was: the model in use's curves (not
        the empty axes of the run), no stale loss figures, and a status line that says so."""
        _, path, metadata = self.current_model
        self.curves.show_history(metadata.get("history"))
        self.panel.show_idle(f"Not trained: {title.lower()}")
        self.message.emit(f"Training did not start ({title.lower()}); {path.name if path else 'the model in use'} stays in use")

    def _answer_failure(self, title: str, message: str) -> None:
        """Say why the run failed; offline, offer the bundled sample and train on it at once."""
        if title != DATASET_UNAVAILABLE:
            QMessageBox.critical(self.window, title, plain(message))
            return
        choice = QMessageBox.warning(
            self.window,
            title,
            plain(f"{message}\n\nTrain on the bundled sample of 5,000 MNIST digits instead?"),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if choice == QMessageBox.StandardButton.Yes:
            self._retry_with_sample()

    def _start_on_sample(self) -> None:
        """The failed run again on the sample: the user answered for the unsaved model already."""
        self.panel.dataset.setCurrentIndex(self.panel.dataset.findData("sample"))
        self._start(ask=False)

    def _continue_on_sample(self) -> None:
        """Continue again on the sample: the model in use trains on, it is not replaced."""
        self.panel.dataset.setCurrentIndex(self.panel.dataset.findData("sample"))
        self.continue_training()

    def _on_panel_learning_rate_changed(self, rate: float) -> None:
        if self.worker is not None:
            self.worker.control.set_learning_rate(rate)
            self.message.emit(f"Learning rate {rate:g} from the next batch")

    def _on_panel_tensorboard_toggled(self, checked: bool) -> None:
        if not checked:
            return
        root = str(self.settings.value("train/log_dir", ""))
        if not root:
            root = QFileDialog.getExistingDirectory(self.window, "Folder for TensorBoard logs", str(Path.home()))
            if not root:
                self.panel.tensorboard.setChecked(False)
                return
            self.settings.setValue("train/log_dir", root)
        self.panel.tensorboard.setToolTip(f"Each run writes to a new folder in {root}\nView with: tensorboard --logdir {root}")

    def _on_panel_dataset_activated(self, index: int) -> None:
        if self.panel.dataset.itemData(index) == OWN_DATASET and not self.is_running():
            self.dataset_source()

    # -- options -------------------------------------------------------------------------------
    def _save_options(self) -> None:
        panel, settings = self.panel, self.settings
        settings.setValue("train/architecture", panel.network_name())
        settings.setValue("train/dataset", panel.dataset.currentData())
        settings.setValue("train/epochs", panel.epochs.value())
        settings.setValue("train/batch_size", panel.batch_size.value())
        settings.setValue("train/optimizer", panel.chosen_optimizer() or "")
        settings.setValue("train/learning_rate", panel.learning_rate.value())
        settings.setValue("train/validation_percent", panel.validation.value())
        settings.setValue("train/augment", panel.augment.isChecked())
        settings.setValue("train/tensorboard", panel.tensorboard.isChecked())

    def _restore_options(self) -> None:
        """Each saved option that is missing or invalid (a hand-edited file) keeps the panel's default."""
        panel, value = self.panel, self.settings.value
        saved = value("train/architecture")
        if not (isinstance(saved, str) and panel.choose_network(saved)):  # a custom one, once the network controller has offered it
            panel.architecture.setCurrentIndex(max(panel.architecture.findData(choice_setting(saved, "lean", ARCHITECTURES)), 0))
        index = panel.dataset.findData(text_setting(value("train/dataset"), "sample"))
        panel.dataset.setCurrentIndex(max(index, 0))
        boxes = ((panel.epochs, "train/epochs"), (panel.batch_size, "train/batch_size"), (panel.validation, "train/validation_percent"))
        for box, key in boxes:
            box.setValue(int_setting(value(key), box.value(), box.minimum(), box.maximum()))
        panel.optimizer.setCurrentIndex(max(panel.optimizer.findData(choice_setting(value("train/optimizer"), "", OPTIMIZERS)), 0))
        rate = panel.learning_rate
        rate.setValue(float_setting(value("train/learning_rate"), rate.value(), rate.minimum(), rate.maximum()))
        panel.augment.setChecked(bool_setting(value("train/augment"), False))
        panel.tensorboard.setChecked(bool_setting(value("train/tensorboard"), False) and bool(text_setting(value("train/log_dir"), "")))
