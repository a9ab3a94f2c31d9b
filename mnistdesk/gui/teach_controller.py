"""Teach it your handwriting: keys 0-9 on the canvas (or the Teach panel's buttons) keep the
drawing as that digit among the user's labelled drawings; Ctrl+Z right after takes the keeping
back; *Add folder* copies a folder of labelled images in; *Fine-tune* trains the model in use on
them (through the training controller).

The stored drawings are read on a thread of their own, once the window is shown and again for
each fine-tuning: twenty thousand of them took 8.7 s, and the window must start in under one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QProgressDialog

from mnistdesk.data.personal import LabelledImages, PersonalDrawing, PersonalDrawings
from mnistdesk.explain.session import Session
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.gui.drawing_controller import DrawingController
from mnistdesk.gui.folders import last_folder, remember_folder
from mnistdesk.gui.model_loader import plain
from mnistdesk.gui.teach_panel import DigitKeys, TeachPanel, drawings_count
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.gui.worker import yield_to_the_window
from mnistdesk.ink.imagefile import ImageFileError, load_ink
from mnistdesk.net.models import FINE_TUNE_MIN_DRAWINGS

MAX_PROBLEMS_SHOWN = 12


class DrawingsReader(QObject):
    """Reads the stored drawings (after removing what a killed process left half-kept, on the
    first read) on the thread it is moved to; ``done`` when it has, or was cancelled."""

    done = Signal()

    def __init__(self, personal: PersonalDrawings, tidy: bool):
        super().__init__()
        self.personal, self.tidy = personal, tidy
        self.cancelled = threading.Event()
        self.result: tuple[list[PersonalDrawing], LabelledImages] | None = None
        self.error: str | None = None

    @Slot()
    def run(self) -> None:
        yield_to_the_window()  # thousands of small files: drawing on the canvas comes first
        try:
            if self.tidy:
                self.personal.tidy()
            self.result = self.personal.read(self.cancelled.is_set)
        except Exception as error:  # a window that cannot read them still starts, and says why
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.done.emit()


class TeachController(QObject):
    """The user's labelled drawings between the canvas, the Teach panel and fine-tuning."""

    def __init__(
        self,
        window: QMainWindow,
        settings: QSettings,
        session: Session,
        personal: PersonalDrawings,
        canvas: DrawingCanvas,
        panel: TeachPanel,
        training: TrainingController,
        dock: QDockWidget,
        drawing: DrawingController,
    ):
        super().__init__(window)
        self.window, self.settings, self.session, self.personal = window, settings, session, personal
        self.canvas, self.panel, self.training, self.dock = canvas, panel, training, dock
        self.drawing = drawing
        self.kept_last: PersonalDrawing | None = None  # the drawing a digit key just kept: Ctrl+Z takes it back
        self.reader: DrawingsReader | None = None
        self.reader_thread: QThread | None = None
        self.read_once = False  # the first read also removes what a killed process left half-kept
        #: Drawings kept (with their input) or removed (None) while a read was under way: the
        #: folder it listed may or may not have held them.
        self.changed_while_reading: list[tuple[PersonalDrawing, np.ndarray | None]] = []
        self.fine_tune_epochs: int | None = None  # a fine-tuning that waits for the drawings to be read
        canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click on it gives it the keys
        self.digit_keys = DigitKeys(canvas)
        self.digit_keys.pressed.connect(self.label_drawing)
        canvas.changed.connect(self._on_canvas_changed)
        panel.set_folder(str(personal.root))
        panel.label_requested.connect(self.label_drawing)
        panel.delete_requested.connect(self._on_panel_delete_requested)
        panel.drawing_opened.connect(self._on_panel_drawing_opened)
        panel.add_folder_requested.connect(self.choose_drawings_folder)
        panel.fine_tune_requested.connect(self.fine_tune)
        training.running_changed.connect(panel.set_busy)
        training.progress.connect(panel.show_progress)
        training.fine_tuned.connect(panel.show_result)
        panel.show_reading()
        window.installEventFilter(self)  # read when it is shown; stop reading when it closes
        QCoreApplication.instance().aboutToQuit.connect(self.stop)  # or the app quits with it open

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and not event.spontaneous():  # not a minimized window's
            if event.type() == QEvent.Type.Show:
                self._on_window_shown()
            elif event.type() == QEvent.Type.Hide:
                self._on_window_hidden()
        return False

    def _on_window_shown(self) -> None:
        if self.panel.reading and self.reader is None:  # not read yet, or its read was dropped
            self.read_drawings()

    def _on_window_hidden(self) -> None:
        self.stop()

    def _status(self, text: str, timeout_ms: int) -> None:
        self.window.statusBar().showMessage(text, timeout_ms)

    def _on_canvas_changed(self) -> None:
        self.kept_last = None  # the canvas moved on: Ctrl+Z is about the drawing again

    def label_drawing(self, digit: int) -> bool:
        """Keep the drawing (the canvas and its 28×28 input) as a ``digit`` among the user's
        labelled drawings, then clear the canvas for the next one (Ctrl+Z takes both back)."""
        self.drawing.predict_now()  # the input of the canvas as it is now, not as of the last timer tick
        if self.session.drawing is None:
            self._status("Draw a digit first, then press its key (0-9) to keep it", 4000)
            return False
        try:
            entry = self.personal.add(digit, self.canvas.ink(), self.session.drawing)
            image = self.personal.read_input(entry)
        except OSError as error:
            QMessageBox.warning(self.window, "Cannot keep the drawing", plain(f"Could not write to {self.personal.root}: {error.strerror or error}"))
            return False
        except ImageFileError as error:  # written, but it does not read back
            QMessageBox.warning(self.window, "Cannot keep the drawing", plain(str(error)))
            return False
        self._kept([entry], [image])
        self.canvas.clear()
        self.kept_last = entry
        count = "" if self.panel.reading else f" ({drawings_count(len(self.panel.entries))} in all)"
        self._status(f"Kept as a {digit}{count} — draw the next; Ctrl+Z takes it back", 5000)
        return True

    def undo(self) -> None:
        """Take back the canvas's last change; right after a digit key kept the drawing, that
        keeping too (a wrong key must not leave a mislabelled drawing behind)."""
        kept, self.kept_last = self.kept_last, None
        self.canvas.undo()
        if kept is None:
            return
        try:
            self.personal.remove(kept)
        except OSError as error:
            QMessageBox.warning(self.window, "Cannot take the drawing back", plain(f"Could not delete {kept.drawing}: {error.strerror or error}"))
            return
        self._removed([kept])
        self._status(f"Took back the drawing kept as a {kept.label}: it is on the canvas again", 5000)

    def refresh(self) -> None:
        """Read the stored drawings now, in this thread, and show them (a read under way is
        dropped: this one is newer)."""
        self.stop()
        self._show_read(*self.personal.read())

    def read_drawings(self) -> None:
        """Read the stored drawings on a thread of their own; the gallery shows them when read."""
        self.stop()
        if not self.personal.may_hold_drawings():  # none kept yet (a first start): no thread for nothing
            self._show_read([], _labelled([], []))
            return
        self.panel.show_reading()
        self.reader, self.reader_thread = DrawingsReader(self.personal, tidy=not self.read_once), QThread(self)
        self.reader.moveToThread(self.reader_thread)
        self.reader_thread.started.connect(self.reader.run)
        # Direct: stop() may block the GUI thread in wait(), so a queued quit would never run.
        self.reader.done.connect(self.reader_thread.quit, Qt.ConnectionType.DirectConnection)
        self.reader_thread.finished.connect(self._on_reader_thread_finished)
        self.reader_thread.start()

    def stop(self) -> None:
        """Drop a read under way and wait for its thread (it stops within one file): the window
        is closing, or a newer read replaces it."""
        reader, thread = self.reader, self.reader_thread
        if reader is None or thread is None:
            return
        self.reader = self.reader_thread = None
        reader.cancelled.set()
        thread.quit()
        thread.wait()
        reader.deleteLater()
        thread.deleteLater()

    def _on_reader_thread_finished(self) -> None:
        reader, thread = self.reader, self.reader_thread
        if reader is None or thread is None or not thread.isFinished():  # dropped by stop(), or a newer read's
            return
        self.reader = self.reader_thread = None
        reader.deleteLater()
        thread.deleteLater()
        result = reader.result
        if result is None:  # said in the status line; the gallery shows what is kept from now on
            self.fine_tune_epochs = None
            result = [], _labelled([], [], (f"{self.personal.root}: cannot be read ({reader.error})",))
        self._show_read(*result)

    def _show_read(self, entries: list[PersonalDrawing], drawings: LabelledImages) -> None:
        """Show what a read found, with what was kept or removed meanwhile; one that cannot be
        read is named, and left out. A fine-tuning that waited for them starts."""
        self.read_once = True
        rows = {(entry.label, entry.name): (entry, image) for entry, image in zip(entries, drawings.images)}
        for entry, image in self.changed_while_reading:
            if image is None:
                rows.pop((entry.label, entry.name), None)
            else:
                rows[entry.label, entry.name] = (entry, image)
        self.changed_while_reading = []
        kept = [rows[key] for key in sorted(rows)]
        entries, images = [entry for entry, _ in kept], [image for _, image in kept]
        self.panel.show_drawings(entries, images)
        if drawings.problems:
            more = f" (and {len(drawings.problems) - 1} more)" if len(drawings.problems) > 1 else ""
            self._status(f"Left out of your drawings: {drawings.problems[0]}{more}", 10000)
        epochs, self.fine_tune_epochs = self.fine_tune_epochs, None
        if epochs is not None:
            self._start_fine_tune(_labelled(images, [entry.label for entry in entries]), epochs)

    def _kept(self, entries: Sequence[PersonalDrawing], images: Sequence[np.ndarray]) -> None:
        self.panel.add_drawings(entries, images)
        if self.reader is not None:
            self.changed_while_reading += zip(entries, images)

    def _removed(self, entries: Sequence[PersonalDrawing]) -> None:
        self.panel.remove_drawings(entries)
        if self.reader is not None:
            self.changed_while_reading += [(entry, None) for entry in entries]

    def _on_panel_delete_requested(self, entries: list[PersonalDrawing]) -> None:
        choice = QMessageBox.question(self.window, "Delete drawings", f"Delete {len(entries)} of your labelled drawings? This cannot be undone.")
        if choice != QMessageBox.StandardButton.Yes:
            return
        removed = []
        try:
            for entry in entries:
                self.personal.remove(entry)
                removed.append(entry)
        except OSError as error:
            QMessageBox.warning(self.window, "Cannot delete the drawings", plain(f"Deleted {len(removed)} of {len(entries)}; could not delete {entry.model_input}: {error.strerror or error}"))
        self._removed(removed)

    def _on_panel_drawing_opened(self, entry: PersonalDrawing) -> None:
        try:
            self.canvas.set_background(load_ink(entry.drawing))
        except ImageFileError as error:
            self._status(str(error), 6000)

    def choose_drawings_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Add a folder of labelled images (0/ … 9/)", last_folder(self.settings, "drawings"))
        if folder:
            remember_folder(self.settings, "drawings", Path(folder))
            self.add_drawings_folder(Path(folder))

    def add_drawings_folder(self, folder: Path) -> int:
        """Copy a folder of labelled images into the user's drawings, with progress; says what
        could not be read. Returns how many were added."""
        dialog = QProgressDialog(f"Adding the images in {folder.name}…", "Stop", 0, 0, self.window)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(500)

        def progress(done: int, total: int) -> bool:
            dialog.setMaximum(total)
            dialog.setValue(done)
            return not dialog.wasCanceled()

        try:
            added = self.personal.add_folder(folder, self.drawing.mode(), progress)
        except (ImageFileError, OSError) as error:
            QMessageBox.warning(self.window, "Cannot add the folder", plain(str(error)))
            return 0
        finally:
            dialog.close()
        self._kept(added.entries, added.images)
        count = len(added.entries)
        self._status(f"Added {drawings_count(count)} from {folder}", 6000)
        lines = [f"Stopped: {added.stopped}"] if added.stopped else []  # a full disk: what was added stays
        if added.problems:
            lines.append(f"Skipped {len(added.problems)}:")
            lines += added.problems[:MAX_PROBLEMS_SHOWN]
            if len(added.problems) > MAX_PROBLEMS_SHOWN:
                lines.append(f"… and {len(added.problems) - MAX_PROBLEMS_SHOWN} more")
        if lines:
            QMessageBox.warning(self.window, "Some images were not added", plain("\n".join([f"Added {count} of the {added.found} images.", *lines])))
        return count

    def show_panel(self) -> None:
        self.dock.show()
        self.dock.raise_()

    def fine_tune(self, epochs: int | None = None) -> None:
        """Fine-tune the model in use on the labelled drawings (the panel's epochs unless given),
        as they are in the folder now: they are read first, on their own thread."""
        if self.training.is_running():
            return
        self.fine_tune_epochs = self.panel.epochs.value() if epochs is None else epochs
        if self.reader is None:  # or the one under way: what is kept meanwhile is added to what it read
            self.read_drawings()

    def _start_fine_tune(self, drawings: LabelledImages, epochs: int) -> None:
        if len(drawings.labels) < FINE_TUNE_MIN_DRAWINGS:
            self.show_panel()
            self._status(f"Label at least {FINE_TUNE_MIN_DRAWINGS} drawings first (keys 0-9 on the canvas)", 5000)
            return
        if self.training.fine_tune(drawings, epochs):
            self.panel.show_result(f"Fine-tuning on {len(drawings.labels)} drawings (a fifth held out to score it)…")


def _labelled(images: Sequence[np.ndarray], labels: Sequence[int], problems: tuple[str, ...] = ()) -> LabelledImages:
    return LabelledImages(np.stack(images) if len(images) else np.empty((0, 28, 28), np.uint8), np.array(labels, np.uint8), problems)
