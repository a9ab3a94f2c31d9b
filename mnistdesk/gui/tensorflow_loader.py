"""TensorFlow (2-4 s to import) loaded in the background once the user stops drawing, with its
state in the status bar. Only training needs it: drawing and predicting run in numpy."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel

from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.gui.worker import import_training

#: The import waits until the user has not drawn for this long. Its first ~0.5 s hold Python's
#: lock in one piece (ml_dtypes registering its types with numpy, which nothing can split or
#: hand off; worker._import_training puts it first), so it falls inside the pause, while the
#: person looks at the bars; the rest lets the window's thread in within milliseconds.
TENSORFLOW_IDLE_MS = 1000


class TensorFlowImport(QObject):
    """Imports the training stack off the GUI thread."""

    ready = Signal(float)
    failed = Signal(str)

    @Slot()
    def run(self) -> None:
        started = time.perf_counter()
        try:
            import_training()
        except Exception as error:  # a broken TF install must not take the drawing app down
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        self.ready.emit(time.perf_counter() - started)


class TensorFlowLoader(QObject):
    """Starts the import after :data:`TENSORFLOW_IDLE_MS` without drawing; ``label`` says how it went."""

    ready = Signal(float)  # seconds the import took
    failed = Signal(str)

    def __init__(self, parent: QObject, training: TrainingController):
        super().__init__(parent)
        self.label = QLabel("TensorFlow: not loaded")
        self.label.setToolTip("TensorFlow is only needed for training; drawing and predicting run in numpy.")
        self.thread: QThread | None = None
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(TENSORFLOW_IDLE_MS)
        self.idle_timer.timeout.connect(self.start)
        training.running_changed.connect(self._on_training_running_changed)
        training.run_started.connect(self._on_training_run_started)

    def start_when_idle(self) -> None:
        self.idle_timer.start()

    def postpone(self) -> None:
        """The user is drawing: wait for the next pause (nothing to do once the import began)."""
        if self.idle_timer.isActive():
            self.idle_timer.start()

    def _on_training_running_changed(self, running: bool) -> None:
        if running:
            self.idle_timer.stop()  # the worker imports TensorFlow itself

    def _on_training_run_started(self, info: dict) -> None:
        self.label.setText("TensorFlow: ready")  # the worker has imported it

    def start(self) -> None:
        if self.thread is not None:
            return
        self.label.setText("TensorFlow: loading…")
        self.thread = QThread(self)
        self.importer = TensorFlowImport()
        self.importer.moveToThread(self.thread)
        self.thread.started.connect(self.importer.run)
        self.importer.ready.connect(self._on_importer_ready)
        self.importer.failed.connect(self._on_importer_failed)
        self.importer.ready.connect(self.thread.quit)
        self.importer.failed.connect(self.thread.quit)
        self.thread.start()

    def _on_importer_ready(self, seconds: float) -> None:
        self.label.setText("TensorFlow: ready")
        self.label.setToolTip(f"Loaded in the background in {seconds:.1f} s; training is available.")
        self.ready.emit(seconds)

    def _on_importer_failed(self, message: str) -> None:
        self.label.setText("TensorFlow: unavailable")
        self.label.setToolTip(f"Training is unavailable: {message}\nReinstall with: pip install -e .")
        self.failed.emit(message)

    def importing(self) -> bool:
        """The background import has started and not ended (it cannot be interrupted)."""
        return self.thread is not None and self.thread.isRunning()

    def stop(self) -> None:
        """Closing: no import starts any more; one under way cannot be interrupted and ends by itself."""
        self.idle_timer.stop()
        if self.thread is not None:
            self.thread.quit()
