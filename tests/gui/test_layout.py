"""The window laid out at the sizes people use, from a 1024×640 laptop to a 2560×1440 monitor.
Each size's screenshot is saved under screenshots-tmp/ (git-ignored) for a person to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots-tmp"


@pytest.mark.parametrize("width, height", [(1024, 640), (1600, 900), (2560, 1440)])
def test_layout_at_common_window_sizes(qtbot, tmp_path, sample, width, height):
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    window.canvas.set_background(np.kron(sample.x_test[7] / 255, np.ones((10, 10))))
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    qtbot.wait(50)
    window.softmax.show_probabilities(np.array([0.02, 0.3, 0.25, 0.02, 0.01, 0.2, 0.1, 0.05, 0.03, 0.02]))
    qtbot.wait(50)
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / f"window-{width}x{height}.png"))

    panel = window.training.panel
    assert panel.height() >= panel.sizeHint().height(), "the Train panel is clipped"
    assert window.docks["train"].height() < 1.3 * panel.sizeHint().height(), "the Train dock is mostly empty"
    eye = min(window.eye.width(), window.eye.height())
    assert eye >= (180 if width < 1600 else 260), f"the Model's eye is only {eye} px"
    weights, curves = window.training.weights, window.training.curves
    assert min(weights.width(), weights.height()) >= 150 and curves.height() >= 180
    assert window.canvas.width() >= 0.35 * width and window.canvas.height() >= 0.5 * height
    shown = [label.sceneBoundingRect() for label in window.softmax.labels if label.textItem.toPlainText()]
    assert len(shown) >= 3 and not any(a.intersects(b) for i, a in enumerate(shown) for b in shown[i + 1 :]), "bar labels collide"
