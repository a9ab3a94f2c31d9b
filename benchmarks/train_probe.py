"""Child process for ``run.py``: one timed epoch of the dense model on 60,000 MNIST-shaped
digits, either plain (``model.fit``, no GUI) or through the app (worker thread, Keras callback,
signals, main window with every panel live, the Inspect panels included), printing one JSON line.

In ``app`` mode it also measures how late a 16 ms QTimer on the GUI thread fires (the UI stall
a user would feel) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TICK_MS = 16


def peak_rss_mb() -> float:
    """This process's own peak: VmHWM. ``ru_maxrss`` survives exec on Linux, so a probe started
    by a big benchmark process would report the benchmark's peak instead of its own."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain(npz: str, config) -> dict:
    from mnistdesk.data import load_dataset
    from mnistdesk.training import fit, new_model

    dataset = load_dataset(npz)
    model = new_model(config)
    started = time.perf_counter()
    fit(model, dataset, config)
    seconds = time.perf_counter() - started
    return {"samples_per_s": len(dataset.x_train) * config.epochs / seconds}


def app(npz: str, config) -> dict:
    import shiboken6
    from inspect_probe import show_every_panel
    from PySide6.QtCore import QSettings, QTimer

    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow

    application = create_app()
    settings = QSettings(os.path.join(os.environ["PROBE_DIR"], "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_tensorflow=False)
    window.resize(1280, 800)
    window.show()
    show_every_panel(window)  # the confusion matrix, history, activations and robustness live too
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1.0
    window.canvas.set_background(ink)
    panel = window.training.panel
    panel.dataset.insertItem(0, npz, npz)
    panel.dataset.setCurrentIndex(0)
    panel.architecture.setCurrentIndex(panel.architecture.findData(config.architecture))
    panel.optimizer.setCurrentText(config.optimizer)
    panel.epochs.setValue(config.epochs)
    panel.batch_size.setValue(config.batch_size)
    panel.augment.setChecked(False)

    marks: dict[str, float] = {}
    lateness: list[float] = []
    last_tick = [0.0]
    epochs_seen = []

    def on_tick() -> None:
        now = time.perf_counter()
        if "start" in marks and "end" not in marks:
            lateness.append(max(0.0, (now - last_tick[0]) * 1000 - TICK_MS))
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
            window.unsaved = False  # no "save the model?" prompt in a benchmark
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
    window.close()
    window.wait_for_threads()  # the finished model's test scoring (the matrix is on screen)
    shiboken6.delete(window)  # as mnistdesk.gui.app.run does, for a clean exit
    return {
        "samples_per_s": n_train * config.epochs / seconds,
        "ui_stall_ms_p99": float(np.percentile(lateness, 99)),
        "ui_stall_ms_max": float(np.max(lateness)),
        "ticks": len(lateness),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("plain", "app"))
    parser.add_argument("npz")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    from mnistdesk.models import TrainConfig

    config = TrainConfig("dense", args.npz, epochs=args.epochs, batch_size=128, optimizer="rmsprop", seed=0)
    result = (plain if args.mode == "plain" else app)(args.npz, config)
    print(json.dumps({"mode": args.mode, **result, "peak_rss_mb": peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
