"""Panels for watching training: controls, loss/accuracy curves, first-layer weights.
Items are created once and updated with ``setData``/``setImage``."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from mnistdesk.live import CurveBuffer, format_eta, tile_at, tile_slices, weight_mosaic
from mnistdesk.models import ARCHITECTURES, DEFAULT_LEARNING_RATE, DEFAULT_OPTIMIZER, OPTIMIZERS

DATASET_LABELS = {
    "sample": "Bundled sample (5,000 digits, offline)",
    "pen": "Real pen drawings (7,494 by 30 people, offline)",
    "sample+pen": "Sample + pen drawings (12,494, offline)",
    "mnist": "MNIST (70,000, download 11 MB)",
    "fashion_mnist": "Fashion-MNIST (70,000, download 30 MB)",
}
ARCHITECTURE_TIPS = {
    "lean": "lean: three small convolutions, 29k parameters — quick on a laptop, as accurate as cnn",
    "cnn": "cnn: the classic Keras MNIST CNN, 3.2M parameters — slower, >99% on full MNIST",
    "dense": "dense: one hidden layer of 512 units — the weight tiles look like blurry digits",
}
TRAIN_COLOURS = {"loss": (200, 80, 40), "accuracy": (40, 110, 190)}


class TrainPanel(QWidget):
    """Choices for a run, Train / Pause / Stop, and a progress bar with epoch, speed and ETA."""

    train_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()
    learning_rate_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.architecture = QComboBox()
        for name in ARCHITECTURES:
            self.architecture.addItem(name, name)
            self.architecture.setItemData(self.architecture.count() - 1, ARCHITECTURE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.architecture.setToolTip("The network to train (a fresh one each time you press Train)")
        self.dataset = QComboBox()
        for key, label in DATASET_LABELS.items():
            self.dataset.addItem(label, key)
        self.dataset.setToolTip(
            "Pen drawings: real handwriting by 30 people, drawn as on this canvas; tested on 8 writers never trained on.\n"
            "MNIST and Fashion-MNIST are downloaded once and cached in ~/.keras/datasets"
        )
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(5)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(128)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(1e-5, 1.0)
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate.setToolTip("Learning rate; change it while training and it applies from the next batch")
        self.augment = QCheckBox("Augment (rotate, shift, zoom, stroke width)")
        self.augment.setToolTip("Random small changes to each training digit, every epoch: slower to fit, better on drawings")
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train a fresh model with these settings (Ctrl+T)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause between batches; press again to resume (Ctrl+P)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the model trained so far is kept (Ctrl+.)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        self.progress.setValue(0)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Model", self.architecture)
        form.addRow("Data", self.dataset)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("", self.augment)
        buttons = QHBoxLayout()
        for button in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        layout.addStretch(1)

        self.architecture.currentIndexChanged.connect(self._on_architecture_changed)
        self.optimizer.currentTextChanged.connect(self._on_optimizer_changed)
        self.train_button.clicked.connect(self.train_clicked)
        self.pause_button.clicked.connect(self.pause_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.learning_rate.valueChanged.connect(self.learning_rate_changed)
        self._on_architecture_changed()
        self.set_running(False)

    def _on_architecture_changed(self) -> None:
        self.optimizer.setCurrentText(DEFAULT_OPTIMIZER[self.architecture.currentData()])
        self._on_optimizer_changed(self.optimizer.currentText())

    def _on_optimizer_changed(self, name: str) -> None:
        self.learning_rate.setValue(DEFAULT_LEARNING_RATE[name])

    def set_running(self, running: bool, paused: bool = False) -> None:
        for widget in (self.architecture, self.dataset, self.epochs, self.batch_size, self.optimizer, self.augment, self.train_button):
            widget.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")

    def show_status(self, text: str, busy: bool = False) -> None:
        self.progress.setRange(0, 0 if busy else 1000)
        if self.progress.value() < 0:  # Qt hides the text of a bar that has no value
            self.progress.setValue(0)
        self.progress.setFormat(text)

    def show_download(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * done / total))
            self.progress.setFormat(f"Downloading… {done / 1e6:.1f} of {total / 1e6:.1f} MB (Stop cancels)")
        else:
            self.show_status(f"Downloading… {done / 1e6:.1f} MB (Stop cancels)", busy=True)

    def show_batch(self, info: dict) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * info["progress"] / info["epochs"]))
        self.progress.setFormat(f"Epoch {info['epoch']}/{info['epochs']} · batch {info['batch']}/{info['steps']} · ETA {format_eta(info['eta_s'])}")
        self.detail.setText(f"{info['samples_per_s']:,.0f} samples/s · loss {info.get('loss', float('nan')):.4f} · accuracy {info.get('accuracy', float('nan')):.1%}")


class CurvesPanel(pg.GraphicsLayoutWidget):
    """Loss and accuracy against (fractional) epochs: raw per-batch values faint, smoothed bold,
    validation as markers at each epoch's end. Memory stays bounded on long runs.

    Data arrives at ~25 Hz but is drawn at most every ``REDRAW_MS``, and the axes' ranges move
    only when the data leaves them: on two CPU cores every millisecond spent repainting plots
    (tick labels above all) is taken from training.
    """

    REDRAW_MS = 150

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("Training loss and accuracy per batch (faint: raw, bold: smoothed);\nmarkers: validation on the test split after each epoch")
        self.buffers = {key: CurveBuffer() for key in ("loss", "accuracy")}
        self.validation: dict[str, tuple[list, list]] = {}
        self.plots, self.raw, self.smooth, self.markers = {}, {}, {}, {}
        for col, key in enumerate(("loss", "accuracy")):
            plot = self.addPlot(row=0, col=col, title=key)
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.disableAutoRange()
            plot.addLegend(offset=(-10, 10) if key == "loss" else (-10, -10), labelTextSize="8pt")
            colour = TRAIN_COLOURS[key]
            self.raw[key] = plot.plot(pen=pg.mkPen((*colour, 60), width=1), antialias=False)
            self.smooth[key] = plot.plot(pen=pg.mkPen(colour, width=2), name="train (smoothed)", antialias=False)
            self.markers[key] = plot.plot(pen=None, symbol="o", symbolSize=8, symbolBrush=(30, 30, 30), name="validation")
            self.plots[key] = plot
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setSingleShot(True)
        self.redraw_timer.setInterval(self.REDRAW_MS)
        self.redraw_timer.timeout.connect(self._on_redraw_timer_timeout)
        self.reset(epochs=1)

    def reset(self, epochs: int) -> None:
        """Empty plots for a run of ``epochs`` epochs."""
        self.redraw_timer.stop()
        self.epochs = epochs
        self.top_loss = 0.0
        for key in self.buffers:
            self.buffers[key].clear()
            self.validation[key] = ([], [])
            for item in (self.raw[key], self.smooth[key], self.markers[key]):
                item.setData([], [])
            self.plots[key].setXRange(0, epochs, padding=0.02)
        self.plots["accuracy"].setYRange(0, 1, padding=0.02)
        self.plots["loss"].setYRange(0, 1, padding=0.02)

    def add_batch(self, info: dict) -> None:
        for key in self.buffers:
            if key in info:
                self.buffers[key].append(info["progress"], info[key])
        if not self.redraw_timer.isActive():
            self.redraw_timer.start()

    def add_epoch(self, info: dict) -> None:
        for key in self.buffers:
            if f"val_{key}" in info:
                xs, ys = self.validation[key]
                xs.append(float(info.get("progress", info["epoch"])))
                ys.append(info[f"val_{key}"])
                self.markers[key].setData(xs, ys)
        self._on_redraw_timer_timeout()

    def flush(self) -> None:
        """Draw whatever is pending now (e.g. when a run ends)."""
        if self.redraw_timer.isActive():
            self.redraw_timer.stop()
            self._on_redraw_timer_timeout()

    def _on_redraw_timer_timeout(self) -> None:
        for key, buffer in self.buffers.items():
            x, y = buffer.data()
            self.raw[key].setData(x, y)
            self.smooth[key].setData(x, buffer.smoothed())
        x, losses = self.buffers["loss"].data()
        if len(losses):
            highest = max(float(np.nanmax(losses)), max(self.validation["loss"][1], default=0.0))
            if highest > self.top_loss or highest < self.top_loss / 3:  # rescale rarely
                self.top_loss = highest
                self.plots["loss"].setYRange(0, highest * 1.05, padding=0)
            if x[-1] > self.epochs:
                self.epochs = int(np.ceil(x[-1]))
                for plot in self.plots.values():
                    plot.setXRange(0, self.epochs, padding=0.02)


class WeightsPanel(pg.GraphicsLayoutWidget):
    """The first layer's weights as tiles, blue < 0 < red, symmetric about zero.
    Hover a tile to see which unit or filter it is and its range."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("First-layer weights: one tile per unit (dense) or filter (conv). Blue negative, red positive.")
        self.view = self.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem()
        self.image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        self.view.addItem(self.image)
        self.caption = pg.LabelItem("Weights appear when training starts", color=(90, 90, 90))
        self.addItem(self.caption, row=1, col=0)
        self.layout_info: tuple | None = None
        self.tiles: np.ndarray | None = None
        self.kind = "unit"
        self.hover_text = ""
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    def show_kernel(self, kernel: np.ndarray | None) -> None:
        if kernel is None:
            return
        try:
            mosaic, tile, grid, count = weight_mosaic(np.asarray(kernel))
        except ValueError:  # a model from elsewhere whose first layer is no image (e.g. 1 input)
            self.layout_info = self.tiles = None
            self.image.clear()
            self.caption.setText(f"first layer: {np.shape(kernel)} weights, not drawable as images")
            return
        limit = float(np.nanmax(np.abs(mosaic))) or 1.0
        self.kind = "unit" if kernel.ndim == 2 else "filter"
        self.layout_info = (tile, grid, count)
        self.tiles = mosaic
        self.image.setImage(np.nan_to_num(mosaic, nan=0.0), autoLevels=False, levels=(-limit, limit))
        self.caption.setText(f"first layer: {count} {self.kind}s of {tile[0]}×{tile[1]} · colour scale ±{limit:.3g}")

    def _on_scene_mouse_moved(self, position: QPointF) -> None:
        if self.layout_info is None or not self.view.sceneBoundingRect().contains(position):
            return
        point = self.view.mapSceneToView(position)
        tile, grid, count = self.layout_info
        index = tile_at(point.y(), point.x(), tile, grid, count)
        if index is None:
            self.hover_text = ""
            QToolTip.hideText()
            return
        values = self.tiles[tile_slices(index, tile, grid[1])]
        text = f"{self.kind} {index}: min {values.min():.3f}, max {values.max():.3f}"
        self.hover_text = text
        QToolTip.showText(self.mapToGlobal(self.mapFromScene(position)), text, self)
