"""The window laid out at the sizes people use, from a 1024×640 laptop to a 2560×1440 monitor.
Each size's screenshot is saved under screenshots-tmp/ (git-ignored) for a person to look at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOptionComboBox

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


class RecordingStyle(QProxyStyle):
    """The window's style, noting the texts it draws in closed combo boxes."""

    def __init__(self):
        super().__init__("fusion")
        self.labels: list[str] = []

    def drawControl(self, element, option, painter, widget=None) -> None:
        if element == QStyle.ControlElement.CE_ComboBoxLabel:
            self.labels.append(option.currentText)
        super().drawControl(element, option, painter, widget)


def test_the_data_box_shows_each_name_whole_or_visibly_shortened_at_1024_by_640(qtbot, tmp_path):
    """At 1024×640 the Data box cut its text off mid-word ("Bundled sample (5,000")."""
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(1024, 640)
    window.show()
    qtbot.waitExposed(window)
    box = window.training.panel.dataset
    mine = tmp_path / "handwriting of the whole class, autumn term, cleaned.npz"
    window.training.panel.add_dataset_file(str(mine))
    style = RecordingStyle()
    box.setStyle(style)
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    room = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, box).width()
    for index in range(box.count()):
        box.setCurrentIndex(index)
        style.labels.clear()
        box.grab()
        (shown,) = style.labels
        assert box.fontMetrics().horizontalAdvance(shown) <= room, f"{shown!r} is cut off"
        if box.currentData() == str(mine):
            assert shown.endswith("…") and box.toolTip() == str(mine), "shortened visibly, the whole in the tooltip"
        else:
            assert "…" not in shown or box.itemText(index).endswith("…"), f"a built-in dataset's name is whole: {shown!r}"
            assert box.itemText(index) in box.toolTip(), "the tooltip says what the box does not"
