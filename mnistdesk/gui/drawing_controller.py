"""The drawing's way to the model: canvas → ``preprocess`` (the *Input* box's mode) → session,
at most ~60 times a second; and the drawing as a file: open an image as the drawing, save it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QComboBox, QFileDialog, QMainWindow, QMessageBox

from mnistdesk.explain.session import Session
from mnistdesk.gui.canvas import DrawingCanvas
from mnistdesk.gui.folders import last_folder, remember_folder
from mnistdesk.gui.model_loader import plain
from mnistdesk.ink.imagefile import ImageFileError, load_ink
from mnistdesk.ink.preprocess import preprocess

PREDICTION_INTERVAL_MS = 16  # at most ~60 predictions a second while drawing
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
MODE_LABELS = {"mnist": "MNIST preprocessing", "naive": "Naive: whole canvas → 28×28"}


class DrawingController(QObject):
    """Owns the *Input* box (MNIST or naive preprocessing, remembered) and the prediction timer."""

    def __init__(self, window: QMainWindow, settings: QSettings, session: Session, canvas: DrawingCanvas):
        super().__init__(window)
        self.window, self.settings, self.session, self.canvas = window, settings, session, canvas
        self.mode_box = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode_box.addItem(label, mode)
        self.mode_box.setToolTip(
            "How the drawing becomes the model's 28×28 input.\n"
            "MNIST: crop to the ink, fit 20×20, centre by mass (how MNIST was made).\n"
            "Naive: squash the whole canvas — see how much worse it reads your digits."
        )
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PREDICTION_INTERVAL_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        canvas.changed.connect(self._on_canvas_changed)
        canvas.resized.connect(self.predict_soon)  # a saliency map made for the old size would not line up
        self.mode_box.currentIndexChanged.connect(self._on_mode_box_changed)

    def restore(self) -> None:
        index = self.mode_box.findData(self.settings.value("preprocess/mode", "mnist"))
        self.mode_box.setCurrentIndex(max(index, 0))

    def mode(self) -> str:
        return self.mode_box.currentData()

    def toggle_mode(self) -> None:
        self.mode_box.setCurrentIndex(1 - self.mode_box.currentIndex())

    def predict_soon(self) -> None:
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def predict_now(self) -> None:
        """canvas → preprocess → session (predictor) → panels; an empty canvas predicts nothing."""
        image, placement = self.canvas.model_input_placed(self.mode())
        self.session.set_drawing(image, placement, self.canvas.heat_shape())

    def _on_canvas_changed(self) -> None:
        if not self.timer.isActive():
            self.timer.start()

    def _on_timer_timeout(self) -> None:
        self.predict_now()

    def _on_mode_box_changed(self, index: int) -> None:
        self.settings.setValue("preprocess/mode", self.mode_box.itemData(index))
        self.predict_now()

    def open_image(self, path: Path) -> bool:
        try:
            ink = load_ink(path)
        except ImageFileError as error:
            QMessageBox.warning(self.window, "Cannot open image", plain(str(error)))
            return False
        if preprocess(ink, self.mode()) is None:
            QMessageBox.warning(self.window, "Nothing to read in this image", f"{path}: no ink found (a blank image). The drawing is unchanged.")
            return False
        self.canvas.set_background(ink)
        self.window.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def choose_image(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.window, "Open image", last_folder(self.settings, "images"), IMAGE_FILTER)
        if name and self.open_image(Path(name)):
            remember_folder(self.settings, "images", Path(name).parent)

    def choose_save_drawing(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self.window, "Save drawing", str(Path(last_folder(self.settings, "images")) / "digit.png"), "PNG image (*.png)")
        if not name:
            return
        path = Path(name) if name.lower().endswith(".png") else Path(name + ".png")
        if self.canvas.save_png(path):
            remember_folder(self.settings, "images", path.parent)
            self.window.statusBar().showMessage(f"Saved {path}", 4000)
        else:
            QMessageBox.warning(self.window, "Cannot save drawing", f"Could not write {path}. Is the folder writable?")
