"""The network editor (*Network → Custom…*): the layer list of a network to add to, remove from,
reorder and tune, beside a live summary like ``model.summary()`` — each layer's output shape,
parameters and multiply-adds, the totals and an estimate of one epoch on this machine. A choice
that cannot work is explained on its row, and *Use this network* stays off with the reason.
The description and its checks live in :mod:`mnistdesk.net.networks`; this only edits it."""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mnistdesk.base.files import replacing
from mnistdesk.gui.model_loader import plain
from mnistdesk.net.models import ARCHITECTURES, DEFAULT_LEARNING_RATE, OPTIMIZERS
from mnistdesk.net.networks import ACTIVATION_CHOICES, LAYER_TYPES, MAX_LAYERS, MAX_NAME, PRESETS, epoch_seconds, filled, layer_text, new_layer, summarize

INPUT_LABELS = {"image": "28×28 image (28, 28, 1)", "flat": "784 numbers (flattened)"}
PROBLEM_COLOUR = QColor(200, 40, 40)


class NetworkEditor(QDialog):
    """Edits a copy of a network description; :meth:`description` gives the result after OK."""

    def __init__(self, description: dict[str, Any], digits: int, speed: float, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Network editor")
        self.digits, self.speed = digits, speed
        self.network = filled(copy.deepcopy(description))
        self.name = QLineEdit(self.network["name"])
        self.name.setMaxLength(MAX_NAME)
        self.name.setToolTip("The network's name: the Network box, the status bar and the saved model's metadata use it")
        self.preset = QComboBox()
        self.preset.addItem("Start from a preset…", None)
        for name in PRESETS:
            self.preset.addItem(name, name)
        self.preset.setToolTip("Replace the layers with one of the classic lessons' networks, exactly as they write them")
        self.input = QComboBox()
        for key, label in INPUT_LABELS.items():
            self.input.addItem(label, key)
        self.input.setToolTip("What the first layer reads: the 28×28 drawing, or its 784 pixels in a row (dense networks)")
        self.optimizer = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer.addItem(name, name)
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.0, 1.0)
        self.learning_rate.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.layers = QListWidget()
        self.layers.setToolTip("The layers, input at the top; the output (Dense 10, softmax) always ends the network")
        self.layers.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.add_button = QToolButton()
        self.add_button.setText("Add layer")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        add_menu = QMenu(self.add_button)
        for kind, (label, _) in LAYER_TYPES.items():
            add_menu.addAction(label, lambda kind=kind: self._add(kind))
        self.add_button.setMenu(add_menu)
        self.add_button.setToolTip("Add a layer after the selected one (Insert)")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected layer (Delete)")
        self.remove_button.setShortcut(QKeySequence.StandardKey.Delete)
        self.up_button = QPushButton("Up")
        self.up_button.setShortcut("Alt+Up")
        self.down_button = QPushButton("Down")
        self.down_button.setShortcut("Alt+Down")
        self.settings = QWidget()
        self.settings_form = QFormLayout(self.settings)
        self.summary = QTableWidget(0, 4)
        self.summary.setHorizontalHeaderLabels(["Layer (type)", "Output shape", "Param #", "Mult-adds"])
        self.summary.verticalHeader().setVisible(False)
        self.summary.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.summary.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.summary.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.summary.setToolTip("As Keras's model.summary() prints it, plus the multiply-adds of one digit's forward pass")
        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {PROBLEM_COLOUR.name()}")
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Use this network")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._lay_out()
        self._connect()
        self._show_network(select=0)

    def _lay_out(self) -> None:
        top = QFormLayout()
        top.addRow("Name", self.name)
        top.addRow("Input", self.input)
        top.addRow("", self.preset)
        list_buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            list_buttons.addWidget(button)
        left = QVBoxLayout()
        left.addLayout(top)
        left.addWidget(self.layers, 1)
        left.addLayout(list_buttons)
        left.addWidget(QLabel("Selected layer"))
        left.addWidget(self.settings)
        training = QFormLayout()
        training.addRow("Optimizer", self.optimizer)
        training.addRow("Learning rate", self.learning_rate)
        left.addLayout(training)
        right = QVBoxLayout()
        right.addWidget(self.summary, 1)
        right.addWidget(self.totals)
        right.addWidget(self.problem)
        columns = QHBoxLayout()
        columns.addLayout(left, 2)
        columns.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.buttons)
        screen = QGuiApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else None
        self.resize(min(900, available.width() - 40) if available else 900, min(600, available.height() - 60) if available else 600)

    def _connect(self) -> None:
        self.name.textChanged.connect(self._on_name_text_changed)
        self.preset.activated.connect(self._on_preset_activated)
        self.input.currentIndexChanged.connect(self._on_input_current_index_changed)
        self.optimizer.currentIndexChanged.connect(self._on_optimizer_current_index_changed)
        self.learning_rate.valueChanged.connect(self._on_learning_rate_value_changed)
        self.layers.currentRowChanged.connect(self._on_layers_current_row_changed)
        self.layers.model().rowsMoved.connect(self._on_layers_rows_moved)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))

    # -- the description -------------------------------------------------------------------------
    def description(self) -> dict[str, Any]:
        return copy.deepcopy(self.network)

    def _show_network(self, select: int | None = None) -> None:
        """The whole description into the widgets (a preset, a new layer order)."""
        for widget, value in ((self.input, self.network["input"]), (self.optimizer, self.network["optimizer"])):
            widget.blockSignals(True)
            widget.setCurrentIndex(widget.findData(value))
            widget.blockSignals(False)
        self.learning_rate.blockSignals(True)
        self.learning_rate.setValue(self.network["learning_rate"] or 0.0)
        self.learning_rate.blockSignals(False)
        self._show_rate_default()
        self.layers.blockSignals(True)
        self.layers.clear()
        for layer in self.network["layers"]:
            self.layers.addItem(layer_text(layer))
        self.layers.blockSignals(False)
        row = min(select if select is not None else self.layers.currentRow(), len(self.network["layers"]) - 1)
        self.layers.setCurrentRow(row)
        self._on_layers_current_row_changed(row)
        self._refresh()

    def _refresh(self) -> None:
        """The summary, totals, estimate and problems for the description as it is now."""
        for index, layer in enumerate(self.network["layers"]):
            self.layers.item(index).setText(layer_text(layer))
        summary = summarize(self.network)
        self.summary.setRowCount(len(summary.rows))
        bold = QFont()
        bold.setBold(True)
        for row, line in enumerate(summary.rows):
            cells = [line.name, "×".join(str(side) for side in line.shape) if line.shape else "", f"{line.parameters:,}", f"{line.macs:,}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if line.problem:
                    item.setForeground(QBrush(PROBLEM_COLOUR))
                    item.setFont(bold)
                    item.setToolTip(line.problem)
                self.summary.setItem(row, column, item)
        seconds = epoch_seconds(summary, self.digits, self.speed)
        self.totals.setText(f"Total: {summary.parameters:,} parameters ({summary.parameters * 4 / 1e6:.1f} MB) · {summary.macs:,} multiply-adds per digit · one epoch of {self.digits:,} digits ≈ {_duration(seconds)} on this machine")
        found = summary.problems
        if self.network["name"] in ARCHITECTURES:
            found.insert(0, f"{self.network['name']} is a built-in network's name: choose another")
        if not self.network["name"].strip():
            found.insert(0, "give the network a name")
        self.problem.setText("\n".join(found))
        self.ok_button.setEnabled(not found)
        self.ok_button.setToolTip(found[0] if found else "Train new builds this network")
        self.remove_button.setEnabled(bool(self.network["layers"]))
        self.add_button.setEnabled(len(self.network["layers"]) < MAX_LAYERS)

    def _show_rate_default(self) -> None:
        self.learning_rate.setSpecialValueText(f"Default ({DEFAULT_LEARNING_RATE[self.network['optimizer']]:g})")

    # -- the selected layer's settings ---------------------------------------------------------
    def _on_layers_current_row_changed(self, row: int) -> None:
        while self.settings_form.rowCount():
            self.settings_form.removeRow(0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self.network["layers"]) - 1)
        if not 0 <= row < len(self.network["layers"]):
            self.settings_form.addRow(QLabel("Add a layer to start"))
            return
        layer = self.network["layers"][row]
        if len(layer) == 1:
            self.settings_form.addRow(QLabel(f"{LAYER_TYPES[layer['type']][0]} has no settings"))
        for key in LAYER_TYPES[layer["type"]][1]:
            self.settings_form.addRow(key.replace("_", " ").capitalize(), self._setting_widget(layer, key))

    def _setting_widget(self, layer: dict[str, Any], key: str) -> QWidget:
        value = layer[key]

        def changed(new: Any) -> None:
            layer[key] = new
            self._refresh()

        if key in ("activation", "padding", "kind"):
            choices = {"activation": ACTIVATION_CHOICES, "padding": ("same", "valid"), "kind": ("max", "average")}[key]
            widget = QComboBox()
            widget.addItems(list(choices))
            widget.setCurrentText(value)
            widget.currentTextChanged.connect(changed)
        elif key == "batch_norm":
            widget = QCheckBox("normalise before the activation")
            widget.setChecked(value)
            widget.toggled.connect(changed)
        elif key == "rate":
            widget = QDoubleSpinBox()
            widget.setRange(0.0, 0.95)
            widget.setSingleStep(0.05)
            widget.setValue(value)
            widget.valueChanged.connect(changed)
        else:
            widget = QSpinBox()
            widget.setRange(1, {"filters": 1024, "units": 8192}.get(key, 28))
            widget.setValue(value)
            widget.valueChanged.connect(changed)
        return widget

    # -- editing -------------------------------------------------------------------------------
    def _add(self, kind: str) -> None:
        row = self.layers.currentRow() + 1
        self.network["layers"].insert(row, new_layer(kind))
        self._show_network(select=row)

    def _on_remove_clicked(self) -> None:
        row = self.layers.currentRow()
        if 0 <= row < len(self.network["layers"]):
            del self.network["layers"][row]
            self._show_network(select=max(row - 1, 0))

    def _move(self, step: int) -> None:
        row = self.layers.currentRow()
        target = row + step
        layers = self.network["layers"]
        if 0 <= row < len(layers) and 0 <= target < len(layers):
            layers[row], layers[target] = layers[target], layers[row]
            self._show_network(select=target)

    def _on_layers_rows_moved(self, parent, start: int, end: int, destination, row: int) -> None:
        """A layer dragged to another place in the list."""
        layer = self.network["layers"].pop(start)
        target = row if row < start else row - 1
        self.network["layers"].insert(target, layer)
        self._show_network(select=target)

    def _on_name_text_changed(self, text: str) -> None:
        self.network["name"] = text.strip()
        self._refresh()

    def _on_preset_activated(self, index: int) -> None:
        name = self.preset.itemData(index)
        if name is not None:
            self.network = filled(copy.deepcopy(PRESETS[name]))
            self.network["name"] = self.name.text().strip() or name
            if self.network["name"] in PRESETS or self.network["name"] in ARCHITECTURES:
                self.network["name"] = f"my {name}"
            self.name.blockSignals(True)
            self.name.setText(self.network["name"])
            self.name.blockSignals(False)
            self._show_network(select=0)
        self.preset.setCurrentIndex(0)

    def _on_input_current_index_changed(self, index: int) -> None:
        self.network["input"] = self.input.itemData(index)
        self._refresh()

    def _on_optimizer_current_index_changed(self, index: int) -> None:
        self.network["optimizer"] = self.optimizer.itemData(index)
        self._show_rate_default()
        self._refresh()

    def _on_learning_rate_value_changed(self, value: float) -> None:
        self.network["learning_rate"] = value or None


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class CodeDialog(QDialog):
    """A generated Keras script, read-only, to copy or save as a ``.py`` file."""

    saved = Signal(str)

    def __init__(self, title: str, code: str, suggested_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.code, self.suggested_name = code, suggested_name
        self.text = QPlainTextEdit(code)
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        copy_button = QPushButton("Copy")
        copy_button.setToolTip("Copy the script to the clipboard (Ctrl+Shift+C)")
        copy_button.setShortcut("Ctrl+Shift+C")
        copy_button.clicked.connect(self._on_copy_clicked)
        save_button = QPushButton("Save as…")
        save_button.setToolTip("Save the script as a .py file")
        save_button.clicked.connect(self._on_save_clicked)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(copy_button)
        buttons.addWidget(save_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Runs outside the app with Keras installed: python this_file.py (it downloads MNIST once)"))
        layout.addWidget(self.text, 1)
        layout.addLayout(buttons)
        self.resize(760, 560)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.code)

    def _on_save_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the Keras script", self.suggested_name, "Python scripts (*.py)")
        if not name:
            return
        try:
            with replacing(name) as tmp:
                tmp.write_text(self.code)
        except OSError as error:
            QMessageBox.warning(self, "Cannot save the script", plain(f"Could not write {name}: {error.strerror or error}"))
            return
        self.saved.emit(name)
