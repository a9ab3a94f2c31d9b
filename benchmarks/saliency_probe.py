"""Child process for ``run.py --only saliency``: the cost of the saliency overlay in the window
(a crossed 7 drawn on the canvas, the shipped model). Prints one JSON line:

- ``saliency_overlay_ms_p50``: the overlay's part of one drawing update: the gradient, the map
  carried back to the canvas's grid, the overlay image built and the canvas repainted.
- ``draw_update_saliency_ms_p50``: a whole drawing update with the overlay on (strokes → 28×28 →
  prediction, hidden layers, saliency → every visible panel painted), as ``draw_update_ms_p50``.
- ``smoothgrad_overlay_ms_p50``: the same as the first with SmoothGrad, made once the pen rests.
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


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e3, 3)


def main() -> int:
    import shiboken6
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest

    from mnistdesk.gui.app import create_app
    from mnistdesk.gui.main_window import MainWindow

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    app = create_app()
    folder = os.environ.get("PROBE_DIR", "/tmp")
    window = MainWindow(settings=QSettings(os.path.join(folder, "saliency.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    canvas = window.canvas
    side = min(canvas.width(), canvas.height())
    for start, end in (((0.3, 0.25), (0.7, 0.25)), ((0.7, 0.25), (0.45, 0.8)), ((0.45, 0.52), (0.7, 0.52))):
        points = [QPoint(round(canvas.width() / 2 + (a - 0.5) * side), round(canvas.height() / 2 + (b - 0.5) * side)) for a, b in (start, end)]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
        for t in np.linspace(0, 1, 12):
            QTest.mouseMove(canvas, points[0] + (points[1] - points[0]) * float(t))
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[1])
    window.inspect.test_scorer.cancel()
    if not window.saliency.action.isChecked():
        window.saliency.action.trigger()
    session = window.session
    for _ in range(20):  # warm up
        window.drawing.predict_now()
        app.processEvents()
    overlay_s, update_s = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        session.set_saliency_wanted(True)  # the overlay's work for the current drawing, alone
        canvas.repaint()
        overlay_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        window.drawing.predict_now()
        app.processEvents()
        update_s.append(time.perf_counter() - started)
    session.set_saliency_method("smoothgrad")
    smooth_s = []
    for _ in range(max(rounds // 10, 5)):
        started = time.perf_counter()
        session.refine_saliency()
        canvas.repaint()
        smooth_s.append(time.perf_counter() - started)
    assert session.explanation.heat is not None and session.explanation.heat.shape == canvas.heat_shape()
    window.close()
    window.wait_for_threads()
    shiboken6.delete(window)
    print(
        json.dumps(
            {
                "saliency_overlay_ms_p50": median_ms(overlay_s),
                "draw_update_saliency_ms_p50": median_ms(update_s),
                "smoothgrad_overlay_ms_p50": median_ms(smooth_s),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
