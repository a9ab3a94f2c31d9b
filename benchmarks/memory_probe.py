"""Child process for ``run.py``: resident memory across training runs, printing one JSON line.

- ``window RUNS``: one main window, a drawing on the canvas, Train pressed RUNS times (``lean``,
  1 epoch on the bundled sample); RSS after each run, once the window has gone idle.
- ``api RUNS``: ``training.train`` called RUNS times in one process (the CLI/API path), RSS after
  each call once its model is dropped and garbage collected.
- ``long EPOCHS``: one ``dense`` run of EPOCHS epochs through the window on a small dataset;
  RSS at the end of every epoch.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

#: How long the window idles after a run before RSS is read: the app's garbage collector
#: (mnistdesk.gui.app) runs on a 1 s timer in the GUI thread.
SETTLE_S = 1.5


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_window(folder: str):
    from PySide6.QtCore import QSettings

    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow

    application = create_app()
    settings = QSettings(os.path.join(folder, "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_tensorflow=False)
    window.resize(1280, 800)
    window.show()
    ink = np.zeros((280, 280), np.float32)
    ink[40:240, 130:150] = 1.0
    window.canvas.set_background(ink)
    return application, window


def settle(application, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        application.processEvents()
        time.sleep(0.02)


def close(window) -> None:
    import shiboken6
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.question = lambda *args, **kwargs: QMessageBox.StandardButton.Discard  # a benchmark never asks (closing mid-run would)

    window.models.unsaved = False  # no "save the model?" prompt in a benchmark
    window.close()
    shiboken6.delete(window)  # as mnistdesk.gui.app.run does, for a clean exit


def wait_for_run(application, window) -> None:
    while window.training.is_running():
        application.processEvents()
        time.sleep(0.005)


def window_runs(runs: int, folder: str) -> dict:
    application, window = make_window(folder)
    panel = window.training.panel
    panel.architecture.setCurrentIndex(panel.architecture.findData("lean"))
    panel.dataset.setCurrentIndex(panel.dataset.findData("sample"))
    panel.epochs.setValue(1)
    panel.augment.setChecked(False)
    series = []
    for _ in range(runs):
        window.models.unsaved = False  # as if saved: Train new would otherwise ask first
        panel.train_button.click()
        wait_for_run(application, window)
        settle(application, SETTLE_S)
        series.append(rss_mb())
    close(window)
    return {"rss_mb": series}


def api_runs(runs: int) -> dict:
    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.net.models import TrainConfig
    from mnistdesk.net.training import train

    dataset = load_dataset("sample")
    config = TrainConfig("lean", "sample", epochs=1)
    series = []
    for _ in range(runs):
        model, _metadata = train(config, dataset)
        del model
        gc.collect()
        series.append(rss_mb())
    return {"rss_mb": series}


def long_run(epochs: int, folder: str) -> dict:
    from mnistdesk.data.datasets import load_dataset

    sample = load_dataset("sample")
    npz = os.path.join(folder, "small.npz")
    np.savez(npz, x_train=sample.x_train[:512], y_train=sample.y_train[:512], x_test=sample.x_test[:200], y_test=sample.y_test[:200])
    application, window = make_window(folder)
    panel = window.training.panel
    panel.dataset.insertItem(0, npz, npz)
    panel.dataset.setCurrentIndex(0)
    panel.architecture.setCurrentIndex(panel.architecture.findData("dense"))
    panel.epochs.setValue(epochs)
    panel.batch_size.setValue(64)
    series: list[float] = []
    window.training.start()
    window.training.worker.epoch_done.connect(lambda _info: series.append(rss_mb()))
    wait_for_run(application, window)
    close(window)
    return {"rss_mb": series}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("window", "api", "long"))
    parser.add_argument("count", type=int, help="training runs (window, api) or epochs (long)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="mnistdesk-memory-")
    os.environ.setdefault("XDG_CONFIG_HOME", folder)
    started = time.perf_counter()
    if args.mode == "window":
        result = window_runs(args.count, folder)
    elif args.mode == "api":
        result = api_runs(args.count)
    else:
        result = long_run(args.count, folder)
    result["rss_mb"] = [round(value, 1) for value in result["rss_mb"]]
    print(json.dumps({"mode": args.mode, **result, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
