"""The epoch scrubber: a slider over the run's recorded epochs, its rightmost stop live. Moving
it shows the model as it was at the end of that epoch; "Use this epoch" makes it the model in use.
"""

from __future__ import annotations

import bisect

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QSlider, QWidget

from mnistdesk.explain.epochs import ScrubPosition

IDLE_TIP = "Train a model (Train new or Continue) to replay it here epoch by epoch:\neach epoch's weights are kept while the run is the current one."
SLIDER_TIP = (
    "The model as it was at the end of each epoch of this run (← → or drag; Home: the start, End: live).\n"
    "The bars, activations, robustness sweep, first-layer weights and confusion matrix follow;\n"
    "the loss curves and the history mark the epoch."
)
#: An earlier epoch on show: the label stands out, for the rest of the window is not the live model.
LABEL_STYLE = "border-radius: 3px; padding: 1px 4px;"
SCRUBBED_STYLE = LABEL_STYLE + "background: #fde9b8; color: #4a3500;"


class ScrubberPanel(QWidget):
    """Slider, what is on show, Live and Use this epoch; fed by :meth:`show_position`."""

    epoch_chosen = Signal(object)  # the epoch to show, or None for live
    use_clicked = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.epochs: tuple[int, ...] = ()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.slider.setPageStep(1)
        self.slider.setMinimumWidth(80)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Two lines, always: the panel keeps its height when a longer text wraps (while training).
        self.label.setMinimumHeight(2 * self.label.fontMetrics().lineSpacing() + 4)
        self.live_button = QPushButton("Live")
        self.live_button.setToolTip("Back to the live model: the newest weights while training, else the model in use (End)")
        self.use_button = QPushButton("Use this epoch")
        self.use_button.setToolTip("Make the epoch on show the model in use (unsaved: File → Save model keeps it).\nAvailable once the run has ended.")
        layout = QGridLayout(self)  # what is on show, the slider across the column, the buttons
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setVerticalSpacing(2)
        layout.addWidget(self.label, 0, 0, 1, 3)
        layout.addWidget(self.slider, 1, 0, 1, 3)
        layout.addWidget(self.live_button, 2, 1)
        layout.addWidget(self.use_button, 2, 2)
        layout.setColumnStretch(0, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.live_button.clicked.connect(self._on_live_button_clicked)
        self.use_button.clicked.connect(self.use_clicked)
        self.show_position(ScrubPosition())

    def show_position(self, position: ScrubPosition) -> None:
        self.epochs = position.epochs
        live = len(self.epochs)  # the stop after the last epoch
        self.slider.blockSignals(True)
        self.slider.setRange(0, live)
        self.slider.setValue(live if position.shown is None else bisect.bisect_left(self.epochs, position.shown))
        self.slider.blockSignals(False)
        self.slider.setEnabled(bool(self.epochs))
        self.slider.setToolTip(SLIDER_TIP if self.epochs else IDLE_TIP)
        self.live_button.setEnabled(position.shown is not None)
        self.use_button.setEnabled(position.shown is not None and not position.training)
        self.label.setText(_describe(position))
        self.label.setToolTip("" if self.epochs else IDLE_TIP)
        self.label.setStyleSheet(SCRUBBED_STYLE if position.shown is not None else LABEL_STYLE)

    def _on_slider_value_changed(self, value: int) -> None:
        self.epoch_chosen.emit(self.epochs[value] if value < len(self.epochs) else None)

    def _on_live_button_clicked(self) -> None:
        self.epoch_chosen.emit(None)


def _describe(position: ScrubPosition) -> str:
    """A line such as "Epoch 3 of 10 — validation 94.1%" or "Live — following training"."""
    if not position.epochs:
        return "Train a model to replay it epoch by epoch"
    if position.shown is None:
        return "Live — following training" if position.training else "Live — the model in use"
    parts = [f"Epoch {position.shown} of {position.epochs[-1]}"]
    if position.shown == position.epochs[0]:
        parts.append("the start of the run")
    if "val_accuracy" in position.metrics:
        parts.append(f"validation {position.metrics['val_accuracy']:.1%}")
    text = " — ".join(parts)
    return f"{text} · training goes on: Live follows it" if position.training else text
