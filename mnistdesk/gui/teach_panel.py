"""The Teach panel: label the drawing on the canvas, review your labelled drawings, fine-tune.

Only draws and forwards: the Teach controller stores the drawings (:mod:`mnistdesk.data.personal`) and
starts the fine-tuning; this panel shows them and says what the user asked for.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QEvent, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QListView, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget

from mnistdesk.data.personal import PersonalDrawing
from mnistdesk.gui.inspect_panels import digit_icon
from mnistdesk.gui.model_loader import plain
from mnistdesk.net.live import format_eta
from mnistdesk.net.models import FINE_TUNE_MIN_DRAWINGS, FineTuneConfig

THUMBNAIL_PX = 48
HINT = "Draw a digit the model misreads, press its key (0-9) to keep it; a few of each, then Fine-tune."


class DigitKeys(QObject):
    """Keys 0-9 (top row or keypad) pressed while ``widget`` has the focus: ``pressed(digit)``."""

    pressed = Signal(int)

    def __init__(self, widget: QWidget):
        super().__init__(widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and Qt.Key.Key_0 <= event.key() <= Qt.Key.Key_9:
            if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier == Qt.KeyboardModifier.NoModifier:
                self.pressed.emit(event.key() - Qt.Key.Key_0)
                return True
        return False


class KeptDrawings(QAbstractListModel):
    """The gallery's rows: the kept drawings by digit and name, each shown by its 28×28 input.
    Icons are made only for the rows on screen: twenty thousand of them, made up front, took
    seconds and hundreds of megabytes."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.entries: list[PersonalDrawing] = []
        self.images: list[np.ndarray] = []
        self.keys: list[tuple[int, str]] = []  # (digit, name) of each row: the gallery's order

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(entry.label)
        if role == Qt.ItemDataRole.DecorationRole:
            return digit_icon(self.images[index.row()], THUMBNAIL_PX)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain(f"a {entry.label}, saved {entry.name[:8]} {entry.name[9:15]}")  # a file name: plain text
        return None

    def reset(self, entries: Sequence[PersonalDrawing], images: Sequence[np.ndarray]) -> None:
        """These rows instead, sorted as the gallery shows them."""
        rows = sorted(zip(entries, images), key=lambda row: _key(row[0]))
        self.beginResetModel()
        self.entries, self.images = [entry for entry, _ in rows], [image for _, image in rows]
        self.keys = [_key(entry) for entry in self.entries]
        self.endResetModel()

    def add(self, entries: Sequence[PersonalDrawing], images: Sequence[np.ndarray]) -> None:
        """Rows for drawings just kept, each in its place; one already here is not added twice."""
        known = set(self.keys)
        new = [(entry, image) for entry, image in zip(entries, images) if _key(entry) not in known]
        if len(new) == 1:  # one kept drawing: the selection stays
            [(entry, image)] = new
            row = bisect.bisect_left(self.keys, _key(entry))
            self.beginInsertRows(QModelIndex(), row, row)
            self.entries.insert(row, entry)
            self.images.insert(row, image)
            self.keys.insert(row, _key(entry))
            self.endInsertRows()
        elif new:  # a folder's worth: one reset, not thousands of insertions
            self.reset([*self.entries, *(entry for entry, _ in new)], [*self.images, *(image for _, image in new)])

    def remove(self, entries: Sequence[PersonalDrawing]) -> None:
        gone = {_key(entry) for entry in entries}
        kept = [row for row, key in enumerate(self.keys) if key not in gone]
        if len(kept) == len(self.keys) - 1:  # one taken back: the selection stays
            row = next(row for row, key in enumerate(self.keys) if key in gone)
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.entries[row], self.images[row], self.keys[row]
            self.endRemoveRows()
        elif len(kept) < len(self.keys):
            self.reset([self.entries[row] for row in kept], [self.images[row] for row in kept])


class TeachPanel(QWidget):
    """Ten label buttons, a gallery of the labelled drawings, and Fine-tune."""

    label_requested = Signal(int)  # label the canvas's drawing as this digit
    delete_requested = Signal(object)  # list of PersonalDrawing
    drawing_opened = Signal(object)  # PersonalDrawing: put it back on the canvas
    add_folder_requested = Signal()
    fine_tune_requested = Signal(int)  # epochs

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.drawings = KeptDrawings(self)
        self.busy = False
        self.reading = False  # the gallery waits for the drawings to be read
        self.showing_progress = False  # the result line shows a run's progress, not a result
        buttons = QGridLayout()
        self.label_buttons = []
        for digit in range(10):
            button = QPushButton(str(digit))
            button.setToolTip(f"Label the drawing on the canvas as a {digit} and keep it (key {digit} while the canvas has focus)")
            button.clicked.connect(lambda _=False, d=digit: self.label_requested.emit(d))
            button.setMinimumWidth(24)  # ten of them fit the side column of a 1024×640 window
            buttons.addWidget(button, digit // 5, digit % 5)
            self.label_buttons.append(button)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.gallery = QListView()
        self.gallery.setModel(self.drawings)
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setUniformItemSizes(True)  # thousands of rows are laid out without asking each one
        self.gallery.setIconSize(QSize(THUMBNAIL_PX, THUMBNAIL_PX))
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.gallery.setToolTip("Your labelled drawings, as the model sees them.\nDouble-click one to put it on the canvas; select some and press Delete to remove them.")
        self.gallery.doubleClicked.connect(self._on_gallery_double_clicked)
        QShortcut(QKeySequence.StandardKey.Delete, self.gallery, self._on_delete_shortcut_activated, context=Qt.ShortcutContext.WidgetShortcut)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.clicked.connect(self._on_delete_shortcut_activated)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip("Add a folder of labelled images: 0/, 1/, … 9/ holding images of any size")
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100)
        self.epochs.setValue(FineTuneConfig.epochs)
        self.epochs.setSuffix(" epochs")
        self.epochs.setToolTip(f"How long to fine-tune (default {FineTuneConfig.epochs})")
        self.fine_tune_button = QPushButton("Fine-tune")
        self.fine_tune_button.setToolTip(
            "Keep training the current model on its data mixed with your drawings\n"
            "(a fifth of them held out to score it before and after)"
        )
        self.fine_tune_button.clicked.connect(lambda: self.fine_tune_requested.emit(self.epochs.value()))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.result = QLabel(HINT)
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)

        actions = QHBoxLayout()
        actions.addWidget(self.delete_button)
        actions.addWidget(self.add_folder_button)
        tune = QHBoxLayout()
        tune.addWidget(self.epochs)
        tune.addWidget(self.fine_tune_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(QLabel("Label this drawing as:"))
        layout.addLayout(buttons)
        layout.addWidget(self.counts)
        layout.addWidget(self.gallery, 1)
        layout.addLayout(actions)
        layout.addLayout(tune)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        self.show_drawings([], [])

    @property
    def entries(self) -> list[PersonalDrawing]:
        """The drawings in the gallery, by digit, oldest first."""
        return self.drawings.entries

    def show_reading(self) -> None:
        """The drawings are being read: the counts say so and Fine-tune waits for them."""
        self.reading = True
        self.counts.setText("Reading your drawings…")
        self._enable_fine_tune()

    def show_drawings(self, entries: Sequence[PersonalDrawing], inputs: Sequence[np.ndarray]) -> None:
        """The stored drawings and their 28×28 inputs (uint8), by digit, oldest first."""
        self.reading = False
        self.drawings.reset(entries, inputs)
        self._show_counts()

    def add_drawings(self, entries: Sequence[PersonalDrawing], inputs: Sequence[np.ndarray]) -> None:
        """Drawings just kept, each in its place among the others (the rest are not read again)."""
        self.drawings.add(entries, inputs)
        self._show_counts()

    def remove_drawings(self, entries: Sequence[PersonalDrawing]) -> None:
        self.drawings.remove(entries)
        self._show_counts()

    def _show_counts(self) -> None:
        entries = self.entries
        self.delete_button.setEnabled(bool(entries))
        self._enable_fine_tune()
        if self.reading:  # a count now would be of the drawings kept meanwhile, not of all
            return
        per_digit = np.bincount([entry.label for entry in entries], minlength=10)
        per_digit_text = " · ".join(f"{digit}s: {count}" for digit, count in enumerate(per_digit) if count)
        self.counts.setText(f"{drawings_count(len(entries))} — {per_digit_text}" if entries else "No labelled drawings yet.")

    def _enable_fine_tune(self) -> None:
        self.fine_tune_button.setEnabled(not self.busy and not self.reading and len(self.entries) >= FINE_TUNE_MIN_DRAWINGS)

    def set_folder(self, folder: str) -> None:
        """Where the drawings are kept, in the counts' tooltip (plain text: a user's path)."""
        self.counts.setToolTip(plain(f"Kept in {folder}\n(drawings/<digit>/ as drawn, inputs/<digit>/ as the model sees them)"))

    def set_busy(self, busy: bool) -> None:
        """While a run trains (fine-tuning or not), fine-tuning waits; labelling goes on."""
        self.busy = busy
        self._enable_fine_tune()
        self.progress.setVisible(busy)
        self.progress.setValue(0)
        if not busy and self.showing_progress:  # a run that was not a fine-tuning: nothing to report here
            self.show_result(HINT)

    def show_progress(self, info: dict) -> None:
        """A run's progress (the worker's batch info): the bar, and where it is with its ETA."""
        self.progress.setValue(round(1000 * info["progress"] / info["epochs"]))
        self.result.setText(f"Training: epoch {info['epoch']}/{info['epochs']} · ETA {format_eta(info['eta_s'])}")
        self.showing_progress = True

    def show_result(self, text: str) -> None:
        self.result.setText(text)
        self.showing_progress = False

    def _on_gallery_double_clicked(self, index: QModelIndex) -> None:
        self.drawing_opened.emit(self.entries[index.row()])

    def _on_delete_shortcut_activated(self) -> None:
        chosen = [self.entries[index.row()] for index in self.gallery.selectionModel().selectedIndexes()]
        if chosen:
            self.delete_requested.emit(chosen)


def drawings_count(count: int) -> str:
    """"1 drawing", "12 drawings"."""
    return f"{count} drawing" + ("" if count == 1 else "s")


def _key(entry: PersonalDrawing) -> tuple[int, str]:
    """Where a drawing goes in the gallery: by digit, then by name (the time it was kept)."""
    return entry.label, entry.name
