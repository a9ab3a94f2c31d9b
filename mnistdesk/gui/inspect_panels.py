"""The Inspect panels: confusion matrix with its gallery of mistakes, the drawing's probability
history over training, the hidden layers' activations, and the robustness sliders. Each is a
thin view: items created once, one slot feeds it, clicks go out as signals with plain values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QSlider, QSplitter, QVBoxLayout, QWidget

from mnistdesk.explain.arithmetic import unit_at
from mnistdesk.explain.inspection import TRANSFORM_RANGES, SplitScore, Transform, activation_image, per_class_accuracy, row_normalised
from mnistdesk.explain.session import NO_DRAWING_ACTIVATIONS
from mnistdesk.gui.plotting import cache_axes, epoch_marker, mark_epoch

#: Ten colours told apart easily (Matplotlib's tab10), one per class in the line plots.
CLASS_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
MAX_THUMBNAILS = 200
MATRIX_TEXT_MIN_PX, MATRIX_TEXT_MAX_PX = 7, 13  # a confusion-matrix number, fitted to its row
MATRIX_SHARE = 55  # percent of the Mistakes panel's width; the gallery has the rest
THUMBNAIL_PX = 56
#: Re-scoring the history or a sweep (up to ~50 ms for cnn, more while a run trains) waits until
#: the drawing has been still this long: longer than the ~0.3 s a hand lifts between the strokes
#: of one digit, so that it never runs under the next stroke.
REFRESH_MS = 400
CAPTION = (90, 90, 90)
#: Antialiased curves 2 px wide take Qt ~7× as long to draw as 1 px ones (75 vs 11 ms for the
#: ten history curves here), and the history redraws at every weight snapshot.
CURVE_WIDTH = 1
EMPTY_MATRIX_TEXT = "The confusion matrix appears after the first epoch of training, or once a model is scored on its test digits"
EMPTY_GALLERY_TEXT = "Click a cell of the matrix to see its digits here"


def _plot(tooltip: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setToolTip(tooltip)
    plot.hideButtons()
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    cache_axes(plot)
    return plot


class ConfusionPanel(QWidget):
    """Counts per (true, predicted) class, coloured by the share of the true class, with each
    class's accuracy beside its row. Clicking a cell emits ``cell_clicked(true, predicted)``."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(EMPTY_MATRIX_TEXT)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.plot = _plot("Rows: the true digit; columns: what the model said. Colour: share of the row.\nClick a cell to see those digits, the most confident mistakes first.")
        self.plot.getPlotItem().invertY(True)  # row 0 on top; cells stretch to fill the panel
        self.plot.setLabel("left", "true")
        self.plot.setLabel("bottom", "predicted")
        self.image = pg.ImageItem(np.zeros((10, 10)), axisOrder="row-major", levels=(0, 1))
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [(255, 255, 255), (40, 90, 170)]))
        self.image.setRect(QRectF(-0.5, -0.5, 10, 10))
        self.plot.addItem(self.image)
        self.counts = [[self._text((col, row), (0.5, 0.5)) for col in range(10)] for row in range(10)]
        self.accuracies = [self._text((10.0, row), (0.0, 0.5)) for row in range(10)]
        self.header = self._text((10.0, -0.9), (0.0, 0.5))
        self.header.setText("acc.")
        self.selected = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.selected.setPen(pg.mkPen((230, 120, 40), width=2, cosmetic=True))
        self.selected.setVisible(False)
        self.plot.addItem(self.selected)
        self.plot.setXRange(-0.5, 11.6, padding=0)
        self.plot.setYRange(-1.2, 9.5, padding=0)
        self.set_class_names([str(d) for d in range(10)])
        self.plot.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)
        self.plot.getPlotItem().vb.sigResized.connect(self._fit_text)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)

    def _text(self, position: tuple[float, float], anchor: tuple[float, float]) -> pg.TextItem:
        item = pg.TextItem("", color=(30, 30, 30), anchor=anchor)
        item.setPos(*position)
        self.plot.addItem(item)
        return item

    def _fit_text(self) -> None:
        """Numbers no taller than their row: in a short dock, rows of ~11 px ran their numbers
        into each other and the bottom row's into the axis."""
        row = self.plot.getPlotItem().vb.height() / (9.5 + 1.2)  # the Y range's rows, header included
        font = QFont(self.font())
        font.setPixelSize(int(np.clip(0.8 * row, MATRIX_TEXT_MIN_PX, MATRIX_TEXT_MAX_PX)))
        for item in [item for line in self.counts for item in line] + self.accuracies + [self.header]:
            item.setFont(font)

    def set_class_names(self, names: Sequence[str]) -> None:
        ticks = [[(i, name[:6]) for i, name in enumerate(names)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)

    def show_score(self, score: SplitScore | None) -> None:
        """Show ``score``'s matrix; None empties it (the scrubber at a run's start, before any validation)."""
        if score is None:
            self.image.setImage(np.zeros((10, 10)), autoLevels=False, levels=(0, 1))
            for item in [item for row in self.counts for item in row] + self.accuracies:
                _set_text(item, "")
            self.title.setText(EMPTY_MATRIX_TEXT)
            return
        counts = score.confusion()
        shares = row_normalised(counts)
        self.image.setImage(shares, autoLevels=False, levels=(0, 1))
        for row in range(10):
            for col in range(10):
                dark = shares[row, col] > 0.55
                _set_text(self.counts[row][col], str(counts[row, col]) if counts[row, col] else "", (255, 255, 255) if dark else (30, 30, 30))
        for item, accuracy in zip(self.accuracies, per_class_accuracy(counts)):
            _set_text(item, "–" if np.isnan(accuracy) else f"{accuracy:.0%}")
        self.title.setText(f"{score.split[:1].upper()}{score.split[1:]}: {len(score.labels)} digits, accuracy {score.accuracy():.1%}")  # one line: rows get the room

    def show_selection(self, true: int, predicted: int) -> None:
        self.selected.setRect(predicted - 0.5, true - 0.5, 1, 1)
        self.selected.setVisible(True)

    def _on_scene_mouse_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        col, row = round(point.x()), round(point.y())
        if 0 <= row < 10 and 0 <= col < 10:
            self.cell_clicked.emit(row, col)


def _set_text(item: pg.TextItem, text: str, colour: tuple[int, int, int] | None = None) -> None:
    """Change a label only if it changed: a hundred labels re-laid out cost a training run's
    window ~50 ms at every epoch's end."""
    if item.toPlainText() != text:
        item.setText(text)
    if colour is not None and item.color.getRgb()[:3] != colour:
        item.setColor(colour)


class GalleryPanel(QWidget):
    """The digits of one confusion-matrix cell as thumbnails (true → predicted, confidence);
    clicking one emits ``example_clicked(index into the split)``."""

    example_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(EMPTY_GALLERY_TEXT)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.list.setGridSize(QSize(THUMBNAIL_PX + 12, THUMBNAIL_PX + 22))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setToolTip("Click a digit to open it in the canvas: see what the model sees, its bars and activations")
        self.list.itemClicked.connect(self._on_list_item_clicked)
        self.list.itemActivated.connect(self._on_list_item_clicked)
        self.class_names = [str(d) for d in range(10)]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.list, 1)

    def show_selection(self, score: SplitScore, true: int, predicted: int, indices: np.ndarray) -> None:
        names = self.class_names
        self.list.clear()
        what = "correctly read" if true == predicted else f"read as {names[predicted]}"
        shown = indices[:MAX_THUMBNAILS]
        more = f", the {len(shown)} most confident shown" if len(indices) > len(shown) else ""
        digits = "1 digit" if len(indices) == 1 else f"{len(indices)} digits"
        self.caption.setText(f"{digits} {names[true]} {what}, with the model's confidence ({score.split}{more}). Click one to open it.")
        for index in shown:
            confidence = score.probabilities[index, predicted]
            item = QListWidgetItem(digit_icon(score.images[index]), f"{confidence:.0%}")
            item.setData(Qt.ItemDataRole.UserRole, int(index))
            item.setToolTip(f"true {names[true]}, predicted {names[predicted]} with {confidence:.1%}")
            self.list.addItem(item)

    def _on_list_item_clicked(self, item: QListWidgetItem) -> None:
        self.example_clicked.emit(int(item.data(Qt.ItemDataRole.UserRole)))


def digit_icon(image: np.ndarray, size: int = THUMBNAIL_PX) -> QIcon:
    """A uint8 digit, white on black like the Model's eye, scaled up to ``size`` without blur."""
    pixels = np.ascontiguousarray(image, np.uint8)
    qimage = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.shape[1], QImage.Format.Format_Grayscale8).copy()
    return QIcon(QPixmap.fromImage(qimage.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)))


class MistakesPanel(QSplitter):
    """The confusion matrix beside the gallery of the chosen cell's digits."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.matrix, self.gallery = ConfusionPanel(), GalleryPanel()
        self.addWidget(self.matrix)
        self.addWidget(self.gallery)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.setSizes([MATRIX_SHARE, 100 - MATRIX_SHARE])  # by their size hints the gallery got a third: one and a half rows of digits
        self.setChildrenCollapsible(False)

    def set_class_names(self, names: Sequence[str]) -> None:
        self.matrix.set_class_names(names)
        self.gallery.class_names = list(names)

    def show_score(self, score: SplitScore | None) -> None:
        self.matrix.show_score(score)
        if score is None:  # the listed digits belong to a matrix no longer shown
            self.gallery.list.clear()
            self.gallery.caption.setText(EMPTY_GALLERY_TEXT)

    def show_selection(self, score: SplitScore, true: int, predicted: int, indices: np.ndarray) -> None:
        self.matrix.show_selection(true, predicted)
        self.gallery.show_selection(score, true, predicted, indices)


class _Refreshing:
    """A view whose costly refresh waits until its input has settled, and only runs while it is
    visible: ``request_refresh()`` starts the wait, ``refresh_wanted`` says when to refresh."""

    def _init_refresh(self) -> None:
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(REFRESH_MS)
        self.refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self.pending = False

    def request_refresh(self, *_ignored) -> None:
        self.pending = True
        if self.isVisible():
            self.refresh_timer.start(REFRESH_MS)

    def continue_refresh(self) -> None:
        """More of the refresh is left: go on as soon as the window has repainted."""
        self.pending = True
        if self.isVisible():
            self.refresh_timer.start(0)

    def showEvent(self, event) -> None:
        if self.pending:
            self.refresh_timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self.refresh_timer.stop()
        super().hideEvent(event)

    def _on_refresh_timer_timeout(self) -> None:
        self.pending = False
        self.refresh_wanted.emit()


class HistoryPanel(_Refreshing, QWidget):
    """The drawing's ten class probabilities at every weight snapshot of the run (x in epochs):
    watch the model change its mind."""

    refresh_wanted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._init_refresh()
        self.caption = QLabel("Train a model to watch it change its mind about your drawing")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setAutoFillBackground(True)
        self.plot = _plot("Your drawing's probability for each class at every weight snapshot of this run.\nA new drawing is re-scored with the snapshots kept so far.")
        self.plot.setLabel("bottom", "epoch")
        self.plot.setYRange(0, 1.04, padding=0)
        self.plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)]])
        # Bare curves, not PlotDataItems: ten updates at every snapshot cost a seventh as much.
        self.curves = [pg.PlotCurveItem(pen=pg.mkPen(colour, width=CURVE_WIDTH)) for colour in CLASS_COLOURS]
        for curve in self.curves:
            self.plot.addItem(curve)
        self.legend = _legend_above(self.plot, self.curves)
        self.epoch_marker = epoch_marker(self.plot)
        self.x_range: tuple[float, float] | None = None
        self.x, self.probabilities = np.zeros(0), np.zeros((0, 10))
        self.shown_epoch: float | None = None  # the scrubber's epoch (x in epochs); None: live
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)

    def set_class_names(self, names: Sequence[str]) -> None:
        _name_legend(self.legend, names)

    def mark_epoch(self, x: float | None) -> None:
        """A line at the epoch the scrubber shows (x in epochs); None: live, no line. The header
        then names the model's answer at that epoch, not the newest one."""
        mark_epoch(self.epoch_marker, x)
        self.shown_epoch = x
        self._show_caption()

    def _show_caption(self) -> None:
        x, probabilities = self.x, self.probabilities
        if not len(x):
            self.caption.setText("Train a model to watch it change its mind about your drawing")
            return
        at = len(x) - 1 if self.shown_epoch is None else max(int(np.searchsorted(x, self.shown_epoch + 1e-9)) - 1, 0)
        when = "now" if self.shown_epoch is None else f"at epoch {self.shown_epoch:g},"
        winner = int(np.argmax(probabilities[at]))
        self.caption.setText(f"{len(x)} snapshots, epoch {x[0]:.2f} to {x[-1]:.2f}: {when} {self.legend.items[winner][1].text} at {probabilities[at, winner]:.0%}")

    def show_history(self, x: np.ndarray, probabilities: np.ndarray) -> None:
        for index, curve in enumerate(self.curves):
            curve.setData(x, probabilities[:, index] if len(x) else [])
        self.x, self.probabilities = np.asarray(x, float), np.asarray(probabilities)
        self._show_caption()
        if len(x):
            # Whole epochs: the axis (and its cached picture) changes once an epoch, not at every snapshot.
            x_range = (float(np.floor(x[0])), float(max(np.ceil(x[-1]), np.floor(x[0]) + 1)))
            if x_range != self.x_range:
                self.x_range = x_range
                self.plot.setXRange(*x_range, padding=0.02)


def _legend_above(plot: pg.PlotWidget, curves: Sequence[pg.PlotDataItem]) -> pg.LegendItem:
    """A two-row legend in the plot's title row, above the data: it never hides a curve."""
    legend = pg.LegendItem(colCount=(len(curves) + 1) // 2, labelTextSize="8pt", horSpacing=6, verSpacing=-8)
    item = plot.getPlotItem()
    item.layout.removeItem(item.titleLabel)  # these plots have no title: its row holds the legend
    item.titleLabel.hide()
    item.layout.addItem(legend, 0, 1)
    for index, curve in enumerate(curves):
        legend.addItem(curve, str(index))
    return legend


def _name_legend(legend: pg.LegendItem, names: Sequence[str]) -> None:
    for (_, label), name in zip(legend.items, names):
        label.setText(name[:8])


#: Layers side by side in the Activations panel; more wrap onto further rows (a residual network's branches).
MAX_ACTIVATION_COLUMNS = 4


class ActivationsPanel(pg.GraphicsLayoutWidget):
    """Each hidden layer's output for the drawing: a conv layer's feature maps as tiles, a dense
    layer's units as a grid; dark is 0, bright the layer's strongest response. A click on a
    tile's pixel or a unit asks for its arithmetic (``unit_clicked``)."""

    unit_clicked = Signal(object)  # an arithmetic.Unit

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)
        self.setToolTip("What the hidden layers compute for your drawing: one tile per feature map (conv)\nor one pixel per unit (dense), each layer scaled to its own strongest response.")
        self.layout_key: tuple = ()
        self.images: list[pg.ImageItem] = []
        self.lut = pg.colormap.get("inferno").getLookupTable(nPts=256)
        self.placeholder = self.addLabel(NO_DRAWING_ACTIVATIONS, color=CAPTION)

    def show_activations(self, activations: list[tuple[str, np.ndarray]], why_none: str | None = None) -> None:
        """Each layer's output; with none, ``why_none`` says why (no drawing, a Keras-only model…)."""
        key = tuple((name, values.shape) for name, values in activations)
        if key != self.layout_key:
            self._build(key)
        if not key:
            self.placeholder.setText(why_none or NO_DRAWING_ACTIVATIONS, color=CAPTION)
        for image, (_, values) in zip(self.images, activations):
            picture = activation_image(values)
            top = float(np.nanmax(picture)) if np.isfinite(picture).any() else 0.0
            image.setImage(picture, autoLevels=False, levels=(0.0, top or 1.0))

    def _build(self, key: tuple) -> None:
        """New layers (another model): one view per layer, side by side; built once per model."""
        self.clear()
        self.layout_key, self.images = key, []
        if not key:
            self.placeholder = self.addLabel(NO_DRAWING_ACTIVATIONS, color=CAPTION)
            return
        columns = len(key) if len(key) <= MAX_ACTIVATION_COLUMNS else math.ceil(len(key) / math.ceil(len(key) / MAX_ACTIVATION_COLUMNS))
        for index, (name, shape) in enumerate(key):
            row, column = 2 * (index // columns), index % columns  # a deep network wraps onto more rows
            self.addLabel(f"{name} · {_shape_text(shape)}", row=row, col=column, color=CAPTION, size="8pt")  # once: a label's layout is costly
            view = self.addViewBox(row=row + 1, col=column, lockAspect=True, enableMouse=False, invertY=True)
            view.setMenuEnabled(False)
            image = pg.ImageItem(axisOrder="row-major")
            image.setLookupTable(self.lut)
            view.addItem(image)
            self.images.append(image)


    def _on_scene_mouse_clicked(self, event) -> None:
        position = event.scenePos()
        for image, (name, shape) in zip(self.images, self.layout_key):
            if image.sceneBoundingRect().contains(position):
                point = image.mapFromScene(position)
                unit = unit_at(name, shape, point.y(), point.x())
                if unit is not None:
                    self.unit_clicked.emit(unit)
                return


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"{shape[-1]} maps {shape[0]}×{shape[1]}" if len(shape) == 3 else f"{shape[0]} units"


SLIDERS = {  # name: (label, unit, slider steps per unit)
    "shift_x": ("Shift →", " px", 4),
    "shift_y": ("Shift ↓", " px", 4),
    "rotation": ("Rotate", "°", 1),
    "scale": ("Scale", "×", 100),
    "thickness": ("Stroke", " px", 10),
}


class RobustnessPanel(_Refreshing, QWidget):
    """Sliders that shift, rotate, scale and thicken the drawing's 28×28 input (not the canvas):
    the bars follow as a slider moves; the sweep plots every class's probability across the
    last-moved slider's whole range, to show where the model's answer flips."""

    transform_changed = Signal(object)  # Transform
    refresh_wanted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._init_refresh()
        grid = QGridLayout()
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        for row, (name, (label, unit, steps)) in enumerate(SLIDERS.items()):
            low, high = TRANSFORM_RANGES[name]
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(round(low * steps), round(high * steps))
            slider.setValue(round(getattr(Transform(), name) * steps))
            slider.setToolTip(f"{label.strip('→↓ ')} the model's input (the canvas is unchanged); Reset puts every slider back")
            slider.valueChanged.connect(lambda _value, name=name: self._on_slider_value_changed(name))
            value = QLabel()
            value.setMinimumWidth(48)
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(value, row, 2)
            self.sliders[name], self.values[name] = slider, value
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Put every slider back: the model sees the drawing as drawn")
        self.reset.clicked.connect(lambda: self.show_transform(Transform(), emit=True))
        self.sweep_choice = QComboBox()
        for name, (label, _, _) in SLIDERS.items():
            self.sweep_choice.addItem(label.strip("→↓ ") + (" ←→" if name == "shift_x" else " ↑↓" if name == "shift_y" else ""), name)
        self.sweep_choice.setCurrentIndex(self.sweep_choice.findData("rotation"))
        self.sweep_choice.setToolTip("Which slider's whole range the sweep plot runs over (the last one moved)")
        self.sweep_choice.currentIndexChanged.connect(self.request_refresh)
        row = QHBoxLayout()
        row.addWidget(QLabel("Sweep:"))
        row.addWidget(self.sweep_choice)
        row.addStretch(1)
        row.addWidget(self.reset)
        self.plot = _plot("Each class's probability as the chosen slider runs over its whole range, the other sliders as set.\nThe line marks the slider's position.")
        self.plot.setYRange(0, 1.04, padding=0)
        self.plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in (0, 0.5, 1.0)]])
        self.curves = [self.plot.plot([], [], pen=pg.mkPen(colour, width=CURVE_WIDTH)) for colour in CLASS_COLOURS]
        self.legend = _legend_above(self.plot, self.curves)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((60, 60, 60), style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.marker)
        self.verdict = QLabel("Draw a digit, then move a slider")
        self.verdict.setTextFormat(Qt.TextFormat.PlainText)
        self.verdict.setWordWrap(True)
        self.set_class_names([str(d) for d in range(10)])
        controls = QVBoxLayout()
        controls.addLayout(grid)
        controls.addLayout(row)
        controls.addWidget(self.verdict)
        controls.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls, 2)
        layout.addWidget(self.plot, 3)
        self._show_values()

    def set_class_names(self, names: Sequence[str]) -> None:
        self.class_names = list(names)
        _name_legend(self.legend, names)

    def transform(self) -> Transform:
        return Transform(**{name: self.sliders[name].value() / steps for name, (_, _, steps) in SLIDERS.items()})

    def sweep_name(self) -> str:
        return self.sweep_choice.currentData()

    def show_transform(self, transform: Transform, emit: bool = False) -> None:
        for name, (_, _, steps) in SLIDERS.items():
            slider = self.sliders[name]
            slider.blockSignals(True)
            slider.setValue(round(getattr(transform, name) * steps))
            slider.blockSignals(False)
        self._show_values()
        if emit:
            self.transform_changed.emit(self.transform())

    def show_sweep(self, result: tuple[np.ndarray, np.ndarray] | None) -> None:
        name = self.sweep_name()
        label, unit, _ = SLIDERS[name]
        self.plot.setLabel("bottom", f"{label.strip('→↓ ')} ({unit.strip()})")
        self.marker.setValue(getattr(self.transform(), name))
        if result is None:
            for curve in self.curves:
                curve.setData([], [])
            self.verdict.setText("Draw a digit, then move a slider")
            return
        values, probabilities = result
        for index, curve in enumerate(self.curves):
            curve.setData(values, probabilities[:, index])
        self.plot.setXRange(float(values[0]), float(values[-1]), padding=0.01)
        self.verdict.setText(_flips(values, probabilities.argmax(axis=1), getattr(self.transform(), name), self.class_names, unit))

    def _on_slider_value_changed(self, name: str) -> None:
        self._show_values()
        if self.sweep_name() != name:
            self.sweep_choice.setCurrentIndex(self.sweep_choice.findData(name))
        self.marker.setValue(getattr(self.transform(), name))
        self.transform_changed.emit(self.transform())

    def _show_values(self) -> None:
        transform = self.transform()
        for name, (_, unit, _) in SLIDERS.items():
            self.values[name].setText(f"{getattr(transform, name):+.2g}{unit}" if name != "scale" else f"{transform.scale:.2f}{unit}")


def _flips(values: np.ndarray, winners: np.ndarray, current: float, names: Sequence[str], unit: str) -> str:
    """Where, nearest the slider's position on either side, the predicted class changes."""
    here = int(np.argmin(np.abs(values - current)))
    parts = []
    for step, side in ((-1, "below"), (1, "above")):
        index = here
        while 0 <= index + step < len(values) and winners[index + step] == winners[here]:
            index += step
        if 0 <= index + step < len(values):
            parts.append(f"{names[winners[index + step]]} {side} {values[index + step]:.3g}{unit.strip()}")
    reading = f"Reads as {names[winners[here]]} here"
    return f"{reading}; becomes " + ", ".join(parts) if parts else f"{reading} across the whole range"
