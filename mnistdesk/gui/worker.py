"""The training worker: a ``QObject`` moved to a ``QThread`` that loads the data (downloading it
if needed), imports TensorFlow, and runs ``model.fit``. Everything it emits is plain Python or
numpy, so the GUI thread never touches the Keras model while it trains.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import importlib.abc
import importlib.util
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from mnistdesk.base.files import LogFolderError
from mnistdesk.data.datasets import DatasetError, DatasetOffline, DownloadCancelled, load_dataset
from mnistdesk.data.personal import LabelledImages
from mnistdesk.net.engine import Engine, UnsupportedModel, predictor_for
from mnistdesk.net.live import Throttle, TrainingControl
from mnistdesk.net.models import FineTuneConfig, ModelFileError, TrainingDiverged

DATASET_UNAVAILABLE = "Dataset unavailable"  # offline: the controller answers with an offer of the sample
INVALID_DATASET = "Invalid dataset"


@dataclass(frozen=True)
class FineTuning:
    """What a fine-tuning run needs besides the model: the person's drawings, the settings and
    the starting model's metadata (kept in the fine-tuned model's)."""

    drawings: LabelledImages
    config: FineTuneConfig
    metadata: dict


THREAD_EXIT_WAIT_S = 10.0  # an ended thread's teardown takes microseconds; bounded all the same
TASKS = Path("/proc/self/task")  # Linux: one entry per OS thread of this process


def wait_for_thread_exit(native_id: int | None, timeout: float = THREAD_EXIT_WAIT_S) -> None:
    """Block until the OS thread ``native_id`` is gone. ``QThread.wait`` (and ``Thread.join``)
    return before the thread's thread-local destructors (TensorFlow's among them) have run:
    TensorFlow objects torn down in another thread meanwhile crashed the app (SIGSEGV)."""
    if native_id is None or not TASKS.is_dir():  # not Linux: QThread.wait is all there is
        return
    deadline = time.monotonic() + timeout
    while (TASKS / str(native_id)).exists() and time.monotonic() < deadline:
        time.sleep(0.001)


#: How much nicer (lower in priority) than the window the training thread and the threads
#: TensorFlow starts from it (they inherit it) run.
TRAINING_NICENESS = 10


def yield_to_the_window() -> None:
    """Linux: lower this thread's scheduling priority, so that when the window's thread wakes (a
    mouse move, a repaint) it runs at once instead of waiting for a slice between TensorFlow's
    threads, which keep every core busy. Training loses nothing while the window is idle."""
    if sys.platform.startswith("linux"):
        try:
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + TRAINING_NICENESS, 19))
        except OSError:  # not permitted here: training runs at the usual priority
            pass


#: TensorFlow's native libraries, loaded before its Python import (see :func:`_load_native_libraries`).
NATIVE_LIBRARIES = ("python/_pywrap_tensorflow_internal.so", "python/platform/_pywrap_cpu_feature_guard.so")
#: While TensorFlow imports, young objects are frozen past this many (see :class:`_YoungObjectsFrozen`).
IMPORT_YOUNG_OBJECTS = 5000
#: While TensorFlow imports, a thread waiting for Python's lock asks for it after this long (5 ms
#: by default): the window's thread waits for it at every turn of a repaint, and 5 ms a turn
#: added up to 50-100 ms late strokes.
IMPORT_SWITCH_INTERVAL_S = 0.0005


def _load_native_libraries() -> None:
    """Load TensorFlow's shared libraries (~400 MB, 0.4-1 s of static initialisers) through
    libc's ``dlopen``, called as a foreign function: ctypes lets go of Python's lock for it.
    Python's own import would hold the lock throughout, and the window's thread, which needs it
    for every mouse move and repaint, would freeze. The import then finds them loaded.
    Best effort: a TensorFlow laid out otherwise is imported the ordinary way."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations or not sys.platform.startswith("linux"):
        return
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    package = Path(next(iter(spec.submodule_search_locations)))
    for library in NATIVE_LIBRARIES:
        if (package / library).is_file():
            dlopen(os.fsencode(package / library), os.RTLD_NOW | os.RTLD_LOCAL)


class _YoungObjectsFrozen(importlib.abc.MetaPathFinder):
    """Consulted before every module TensorFlow imports: past :data:`IMPORT_YOUNG_OBJECTS` new
    objects, freezes them (they are TensorFlow's, long-lived). The window's thread collects
    garbage every second (app.py); with ~1M objects arriving it would stall 50-130 ms a pass."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if gc.get_count()[0] > IMPORT_YOUNG_OBJECTS:
            gc.freeze()
        return None  # the usual finders find the module


_training_imported = threading.Event()  # and frozen: set once, by whichever thread imported first
_importing = threading.Event()  # an import of the training stack is under way, in some thread


def tensorflow_import_under_way() -> bool:
    """True while a thread imports the training stack (it cannot be interrupted)."""
    return _importing.is_set()


def _import_training() -> int:
    """The import, arranged so that it never holds Python's lock for long: ml_dtypes first (its
    numpy registrations, ~0.5 s, cannot be split, so they come at once, right after the pause
    that started the import), then the native libraries without the lock, then the rest."""
    import ml_dtypes  # noqa: F401  (what the import holds the lock longest for)

    _load_native_libraries()
    freezer = _YoungObjectsFrozen()
    sys.meta_path.insert(0, freezer)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(IMPORT_SWITCH_INTERVAL_S)
    try:
        importlib.import_module("mnistdesk.net.training")
    finally:
        sys.setswitchinterval(switch_interval)
        sys.meta_path.remove(freezer)
    return threading.get_native_id()


def import_training() -> None:
    """Import the training stack (TensorFlow, 2-4 s), then take what exists by then out of the
    cyclic collector's sight.

    TensorFlow's ~1M long-lived objects would make every full GC pass (in the GUI thread, see
    app.py) stall the window for 100+ ms, so they are frozen: once, when the import happens,
    before any model is built (a model frozen with them could never be collected). The import
    runs in a thread of its own: it leaves frames behind (tf.lite's loaders keep the ImportError
    they caught, with their frames and every caller's below), and frames of this worker's would
    pin the first run's model for good.
    """
    if _training_imported.is_set():
        return
    _importing.set()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-tensorflow") as importer:
            importer_thread = importer.submit(_import_training).result()
        wait_for_thread_exit(importer_thread)
        gc.freeze()  # not a collection: no object is torn down here
        _training_imported.set()
    finally:
        _importing.clear()


class TrainingWorker(QObject):
    """One training run. Control it from the GUI thread through :attr:`control` (thread-safe)."""

    status = Signal(str)  # what it is doing before the first batch
    download_progress = Signal(int, int)  # bytes done, bytes in all (0 if unknown)
    model_ready = Signal(object, str)  # Engine with the initial weights, for live prediction (None: the engine cannot run it), and why not
    batch_done = Signal(object)  # dict of throttled per-batch metrics and progress
    epoch_done = Signal(object)  # dict of epoch metrics with validation
    weights_changed = Signal(object)  # per-layer lists of numpy weight arrays
    splits_ready = Signal(object)  # {"validation" and "test": (uint8 images, labels)}, for inspecting mistakes
    validation_scored = Signal(int, object)  # epoch (1-based), probabilities (N, classes) on the validation split
    finished = Signal(object)  # metadata dict; the model is in :attr:`model`
    stopped = Signal(object)  # metadata dict of a run stopped by the user
    failed = Signal(str, str)  # title, message
    done = Signal()  # after any of finished / stopped / failed: time to quit the thread

    def __init__(self, config: Any, start_from: Any = None, history: dict | None = None, log_dir: str | None = None, fine_tuning: FineTuning | None = None):
        super().__init__()
        self.config = config  # a TrainConfig; ``config.dataset`` names the data to load
        self.fine_tuning = fine_tuning  # set: fine-tune ``start_from`` on these drawings instead of training it
        self.start_from = start_from  # None: a fresh model; else a Keras model or a .keras path to train further
        self.history = history or {}  # the continued model's history, which this run extends
        self.log_dir = log_dir  # TensorBoard logs, if set
        self.control = TrainingControl()
        self.native_thread_id: int | None = None  # the OS thread it runs in, once it runs
        self.model: Any = None
        self.metadata: dict | None = None
        self._download_throttle = Throttle(0.1)

    @Slot()
    def run(self) -> None:
        self.native_thread_id = threading.get_native_id()
        yield_to_the_window()
        try:
            self._run()
        except DownloadCancelled:
            self.stopped.emit({})
        except DatasetOffline as error:
            self.failed.emit(DATASET_UNAVAILABLE, str(error))
        except DatasetError as error:
            self.failed.emit(INVALID_DATASET, str(error))
        except LogFolderError as error:
            self.failed.emit("Cannot write the TensorBoard logs", str(error))
        except TrainingDiverged as error:
            self.failed.emit("Training diverged", str(error))
        except ModelFileError as error:
            self.failed.emit("Cannot continue training", str(error))
        except Exception as error:  # the app must survive anything a training run throws
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            self.failed.emit("Training failed", f"{detail}\n\n{traceback.format_exc(limit=4)}")
        finally:
            self.done.emit()

    def _run(self) -> None:
        self.status.emit(f"Loading {self.config.dataset}…")
        dataset = load_dataset(self.config.dataset, progress=self._on_download_progress)
        if self.control.stop_requested:
            self.stopped.emit({})
            return
        self.status.emit("Loading TensorFlow…")
        import_training()
        from mnistdesk.net.training import RunAbandoned, TensorBoardLogger, continued_history, describe, fit, split_validation, training_batches

        if self.control.stop_requested:  # Stop (or closing) while TensorFlow was importing
            self.stopped.emit({})
            return
        model = self._starting_model()
        self.model = model
        try:
            self.model_ready.emit(Engine.from_keras_model(model), "")
        except UnsupportedModel as reason:  # it trains all the same; the window cannot follow it live
            self.model_ready.emit(None, str(reason))
        _, validation = split_validation(dataset.y_train, self.config.validation_fraction)
        self.splits_ready.emit({"validation": (dataset.x_train[validation], dataset.y_train[validation]), "test": (dataset.x_test, dataset.y_test)})
        initial_epoch = len(self.history.get("loss", []))
        if self.fine_tuning is not None:
            self._fine_tune(model, dataset, initial_epoch)
            return
        batches = training_batches(dataset, self.config)
        live = self._live_callback(len(batches), initial_epoch + self.config.epochs, len(batches.indices))
        callbacks = [live] + ([TensorBoardLogger(self.log_dir, warn=self.status.emit)] if self.log_dir else [])
        self.status.emit("Training…")
        try:
            history = fit(model, dataset, self.config, callbacks, initial_epoch=initial_epoch, on_validation=self._on_validation)
        except RunAbandoned:
            return
        if self.control.abandoned:
            return
        self.status.emit("Scoring on the test split…")
        history = continued_history(self.history, history, initial_epoch)
        self.metadata = describe(model, self.config, dataset, history, live.clock.elapsed())  # pauses left out
        if live.nan_message is not None:
            self.failed.emit(
                "Training stopped: the loss is no longer a number",
                f"{live.nan_message}\nThe last good weights are kept. Try a lower learning rate.",
            )
        elif self.control.stop_requested:
            self.stopped.emit(self.metadata)
        else:
            self.finished.emit(self.metadata)

    def _fine_tune(self, model: Any, dataset: Any, initial_epoch: int) -> None:
        """Fine-tune with the same live display as a run, validating on the same split.
        Emits ``finished``/``stopped`` with the fine-tuned model's metadata."""
        from mnistdesk.net.finetune import EPOCH_DIGITS, epoch_steps, fine_tune, fine_tuned_metadata
        from mnistdesk.net.training import RunAbandoned

        tuning = self.fine_tuning
        live = self._live_callback(epoch_steps(tuning.config), initial_epoch + tuning.config.epochs, EPOCH_DIGITS)
        self.status.emit("Scoring your drawings before fine-tuning…")
        try:
            result = fine_tune(model, dataset, tuning.drawings, tuning.config, [live], initial_epoch=initial_epoch, on_validation=self._on_validation)
        except RunAbandoned:
            return
        if self.control.abandoned:
            return
        self.metadata = fine_tuned_metadata(tuning.metadata, dataset, result)
        self.metadata["train_seconds"] = round(live.clock.elapsed(), 1)
        (self.stopped if self.control.stop_requested else self.finished).emit(self.metadata)

    def _live_callback(self, steps: int, epochs: int, samples: int) -> Any:
        """The Keras callback that turns a run's progress, epochs and weights into this worker's signals."""
        from mnistdesk.net.training import LiveCallback

        return LiveCallback(
            self.control,
            steps=steps,
            epochs=epochs,
            samples=samples,
            on_batch=self.batch_done.emit,
            on_epoch=self.epoch_done.emit,
            on_weights=self.weights_changed.emit,
        )

    def _starting_model(self) -> Any:
        """A fresh model, or the one to continue: it keeps its optimizer's state (at the run's
        learning rate) unless it has none (read from a file) or the run asks for another one."""
        from mnistdesk.net.models import compile_model, load_model
        from mnistdesk.net.training import new_model

        if self.start_from is None:
            self.status.emit(f"Building {self.config.architecture}…")
            return new_model(self.config)
        self.status.emit("Loading the model to continue…")
        model = load_model(self.start_from) if isinstance(self.start_from, (str, os.PathLike)) else self.start_from
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or optimizer.name.lower() != self.config.resolved_optimizer():
            compile_model(model, self.config.resolved_optimizer(), self.config.learning_rate, from_logits=predictor_for(model).logits)
        elif self.config.learning_rate is not None:
            model.optimizer.learning_rate.assign(self.config.learning_rate)
        return model

    def _on_validation(self, epoch: int, probabilities) -> None:
        self.validation_scored.emit(epoch + 1, probabilities)

    def _on_download_progress(self, done: int, total: int | None) -> bool:
        if self._download_throttle.ready() or (total and done >= total):
            self.download_progress.emit(done, total or 0)
        return not self.control.stop_requested
