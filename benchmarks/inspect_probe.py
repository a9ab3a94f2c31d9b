"""Child process for ``run.py --only inspection``: the cost of one drawing update with every
panel on screen (the canvas's strokes → 28×28 → prediction and hidden layers → Model's eye,
bars, activations, history, robustness, confusion matrix → painted), plus the settled-drawing
work the History and Robustness panels do once the drawing rests, and one move of the epoch
scrubber (slider → that epoch's bars, activations, weights and matrix, painted). Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

INSPECT_DOCKS = ("mistakes", "history", "activations", "robustness")


def show_every_panel(window) -> None:
    """The Inspect tabs share one place; float them so that all are on screen at once."""
    for key in INSPECT_DOCKS:
        dock = window.docks[key]
        dock.setFloating(True)
        dock.resize(640, 360)
        dock.show()


def scrub_times(window, app, predictor, sample, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds from a move of the scrubber's slider to that epoch's bars, activations, weights
    and confusion matrix painted: 30 epochs of the model validating on 500 digits, kept in
    memory as a lean run's are, then spilled to disk as a big model's older epochs are."""
    images, labels = sample.x_train[:500], sample.y_train[:500]
    window.session.set_splits({"validation": (images, labels)})
    rng = np.random.default_rng(1)
    timings = []
    for budget in (None, 0):  # in memory; on disk
        window.session.start_run()
        if budget is not None:
            window.session.epoch_store.memory_budget = budget
        for epoch in range(31):
            engine = predictor.with_weights([[w + rng.normal(0, 0.01, w.shape).astype(np.float32) for w in spec.weights] for spec in predictor.specs])
            window.session.set_predictor(engine, at_epoch=float(epoch))
            window.session.record_epoch(epoch, engine, engine.predict(images / 255.0) if epoch else None, {"val_accuracy": 0.9})
        app.processEvents()
        slider, seconds = window.scrubber.slider, []
        for step in range(rounds):
            started = time.perf_counter()
            slider.setValue(1 + step % 29)
            app.processEvents()  # the panels repaint
            seconds.append(time.perf_counter() - started)
        assert window.session.shown_epoch == 1 + (rounds - 1) % 29
        slider.setValue(slider.maximum())  # back to live
        timings.append(seconds)
    return timings[0], timings[1]


def main() -> int:
    import shiboken6
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from mnistdesk.data.datasets import load_dataset
    from mnistdesk.net.engine import Engine
    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow
    from mnistdesk.explain.inspection import SplitScore

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    app = create_app()
    folder = os.environ.get("PROBE_DIR", "/tmp")
    window = MainWindow(settings=QSettings(os.path.join(folder, "inspect.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    window.resize(1280, 800)
    window.show()
    show_every_panel(window)
    app.processEvents()
    # A drawn 7: a stroke across and one down, through real mouse events.
    canvas = window.canvas
    side = min(canvas.width(), canvas.height())
    for start, end in (((0.3, 0.25), (0.7, 0.25)), ((0.7, 0.25), (0.45, 0.8))):
        points = [QPoint(round(canvas.width() / 2 + (a - 0.5) * side), round(canvas.height() / 2 + (b - 0.5) * side)) for a, b in (start, end)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for t in np.linspace(0, 1, 12):
            QTest.mouseMove(canvas, points[0] + (points[1] - points[0]) * float(t))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[1])
    sample = load_dataset("sample")
    predictor = window.predictor
    window.inspect.test_scorer.cancel()
    window.session.set_score(SplitScore("test split", sample.x_test, sample.y_test, predictor.predict(sample.x_test / 255.0)))
    window.session.select_cell(7, 1)
    # A history of 100 snapshots, as a run keeps them.
    rng = np.random.default_rng(0)
    assert isinstance(predictor, Engine)
    window.session.start_run()
    for step in range(100):
        window.session.set_predictor(predictor.with_weights([[w + rng.normal(0, 0.01, w.shape).astype(np.float32) for w in spec.weights] for spec in predictor.specs]), at_epoch=step / 20)
    for _ in range(20):  # warm up
        window.drawing.predict_now()
        app.processEvents()
    update_s, sweep_s, history_s, history_slices = [], [], [], 0
    predict_s = []
    for _ in range(rounds):
        started = time.perf_counter()
        window.drawing.predict_now()
        app.processEvents()  # the panels repaint
        update_s.append(time.perf_counter() - started)
        started = time.perf_counter()  # the forward pass alone, for scale on a busy machine
        predictor.activations(window.last_input)
        predict_s.append(time.perf_counter() - started)
    for _ in range(max(rounds // 10, 5)):
        started = time.perf_counter()
        window.inspect._on_robustness_refresh_wanted()
        sweep_s.append(time.perf_counter() - started)
        window.session.set_drawing(window.session.drawing)  # a new drawing: its history is re-scored
        started = time.perf_counter()
        while not window.session.refresh_history():
            history_slices += 1
        history_s.append(time.perf_counter() - started)
    scrub_s, scrub_from_disk_s = scrub_times(window, app, predictor, sample, max(rounds // 4, 20))
    assert window.last_probabilities is not None and window.activations.images
    window.close()
    window.wait_for_threads()
    shiboken6.delete(window)
    print(
        json.dumps(
            {
                "draw_update_ms_p50": round(statistics.median(update_s) * 1e3, 3),
                "draw_update_ms_p90": round(float(np.percentile(update_s, 90)) * 1e3, 3),
                "draw_update_forward_pass_ms_p50": round(statistics.median(predict_s) * 1e3, 3),
                "robustness_sweep_ms_p50": round(statistics.median(sweep_s) * 1e3, 3),
                "history_rescore_100_snapshots_ms_p50": round(statistics.median(history_s) * 1e3, 3),
                "history_rescore_slices_p50": history_slices / len(history_s) + 1,
                "scrub_ms_p50": round(statistics.median(scrub_s) * 1e3, 3),
                "scrub_from_disk_ms_p50": round(statistics.median(scrub_from_disk_s) * 1e3, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
