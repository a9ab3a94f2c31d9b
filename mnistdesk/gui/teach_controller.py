"""Teach it your handwriting: keys 0-9 on the canvas (or the Teach panel's buttons) keep the
drawing as that digit among the user's labelled drawings; Ctrl+Z right after takes the keeping
back; *Add folder* copies a folder of labelled images in; *Fine-tune* trains the model in use on
them (through the training controller)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QProgressDialog

from mnistdesk.data.personal import PersonalDrawing, PersonalDrawings
from mnistdesk.explain.session import Session
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.gui.drawing_controller import DrawingController
from mnistdesk.gui.folders import last_folder, remember_folder
from mnistdesk.gui.model_loader import plain
from mnistdesk.gui.teach_panel import DigitKeys, TeachPanel, drawings_count
from mnistdesk.gui.training_controller import TrainingController
from mnistdesk.ink.imagefile import ImageFileError, load_ink
from mnistdesk.net.models import FINE_TUNE_MIN_DRAWINGS

MAX_PROBLEMS_SHOWN = 12


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
        self.refresh()

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
            self.panel.add_drawing(entry, self.personal.read_input(entry))
        except OSError as error:
            QMessageBox.warning(self.window, "Cannot keep the drawing", plain(f"Could not write to {self.personal.root}: {error.strerror or error}"))
            return False
        except ImageFileError as error:  # written, but it does not read back
            QMessageBox.warning(self.window, "Cannot keep the drawing", plain(str(error)))
            return False
        self.canvas.clear()
        self.kept_last = entry
        self._status(f"Kept as a {digit} ({drawings_count(len(self.panel.entries))} in all) — draw the next; Ctrl+Z takes it back", 5000)
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
        self.refresh()
        self._status(f"Took back the drawing kept as a {kept.label}: it is on the canvas again", 5000)

    def refresh(self) -> None:
        """The Teach panel shows the stored drawings; one that cannot be read is named, and left out."""
        entries, drawings = self.personal.read()
        self.panel.show_drawings(entries, drawings.images)
        if drawings.problems:
            more = f" (and {len(drawings.problems) - 1} more)" if len(drawings.problems) > 1 else ""
            self._status(f"Left out of your drawings: {drawings.problems[0]}{more}", 10000)

    def _on_panel_delete_requested(self, entries: list[PersonalDrawing]) -> None:
        choice = QMessageBox.question(self.window, "Delete drawings", f"Delete {len(entries)} of your labelled drawings? This cannot be undone.")
        if choice != QMessageBox.StandardButton.Yes:
            return
        for entry in entries:
            self.personal.remove(entry)
        self.refresh()

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
            added, problems = self.personal.add_folder(folder, self.drawing.mode(), progress)
        except (ImageFileError, OSError) as error:
            QMessageBox.warning(self.window, "Cannot add the folder", plain(str(error)))
            return 0
        finally:
            dialog.close()
        self.refresh()
        self._status(f"Added {drawings_count(added)} from {folder}", 6000)
        if problems:
            shown = "\n".join(problems[:MAX_PROBLEMS_SHOWN]) + (f"\n… and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else "")
            QMessageBox.warning(self.window, "Some images were skipped", plain(f"Added {added}; skipped {len(problems)}:\n{shown}"))
        return added

    def show_panel(self) -> None:
        self.dock.show()
        self.dock.raise_()

    def fine_tune(self, epochs: int | None = None) -> None:
        """Fine-tune the model in use on the labelled drawings (the panel's epochs unless given)."""
        entries, drawings = self.personal.read()
        if len(entries) < FINE_TUNE_MIN_DRAWINGS:
            self.show_panel()
            self._status(f"Label at least {FINE_TUNE_MIN_DRAWINGS} drawings first (keys 0-9 on the canvas)", 5000)
            return
        if self.training.fine_tune(drawings, self.panel.epochs.value() if epochs is None else epochs):
            self.panel.show_result(f"Fine-tuning on {len(entries)} drawings (a fifth held out to score it)…")
