"""Small panels, each created once and fed by one slot (pyqtgraph's ``setImage``/``setOpts``):
what the model sees, its probabilities, and the saliency overlay's menu and caption."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSlider, QVBoxLayout, QWidget, QWidgetAction

from mnistdesk.explain.session import Explanation
from mnistdesk.gui.canvas import DEFAULT_HEAT_OPACITY, LOWERS, RAISES
from mnistdesk.gui.plotting import cache_axes

BAR_COLOUR = (110, 140, 190)
WINNER_COLOUR = (230, 120, 40)
PICKED_COLOUR, PICKED_EDGE = (255, 240, 205), (215, 170, 80)  # behind the bar whose class the saliency overlay explains
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
    """Ten bars on a fixed 0-1 axis with their values; the winner in a warm colour. Clicking a
    bar picks its class for the saliency overlay (``class_clicked``); a band marks the pick."""

    class_clicked = Signal(int)

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
        self.plot.setToolTip(
            "The model's probability for each class (softmax output).\n"
            "Click a bar to see in the saliency overlay what speaks for or against that class;\n"
            "click it again (or clear the canvas) to go back to the predicted class."
        )
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        cache_axes(self.plot)
        self.plot.setYRange(0, 1.15, padding=0)
        self.plot.setXRange(-0.6, 9.6, padding=0)
        self.plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        self.brushes = {False: pg.mkBrush(BAR_COLOUR), True: pg.mkBrush(WINNER_COLOUR)}  # made once: ~1 ms a prediction
        self.picked_band = pg.BarGraphItem(x=[0], height=[1.15], width=0.95, brush=PICKED_COLOUR, pen=pg.mkPen(PICKED_EDGE, width=1, style=Qt.PenStyle.DashLine))
        self.picked_band.setVisible(False)
        self.plot.addItem(self.picked_band)
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
        self.plot.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)

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

    def show_picked(self, index: int | None) -> None:
        """Mark the class the saliency overlay explains because it was picked (None: no pick)."""
        self.picked_band.setVisible(index is not None)
        if index is not None:
            self.picked_band.setOpts(x=[index])

    def _on_scene_mouse_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        index = round(point.x())
        if 0 <= index < len(self.class_names) and 0 <= point.y() <= 1.15:
            self.class_clicked.emit(index)


SALIENCY_METHOD_LABELS = {"gradient": "&Gradient (live)", "smoothgrad": "&SmoothGrad (when you pause)"}


class SaliencyMenu(QMenu):
    """The saliency overlay's method and opacity, under its button and in the Inspect menu."""

    method_changed = Signal(str)
    opacity_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Saliency &method and opacity", parent)
        self.setToolTipsVisible(True)
        self.methods = QActionGroup(self)
        for method, label in SALIENCY_METHOD_LABELS.items():
            action = self.addAction(label)
            action.setCheckable(True)
            action.setData(method)
            self.methods.addAction(action)
        self.methods.actions()[0].setChecked(True)
        self.methods.actions()[0].setToolTip("The exact gradient, made at every change while you draw (speckled)")
        self.methods.actions()[1].setToolTip(
            "The gradient averaged over 24 noisy copies of the input: a calmer map. It costs about\n"
            "20 gradients, so it is made once the drawing rests; the plain gradient shows meanwhile."
        )
        self.methods.triggered.connect(self._on_methods_triggered)
        self.addSeparator()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(10, 100)
        self.opacity.setValue(round(DEFAULT_HEAT_OPACITY * 100))
        self.opacity.setMinimumWidth(120)
        self.opacity.setToolTip("How strongly the heat map covers the strokes")
        self.opacity.valueChanged.connect(self._on_opacity_value_changed)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(QLabel("Opacity"))
        layout.addWidget(self.opacity, 1)
        slider = QWidgetAction(self)
        slider.setDefaultWidget(row)
        self.addAction(slider)

    def method(self) -> str:
        return self.methods.checkedAction().data()

    def set_method(self, method: str) -> None:
        for action in self.methods.actions():
            action.setChecked(action.data() == method)

    def _on_methods_triggered(self, action: QAction) -> None:
        self.method_changed.emit(action.data())

    def _on_opacity_value_changed(self, value: int) -> None:
        self.opacity_changed.emit(value / 100)


def saliency_caption(explanation: Explanation, class_names: Sequence[str]) -> str:
    """What the overlay shows, as rich text: the class and how to read the colours, or why
    there is no map (class names come from model files: escaped)."""
    if explanation.note is not None:
        return html.escape(explanation.note)
    if explanation.class_index is None:
        return ""
    red, blue = (f"<span style='color:rgb{colour}'><b>{word}</b></span>" for colour, word in ((RAISES, "red"), (LOWERS, "blue")))
    name = f"<b>{html.escape(class_names[explanation.class_index])}</b>"
    about = f"For {name} (picked)" if explanation.picked else f"Why {name}"
    return f"{about}: {red} raised it, {blue} lowered it" + ("" if explanation.settled else " · SmoothGrad when you pause")
