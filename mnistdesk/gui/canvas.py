"""The drawing canvas: anti-aliased strokes stored in canvas-relative coordinates, so the
drawing survives resizing and high-DPI screens, and undo simply redraws the remaining strokes.
It only draws and forwards: :meth:`model_input` hands its strokes (or an opened image) to the
core, which re-draws them for the model. A saliency map can be laid over the strokes as a
translucent heat map (:meth:`set_saliency`); it is never part of the ink or of a saved drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from mnistdesk.ink import strokes as core
from mnistdesk.ink.pixels import normalize
from mnistdesk.ink.preprocess import SIZE, Placement

PAPER = (250, 250, 247)
INK = (20, 20, 30)
EDGE = (170, 170, 165)
PAPER_TABLE = [
    QColor(*(round(p + (i / 255) * (k - p)) for p, k in zip(PAPER, INK))).rgb() for i in range(256)
]
#: The saliency heat map: red where more ink raises the class's probability, blue where it lowers
#: it, fully opaque at ±1 (the map's robust maximum) and transparent below HEAT_FLOOR of it.
RAISES, LOWERS = (225, 30, 30), (25, 95, 235)
HEAT_FLOOR = 0.08
HEAT_GAMMA = 0.7  # lifts the middle of the range: a pixel at half the maximum still reads
#: The heat map is made at the canvas's logical resolution, but no finer than this on its longer
#: side (a 28×28 map needs no more): its cost stays flat on a large or high-DPI canvas.
HEAT_MAX_PX = 480
DEFAULT_HEAT_OPACITY = 0.6
CAPTION_MARGIN = 6
CLICK_SLOP_PX = 3  # a press that moves less than this is a click, not a stroke
STROKE_WASH = 0.45  # under the heat map, the strokes are shown this much closer to the paper


def _heat_table() -> np.ndarray:
    """256 premultiplied ARGB colours for the heat values -1..1 (index 0..255)."""
    value = np.linspace(-1.0, 1.0, 256)
    alpha = np.clip((np.abs(value) - HEAT_FLOOR) / (1 - HEAT_FLOOR), 0.0, 1.0) ** HEAT_GAMMA
    colour = np.where(value[:, None] > 0, RAISES, LOWERS) * alpha[:, None]
    argb = (np.round(alpha * 255).astype(np.uint32) << 24) | (np.round(colour).astype(np.uint32) << np.array([16, 8, 0], np.uint32)).sum(axis=1, dtype=np.uint32)
    return argb.astype(np.uint32)


HEAT_TABLE = _heat_table()


def heat_image(heat: np.ndarray) -> QImage:
    """A heat map (rows, cols; ±1 at full strength) as a translucent image, by table lookup."""
    index = np.clip(np.rint((np.asarray(heat, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    pixels = np.ascontiguousarray(HEAT_TABLE[index])
    rows, cols = pixels.shape
    return QImage(pixels.data, cols, rows, cols * 4, QImage.Format.Format_ARGB32_Premultiplied).copy()


@dataclass
class Stroke:
    """One press-drag-release, and whether it erases. Points are relative to the canvas centre in
    units of its shorter side, so a resize scales the drawing evenly and keeps it centred."""

    erase: bool
    points: list[tuple[float, float]] = field(default_factory=list)


class DrawingCanvas(QWidget):
    """Left button draws, right button erases; emits ``changed`` whenever the ink changes."""

    changed = Signal()
    resized = Signal()  # a saliency map made for the old size no longer lines up with the strokes

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setToolTip("Draw a digit with the left button; erase with the right.\nCtrl+Z undoes (strokes, Clear, an opened image), Ctrl+Shift+Z redoes, Esc clears.")
        self._strokes: list[Stroke] = []
        self._pressed: tuple[Stroke, QPointF] | None = None  # the stroke under way, and where its button went down
        self._background: np.ndarray | None = None  # an opened image's ink, kept at its own resolution
        self._exact: tuple[np.ndarray, np.ndarray] | None = None  # a background, and the 28×28 input it stands for
        self._undo_stack: list[tuple[list[Stroke], np.ndarray | None]] = []
        self._redo_stack: list[tuple[list[Stroke], np.ndarray | None]] = []
        self._ink = QImage()
        self._heat: QImage | None = None  # the saliency overlay, on the heat grid (heat_shape())
        self.heat_opacity = DEFAULT_HEAT_OPACITY
        self.caption = QLabel(self)  # over the top-left corner: how to read the overlay
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # strokes may start under it
        self.caption.setStyleSheet(f"background: rgba{(*PAPER, 225)}; color: rgb(60, 60, 60); border: 1px solid rgb{EDGE}; border-radius: 3px; padding: 2px 5px;")
        self.caption.hide()
        self._render()

    # -- public API -------------------------------------------------------------------------
    def ink(self) -> np.ndarray:
        """The ink as a float32 array in [0, 1] (1 = full ink), at the canvas's device resolution."""
        image = self._ink
        width, height = image.width(), image.height()
        buffer = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * height)
        return normalize(buffer.reshape(height, image.bytesPerLine())[:, :width])

    def model_input(self, mode: str = "mnist") -> np.ndarray | None:
        """The 28×28 model input: re-drawn from the strokes with a pen in proportion to the
        digit (so a small digit is not a blob), or from the ink when an image was opened."""
        return self.model_input_placed(mode)[0]

    def model_input_placed(self, mode: str = "mnist") -> tuple[np.ndarray | None, Placement | None]:
        """:meth:`model_input`, and where the drawing's ink went in it, in the pixels of the heat
        grid (:meth:`heat_shape`): a saliency map of the input goes back onto the strokes."""
        width, height = self._ink.width(), self._ink.height()
        if self._exact is not None and self._exact[0] is self._background and not self._strokes:
            box = self._fitted(self._background.shape)
            placement = Placement((box.top(), box.left(), box.height(), box.width()), (0.0, 0.0, float(SIZE), float(SIZE)))
            return self._exact[1], placement.moved(1 / self._heat_scale(), (0.0, 0.0))
        side = max(min(width, height), 1)
        strokes = [core.Stroke(np.asarray(stroke.points, np.float64), stroke.erase) for stroke in self._strokes]
        image, placement = core.drawing_input_placed(strokes, self.ink, mode, self._background is not None, scale=side, offset=(width / 2, height / 2))
        return image, None if placement is None else placement.moved(1 / self._heat_scale(), (0.0, 0.0))

    def heat_shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid a saliency map is laid on: the canvas, at most HEAT_MAX_PX."""
        scale = self._heat_scale()
        return max(1, round(self._ink.height() * scale)), max(1, round(self._ink.width() * scale))

    def set_saliency(self, heat: np.ndarray | None) -> None:
        """Lay ``heat`` (on the grid of :meth:`heat_shape`, ±1 at full strength) over the strokes;
        None removes it."""
        self._heat = None if heat is None else heat_image(heat)
        self.update()

    def saliency_image(self) -> QImage | None:
        """The overlay as laid over the strokes (before its opacity), or None."""
        return self._heat

    def set_caption(self, text: str) -> None:
        """Rich ``text`` in a box over the canvas's top-left corner ("" hides it); like the
        overlay, never part of the ink or of a saved drawing."""
        if text != self.caption.text():
            self.caption.setText(text)
            self.caption.setVisible(bool(text))
            self._place_caption()

    def _place_caption(self) -> None:
        """One line in the top-left corner, wrapped only when the canvas is too narrow for it."""
        available = max(self.width() - 2 * CAPTION_MARGIN, 1)
        self.caption.setWordWrap(False)
        line = self.caption.sizeHint()
        self.caption.setWordWrap(line.width() > available)
        width = min(line.width(), available)
        self.caption.setGeometry(CAPTION_MARGIN, CAPTION_MARGIN, width, self.caption.heightForWidth(width) if line.width() > available else line.height())

    def set_saliency_opacity(self, opacity: float) -> None:
        self.heat_opacity = min(max(opacity, 0.0), 1.0)
        self.update()

    def is_empty(self) -> bool:
        return not self._strokes and self._background is None

    def undo(self) -> None:
        """Take back the last change: a stroke, a Clear or an opened image."""
        self._step(self._undo_stack, self._redo_stack)

    def redo(self) -> None:
        self._step(self._redo_stack, self._undo_stack)

    def clear(self) -> None:
        if self.is_empty():
            return
        self._remember()
        self._strokes = []
        self._background = None
        self._render()

    def set_background(self, ink: np.ndarray, model_input: np.ndarray | None = None) -> None:
        """Replace the drawing with an image (ink in [0, 1]); strokes then draw on top of it.
        ``model_input``: the 28×28 input the image is (a dataset's digit), given to the model
        as it is until a stroke changes the drawing: preprocessing it again would thicken and
        move it, and the model would score another digit than the one shown in the gallery."""
        self._remember()
        self._strokes = []
        self._background = np.clip(np.asarray(ink, np.float32), 0, 1)
        self._exact = None if model_input is None else (self._background, np.asarray(model_input, np.float32))
        self._render()

    def _remember(self) -> None:
        """Keep the drawing as it is before a change, for undo (strokes are never edited once
        drawn, so a shallow copy of the list is a snapshot)."""
        self._undo_stack.append((list(self._strokes), self._background))
        self._redo_stack.clear()

    def _step(self, source: list, target: list) -> None:
        if source:
            target.append((list(self._strokes), self._background))
            self._strokes, self._background = source.pop()
            self._render()

    def save_png(self, path: str | Path) -> bool:
        """Save what the user sees: dark ink on light paper, at the canvas's resolution."""
        return self._paper_image().save(str(path), "PNG")

    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    # -- Qt events ----------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(QRectF(self.rect()), self._paper_image(), QRectF(self._ink.rect()))
        if self._heat is not None:  # the strokes toned down to grey, so that the colours read on them too
            painter.fillRect(self.rect(), QColor(*PAPER, round(255 * STROKE_WASH)))
            painter.setOpacity(self.heat_opacity)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(self.rect()), self._heat, QRectF(self._heat.rect()))
            painter.setOpacity(1.0)
        painter.setPen(QPen(QColor(*EDGE), 1))  # where the paper ends
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._render(emit=False)
        if self._heat is not None:  # never shown out of place: a map for the new size is asked for
            self._heat = None
            self.resized.emit()
        self._place_caption()
        super().resizeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._pressed = (Stroke(erase=event.button() == Qt.MouseButton.RightButton), event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """A stroke begins once the pointer has moved: a click (to give the canvas the keys 0-9)
        draws nothing, where it drew a dot the model saw as a digit-sized disk."""
        if self._pressed is None or not event.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            return
        stroke, start = self._pressed
        if stroke.points and not (self._strokes and self._strokes[-1] is stroke):
            self._pressed = None  # cleared, undone or replaced mid-drag: the rest of the drag draws nothing
            return
        if not stroke.points:
            if (event.position() - start).manhattanLength() < CLICK_SLOP_PX:
                return
            self._remember()
            self._strokes.append(stroke)
            self._extend(stroke, start)
        self._extend(stroke, event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._pressed = None

    # -- drawing ------------------------------------------------------------------------------
    def _extend(self, stroke: Stroke, position: QPointF) -> None:
        side = max(min(self.width(), self.height()), 1)
        # A drag that leaves the canvas keeps drawing along its edge: the model never gets ink
        # the person cannot see.
        x, y = min(max(position.x(), 0.0), self.width()), min(max(position.y(), 0.0), self.height())
        point = ((x - self.width() / 2) / side, (y - self.height() / 2) / side)
        previous = stroke.points[-1] if stroke.points else point
        stroke.points.append(point)
        painter = self._painter()
        self._draw_segment(painter, stroke.erase, previous, point)
        painter.end()
        self.update()
        self.changed.emit()

    def _render(self, emit: bool = True) -> None:
        """Redraw the whole ink image from the background and the strokes at the current size."""
        ratio = self.devicePixelRatioF()
        self._ink = QImage(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)), QImage.Format.Format_Grayscale8)
        self._ink.fill(0)
        painter = self._painter()
        if self._background is not None:
            painter.drawImage(self._fitted(self._background.shape), _gray_image(self._background))
        for stroke in self._strokes:
            for previous, point in zip(stroke.points[:1] + stroke.points[:-1], stroke.points):
                self._draw_segment(painter, stroke.erase, previous, point)
        painter.end()
        self.update()
        if emit:
            self.changed.emit()

    def _heat_scale(self) -> float:
        """Heat-grid pixels per ink pixel: the logical resolution, capped at HEAT_MAX_PX."""
        longer = max(self._ink.width(), self._ink.height(), 1)
        return min(1.0 / self.devicePixelRatioF(), HEAT_MAX_PX / longer)

    def _painter(self) -> QPainter:
        painter = QPainter(self._ink)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        return painter

    def _draw_segment(self, painter: QPainter, erase: bool, start: tuple[float, float], end: tuple[float, float]) -> None:
        width, height = self._ink.width(), self._ink.height()
        side = min(width, height)
        pen = QPen(QColor(0, 0, 0) if erase else QColor(255, 255, 255), (core.CANVAS_ERASER_FRACTION if erase else core.CANVAS_PEN_FRACTION) * side)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawLine(
            QPointF(width / 2 + start[0] * side, height / 2 + start[1] * side),
            QPointF(width / 2 + end[0] * side, height / 2 + end[1] * side),
        )

    def _fitted(self, shape: tuple[int, int]) -> QRectF:
        """The largest rectangle of the image's aspect ratio, centred in the ink image."""
        width, height = self._ink.width(), self._ink.height()
        scale = min(width / shape[1], height / shape[0])
        return QRectF((width - shape[1] * scale) / 2, (height - shape[0] * scale) / 2, shape[1] * scale, shape[0] * scale)

    def _paper_image(self) -> QImage:
        """The ink shown as dark ink on light paper: the same bytes seen through a colour table."""
        ink = self._ink
        view = QImage(ink.constBits(), ink.width(), ink.height(), ink.bytesPerLine(), QImage.Format.Format_Indexed8)
        view.setColorTable(PAPER_TABLE)
        return view.convertToFormat(QImage.Format.Format_RGB32)


def _gray_image(ink: np.ndarray) -> QImage:
    data = np.ascontiguousarray((ink * 255 + 0.5).astype(np.uint8))
    return QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8).copy()
