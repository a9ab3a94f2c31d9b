"""Child process for ``run.py``, printing one JSON line. Modes:

- ``plain`` / ``app``: timed epochs of a model (dense by default) on MNIST-shaped digits, either
  plain (``model.fit``, no GUI) or through the app (worker thread, Keras callback, signals, main
  window with every panel live). ``app`` also measures how late a 16 ms QTimer on the GUI thread
  fires (the UI stall a user would feel) and the process's peak resident memory.
- ``draw``: a synthetic hand draws on the canvas, first with the window idle, then while it
  trains; the delay from each mouse move to the prediction bars having painted it.
- ``startup``: the window as launched (TensorFlow imported in the background, as the app does),
  a synthetic hand writing digits from its first frame until the import has ended.
- ``tensorboard``: ``fit`` with and without the TensorBoard logger, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's mnistdesk

import mnistdesk  # noqa: E402,F401  (before numpy, as in the app: it keeps numpy's BLAS to one thread)
import numpy as np  # noqa: E402

TICK_MS = 16
WARM_UP_MS = 1500  # training settles (first batches trace their functions) before drawing is timed


def peak_rss_mb() -> float:
    """This process's own peak: VmHWM. ``ru_maxrss`` survives exec on Linux, so a probe started
    by a big benchmark process would report the benchmark's peak instead of its own."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain(npz: str, config) -> dict:
    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.net.training import fit, new_model

    dataset = load_dataset(npz)
    model = new_model(config)
    started = time.perf_counter()
    fit(model, dataset, config)
    seconds = time.perf_counter() - started
    return {"samples_per_s": len(dataset.x_train) * config.epochs / seconds}


def tensorboard(npz: str, config, pairs: int) -> dict:
    """Seconds of ``fit`` for ``config.epochs`` epochs with and without the TensorBoard logger,
    interleaved (with first, then without first, …) on one model, so both sides reuse its traced
    training step and see the same machine load."""
    import tempfile

    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.net.training import TensorBoardLogger, fit, new_model

    dataset = load_dataset(npz)
    model = new_model(config)
    fit(model, dataset, config, [TensorBoardLogger(tempfile.mkdtemp(prefix="mnistdesk-tb-"))])  # warm up: tracing, imports
    seconds: dict[str, list[float]] = {"with": [], "without": []}
    for pair in range(pairs):
        for side in ("with", "without") if pair % 2 == 0 else ("without", "with"):
            callbacks = [TensorBoardLogger(tempfile.mkdtemp(prefix="mnistdesk-tb-"))] if side == "with" else []
            started = time.perf_counter()
            fit(model, dataset, config, callbacks)
            seconds[side].append(time.perf_counter() - started)
    return {f"seconds_{side}": values for side, values in seconds.items()}


def training_window(npz: str, config):
    """The app's main window at 1280×800, its Train panel set to ``config`` on ``npz``."""
    from inspect_probe import show_every_panel
    from PySide6.QtCore import QSettings

    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow

    application = create_app()
    settings = QSettings(os.path.join(os.environ["PROBE_DIR"], "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_tensorflow=False)
    window.resize(1280, 800)
    window.show()
    panel = window.training.panel
    panel.dataset.insertItem(0, npz, npz)
    panel.dataset.setCurrentIndex(0)
    panel.architecture.setCurrentIndex(panel.architecture.findData(config.architecture))
    panel.optimizer.setCurrentText(config.optimizer or "")
    panel.epochs.setValue(config.epochs)
    panel.batch_size.setValue(config.batch_size)
    panel.augment.setChecked(False)
    show_every_panel(window)  # the confusion matrix, history, activations and robustness live too
    return application, window


def close_window(window) -> None:
    import shiboken6
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.question = lambda *args, **kwargs: QMessageBox.StandardButton.Discard  # a benchmark never asks (closing mid-run would)

    window.close()
    window.wait_for_threads()  # the finished model's test scoring (the matrix is on screen)
    shiboken6.delete(window)  # as mnistdesk.gui.app.run does, for a clean exit


def app(npz: str, config) -> dict:
    from PySide6.QtCore import QTimer

    application, window = training_window(npz, config)
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1.0
    window.canvas.set_background(ink)

    marks: dict[str, float] = {}
    lateness: list[float] = []
    last_tick = [0.0]
    epochs_seen = []

    gui_cpu: dict[str, float] = {}  # the GUI thread's CPU seconds at the run's first and last tick

    def on_tick() -> None:
        now = time.perf_counter()
        if "start" in marks and "end" not in marks:
            lateness.append(max(0.0, (now - last_tick[0]) * 1000 - TICK_MS))
            gui_cpu.setdefault("first", time.thread_time())
            gui_cpu["last"] = time.thread_time()
        last_tick[0] = now

    def on_model_ready(_engine) -> None:
        marks["start"] = time.perf_counter()

    def on_epoch(_info) -> None:
        epochs_seen.append(1)
        if len(epochs_seen) == config.epochs:
            marks["end"] = time.perf_counter()

    ticker = QTimer()
    ticker.setInterval(TICK_MS)
    ticker.timeout.connect(on_tick)
    ticker.start()

    def on_running_changed(running: bool) -> None:
        if not running:
            window.models.unsaved = False  # quit closes the window: no "save the model?" prompt
            application.quit()

    window.training.running_changed.connect(on_running_changed)
    window.training.start()
    window.training.worker.model_ready.connect(on_model_ready)
    window.training.worker.epoch_done.connect(on_epoch)
    application.exec()
    ticker.stop()
    with np.load(npz) as archive:
        n_train = len(archive["y_train"])
    seconds = marks["end"] - marks["start"]
    close_window(window)
    return {
        "samples_per_s": n_train * config.epochs / seconds,
        "ui_stall_ms_p99": float(np.percentile(lateness, 99)),
        "ui_stall_ms_max": float(np.max(lateness)),
        "ticks": len(lateness),
        "gui_cpu_share": (gui_cpu["last"] - gui_cpu["first"]) / seconds,
    }


class DrawingHand:
    """A synthetic user drawing on the canvas: a thread posts mouse events (press, a stroke of
    moves every 16 ms, release) as a window system would, stamped with the time the hand moved;
    the GUI thread may handle them late. Each stroke starts on a cleared canvas. It starts when
    the window has painted its first frame: nobody draws on a window before it is on screen.

    The latency of a move is the time from the hand moving to the prediction bars having
    painted a prediction that includes it (the canvas's own 16 ms prediction throttle included).
    ``strokes_per_digit``/``look_s``: after that many strokes the hand stops for ``look_s`` (a
    person looking at the bars before the next digit); by default it never stops for long.
    """

    MOVE_INTERVAL_S = 0.016
    MOVES_PER_STROKE = 45  # a 0.7 s stroke
    GAP_S = 0.3  # between strokes: lift the pen, look at the bars

    def __init__(self, window, strokes_per_digit: int = 0, look_s: float = 0.0):
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtGui import QPointingDevice

        self.window, self.canvas = window, window.canvas
        self.moved_at: list[float] = []  # per move, when the hand moved (appended by the hand's thread)
        self.latencies: list[float] = []
        self.handled = self.predicted = self.painted = 0  # moves the GUI thread has got that far with
        self.drawing = threading.Event()
        self.finished = threading.Event()
        self.on_screen = threading.Event()  # the window's first frame has been painted
        self.strokes_per_digit, self.look_s = strokes_per_digit, look_s
        self.size = (self.canvas.width(), self.canvas.height())
        self.mouse = QPointingDevice.primaryPointingDevice()  # made here: it is a child of the application
        hand = self

        class Watcher(QObject):
            def eventFilter(self, target, event):
                if target is hand.canvas:
                    if event.type() == QEvent.Type.MouseMove:
                        hand.handled += 1
                    elif event.type() == QEvent.Type.MouseButtonPress:
                        hand.canvas.clear()
                elif event.type() == QEvent.Type.Paint:
                    hand.bars.viewportEvent(event)  # paint first, then count the moves now visible
                    if not hand.on_screen.is_set():  # once the rest of this first frame is painted too
                        QTimer.singleShot(0, hand.on_screen.set)
                    hand._on_bars_painted()
                    return True
                return False

        self.bars = window.softmax.plot
        self.watcher = Watcher()
        self.canvas.installEventFilter(self.watcher)
        self.bars.viewport().installEventFilter(self.watcher)
        predict_now = window.drawing.predict_now

        def predict_and_note() -> None:
            included = hand.handled
            predict_now()
            hand.predicted = included

        window.drawing.predict_now = predict_and_note
        self.thread = threading.Thread(target=self._draw, daemon=True)
        self.thread.start()

    def _on_bars_painted(self) -> None:
        now = time.perf_counter()
        for index in range(self.painted, min(self.predicted, len(self.moved_at))):
            if self.drawing.is_set():
                self.latencies.append(now - self.moved_at[index])
        self.painted = max(self.painted, self.predicted)

    def _draw(self) -> None:
        from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
        from PySide6.QtGui import QMouseEvent

        width, height = self.size
        left, no_modifier = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

        def post(kind, t: float, buttons) -> None:
            angle = 2 * np.pi * t
            point = QPointF(width * (0.5 + 0.25 * np.cos(angle)), height * (0.5 + 0.3 * np.sin(angle)))
            QCoreApplication.postEvent(self.canvas, QMouseEvent(kind, point, point, left if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton, buttons, no_modifier, self.mouse))

        self.on_screen.wait()
        strokes = 0
        while not self.finished.is_set():
            post(QEvent.Type.MouseButtonPress, 0.0, left)
            due = time.perf_counter()
            for step in range(1, self.MOVES_PER_STROKE + 1):
                due += self.MOVE_INTERVAL_S
                time.sleep(max(0.0, due - time.perf_counter()))
                self.moved_at.append(due)  # when the hand moved, however late this thread got here
                post(QEvent.Type.MouseMove, step / self.MOVES_PER_STROKE * 0.9, left)
            post(QEvent.Type.MouseButtonRelease, 0.9, Qt.MouseButton.NoButton)
            strokes += 1
            looking = self.strokes_per_digit and strokes % self.strokes_per_digit == 0
            self.finished.wait(self.look_s if looking else self.GAP_S)

    def stop(self) -> None:
        self.finished.set()
        self.thread.join()


def draw(npz: str, config, seconds: float) -> dict:
    """Draw for ``seconds`` with the window idle, then for ``seconds`` while it trains
    (``config.epochs`` must last that long: the run is abandoned when the drawing ends)."""
    from PySide6.QtCore import QTimer

    application, window = training_window(npz, config)
    hand = DrawingHand(window)
    results: dict[str, float] = {}

    def measure(phase: str, then) -> None:
        hand.latencies.clear()
        hand.drawing.set()

        def done() -> None:
            hand.drawing.clear()
            results[f"draw_latency_ms_p50_{phase}"] = float(np.percentile(hand.latencies, 50) * 1000)
            results[f"draw_latency_ms_p99_{phase}"] = float(np.percentile(hand.latencies, 99) * 1000)
            results[f"draw_latency_ms_max_{phase}"] = float(np.max(hand.latencies) * 1000)
            results[f"draw_moves_{phase}"] = len(hand.latencies)
            then()

        QTimer.singleShot(round(seconds * 1000), done)

    def on_run_started(_info) -> None:  # the controller's signal: in the GUI thread, unlike the worker's
        QTimer.singleShot(WARM_UP_MS, lambda: measure("training", finish))

    def finish() -> None:
        window.training.worker.control.abandon()  # no final scoring: the run was only a load

    def on_running_changed(running: bool) -> None:
        if not running:
            window.models.unsaved = False  # quit closes the window: no "save the model?" prompt
            application.quit()

    messages: list[str] = []
    window.training.message.connect(messages.append)

    def start_training() -> None:
        window.training.running_changed.connect(on_running_changed)
        window.training.run_started.connect(on_run_started)
        window.training.start()

    QTimer.singleShot(WARM_UP_MS, lambda: measure("idle", start_training))  # first frames and predictions settle
    application.exec()
    hand.stop()
    close_window(window)
    if "draw_latency_ms_p99_training" not in results:
        raise SystemExit(f"the run ended before the drawing did: {messages}")
    return results


#: The startup hand writes digits of this many strokes, then looks at the bars for LOOK_S.
STROKES_PER_DIGIT, LOOK_S = 2, 2.5
AFTER_IMPORT_S = 2.0  # the hand goes on this long after TensorFlow is ready


def startup() -> dict:
    """The window as the app launches it (TensorFlow imported in the background once the user
    pauses), a hand writing digits from its first frame until AFTER_IMPORT_S after the import."""
    from PySide6.QtCore import QSettings, QTimer

    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow

    application = create_app()
    window = MainWindow(settings=QSettings(os.path.join(os.environ["PROBE_DIR"], "startup.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 800)
    window.show()
    hand = DrawingHand(window, STROKES_PER_DIGIT, LOOK_S)
    hand.drawing.set()
    loader = window.tensorflow
    imported: dict[str, float] = {}
    loader.idle_timer.timeout.connect(lambda: imported.setdefault("started", time.perf_counter()))

    def on_ready(seconds: float) -> None:
        imported["seconds"] = seconds
        QTimer.singleShot(round(AFTER_IMPORT_S * 1000), application.quit)

    loader.ready.connect(on_ready)
    loader.failed.connect(lambda message: application.quit())
    application.exec()
    hand.drawing.clear()
    hand.stop()
    close_window(window)
    if "seconds" not in imported:
        raise SystemExit("TensorFlow did not load")
    latencies = np.asarray(hand.latencies) * 1000
    return {
        "draw_latency_ms_p50_startup": float(np.percentile(latencies, 50)),
        "draw_latency_ms_p99_startup": float(np.percentile(latencies, 99)),
        "draw_latency_ms_max_startup": float(np.max(latencies)),
        "draw_moves_startup": len(latencies),
        "tensorflow_background_import_s": imported["seconds"],
    }


def quit_after(npz: str, config, training: bool) -> None:
    """The app as ``mnistdesk`` runs it (``gui.app.run``), closed ``QUIT_AFTER_S`` after its
    background TensorFlow import (idle), or as long into a run of ``config``; prints when it
    closed, and the parent times how long the process took to be gone after that."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from mnistdesk.gui import app, main_window

    QMessageBox.question = lambda *args, **kwargs: QMessageBox.StandardButton.Discard  # closing mid-run asks
    shown = main_window.MainWindow.show

    def close(window) -> None:
        print(json.dumps({"closing": time.time()}), flush=True)
        window.close()

    def show(window) -> None:
        shown(window)
        if not training:  # idle: TensorFlow loaded in the background, nothing else going on
            window.tensorflow.ready.connect(lambda seconds: QTimer.singleShot(round(QUIT_AFTER_S * 1000), lambda: close(window)))
            return
        panel = window.training.panel
        panel.dataset.insertItem(0, npz, npz)
        panel.dataset.setCurrentIndex(0)
        panel.architecture.setCurrentIndex(panel.architecture.findData(config.architecture))
        panel.epochs.setValue(config.epochs)
        window.training.run_started.connect(lambda info: QTimer.singleShot(round(QUIT_AFTER_S * 1000), lambda: close(window)))
        window.training.start()

    main_window.MainWindow.show = show
    sys.exit(app.run())


QUIT_AFTER_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("plain", "app", "draw", "tensorboard", "startup", "quit-idle", "quit-training"))
    parser.add_argument("npz", nargs="?", default="sample")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--architecture", default="dense")
    parser.add_argument("--seconds", type=float, default=10.0, help="draw mode: seconds of drawing idle, then as long while training")
    parser.add_argument("--pairs", type=int, default=5, help="tensorboard mode: paired runs with and without the logger")
    args = parser.parse_args()
    from mnistdesk.net.models import TrainConfig

    config = TrainConfig(args.architecture, args.npz, epochs=args.epochs, batch_size=128, optimizer="rmsprop" if args.architecture == "dense" else None, seed=0)
    if args.mode.startswith("quit"):
        quit_after(args.npz, config, args.mode == "quit-training")
    if args.mode == "startup":
        result = startup()
    elif args.mode == "draw":
        result = draw(args.npz, config, args.seconds)
    elif args.mode == "tensorboard":
        result = tensorboard(args.npz, config, args.pairs)
    else:
        result = (plain if args.mode == "plain" else app)(args.npz, config)
    print(json.dumps({"mode": args.mode, **result, "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
