"""Small pyqtgraph panels, each created once and fed by one slot (``setImage``/``setOpts``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

BAR_COLOUR = (110, 140, 190)
WINNER_COLOUR = (230, 120, 40)
EMPTY_TEXT = "Draw a digit"
MIN_LABEL_PX = 34  # room a "100%" label needs


class ModelEyePanel(pg.GraphicsLayoutWidget):
    """The exact 28×28 input the model receives, pixel for pixel, white ink on black like MNIST."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip(
            "What the model sees: your drawing after MNIST preprocessing (28×28 pixels).\n"
            "Your strokes are re-drawn with a pen in proportion to the digit, so they are\n"
            "2–3 pixels thick here, as in MNIST, however small or large you draw."
        )
        self.setMinimumSize(140, 140)
        view = self.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        view.setMenuEnabled(False)
        self.image = pg.ImageItem(np.zeros((28, 28), np.float32), levels=(0.0, 1.0))
        view.addItem(self.image)
        view.setRange(xRange=(0, 28), yRange=(0, 28), padding=0.02)
        self.placeholder = pg.TextItem(EMPTY_TEXT, color=(170, 170, 170), anchor=(0.5, 0.5))
        self.placeholder.setPos(14, 14)
        view.addItem(self.placeholder)

    def show_input(self, image: np.ndarray | None) -> None:
        self.placeholder.setVisible(image is None)
        self.image.setImage(np.zeros((28, 28), np.float32) if image is None else image, autoLevels=False, levels=(0.0, 1.0))


class SoftmaxPanel(QWidget):
    """Ten bars on a fixed 0-1 axis with their values; the winner in a warm colour."""

    def __init__(self, class_names: Sequence[str] = tuple(map(str, range(10))), parent: QWidget | None = None):
        super().__init__(parent)
        self.verdict = QLabel(EMPTY_TEXT)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)  # class names come from model files
        font = QFont(self.verdict.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.verdict.setFont(font)
        self.plot = pg.PlotWidget()
        self.plot.setToolTip("The model's probability for each class (softmax output).")
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1.15, padding=0)
        self.plot.setXRange(-0.6, 9.6, padding=0)
        self.plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        self.brushes = {False: pg.mkBrush(BAR_COLOUR), True: pg.mkBrush(WINNER_COLOUR)}  # made once: ~1 ms a prediction
        self.bars = pg.BarGraphItem(x=np.arange(10), height=np.zeros(10), width=0.7, brush=BAR_COLOUR, pen=None)
        self.plot.addItem(self.bars)
        self.labels = []
        for x in range(10):
            label = pg.TextItem("", color=(60, 60, 60), anchor=(0.5, 1.0))
            label.setPos(x, 0)
            self.plot.addItem(label)
            self.labels.append(label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.verdict)
        layout.addWidget(self.plot, 1)
        self.set_class_names(class_names)

    def set_class_names(self, class_names: Sequence[str]) -> None:
        self.class_names = list(class_names)
        self.plot.getAxis("bottom").setTicks([[(i, name[:6]) for i, name in enumerate(self.class_names)]])

    def show_probabilities(self, probabilities: np.ndarray | None) -> None:
        if probabilities is None:
            self.bars.setOpts(height=np.zeros(10), brushes=[self.brushes[False]] * 10)
            for label in self.labels:
                label.setText("")
            self.verdict.setText(EMPTY_TEXT)
            return
        winner = int(np.argmax(probabilities))
        brushes = [self.brushes[i == winner] for i in range(10)]
        self.bars.setOpts(height=probabilities, brushes=brushes)
        # Labels wider than a bar would run into a labelled neighbour: keep the larger one.
        cramped = self.plot.getViewBox().width() / 10.2 < MIN_LABEL_PX
        labelled: set[int] = set()
        for x in np.argsort(-probabilities):
            if probabilities[x] >= 0.005 and not (cramped and labelled & {x - 1, x + 1}):
                labelled.add(int(x))
        for x, (label, value) in enumerate(zip(self.labels, probabilities)):
            label.setText(f"{value:.0%}" if x in labelled else "")
            label.setPos(x, float(value) + 0.01)
        self.verdict.setText(f"{self.class_names[winner]}  ·  {probabilities[winner]:.0%}")
