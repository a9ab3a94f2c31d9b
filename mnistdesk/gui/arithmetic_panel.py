"""The Arithmetic panel: how the number the user clicked came out of the layer before, with the
real numbers for their drawing, drawn as CNN Explainer draws it: a convolution's patch, kernel
and products as small grids of numbers, a dense unit's largest contributions w·x as bars, the
activation's curve with the unit's point on it, and softmax as a table.

The panel is painted with QPainter from a list of shapes made once per update (and on resize):
a hundred numbers in grids then cost a fraction of a millisecond, where a text item each would
cost ~50 µs apiece to lay out; the drawing follows the pen, so this runs at every stroke.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from mnistdesk.explain.arithmetic import Arithmetic, ConvView, Curve, DenseView, PoolView, SoftmaxView, Source, Unit, number

HOW_TO_SELECT = (
    "Click a bar of the Prediction panel, a pixel of an activation map or a dense unit in the Activations panel: "
    "this panel shows how that one number is computed from the layer before, with the real numbers for your drawing."
)
POSITIVE, NEGATIVE = (225, 30, 30), (25, 95, 235)  # as the saliency overlay: red raises, blue lowers
INK = QColor(40, 40, 40)
WHITE = QColor(255, 255, 255)
CAPTION = QColor(100, 100, 100)
OVERFLOW = QColor(200, 30, 30)  # inf and nan in the plain softmax
HIGHLIGHT = QColor(230, 120, 40)  # the kept cell, the receptive field, the curve's point, the selected row
SELECTED_ROW = QColor(255, 240, 205)
CURVE = QColor(40, 110, 190)
AXIS = QColor(190, 190, 190)
MARGIN = 6
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
CENTRE = int(Qt.AlignmentFlag.AlignCenter)
#: Text sizes (px) between which the panel's text scales with its size: 1024×640 to 1920×1080.
MIN_TEXT_PX, MAX_TEXT_PX = 10, 14
MIN_GRID_TEXT_PX, MAX_GRID_TEXT_PX = 7, 13
#: A dense unit's contribution rows get at least this height; fewer are listed where fewer fit.
MIN_ROW_PX = 13
#: The contribution bars' share of a narrow panel: below twice this, the heat map beside them shrinks.
MIN_BARS_PX = 300
#: Below this a grid's cells show their colour without the number (hover the panel larger).
MIN_NUMBER_CELL_PX = 15
#: Softmax columns, in the order they are dropped from the right when the panel is narrow.
SOFTMAX_COLUMNS = ("class", "logit", "− max", "exp", "share", "×{f:g} plain", "×{f:g} safe", "plain exp", "plain share")
MIN_COLUMN_PX = 50
#: Under the softmax table: why it subtracts the maximum (two lines where one does not fit).
SOFTMAX_NOTE = (
    "share = exp(logit − max) / {total} (the exps' sum): the largest exp is 1, nothing overflows.",
    "Plain exp(logit) / Σ overflows past a logit of 88.7: inf / inf = nan (see ×{factor:g}).",
)


class Text(NamedTuple):
    rect: QRectF
    text: str
    colour: QColor
    font: QFont
    flags: int


class Box(NamedTuple):
    rect: QRectF
    fill: QColor | None
    edge: QColor | None


class Picture(NamedTuple):
    rect: QRectF
    image: QImage


class Line(NamedTuple):
    points: QPolygonF
    colour: QColor
    width: float


Shape = Text | Box | Picture | Line


class ArithmeticPanel(QWidget):
    """The arithmetic of one unit (:func:`mnistdesk.explain.arithmetic.arithmetic`), fed by
    :meth:`show_arithmetic`. Clicking an input of the sum (a patch cell, a window cell, a
    contribution bar, a softmax row) emits ``unit_clicked(Unit)`` to follow that number back;
    clicking a convolution's channel bar shows that channel's grids."""

    unit_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(280, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.result: Arithmetic | None = None
        self.class_names = [str(digit) for digit in range(10)]
        self.channel: int | None = None  # the source channel whose grids a convolution shows; None: its largest sum
        self.shapes: list[Shape] = []  # what is on show, made by _layout(), painted by paintEvent()
        self.targets: list[tuple[QRectF, Callable[[], None]]] = []
        self._stale = True

    def set_class_names(self, names: Sequence[str]) -> None:
        self.class_names = list(names)
        self._redraw()

    def show_arithmetic(self, result: Arithmetic | None) -> None:
        """Show ``result`` (None: nothing selected, say how to select)."""
        if result is None or self.result is None or result.unit != self.result.unit:
            self.channel = None
        self.result = result
        self._redraw()

    def _redraw(self) -> None:
        self._stale = True
        self.update()

    def resizeEvent(self, event) -> None:
        self._stale = True
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._stale:
            self._layout()
        painter = QPainter(self)
        painter.fillRect(self.rect(), WHITE)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        font = colour = None
        for shape in self.shapes:  # fonts and pens set only when they change: a grid's numbers share them
            if isinstance(shape, Text):
                if shape.font is not font:
                    font = shape.font
                    painter.setFont(font)
                if shape.colour is not colour:
                    colour = shape.colour
                    painter.setPen(colour)
                painter.drawText(shape.rect, shape.flags, shape.text)
            elif isinstance(shape, Box):
                if shape.fill is not None:
                    painter.fillRect(shape.rect, shape.fill)
                if shape.edge is not None:
                    colour = None
                    painter.setPen(QPen(shape.edge, 1.5))
                    painter.drawRect(shape.rect)
            elif isinstance(shape, Picture):
                painter.drawImage(shape.rect, shape.image)
            else:
                colour = None
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                painter.setPen(QPen(shape.colour, shape.width))
                painter.drawPolyline(shape.points)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        for rect, action in self.targets:
            if rect.contains(point):
                action()
                return
        super().mousePressEvent(event)

    # -- layout ----------------------------------------------------------------------------------
    def _layout(self) -> None:
        """The shapes for the result at the panel's size (made again on resize)."""
        self._stale = False
        sheet = _Sheet(self.font(), self.width(), self.height())
        result = self.result
        if result is None:
            sheet.paragraph(HOW_TO_SELECT, sheet.area)
        else:
            area = sheet.title(_title(result, self.class_names), "" if result.value is None else f"= {number(result.value)}")
            if result.note is not None:
                sheet.paragraph(result.note, area)
            else:
                area = sheet.steps([step.text for step in result.steps], area)
                view = result.view
                if isinstance(view, SoftmaxView):
                    self._softmax(sheet, view, area)
                else:
                    area = sheet.curve(result.curve, area) if result.curve is not None else area
                    if isinstance(view, DenseView):
                        self._dense(sheet, view, area)
                    elif isinstance(view, ConvView):
                        self._conv(sheet, view, area)
                    elif isinstance(view, PoolView):
                        self._pool(sheet, view, area)
        self.shapes, self.targets = sheet.shapes, sheet.targets

    def _dense(self, sheet: _Sheet, view: DenseView, area: QRectF) -> None:
        """Bars of the largest w·x, then the rest and the bias, then z; beside them, where the
        contributions sit when they come from the drawing or maps (a heat map of w·x)."""
        heat = view.in_place if view.in_place.ndim == 2 else view.in_place.sum(axis=-1) if view.in_place.ndim == 3 else None
        if heat is not None:
            side = min(area.height(), area.width() * (0.3 if area.width() > 2 * MIN_BARS_PX else 0.22))
            picture = QRectF(area.left(), area.top() + sheet.line, side, side - sheet.line)
            sheet.caption(f"w·x on {view.source.label}", QRectF(picture.left(), area.top(), side, sheet.line))
            sheet.picture(_diverging_image(heat), picture)
            if view.source.drawing or len(view.source.shape) == 2:
                scale = picture.width() / heat.shape[1], picture.height() / heat.shape[0]
                for contribution in view.top:
                    row, col = contribution.position[:2]
                    sheet.box(QRectF(picture.left() + col * scale[0], picture.top() + row * scale[1], scale[0], scale[1]), None, HIGHLIGHT)
            area = area.adjusted(side + MARGIN, 0, 0, 0)
        rows = max(int((area.height() - 2 * sheet.line) // max(sheet.line, MIN_ROW_PX)) - 2, 1)
        shown = view.top[:rows]
        rest = view.rest + sum(c.product for c in view.top[rows:])
        rest_count = view.rest_count + len(view.top) - len(shown)
        via = f" (through {', '.join(view.source.via)})" if view.source.via else ""
        sheet.caption(f"z = Σ w·x + bias over {len(view.top) + view.rest_count} inputs from {view.source.label}{via}", QRectF(area.left(), area.top(), area.width(), sheet.line))
        entries = [(_place(view.source, c.position), f"{number(c.x)} × {number(c.w)}", c.product, view.source.unit(c.position)) for c in shown]
        entries += [(f"the other {rest_count}", "", rest, None)] if rest_count else []
        entries += [("bias", "", view.bias, None)]
        top = area.top() + sheet.line
        height = min((area.height() - 2 * sheet.line) / len(entries), 2 * sheet.line)
        sheet.bars(entries, QRectF(area.left(), top, area.width(), height * len(entries)), self.unit_clicked.emit)
        sheet.text(f"z = {number(view.z)}", QRectF(area.left(), top + height * len(entries), area.width(), sheet.line), bold=True)

    def _conv(self, sheet: _Sheet, view: ConvView, area: QRectF) -> None:
        """The receptive field outlined on the input, the patch × the kernel = the products for one
        input channel, then every channel's sum as bars (click one to see its grids), + bias = z.
        Where the panel is narrow the outline goes first: the grids' numbers matter more."""
        sums = view.channel_sums
        at = self.channel if self.channel is not None and self.channel < len(sums) else int(np.argmax(np.abs(sums)))
        channel = view.channels[at]
        several = len(sums) > 1
        kh, kw = view.patch.shape[:2]
        glyph = sheet.line
        room = area.width() - 3 * glyph
        tall = (area.height() - sheet.line * (4 if several else 2)) / kh
        cell = min(room / (3 * kw + kh), tall)
        outline = cell >= MIN_NUMBER_CELL_PX + 5
        cell = cell if outline else min(room / (3 * kw), tall)
        size = QRectF(0, 0, cell * kw, cell * kh)
        top = area.top() + sheet.line
        x = area.left()
        if outline:
            sheet.caption("the drawing" if view.source.drawing else f"{view.source.label} map {channel}", QRectF(x, area.top(), size.height() + glyph, sheet.line))
            sheet.field(view.input[:, :, channel], view.rows, view.cols, QRectF(x, top, size.height(), size.height()), view.source.drawing)
            x += size.height() + glyph
        cells = self._cells(view.source, view.rows, view.cols, channel)
        for caption, grid, kind, units, sign in (
            (f"patch, rows {view.rows[0]}–{view.rows[-1]}, cols {view.cols[0]}–{view.cols[-1]}", view.patch[:, :, at], "drawing" if view.source.drawing else "values", cells, "×"),
            ("kernel", view.kernel[:, :, at], "values", None, "="),
            ("products", view.products[:, :, at], "values", None, ""),
        ):
            sheet.caption(caption, QRectF(x, area.top(), size.width() + glyph, sheet.line))
            sheet.grid(grid, QRectF(x, top, size.width(), size.height()), kind, units, self.unit_clicked.emit)
            sheet.text(sign, QRectF(x + size.width(), top, glyph, size.height()), bold=True, flags=CENTRE)
            x += size.width() + glyph
        y = top + size.height() + MARGIN / 2
        if several:
            sheet.channel_strip(sums, at, channel, QRectF(area.left(), y, area.width(), sheet.line * 2 - MARGIN / 2), self._pick_channel)
            y += sheet.line * 2
            equation = f"Σ over {len(sums)} channels = {number(float(sums.sum()))}, + bias {number(view.bias)} = z {number(view.z)}"
        else:
            equation = f"Σ {number(float(sums.sum()))} + bias {number(view.bias)} = z {number(view.z)}"
        sheet.text(equation, QRectF(area.left(), y, area.width(), sheet.line), bold=True)

    def _pool(self, sheet: _Sheet, view: PoolView, area: QRectF) -> None:
        """The window outlined on the input, its numbers, and the one kept (max) or their mean."""
        kh, kw = view.window.shape
        glyph = sheet.line * 1.2
        cell = min((area.width() - 2 * glyph - 3 * MARGIN) / (kw + max(kw, 8)), (area.height() - 2 * sheet.line) / kh, 4 * sheet.line)
        top = area.top() + sheet.line
        side = max(cell * kh, min(area.height() - 2 * sheet.line, area.width() * 0.35))
        sheet.caption(f"{'the drawing' if view.source.drawing else f'{view.source.label} map {view.channel}'}", QRectF(area.left(), area.top(), side + glyph, sheet.line))
        sheet.field(view.input[:, :, view.channel], view.rows, view.cols, QRectF(area.left(), top, side, side), view.source.drawing)
        x = area.left() + side + glyph
        grid = QRectF(x, top, cell * kw, cell * kh)
        sheet.caption(f"window, rows {view.rows[0]}–{view.rows[-1]}, cols {view.cols[0]}–{view.cols[-1]}", QRectF(x, area.top(), area.right() - x, sheet.line))
        sheet.grid(view.window, grid, "drawing" if view.source.drawing else "values", self._cells(view.source, view.rows, view.cols, view.channel), self.unit_clicked.emit)
        if view.kept is not None:
            row, col = view.kept
            sheet.box(QRectF(grid.left() + col * cell, grid.top() + row * cell, cell, cell), None, HIGHLIGHT)
        what = f"max = {number(view.value)}" if view.kind == "max" else f"mean of {view.count} = {number(view.value)}"
        sheet.text(what, QRectF(grid.right() + MARGIN, top, area.right() - grid.right() - MARGIN, grid.height()), bold=True)

    def _softmax(self, sheet: _Sheet, view: SoftmaxView, area: QRectF) -> None:
        """The stable softmax as a table, one row a class, and the plain formula beside it (columns
        drop from the right where the panel is narrow); clicking a row shows that class."""
        note = [line.format(total=number(view.total), factor=view.factor) for line in SOFTMAX_NOTE]
        note[-1] += " The model outputs logits: the app adds the softmax." if view.added else " This layer outputs log(share)." if view.log else ""
        joined = " ".join(note)
        area = sheet.steps([joined] if sheet.small_metrics.horizontalAdvance(joined) <= area.width() else note, area)
        names = SOFTMAX_COLUMNS[: max(5, min(len(SOFTMAX_COLUMNS), int(area.width() // MIN_COLUMN_PX)))]
        count = len(view.logits)
        columns = [None, view.logits, view.shifted, view.exps, view.shares, view.scaled_plain, view.scaled_stable, view.plain_exps, view.plain_shares]
        rows = count + 1
        height = min(area.height() / rows, 2 * sheet.line)
        width = area.width() / len(names)
        font = sheet.sized(max(min(height * 0.8, sheet.text_px), MIN_GRID_TEXT_PX + 1))
        unit = self.result.unit
        for r in range(rows):
            top = area.top() + r * height
            index = r - 1
            if index == view.index:
                sheet.box(QRectF(area.left(), top, area.width(), height), SELECTED_ROW, None)
            for c, name in enumerate(names):
                cell = QRectF(area.left() + c * width, top, width - 4, height)
                if r == 0:
                    text, colour = name.format(f=view.factor), CAPTION
                elif c == 0:
                    text, colour = (self.class_names[index] if index < len(self.class_names) else str(index))[:8], INK
                else:
                    value = float(columns[c][index])
                    text, colour = number(value), INK if math.isfinite(value) else OVERFLOW
                sheet.add(Text(cell, text, colour, font, RIGHT if c else LEFT))
            if 0 <= index < count and index != view.index and len(unit.index) == 1:
                sheet.targets.append((QRectF(area.left(), top, area.width(), height), lambda index=index: self.unit_clicked.emit(Unit(unit.layer, (index,)))))

    def _cells(self, source: Source, rows: Sequence[int], cols: Sequence[int], channel: int) -> list[list[Unit | None]] | None:
        """The unit each cell of a window reads, to follow it back (None: padding, or the drawing)."""
        if source.layer is None:
            return None
        height, width = source.shape[:2]
        return [[source.unit((row, col, channel)) if 0 <= row < height and 0 <= col < width else None for col in cols] for row in rows]

    def _pick_channel(self, channel: int) -> None:
        self.channel = channel
        self._redraw()


class _Sheet:
    """The shapes of one layout and the regions that answer clicks, made by small drawing helpers."""

    def __init__(self, font: QFont, width: int, height: int):
        self._base = font
        self.text_px = int(np.clip(min(width / 42, height / 13), MIN_TEXT_PX, MAX_TEXT_PX))
        self.font = self.sized(self.text_px)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.small = self.sized(self.text_px - 1)
        self.small_metrics = QFontMetricsF(self.small)
        self.line = QFontMetricsF(self.font).height() + 2
        self.area = QRectF(MARGIN, MARGIN, width - 2 * MARGIN, height - 2 * MARGIN)
        self.shapes: list[Shape] = []
        self.targets: list[tuple[QRectF, Callable[[], None]]] = []

    def sized(self, px: float) -> QFont:
        font = QFont(self._base)
        font.setPixelSize(max(int(px), 1))
        return font

    def add(self, shape: Shape) -> None:
        self.shapes.append(shape)

    def text(self, text: str, rect: QRectF, bold: bool = False, flags: int = LEFT) -> None:
        self.add(Text(rect, text, INK, self.bold if bold else self.font, flags))

    def caption(self, text: str, rect: QRectF) -> None:
        """Small grey text, cut short with … to fit its place."""
        fitted = self.small_metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        self.add(Text(rect, fitted, CAPTION, self.small, LEFT))

    def paragraph(self, text: str, area: QRectF) -> None:
        self.add(Text(area, text, CAPTION, self.font, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)))

    def box(self, rect: QRectF, fill: QColor | None, edge: QColor | None) -> None:
        self.add(Box(rect, fill, edge))

    def picture(self, image: QImage, rect: QRectF) -> None:
        self.add(Picture(rect, image))

    def title(self, title: str, value: str) -> QRectF:
        """The unit and its number on the first line; returns the area below it."""
        rect = QRectF(self.area.left(), self.area.top(), self.area.width(), self.line)
        self.text(f"{title}  {value}", rect, bold=True)
        return self.area.adjusted(0, self.line + MARGIN / 2, 0, 0)

    def steps(self, lines: Sequence[str], area: QRectF) -> QRectF:
        """The steps after the sum, one line each at the bottom (the latest ones where not all
        fit); returns the area above them."""
        room = max(int(area.height() * 0.4 // self.line), 1)
        shown = list(lines[-room:])
        if len(lines) > room:
            shown[0] = f"… {shown[0]}"
        height = self.line * len(shown)
        for i, line in enumerate(shown):
            rect = QRectF(area.left(), area.bottom() - height + i * self.line, area.width(), self.line)
            fitted = self.small_metrics.elidedText(line, Qt.TextElideMode.ElideRight, rect.width())
            self.add(Text(rect, fitted, INK, self.small, LEFT))
        return area.adjusted(0, 0, 0, -height - (MARGIN / 2 if shown else 0))

    def curve(self, curve: Curve, area: QRectF) -> QRectF:
        """The activation's curve with the unit's point, on the right; returns the area left of it."""
        width = min(area.width() * (0.3 if area.width() > 700 else 0.2), area.height() * 1.4)
        box = QRectF(area.right() - width, area.top() + self.line, width, area.height() - self.line)
        self.caption(f"{curve.name}({number(curve.z)}) = {number(curve.value)}", QRectF(box.left(), area.top(), width, self.line))
        finite = np.isfinite(curve.ys)
        low, high = (float(curve.ys[finite].min()), float(curve.ys[finite].max())) if finite.any() else (0.0, 1.0)
        low, high = min(low, curve.value if math.isfinite(curve.value) else low), max(high, curve.value if math.isfinite(curve.value) else high)
        high = high if high > low else low + 1
        left, right = float(curve.xs[0]), float(curve.xs[-1])

        def points(xs: np.ndarray, ys: np.ndarray) -> QPolygonF:
            columns = box.left() + (xs - left) / (right - left) * box.width()
            rows = box.bottom() - (ys - low) / (high - low) * box.height()
            return QPolygonF([QPointF(x, y) for x, y in zip(columns.tolist(), rows.tolist())])

        if low <= 0 <= high:
            self.add(Line(points(np.array([left, right]), np.zeros(2)), AXIS, 1))
        self.add(Line(points(np.zeros(2), np.array([low, high])), AXIS, 1))
        self.add(Line(points(curve.xs[finite], curve.ys[finite]), CURVE, 1.5))
        if math.isfinite(curve.z) and math.isfinite(curve.value):
            centre = points(np.array([curve.z]), np.array([curve.value]))[0]
            self.box(QRectF(centre.x() - 3, centre.y() - 3, 6, 6), HIGHLIGHT, None)
        return area.adjusted(0, 0, -width - MARGIN, 0)

    def bars(self, entries: Sequence[tuple[str, str, float, Unit | None]], rect: QRectF, follow: Callable[[Unit], None]) -> None:
        """Rows of (label, "x × w", value, unit): a bar for each value about a shared zero. The
        "x × w" column is left out where it would squeeze the bars below half the width."""
        metrics = self.small_metrics
        labels = max(metrics.horizontalAdvance(label) for label, _, _, _ in entries) + 8
        products = max(metrics.horizontalAdvance(product) for _, product, _, _ in entries) + 8
        products = products if labels + products < rect.width() * 0.5 else 0
        chart = rect.adjusted(labels + products, 0, 0, 0)
        extent = max(abs(value) for _, _, value, _ in entries if math.isfinite(value)) or 1.0
        zero = chart.center().x()
        height = rect.height() / len(entries)
        left, right = LEFT, RIGHT
        self.add(Line(QPolygonF([QPointF(zero, chart.top()), QPointF(zero, chart.bottom())]), AXIS, 1))
        for i, (label, product, value, unit) in enumerate(entries):
            row = QRectF(rect.left(), rect.top() + i * height, rect.width(), height)
            self.add(Text(QRectF(row.left(), row.top(), labels, height), label, INK, self.small, left))
            if products:
                self.add(Text(QRectF(row.left() + labels, row.top(), products - 8, height), product, CAPTION, self.small, right))
            length = value / extent * chart.width() * 0.5 if math.isfinite(value) else 0.0
            self.box(QRectF(min(zero, zero + length), row.top() + height * 0.15, abs(length), height * 0.7), _colour(value, extent), None)
            # the number beside zero, on the side the bar leaves free
            if value >= 0:
                self.add(Text(QRectF(chart.left(), row.top(), chart.width() * 0.5 - 3, height), number(value), INK, self.small, right))
            else:
                self.add(Text(QRectF(zero + 3, row.top(), chart.width() * 0.5 - 3, height), number(value), INK, self.small, left))
            if unit is not None:
                self.targets.append((row, lambda unit=unit: follow(unit)))

    def grid(self, values: np.ndarray, rect: QRectF, kind: str, units: list[list[Unit | None]] | None, follow: Callable[[Unit], None]) -> None:
        """A small grid of numbers, each cell coloured by its number (grey levels for the drawing,
        blue–white–red about zero otherwise); NaN cells (over the edge) stay empty."""
        rows, cols = values.shape
        cell = rect.width() / cols
        finite = np.isfinite(values)
        extent = float(np.abs(values[finite]).max()) if finite.any() else 0.0
        fills = _greys(values) if kind == "drawing" else _colours(values, extent or 1.0)
        font = self.sized(np.clip(cell * 0.3, MIN_GRID_TEXT_PX, MAX_GRID_TEXT_PX))
        decimals = 2 if cell >= 34 else 1
        numbered = cell >= MIN_NUMBER_CELL_PX
        for r in range(rows):
            for c in range(cols):
                square = QRectF(rect.left() + c * cell, rect.top() + r * cell, cell, cell)
                if not finite[r, c]:
                    self.box(square, None, AXIS)
                    continue
                fill = fills[r][c]
                self.box(square.adjusted(0.5, 0.5, -0.5, -0.5), fill, None)  # the white between cells parts them
                if numbered:
                    self.add(Text(square, cell_text(float(values[r, c]), decimals), WHITE if fill.lightness() < 120 else INK, font, CENTRE))
                if units is not None and units[r][c] is not None:
                    self.targets.append((square, lambda unit=units[r][c]: follow(unit)))

    def field(self, image: np.ndarray, rows: Sequence[int], cols: Sequence[int], rect: QRectF, drawing: bool) -> None:
        """The whole input map with the receptive field outlined on it (as the Model's eye shows the drawing)."""
        self.picture(_grey_image(image) if drawing else _diverging_image(image), rect)
        height, width = image.shape
        sx, sy = rect.width() / width, rect.height() / height
        self.box(QRectF(rect.left() + cols[0] * sx, rect.top() + rows[0] * sy, (cols[-1] - cols[0] + 1) * sx, (rows[-1] - rows[0] + 1) * sy), None, HIGHLIGHT)

    def channel_strip(self, sums: np.ndarray, selected: int, channel: int, rect: QRectF, pick: Callable[[int], None]) -> None:
        """Each input channel's Σ as a bar about zero (click one to see its grids); the one shown outlined."""
        lines = (f"map {channel}: Σ {number(float(sums[selected]))}", "Σ by map: click")
        labels = min(rect.width() * 0.3, max(self.small_metrics.horizontalAdvance(line) for line in lines) + 8)
        for i, line in enumerate(lines):
            self.caption(line, QRectF(rect.left(), rect.top() + i * rect.height() / 2, labels, rect.height() / 2))
        chart = rect.adjusted(labels, 0, 0, 0)
        extent = float(np.abs(sums).max()) or 1.0
        width = chart.width() / len(sums)
        middle = chart.center().y()
        fills = _colours(sums[None], extent)[0]
        for index, value in enumerate(sums.tolist()):
            length = value / extent * chart.height() * 0.5
            slot = QRectF(chart.left() + index * width, chart.top(), width, chart.height())
            self.box(QRectF(slot.left() + width * 0.1, min(middle, middle - length), width * 0.8, abs(length)), fills[index], None)
            if index == selected:
                self.box(slot, None, HIGHLIGHT)
            self.targets.append((slot, lambda index=index: pick(index)))


def _title(result: Arithmetic, class_names: Sequence[str]) -> str:
    unit = result.unit
    if unit.layer is None and unit.index and unit.index[0] < len(class_names):
        return f"Prediction · {class_names[unit.index[0]]}"
    return result.title


def _place(source: Source, position: tuple[int, ...]) -> str:
    """Where an input sits, in a few characters: a pixel, a map's cell or a unit."""
    if source.drawing:
        return f"px ({position[0]}, {position[1]})"
    if len(position) == 3:
        return f"map {position[2]} ({position[0]}, {position[1]})"
    return f"unit {', '.join(map(str, position))}"


def cell_text(value: float, decimals: int) -> str:
    """A grid cell's number: few characters, a true minus sign (none on a number shown as 0)."""
    if abs(value) < 0.5 * 10**-decimals:
        return "0"
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.{max(decimals - 1, 0)}f}"
    else:
        text = f"{value:.{decimals}f}"
    return text.replace("-", "−")


def _colour(value: float, extent: float) -> QColor:
    """White at zero, red for positive, blue for negative, full at ``extent``."""
    if not math.isfinite(value):
        return OVERFLOW
    share = min(abs(value) / extent, 1.0)
    return QColor(*(round(255 + (end - 255) * share) for end in (POSITIVE if value > 0 else NEGATIVE)))


def _colours(values: np.ndarray, extent: float) -> list[list[QColor]]:
    """:func:`_colour` for a grid of numbers at once (inf and nan in the overflow colour)."""
    rgb = _diverging(values, extent).tolist()
    overflow = ~np.isfinite(values)
    return [[OVERFLOW if overflow[r, c] else QColor(*rgb[r][c]) for c in range(values.shape[1])] for r in range(values.shape[0])]


def _greys(values: np.ndarray) -> list[list[QColor]]:
    """The drawing's numbers in [0, 1] as grey levels, white ink on black like the Model's eye."""
    levels = np.round(np.clip(np.where(np.isfinite(values), values, 0), 0, 1) * 255).astype(int).tolist()
    return [[QColor(level, level, level) for level in row] for row in levels]


def _diverging(values: np.ndarray, extent: float) -> np.ndarray:
    """RGB (…, 3) uint8: white at zero, red positive, blue negative, full at ``extent``."""
    finite = np.where(np.isfinite(values), values, 0).astype(np.float32)
    share = np.minimum(np.abs(finite) / extent, 1)[..., None]
    ends = np.where(finite[..., None] > 0, np.array(POSITIVE, np.float32), np.array(NEGATIVE, np.float32))
    return np.round(255 + (ends - 255) * share).astype(np.uint8)


def _grey_image(values: np.ndarray) -> QImage:
    """A map in [0, 1] as grey levels, white ink on black like the Model's eye."""
    pixels = np.ascontiguousarray(np.clip(values, 0, 1) * 255, np.uint8)
    return QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.shape[1], QImage.Format.Format_Grayscale8).copy()


def _diverging_image(values: np.ndarray) -> QImage:
    """A map coloured white at zero, red positive, blue negative, scaled to its largest |value|."""
    extent = float(np.abs(values[np.isfinite(values)]).max(initial=0.0))
    rgb = np.ascontiguousarray(_diverging(values, extent or 1.0))
    return QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.shape[1] * 3, QImage.Format.Format_RGB888).copy()
