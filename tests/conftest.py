"""Shared test setup: headless Qt, no network, small datasets made on the spot."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gc
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mnistdesk.data.datasets import Dataset, load_dataset

#: How long a test's teardown waits for a Qt thread it left running (a fine-tuning still drawing
#: the pen digits on a loaded machine) before failing it: a running thread destroyed with its
#: window in a later test aborts the whole run.
LEAKED_THREAD_WAIT_MS = 300_000
#: Threads that did not end even then: kept from being destroyed while they run.
_unfinished_threads = []


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never touch the network: any download attempt fails as it does offline."""

    def offline(url, *args, **kwargs):
        if str(getattr(url, "full_url", url)).startswith("file:"):
            return real_urlopen(url, *args, **kwargs)
        raise urllib.error.URLError("network disabled in tests")

    real_urlopen = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", offline)


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    """An empty dataset cache per test, so nothing depends on the developer's ~/.keras."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_in_the_main_thread():
    """As in the app: no automatic cyclic GC, which could run in a worker thread and destroy
    Qt objects there (a deadlock seen in this suite); collect after each test instead."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def collect_garbage_after_test():
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail any test that leaves a QThread running or a QTimer active (napari's rule). The test
    fails alone: its threads are waited for (and its timers stopped) here, so that none is
    destroyed running, or fires, in the next test."""
    yield
    try:
        from PySide6.QtCore import QThread, QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError:  # pragma: no cover - Qt is a dependency
        return
    app = QApplication.instance()
    if app is None:
        return
    threads = [obj for obj in _all_qobjects(app) if isinstance(obj, QThread) and obj.isRunning()]
    timers = [obj for obj in _all_qobjects(app) if isinstance(obj, QTimer) and obj.isActive()]
    leaked = [(o, o.objectName(), o.parent()) for o in threads + timers]
    for timer in timers:
        timer.stop()
    for thread in threads:
        thread.quit()
        if not thread.wait(LEAKED_THREAD_WAIT_MS):
            thread.setParent(None)
            _unfinished_threads.append(thread)
    assert not leaked, f"test left Qt threads or timers running: {leaked}"


def join_window_threads(window) -> None:
    """A test window's teardown: stop its background work and wait for every thread of it, even
    after a failed test (a fine-tuning still drawing the pen digits cannot be interrupted)."""
    window.training.shutdown()
    window.teaching.stop()
    window.wait_for_threads()


def _all_qobjects(app):
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication

    roots = list(QApplication.topLevelWidgets()) + [app]
    return [child for root in roots for child in root.findChildren(QObject)] + roots


#: How long a test waits for a training worker's thread to end.
WORKER_JOIN_MS = 300_000


@pytest.fixture
def run_worker(qtbot):
    """Start a training worker in a QThread the way the app does; always joined at the end."""
    from PySide6.QtCore import QThread

    from mnistdesk.gui.worker import TrainingWorker, wait_for_thread_exit

    started = []

    def start(config, **options):
        thread = QThread()
        worker = TrainingWorker(config, **options)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.done.connect(thread.quit)
        # Recorded from the start: a fast failure can be emitted before a test begins to wait.
        worker.records = {"batch": [], "epoch": [], "weights": [], "failed": [], "status": []}
        worker.batch_done.connect(worker.records["batch"].append)
        worker.epoch_done.connect(worker.records["epoch"].append)
        worker.weights_changed.connect(worker.records["weights"].append)
        worker.status.connect(worker.records["status"].append)
        worker.failed.connect(lambda title, message: worker.records["failed"].append((title, message)))
        started.append((thread, worker))
        thread.start()
        return worker

    yield start
    for thread, worker in started:
        worker.control.abandon()
        thread.quit()
        assert thread.wait(WORKER_JOIN_MS)
        wait_for_thread_exit(worker.native_thread_id)  # as the app does: only then is garbage collected


@pytest.fixture
def logs_fill_up_from_epoch_2(monkeypatch):
    """TensorBoard logs whose disk fills up after the first epoch's were written."""
    import tensorflow as tf

    from mnistdesk.net.training import TensorBoardLogger

    real_write = TensorBoardLogger._write

    def disk_full_from_epoch_2(self, split, **fields):
        if fields.get("step", 0) >= 1:
            raise tf.errors.ResourceExhaustedError(None, None, "logs/train/events.out.tfevents.1.mnistdesk.v2; No space left on device")
        real_write(self, split, **fields)

    monkeypatch.setattr(TensorBoardLogger, "_write", disk_full_from_epoch_2)


@pytest.fixture(scope="session")
def sample() -> Dataset:
    return load_dataset("sample")


@pytest.fixture(scope="session")
def tiny(sample) -> Dataset:
    """256 training and 100 test digits of the real sample: enough to see learning, fast to fit."""
    return Dataset("tiny", sample.x_train[:256], sample.y_train[:256], sample.x_test[:100], sample.y_test[:100])


#: The pen trajectories a test's ``pen`` dataset is drawn from: all 7,494 take 30-80 s to draw
#: (minutes on a loaded machine), and a window's fine-tuning works the same on fewer.
TEST_PEN_DIGITS = 400


@pytest.fixture(scope="session")
def drawn_pen_digits(tmp_path_factory) -> Path:
    """A ``pen`` dataset cache file, drawn once for the whole run from the first
    :data:`TEST_PEN_DIGITS` trajectories, as the app draws them."""
    from mnistdesk.base import paths
    from mnistdesk.data import pen

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("pen_keras_home")))
        digits = pen.load_digits()[:TEST_PEN_DIGITS]
        patch.setattr(pen, "load_digits", lambda: digits)
        load_dataset("pen")
        [cache] = paths.datasets_dir().glob("mnistdesk-pen-*.npz")
    return cache


@pytest.fixture
def pen_digits_cached(keras_home, drawn_pen_digits) -> None:
    """This test's KERAS_HOME holds a ``pen`` dataset as if drawn on a first use: a test that
    trains on ``pen`` or ``sample+pen`` (the shipped model's data) does not draw the digits
    within its waits (each test's KERAS_HOME starts empty)."""
    (keras_home / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(drawn_pen_digits, keras_home / "datasets" / drawn_pen_digits.name)


@pytest.fixture
def tiny_npz(tmp_path, tiny):
    path = tmp_path / "tiny.npz"
    np.savez_compressed(path, x_train=tiny.x_train, y_train=tiny.y_train, x_test=tiny.x_test, y_test=tiny.y_test)
    return path


@pytest.fixture
def quick_training_window(qtbot, tmp_path, tiny_npz, monkeypatch):
    """The main window, its Train panel set for a quick run (:func:`train_tiny_dense`); closing
    it discards a trained model without asking."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from mnistdesk.gui.app import configure_pyqtgraph
    from mnistdesk.gui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.show()
    train_tiny_dense(window.training.panel, tiny_npz)
    yield window
    join_window_threads(window)


def train_tiny_dense(panel, npz) -> None:
    """The Train panel set for a quick run: dense, 2 epochs of batches of 32 on ``npz``."""
    panel.dataset.insertItem(0, str(npz), str(npz))
    panel.dataset.setCurrentIndex(0)
    panel.architecture.setCurrentIndex(panel.architecture.findData("dense"))
    panel.batch_size.setValue(32)
    panel.epochs.setValue(2)
