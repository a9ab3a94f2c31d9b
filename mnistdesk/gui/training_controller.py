"""Runs training for the window: owns the worker thread and the three training panels, and
turns the worker's plain-value signals into panel updates and a live numpy predictor."""

from __future__ import annotations

import ctypes
import gc
import sys

from PySide6.QtCore import QObject, QSettings, QThread, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from mnistdesk.engine import Engine
from mnistdesk.models import TrainConfig
from mnistdesk.gui.training_panels import CurvesPanel, TrainPanel, WeightsPanel
from mnistdesk.gui.worker import DATASET_UNAVAILABLE, TrainingWorker

SHUTDOWN_WAIT_MS = 10_000  # a run stops within one batch; TensorFlow's import cannot be interrupted
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


class TrainingController(QObject):
    """Train / Pause / Stop for one run at a time."""

    predictor_changed = Signal(object)  # Engine with the newest weights
    run_started = Signal(object)  # dict: architecture, dataset
    model_trained = Signal(object, object)  # Keras model, metadata: a finished or stopped run
    running_changed = Signal(bool)
    message = Signal(str)

    def __init__(self, window: QWidget, settings: QSettings):
        super().__init__(window)
        self.window, self.settings = window, settings
        self.panel, self.curves, self.weights = TrainPanel(), CurvesPanel(), WeightsPanel()
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.engine: Engine | None = None
        self._retry_with_sample = False
        self.panel.dataset.addItem("Your own .npz…", OWN_DATASET)
        self.panel.train_clicked.connect(self.start)
        self.panel.pause_clicked.connect(self.toggle_pause)
        self.panel.stop_clicked.connect(self.stop)
        self.panel.learning_rate_changed.connect(self._on_panel_learning_rate_changed)
        self.panel.dataset.activated.connect(self._on_panel_dataset_activated)
        self._restore_options()

    # -- commands ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.thread is not None

    def start(self) -> bool:
        """Start a run with the panel's settings; does nothing while one is running."""
        if self.is_running():
            return False
        source = self.dataset_source()
        if source is None:
            return False
        panel = self.panel
        config = TrainConfig(
            architecture=panel.architecture.currentData(),
            dataset=source,
            epochs=panel.epochs.value(),
            batch_size=panel.batch_size.value(),
            optimizer=panel.optimizer.currentText(),
            learning_rate=panel.learning_rate.value(),
            augment=panel.augment.isChecked(),
        )
        self._save_options()
        self.thread = QThread(self)
        self.worker = TrainingWorker(config)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.status.connect(self._on_worker_status)
        self.worker.download_progress.connect(self.panel.show_download)
        self.worker.model_ready.connect(self._on_worker_model_ready)
        self.worker.batch_done.connect(self._on_worker_batch_done)
        self.worker.epoch_done.connect(self._on_worker_epoch_done)
        self.worker.weights_changed.connect(self._on_worker_weights_changed)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.stopped.connect(self._on_worker_stopped)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.done.connect(self.thread.quit)
        # Deleted in its own thread as that thread ends: posted from here once the thread is
        # over, the deletion never ran, and each run's worker kept its Keras model alive.
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.finished.connect(self._on_thread_finished)
        self.curves.reset(config.epochs)
        self.panel.set_running(True)
        self.running_changed.emit(True)
        self.thread.start()
        return True

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
        self.panel.set_running(True, paused=control.paused)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.control.stop()
            self.panel.show_status("Stopping after this batch…", busy=True)

    def shutdown(self) -> None:
        """Stop any run and wait for its thread: called when the window closes."""
        if self.worker is not None and self.thread is not None:
            self.worker.control.abandon()
            self.thread.quit()
            self.thread.wait(SHUTDOWN_WAIT_MS)
        self.blockSignals(True)  # updates still queued from the worker must not reach a closed window

    def dataset_source(self) -> str | None:
        data = self.panel.dataset.currentData()
        if data == OWN_DATASET:
            name, _ = QFileDialog.getOpenFileName(self.window, "Open a dataset", "", "NumPy archives (*.npz)")
            if not name:
                return None
            self.panel.dataset.insertItem(self.panel.dataset.count() - 1, name, name)
            self.panel.dataset.setCurrentIndex(self.panel.dataset.count() - 2)
            return name
        return data

    # -- worker events -----------------------------------------------------------------------
    def _on_worker_status(self, text: str) -> None:
        self.panel.show_status(text, busy=True)
        self.message.emit(text)

    def _on_worker_model_ready(self, engine: Engine) -> None:
        self.engine = engine
        self.weights.show_kernel(engine.first_layer_weights())
        worker = self.worker
        self.run_started.emit({"architecture": worker.config.architecture, "dataset": worker.config.dataset})
        # The window has let go of the previous run's model: free it before this run fills
        # memory, not whenever the collector's timer gets to it (app.py). ~50 ms for TensorFlow's
        # graphs, at a moment nothing moves yet.
        gc.collect()
        self.predictor_changed.emit(engine)

    def _on_worker_batch_done(self, info: dict) -> None:
        self.curves.add_batch(info)
        if self.worker is not None and not self.worker.control.stop_requested:
            self.panel.show_batch(info)

    def _on_worker_epoch_done(self, info: dict) -> None:
        self.curves.add_epoch(info)
        if "val_accuracy" in info:
            self.message.emit(f"Epoch {info['epoch']}: validation accuracy {info['val_accuracy']:.2%}, loss {info['val_loss']:.4f}")

    def _on_worker_weights_changed(self, weights: list) -> None:
        if self.engine is None:
            return
        self.engine = self.engine.with_weights(weights)
        self.weights.show_kernel(self.engine.first_layer_weights())
        self.predictor_changed.emit(self.engine)

    def _on_worker_finished(self, metadata: dict) -> None:
        summary = f"Done in {metadata['train_seconds']:.0f} s: test accuracy {metadata['test_accuracy']:.2%}"
        self._report(summary, f"{summary} — File → Save model as… keeps it")
        self.model_trained.emit(self.worker.model, metadata)

    def _on_worker_stopped(self, metadata: dict) -> None:
        if metadata:
            self._report(f"Stopped: test accuracy {metadata['test_accuracy']:.2%} so far")
            self.model_trained.emit(self.worker.model, metadata)
        else:
            self._report("Cancelled")

    def _report(self, text: str, message: str | None = None) -> None:
        """``text`` on the progress bar; ``message`` (default: the same) on the status line."""
        self.panel.show_status(text)
        self.message.emit(message or text)

    def _on_worker_failed(self, title: str, message: str) -> None:
        self.panel.show_status(title)
        worker = self.worker
        if worker.metadata:  # a NaN stop: the model holds the last good weights
            self.model_trained.emit(worker.model, worker.metadata)
        if title == DATASET_UNAVAILABLE:
            choice = QMessageBox.warning(
                self.window,
                title,
                f"{message}\n\nTrain on the bundled sample of 5,000 MNIST digits instead?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            )
            if choice == QMessageBox.StandardButton.Yes:
                self.panel.dataset.setCurrentIndex(self.panel.dataset.findData("sample"))
                self._retry_with_sample = True
            return
        QMessageBox.critical(self.window, title, message)

    def _on_thread_finished(self) -> None:
        self.curves.flush()
        self.thread.deleteLater()
        self.worker = self.thread = None
        gc.collect()  # what the run left behind (Keras's objects are full of reference cycles)
        trim_heap()
        self.panel.set_running(False)
        self.running_changed.emit(False)
        if self._retry_with_sample:
            self._retry_with_sample = False
            self.start()

    def _on_panel_learning_rate_changed(self, rate: float) -> None:
        if self.worker is not None:
            self.worker.control.set_learning_rate(rate)
            self.message.emit(f"Learning rate {rate:g} from the next batch")

    def _on_panel_dataset_activated(self, index: int) -> None:
        if self.panel.dataset.itemData(index) == OWN_DATASET and not self.is_running():
            self.dataset_source()

    # -- options -------------------------------------------------------------------------------
    def _save_options(self) -> None:
        panel, settings = self.panel, self.settings
        settings.setValue("train/architecture", panel.architecture.currentData())
        settings.setValue("train/dataset", panel.dataset.currentData())
        settings.setValue("train/epochs", panel.epochs.value())
        settings.setValue("train/batch_size", panel.batch_size.value())
        settings.setValue("train/optimizer", panel.optimizer.currentText())
        settings.setValue("train/learning_rate", panel.learning_rate.value())
        settings.setValue("train/augment", panel.augment.isChecked())

    def _restore_options(self) -> None:
        panel, settings = self.panel, self.settings
        index = panel.architecture.findData(settings.value("train/architecture", "lean"))
        panel.architecture.setCurrentIndex(max(index, 0))
        index = panel.dataset.findData(settings.value("train/dataset", "sample"))
        panel.dataset.setCurrentIndex(max(index, 0))
        panel.epochs.setValue(int(settings.value("train/epochs", panel.epochs.value())))
        panel.batch_size.setValue(int(settings.value("train/batch_size", panel.batch_size.value())))
        panel.optimizer.setCurrentText(str(settings.value("train/optimizer", panel.optimizer.currentText())))
        panel.learning_rate.setValue(float(settings.value("train/learning_rate", panel.learning_rate.value())))
        panel.augment.setChecked(str(settings.value("train/augment", "false")).lower() == "true")
