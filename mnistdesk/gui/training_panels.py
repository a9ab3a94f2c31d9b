"""Panels for watching training: controls, loss/accuracy curves, first-layer weights.
Items are created once and updated with ``setData``/``setImage``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QStyle, QStyleOptionComboBox, QStylePainter, QToolButton, QToolTip, QVBoxLayout, QWidget

from mnistdesk.gui.plotting import cache_axes, epoch_marker, mark_epoch
from mnistdesk.net.live import LIVE_REFRESH_S, CurveBuffer, format_eta, log_ticks, tile_at, tile_slices, weight_mosaic
from mnistdesk.net.models import ARCHITECTURES, DEFAULT_LEARNING_RATE, DEFAULT_OPTIMIZER, DEFAULT_VALIDATION_FRACTION, OPTIMIZERS

DATASET_LABELS = {
    "sample": "Bundled sample (5,000 digits, offline)",
    "pen": "Real pen drawings (7,494 by 30 people, offline)",
    "sample+pen": "Sample + pen drawings (offline)",
    "mnist": "MNIST (70,000, download 11 MB)",
    "fashion_mnist": "Fashion-MNIST (70,000, download 30 MB)",
}
#: What the closed Data box shows: its list, which opens wider, says the rest.
DATASET_NAMES = {"sample": "Bundled sample", "pen": "Pen drawings", "sample+pen": "Sample + pen", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
#: An item's short name, shown by a closed :class:`ElidingComboBox` instead of its text.
SHORT_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
#: The Network box's data for "Custom…" and the prefix of a custom network's.
EDIT_NETWORK = "edit…"
CUSTOM_PREFIX = "custom:"
ARCHITECTURE_TIPS = {
    "lean": "lean: three small convolutions, 44k parameters — quick on a laptop, as accurate as cnn",
    "cnn": "cnn: the classic Keras MNIST CNN, 3.2M parameters — slower, >99% on full MNIST",
    "dense": "dense: one hidden layer of 512 units — the weight tiles look like blurry digits",
}
TRAIN_COLOURS = {"loss": (200, 80, 40), "accuracy": (40, 110, 190)}
VALIDATION_COLOUR = (30, 30, 30)
LEGEND_GREY = (110, 110, 110)
DATASET_TIP = (
    "Pen drawings: real handwriting by 30 people, drawn as on this canvas; tested on 8 writers never trained on.\n"
    "MNIST and Fashion-MNIST are downloaded once and cached in ~/.keras/datasets"
)


class DefaultableSpinBox(QDoubleSpinBox):
    """A number box whose minimum means "Default (…)": clearing the text, or typing "default",
    goes back to it (stepping down with the adaptive steps never reached 0, so only typing 0 did)."""

    def validate(self, text: str, position: int) -> object:
        if not text.strip() or "default".startswith(text.strip().lower()) or text == self.specialValueText():
            return QValidator.State.Acceptable, text, position
        return super().validate(text, position)

    def valueFromText(self, text: str) -> float:
        if not text.strip() or "default".startswith(text.strip().lower()) or text == self.specialValueText():
            return self.minimum()
        return super().valueFromText(text)


class ElidingComboBox(QComboBox):
    """A combo box that shows its item's short name (else its text), ending in "…" when that is
    still too long for the box (Qt cut a long text off mid-letter at the box's edge, as the Data
    box's at 1024 px wide). Its list, as wide as its longest item, shows the whole texts."""

    def shown_text(self) -> str:
        """What the closed box shows."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self)
        name = self.currentData(SHORT_NAME_ROLE) or self.currentText()
        return self.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, field.width() - 4)  # the label's margins

    def paintEvent(self, event) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class TrainPanel(QWidget):
    """Choices for a run, Train new / Continue / Pause / Stop, and progress with epoch, speed and ETA.

    Optimizer and learning rate offer "Default (…)", so picking a network never silently changes
    a choice the user made."""

    train_clicked = Signal()
    continue_clicked = Signal()
    pause_clicked = Signal()
    stop_clicked = Signal()
    learning_rate_changed = Signal(float)
    tensorboard_toggled = Signal(bool)
    edit_network_requested = Signal()  # Network → Custom…, or the Edit button

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.architecture = ElidingComboBox()
        for name in ARCHITECTURES:
            self.architecture.addItem(name, name)
            self.architecture.setItemData(self.architecture.count() - 1, ARCHITECTURE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.architecture.addItem("Custom…", EDIT_NETWORK)
        self.architecture.setItemData(self.architecture.count() - 1, "Build your own network: add layers, change widths and activations (Ctrl+Shift+N)", Qt.ItemDataRole.ToolTipRole)
        self.architecture.setToolTip("The network that Train new builds (Continue keeps training the model in use)")
        self.custom_networks: dict[str, dict] = {}  # by name: the networks built in the editor
        self._chosen_index = 0  # the network chosen before "Custom…" was picked
        self.edit_network = QToolButton()
        self.edit_network.setText("Edit…")
        self.edit_network.setToolTip("Open the network editor on this network: change its layers, or start from a lesson's network (Ctrl+Shift+N)")
        self.edit_network.clicked.connect(self.edit_network_requested)
        self.dataset = ElidingComboBox()
        for key, label in DATASET_LABELS.items():
            self.dataset.addItem(label, key)
            self.dataset.setItemData(self.dataset.count() - 1, DATASET_NAMES[key], SHORT_NAME_ROLE)
        self.dataset.currentIndexChanged.connect(self._on_dataset_current_index_changed)
        self._on_dataset_current_index_changed(self.dataset.currentIndex())
        for box in (self.architecture, self.dataset):  # long item texts must not widen the column
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        self.architecture.setMinimumContentsLength(6)  # it shares its row with Edit…
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(5)
        self.epochs.setToolTip("Epochs for Train new; Continue trains this many more")
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(128)
        self.optimizer = QComboBox()
        self.optimizer.addItem("", None)  # "Default (…)": its text follows the network
        for name in OPTIMIZERS:
            self.optimizer.addItem(name, name)
        self.optimizer.setToolTip("Default: the network's usual optimizer (rmsprop for dense, adam otherwise)")
        self.learning_rate = DefaultableSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.0, 1.0)  # 0 shows as "Default (…)"
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.learning_rate.setToolTip("Learning rate; change it while training and it applies from the next batch.\nClear the box (or type default) to go back to the default")
        self.validation = QSpinBox()
        self.validation.setRange(0, 50)
        self.validation.setValue(round(DEFAULT_VALIDATION_FRACTION * 100))
        self.validation.setSuffix("% held out")
        self.validation.setSpecialValueText("None")
        self.validation.setToolTip(
            "Held out of training (stratified, always the same digits) to validate after each epoch.\n"
            "The test split is scored once, when the run ends."
        )
        self.augment = QCheckBox("Augment training digits")
        self.augment.setToolTip("Random small rotations, slants, shifts, zooms, a gentle wobble and stroke widths, every epoch: slower to fit, better on drawings")
        self.tensorboard = QCheckBox("Write TensorBoard logs")
        self.tensorboard.setToolTip("Epoch metrics and first-layer weight images, for `tensorboard --logdir FOLDER`")
        self.train_button = QPushButton("Train new")
        self.train_button.setToolTip("Train a fresh network with these settings (Ctrl+T)")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Train the model in use for more epochs; its curves carry on (Ctrl+Shift+T)")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause between batches; press again to resume (Ctrl+P)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; the model trained so far is kept (Ctrl+.)")
        self.status = QLabel("Ready")
        self.status.setWordWrap(True)  # a long message wraps; it never widens the column
        self.status.setToolTip("What training is doing")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)  # text over the fill is unreadable where they meet: it sits above
        self.progress.setMaximumHeight(10)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setToolTip("Training loss and accuracy over the latest batches, and training digits per second")
        for widget in (self.status, self.progress, self.detail):  # opaque: a change repaints it, not the panel and dock behind it
            widget.setAutoFillBackground(True)
        self.last_batch: dict | None = None
        self.paused = False

        form = QFormLayout()
        network_row = QHBoxLayout()
        network_row.addWidget(self.architecture, 1)
        network_row.addWidget(self.edit_network)
        form.addRow("Network", network_row)
        form.addRow("Data", self.dataset)
        form.addRow("Validation", self.validation)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Optimizer", self.optimizer)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("", self.augment)
        form.addRow("", self.tensorboard)
        buttons = QGridLayout()
        for index, button in enumerate((self.train_button, self.continue_button, self.pause_button, self.stop_button)):
            buttons.addWidget(button, index // 2, index % 2)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        layout.addStretch(1)

        self.architecture.currentIndexChanged.connect(self._on_architecture_current_index_changed)
        self.optimizer.currentIndexChanged.connect(self._show_defaults)
        self.train_button.clicked.connect(self.train_clicked)
        self.continue_button.clicked.connect(self.continue_clicked)
        self.pause_button.clicked.connect(self.pause_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.learning_rate.valueChanged.connect(self._on_learning_rate_value_changed)
        self.tensorboard.toggled.connect(self.tensorboard_toggled)
        self._show_defaults()
        self.set_running(False)

    def add_dataset_file(self, path: str) -> None:
        """Offer ``path`` as a dataset, named by its file (the whole path in its tooltip), and pick it."""
        index = self.dataset.findData(path)
        if index < 0:
            index = self.dataset.count() - 1  # before "Your own .npz…"
            self.dataset.insertItem(index, Path(path).name, path)
            self.dataset.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        self.dataset.setCurrentIndex(index)

    def _on_dataset_current_index_changed(self, index: int) -> None:
        path = self.dataset.itemData(index, Qt.ItemDataRole.ToolTipRole)  # set for a dataset file only
        self.dataset.setToolTip(path or f"{self.dataset.itemText(index)}\n{DATASET_TIP}")  # the whole name the box may shorten

    def chosen_optimizer(self) -> str | None:
        """The optimizer picked, or None for the network's default."""
        return self.optimizer.currentData()

    def chosen_learning_rate(self) -> float | None:
        """The learning rate typed, or None for the optimizer's default."""
        return self.learning_rate.value() or None

    def validation_fraction(self) -> float:
        return self.validation.value() / 100

    def effective_learning_rate(self) -> float:
        return self.chosen_learning_rate() or self._default_learning_rate()

    def _default_learning_rate(self) -> float:
        """A custom network's own rate (with its own optimizer), else the optimizer's usual one."""
        network = self.chosen_network()
        own_rate = network.get("learning_rate") if network and not self.chosen_optimizer() else None
        return own_rate or DEFAULT_LEARNING_RATE[self._effective_optimizer()]

    def _effective_optimizer(self) -> str:
        return self.chosen_optimizer() or self._network_optimizer()

    def _network_optimizer(self) -> str:
        network = self.chosen_network()
        return network["optimizer"] if network else DEFAULT_OPTIMIZER.get(self.network_name(), "adam")

    def _show_defaults(self) -> None:
        self.optimizer.setItemText(0, f"Default ({self._network_optimizer()})")
        self.learning_rate.setSpecialValueText(f"Default ({self._default_learning_rate():g})")

    # -- the network -----------------------------------------------------------------------------
    def network_name(self) -> str:
        """The chosen network's name: a built-in architecture or a custom network's."""
        data = self.architecture.itemData(self._chosen_index)
        return data.removeprefix(CUSTOM_PREFIX)

    def chosen_network(self) -> dict | None:
        """The chosen custom network's description (None for a built-in one)."""
        data = self.architecture.itemData(self._chosen_index)
        return self.custom_networks.get(data.removeprefix(CUSTOM_PREFIX)) if data.startswith(CUSTOM_PREFIX) else None

    def add_custom_network(self, description: dict, select: bool = True) -> None:
        """Offer a network built in the editor (replacing one of the same name), and choose it."""
        name = description["name"]
        self.custom_networks[name] = description
        index = self.architecture.findData(CUSTOM_PREFIX + name)
        if index < 0:
            index = self.architecture.count() - 1  # before "Custom…"
            self.architecture.insertItem(index, name, CUSTOM_PREFIX + name)
        self.architecture.setItemData(index, f"{name}: your network ({len(description['layers'])} layers; Edit… changes it)", Qt.ItemDataRole.ToolTipRole)
        if select:
            self.architecture.setCurrentIndex(index)
        self._show_defaults()

    def choose_network(self, name: str) -> bool:
        """Choose a built-in or custom network by name; False if there is none by that name."""
        index = self.architecture.findData(name if name in ARCHITECTURES else CUSTOM_PREFIX + name)
        if index >= 0:
            self.architecture.setCurrentIndex(index)
        return index >= 0

    def _on_architecture_current_index_changed(self, index: int) -> None:
        if self.architecture.itemData(index) == EDIT_NETWORK:
            self.architecture.blockSignals(True)
            self.architecture.setCurrentIndex(self._chosen_index)  # stays as it was until the editor gives a network
            self.architecture.blockSignals(False)
            self.edit_network_requested.emit()
            return
        self._chosen_index = index
        self._show_defaults()

    def _on_learning_rate_value_changed(self) -> None:
        self.learning_rate_changed.emit(self.effective_learning_rate())

    def set_running(self, running: bool, paused: bool = False) -> None:
        for widget in (self.architecture, self.edit_network, self.dataset, self.validation, self.epochs, self.batch_size, self.optimizer, self.augment, self.tensorboard, self.train_button, self.continue_button):
            widget.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.paused = running and paused
        if not running:
            self.last_batch = None
        elif self.last_batch is not None:
            self.show_batch(self.last_batch)

    def show_status(self, text: str, busy: bool = False, done: float | None = None) -> None:
        """``text`` over the bar; ``done`` (0-1) sets the bar, which a busy phase left empty."""
        self.progress.setRange(0, 0 if busy else 1000)
        if done is not None:
            self.progress.setValue(round(1000 * done))
        self.status.setText(text)

    def show_idle(self, text: str) -> None:
        """No run to report: another model is in use, so the last run's figures go."""
        self.show_status(text, done=0)
        self.detail.setText("")

    def show_download(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * done / total))
            self.status.setText(f"Downloading… {done / 1e6:.1f} of {total / 1e6:.1f} MB (Stop cancels)")
        else:
            self.show_status(f"Downloading… {done / 1e6:.1f} MB (Stop cancels)", busy=True)

    def show_batch(self, info: dict) -> None:
        self.last_batch = info
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * info["progress"] / info["epochs"]))
        step = f"{info['epoch']}/{info['epochs']} · batch {info['batch']}/{info['steps']}"
        # Each text fits one line of the column at 1024 px wide: a wrapped line moved the controls above.
        self.status.setText(f"Paused at epoch {step}" if self.paused else f"Epoch {step} · ETA {format_eta(info['eta_s'])}")
        self.detail.setText(f"loss {info.get('loss', float('nan')):.4f} · accuracy {info.get('accuracy', float('nan')):.1%} · {info['samples_per_s']:,.0f}/s")


class CurvesPanel(pg.GraphicsLayoutWidget):
    """Loss and accuracy against (fractional) epochs: raw per-batch values faint, smoothed bold,
    validation as markers at each epoch's end; the legend sits above the plots, off the data.
    Memory stays bounded on long runs.

    Data arrives ten times a second but is drawn every ``REDRAW_MS``, and the axes' ranges move
    only when the data leaves them: on two CPU cores every millisecond spent repainting plots
    (tick labels above all) is taken from training.
    """

    REDRAW_MS = round(LIVE_REFRESH_S * 1000)
    #: Each point is already a mean over the batches since the previous reading (10 a second);
    #: heavier smoothing made the bold line trail the data by most of an epoch.
    SMOOTHING = 0.6
    #: The loss axis follows the bulk of the data: a short spike (a learning-rate mistake) is
    #: drawn but does not squash the curve for the rest of the run.
    LOSS_PERCENTILE = 98
    #: A saved history is drawn with at most this many points a curve, evenly spread (more than
    #: a plot has pixels across): point by point, a history of 1.9 M epochs froze the window 132 s.
    MAX_HISTORY_POINTS = 2000
    #: Validation dots kept on a plot; past it every other one goes, the newest kept (a dot per
    #: epoch of a long run would draw one solid bar, and cost a symbol each).
    MAX_DOTS = 100

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip(
            "Training loss and accuracy per batch (faint: raw, bold: smoothed);\n"
            "dots: validation on the held-out split after each epoch. View → Log-scale loss"
        )
        self.buffers = {key: CurveBuffer(smoothing=self.SMOOTHING) for key in ("loss", "accuracy")}
        self.validation: dict[str, tuple[list, list]] = {}
        self.plots, self.raw, self.smooth, self.markers, self.epoch_markers = {}, {}, {}, {}, {}
        self.log_loss = False
        self.legend = pg.LegendItem(colCount=3, labelTextSize="8pt", verSpacing=-6)
        self.addItem(self.legend, row=0, col=0, colspan=2)
        self.ci.layout.setRowMaximumHeight(0, 26)
        for col, key in enumerate(("loss", "accuracy")):
            plot = self.addPlot(row=1, col=col)
            plot.setLabel("left", key)
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.disableAutoRange()
            cache_axes(plot)
            colour = TRAIN_COLOURS[key]
            # Bare curves, not PlotDataItems: a seventh of the cost of an update, several a second.
            self.raw[key] = pg.PlotCurveItem(pen=pg.mkPen((*colour, 60), width=1), antialias=False)
            self.smooth[key] = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2), antialias=False)
            plot.addItem(self.raw[key])
            plot.addItem(self.smooth[key])
            self.markers[key] = plot.plot(pen=None, symbol="o", symbolSize=7, symbolBrush=VALIDATION_COLOUR, symbolPen=pg.mkPen(VALIDATION_COLOUR))
            self.epoch_markers[key] = epoch_marker(plot)
            self.plots[key] = plot
        self.plots["accuracy"].getViewBox().sigResized.connect(self._fit_markers)
        self.plots["accuracy"].getAxis("left").setTicks([[(v / 5, f"{v / 5:.1f}") for v in range(6)]])
        for name, item in (
            ("train, per batch", pg.PlotDataItem(pen=pg.mkPen((*LEGEND_GREY, 90), width=1))),
            ("train, smoothed", pg.PlotDataItem(pen=pg.mkPen(LEGEND_GREY, width=2))),
            ("validation", self.markers["loss"]),
        ):
            self.legend.addItem(item, name)
        self.redraw_timer = QTimer(self)
        self.redraw_timer.setSingleShot(True)
        self.redraw_timer.setInterval(self.REDRAW_MS)
        self.redraw_timer.timeout.connect(self._on_redraw_timer_timeout)
        self.reset(epochs=1)

    def reset(self, epochs: int) -> None:
        """Empty plots for a run of ``epochs`` epochs."""
        self.redraw_timer.stop()
        self.top_loss = 0.0
        for key in self.buffers:
            self.buffers[key].clear()
            self.validation[key] = ([], [])
            for item in (self.raw[key], self.smooth[key], self.markers[key]):
                item.setData([], [])
        self.plots["accuracy"].setYRange(0, 1.1, padding=0)  # room for dots at 100% and the "1.0" label
        self._set_loss_range(1.0)
        self.extend_to(epochs, shrink=True)

    def extend_to(self, epochs: float, shrink: bool = False) -> None:
        """Make room for ``epochs`` epochs in all (a continued run carries the curves on)."""
        self.epochs = epochs if shrink else max(epochs, getattr(self, "epochs", 0))
        for plot in self.plots.values():
            plot.setXRange(0, self.epochs, padding=0.02)
        self._fit_markers()

    def _fit_markers(self) -> None:
        """Validation dots no wider than the room between two epochs' dots: at 7 px, a
        60-epoch history drew one solid black bar along each plot."""
        room = self.plots["accuracy"].getViewBox().width() / max(min(self.epochs, self.MAX_DOTS), 1)
        size = int(np.clip(0.7 * room, 3, 7))
        for marker in self.markers.values():
            marker.setSymbolSize(size)

    def show_history(self, history: dict | None) -> None:
        """A saved model's per-epoch history, drawn as a run would have left it, in one pass
        however long it is: a long one thinned to :attr:`MAX_HISTORY_POINTS` epochs evenly spread."""
        history = history if isinstance(history, dict) else {}
        epochs = len(history["loss"]) if isinstance(history.get("loss"), list) else 0
        self.reset(max(epochs, 1))
        for key, buffer in self.buffers.items():
            for x, value in zip(*_epoch_values(history.get(key), self.MAX_HISTORY_POINTS)):
                buffer.append(x, value)
            xs, ys = _epoch_values(history.get(f"val_{key}"), self.MAX_DOTS)
            self.validation[key] = (list(xs), list(ys))
            self.markers[key].setData(xs, ys)
        self._on_redraw_timer_timeout()

    def cut_at(self, end: float) -> None:
        """Forget what was drawn after ``end`` epochs: an earlier epoch became the model in use,
        and a continued run carries on from it."""
        for key, buffer in self.buffers.items():
            x, y = buffer.data()
            kept = x <= end + 1e-9
            x, y = x[kept], y[kept]  # copies: the buffer is refilled from them
            buffer.clear()
            for at, value in zip(x, y):
                buffer.append(at, value)
            xs, ys = self.validation[key]
            kept_dots = [index for index, at in enumerate(xs) if at <= end + 1e-9]
            self.validation[key] = ([xs[index] for index in kept_dots], [ys[index] for index in kept_dots])
            self.markers[key].setData(*self.validation[key])
        self.extend_to(max(end, 1), shrink=True)
        self._on_redraw_timer_timeout()

    def mark_epoch(self, x: float | None) -> None:
        """A line at the epoch the scrubber shows (x in epochs); None: live, no line."""
        for marker in self.epoch_markers.values():
            mark_epoch(marker, x)

    def set_log_loss(self, log: bool) -> None:
        self.log_loss = log
        self.plots["loss"].setLogMode(y=log)
        self.top_loss = 0.0
        self._on_redraw_timer_timeout()

    def add_batch(self, info: dict) -> None:
        for key in self.buffers:
            if key in info and np.isfinite(info[key]):
                self.buffers[key].append(info["progress"], info[key])
        if not self.redraw_timer.isActive():
            self.redraw_timer.start()

    def add_epoch(self, info: dict) -> None:
        for key in self.buffers:
            if f"val_{key}" in info:
                xs, ys = self.validation[key]
                xs.append(float(info.get("progress", info["epoch"])))
                ys.append(info[f"val_{key}"])
                if len(xs) > self.MAX_DOTS:
                    self.validation[key] = xs, ys = xs[:-1:2] + xs[-1:], ys[:-1:2] + ys[-1:]
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
            self.raw[key].setData(x, self._drawn(key, y))
            self.smooth[key].setData(x, self._drawn(key, buffer.smoothed()))
        x, losses = self.buffers["loss"].data()
        if len(losses):
            bulk = np.percentile(losses, self.LOSS_PERCENTILE) if len(losses) >= 100 else np.max(losses)  # a few points: all of them
            top = max(float(bulk), max(self.validation["loss"][1], default=0.0))
            low = min(float(np.min(losses)), min(self.validation["loss"][1], default=np.inf))
            # rescale rarely (tick labels are costly), but a log axis keeps its lowest points in sight
            if not (self.top_loss / 1.25 <= top <= self.top_loss) or (self.log_loss and low < self.bottom_loss):
                self._set_loss_range(top * 1.1, bottom=low / 1.1)
            if x[-1] > self.epochs:
                self.extend_to(int(np.ceil(x[-1])))

    def _drawn(self, key: str, values: np.ndarray) -> np.ndarray:
        """Values as the plot draws them: a bare curve does not follow the plot's log mode."""
        return np.log10(np.maximum(values, 1e-12)) if key == "loss" and self.log_loss else values

    def _set_loss_range(self, top: float, bottom: float = 0.0) -> None:
        self.top_loss = top
        axis = self.plots["loss"].getAxis("left")
        if self.log_loss:
            self.bottom_loss, top = max(min(bottom, top / 10), 1e-4), max(top, 1e-3)  # a decade at least
            self.plots["loss"].setYRange(np.log10(self.bottom_loss), np.log10(top), padding=0.02)
            axis.setTicks(log_ticks(self.bottom_loss, top))
        else:
            self.bottom_loss = 0.0
            self.plots["loss"].setYRange(0, top, padding=0)
            axis.setTicks(None)


def _epoch_values(values: object, most: int) -> tuple[np.ndarray, np.ndarray]:
    """A saved history's series as x (the epoch each value ends) and its finite values, at most
    ``most`` of them evenly spread, the first and the last kept; only those are read."""
    if not isinstance(values, list) or not values:
        return np.zeros(0), np.zeros(0)
    picked = np.unique(np.linspace(0, len(values) - 1, min(len(values), most)).round().astype(int))
    try:
        y = np.array([values[index] for index in picked], dtype=float)
    except (TypeError, ValueError):  # a hand-edited file's series that are not numbers
        return np.zeros(0), np.zeros(0)
    finite = np.isfinite(y)
    return picked[finite] + 1.0, y[finite]


class WeightsPanel(pg.GraphicsLayoutWidget):
    """The first layer's weights as tiles, blue < 0 < red, symmetric about zero.
    Hover a tile to see which unit or filter it is and its range."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("First-layer weights: one tile per unit (dense) or filter (conv). Blue negative, red positive.")
        self.view = self.addViewBox(lockAspect=True, enableMouse=False, invertY=True)
        self.view.setMenuEnabled(False)
        self.view.setBackgroundColor((150, 150, 150))  # the gaps between tiles, unlike any weight's colour
        self.image = pg.ImageItem()
        self.image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        self.view.addItem(self.image)
        self.caption = pg.LabelItem("Weights appear when training starts", color=(90, 90, 90))
        self.addItem(self.caption, row=1, col=0)
        self.layout_info: tuple | None = None
        self.tiles: np.ndarray | None = None
        self.reference: np.ndarray | None = None  # the run's initial kernel
        self.kernel: np.ndarray | None = None  # the kernel on show
        self.live_kernel: np.ndarray | None = None  # the newest, shown once the scrubber is live
        self.epoch: int | None = None  # the scrubber's epoch on show; None: live
        self.show_change = False
        self.kind = "unit"
        self.hover_text = ""
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    def set_reference(self, kernel: np.ndarray | None) -> None:
        """The kernel the run starts from, for showing each weight's change since then."""
        self.reference = None if kernel is None else np.array(kernel)

    def set_show_change(self, show_change: bool) -> None:
        """Show each weight's change since the run started instead of the weight itself: a
        dense unit's random start otherwise hides the digit-like pattern it learns."""
        self.show_change = show_change
        if self.kernel is not None:
            self._draw(self.kernel)

    def show_kernel(self, kernel: np.ndarray | None) -> None:
        """The newest kernel (training, or the model in use); shown unless the scrubber shows an
        earlier epoch. None (a model run through Keras, or without a dense or convolution layer)
        clears the panel: it never shows another model's weights."""
        self.live_kernel = kernel
        if kernel is None:
            self.kernel = self.layout_info = self.tiles = None
            self.image.clear()
            self.caption.setText("No first-layer weights to show for this model")
            return
        if self.epoch is None:
            self._draw(kernel)

    def show_epoch(self, epoch: int | None, kernel: np.ndarray | None) -> None:
        """Show the kernel as it was at the end of ``epoch`` until the scrubber goes back to live (None)."""
        self.epoch = epoch
        shown = kernel if epoch is not None else self.live_kernel
        if shown is not None:
            self._draw(shown)

    def _draw(self, kernel: np.ndarray) -> None:
        self.kernel = kernel
        change = self.show_change and self.reference is not None and self.reference.shape == np.shape(kernel)
        try:
            aspect = self.view.width() / self.view.height() if self.view.height() > 0 else 1.0
            mosaic, tile, grid, count = weight_mosaic(np.asarray(kernel) - self.reference if change else np.asarray(kernel), aspect=aspect)
        except ValueError:  # a model from elsewhere whose first layer is no image (e.g. 1 input)
            self.layout_info = self.tiles = None
            self.image.clear()
            self.caption.setText(f"first layer: {np.shape(kernel)} weights, not drawable as images")
            return
        limit = float(np.nanmax(np.abs(mosaic))) or 1.0
        self.kind = "unit" if kernel.ndim == 2 else "filter"
        self.layout_info = (tile, grid, count)
        self.tiles = mosaic
        self.image.setImage(mosaic, autoLevels=False, levels=(-limit, limit))  # NaN gaps: transparent
        epoch = f"epoch {self.epoch} · " if self.epoch is not None else ""
        self.caption.setText(f"{epoch}{count} {self.kind}s of {tile[0]}×{tile[1]} · {'change since the start' if change else 'colour'} ±{limit:.3g}")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "kernel", None) is not None:  # lay the tiles out afresh for the new shape
            self._draw(self.kernel)

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
