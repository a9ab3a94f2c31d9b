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
#: A grid's numbers take the largest size their cells hold, within these; below the least the
#: cells show their colour without the number (make the panel larger to read them).
MIN_GRID_TEXT_PX, MAX_GRID_TEXT_PX = 9, 16
#: A convolution's input map beside its grids is left out only where keeping it would shrink the
#: grids' numbers below this size (and below the size they get without it).
READABLE_TEXT_PX = 10
#: Past this the grids only grow emptier: the room left goes to the rest.
MAX_CELL_PX = 56
#: The activation's curve is no wider than this.
MAX_CURVE_PX = 300
#: A dense unit's contribution rows get at least this height; fewer are listed where fewer fit.
MIN_ROW_PX = 13
#: The contribution bars' share of a narrow panel: below twice this, the heat map beside them shrinks.
MIN_BARS_PX = 300
#: A dense unit's bars with their labels are no wider than this: wider, they only drift apart.
MAX_BARS_PX = 760
#: A convolution's bar for each input map is at most this wide, the strip of them at most
#: MAX_STRIP_PX wide (the bars then narrower) and at least MIN_STRIP_PX tall.
MAX_SLOT_PX, MAX_STRIP_PX, MIN_STRIP_PX = 14, 520, 18
#: The least room between two headings.
HEADING_GAP = 12
#: Softmax columns, in the order they are dropped from the right when the panel is narrow; at
#: least the first five are shown (down to the smallest text), the sixth (the plain formula on
#: large logits, where it overflows) where the text stays readable, and each is as wide as its numbers.
SOFTMAX_COLUMNS = ("class", "logit", "− max", "exp", "share", "×{f:g} plain", "×{f:g} safe", "plain exp", "plain share")
KEPT_COLUMNS = 5
COLUMN_GAP, BLOCK_GAP = 14, 28
#: Under (or beside) the softmax table: why it subtracts the maximum.
SOFTMAX_NOTE = (
    "share = exp(logit − max) / {total} (the exps' sum): the largest exp is 1, nothing overflows.",
    "Plain exp(logit) / Σ overflows past a logit of 88.7: inf / inf = nan (see ×{factor:g}).",
)
#: The note beside the softmax table needs at least this width, else it goes under it.
MIN_NOTE_PX = 150


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
                curve = result.curve
                # the activation's step is the curve's caption: a line of its own would repeat it
                said = None if curve is None else f"{curve.name}({number(curve.z)}) = {number(curve.value)}"
                area = sheet.steps([step.text for step in result.steps if said is None or step.text != f"{step.layer}: {said}"], area)
                view = result.view
                if isinstance(view, SoftmaxView):
                    self._softmax(sheet, view, area)
                else:
                    width = sheet.curve_width(curve, area) if curve is not None else 0.0
                    content = area.adjusted(0, 0, -width - 2 * MARGIN, 0) if curve is not None else area
                    right = content.left()
                    if isinstance(view, DenseView):
                        right = self._dense(sheet, view, content)
                    elif isinstance(view, ConvView):
                        right = self._conv(sheet, view, content)
                    elif isinstance(view, PoolView):
                        right = self._pool(sheet, view, content)
                    if curve is not None:  # beside what it follows, not across a wide panel from it
                        left = min(right + 2 * MARGIN, area.right() - width)
                        sheet.curve(curve, QRectF(left, area.top(), width, area.height()))
        self.shapes, self.targets = sheet.shapes, sheet.targets

    def _dense(self, sheet: _Sheet, view: DenseView, area: QRectF) -> float:
        """Bars of the largest w·x, then the rest and the bias, then z; beside them, where the
        contributions sit when they come from the drawing or maps (a heat map of w·x). Returns
        the right edge of what it drew."""
        heat = view.in_place if view.in_place.ndim == 2 else view.in_place.sum(axis=-1) if view.in_place.ndim == 3 else None
        via = f" (through {', '.join(view.source.via)})" if view.source.via else ""
        heading = f"z = Σ w·x + bias over {len(view.top) + view.rest_count} inputs from {view.source.label}{via}"
        heat_heading = f"w·x on {view.source.label}"
        right = area.left()
        word = max(sheet.small_metrics.horizontalAdvance(word) for word in heat_heading.split(" ")) + MARGIN  # the heat map's column fits its heading's longest word
        for lines in (1, 2):  # the headings on one line where they fit, else on two
            top = area.top() + lines * sheet.small_line
            side = min(area.height() - lines * sheet.small_line, area.width() * (0.3 if area.width() > 2 * MIN_BARS_PX else 0.22)) if heat is not None else 0.0
            gutter = max(side + MARGIN, min(word, area.width() * 0.35)) if heat is not None else 0.0
            bars = area.adjusted(gutter, 0, 0, 0)
            bars.setWidth(min(bars.width(), MAX_BARS_PX))
            if lines == 2 or (sheet.fits(heading, bars.width()) and (heat is None or sheet.fits(heat_heading, gutter))):
                break
        if heat is not None:
            picture = QRectF(area.left(), top, side, side)
            sheet.captions(heat_heading, QRectF(area.left(), area.top(), gutter, top - area.top()))
            sheet.picture(_diverging_image(heat), picture)
            if view.source.drawing or len(view.source.shape) == 2:
                scale = picture.width() / heat.shape[1], picture.height() / heat.shape[0]
                for contribution in view.top:
                    row, col = contribution.position[:2]
                    sheet.box(QRectF(picture.left() + col * scale[0], picture.top() + row * scale[1], scale[0], scale[1]), None, HIGHLIGHT)
            right = picture.right()
        sheet.captions(heading, QRectF(bars.left(), area.top(), bars.width(), top - area.top()))
        room = area.bottom() - top - sheet.line
        rows = max(int(room // max(sheet.line, MIN_ROW_PX)) - 2, 1)
        shown = view.top[:rows]
        rest = view.rest + sum(c.product for c in view.top[rows:])
        rest_count = view.rest_count + len(view.top) - len(shown)
        entries = [(_place(view.source, c.position), f"{number(c.x)} × {number(c.w)}", c.product, view.source.unit(c.position)) for c in shown]
        entries += [(f"the other {rest_count}", "", rest, None)] if rest_count else []
        entries += [("bias", "", view.bias, None)]
        height = min(room / len(entries), 2 * sheet.line)
        sheet.bars(entries, QRectF(bars.left(), top, bars.width(), height * len(entries)), self.unit_clicked.emit)
        sheet.text(f"z = {number(view.z)}", QRectF(bars.left(), top + height * len(entries), bars.width(), sheet.line), bold=True)
        return max(right, bars.right())

    def _conv(self, sheet: _Sheet, view: ConvView, area: QRectF) -> float:
        """The receptive field outlined on the input, the patch × the kernel = the products for one
        input channel, then every channel's sum as bars (click one to see its grids), + bias = z.
        The sums go beside the grids where the panel is wide, under them where it is narrow;
        where it is narrow the outline goes first: the grids' numbers matter more. The headings
        take one line where they fit, else two. Returns the right edge of what it drew."""
        sums = view.channel_sums
        at = self.channel if self.channel is not None and self.channel < len(sums) else int(np.argmax(np.abs(sums)))
        channel = view.channels[at]
        several = len(sums) > 1
        kh, kw = view.patch.shape[:2]
        sign = sheet.sign
        source = ("the drawing",) if view.source.drawing else (view.source.label, f"map {channel}")
        where = f"rows {view.rows[0]}–{view.rows[-1]}, cols {view.cols[0]}–{view.cols[-1]}"
        total = float(sums.sum())
        equation = (f"Σ over {len(sums)} channels = {number(total)}" if several else f"Σ {number(total)}", f"+ bias {number(view.bias)} = z {number(view.z)}")
        picked = f"map {channel}: Σ {number(float(sums[at]))}"
        hint = "Σ by input map: click a bar"
        # the sums beside the grids: the strip over the equation, in a column as wide as they read well
        text_width = max(sheet.bold_metrics.horizontalAdvance(line) for line in equation) + MARGIN
        if several:
            text_width = max(text_width, *(sheet.small_metrics.horizontalAdvance(line) + MARGIN for line in (picked, hint)))
        column = max(text_width, min(len(sums) * MAX_SLOT_PX, MAX_STRIP_PX)) if several else text_width
        column_height = (2 * sheet.small_line + MIN_STRIP_PX if several else 0) + 2 * sheet.line
        under = (max(sheet.small_line, MIN_STRIP_PX) + MARGIN / 2 if several else 0) + sheet.line + MARGIN / 2

        def cell_size(beside: bool, outline: bool, lines: int) -> float:
            width = area.width() - (column + 2 * MARGIN if beside else 0) - 3 * sign - (sign if outline else 0)
            height = area.height() - lines * sheet.small_line - (0 if beside else under)
            return max(min(width / (3 * kw + (kh if outline else 0)), height / kh, MAX_CELL_PX), 1.0)

        # where the patch comes from: under "patch" on a second heading line, or after the title
        # where one line of headings would leave it no room and the title line has it
        asides = {True: f"patch: {where}", False: f"patch: {' '.join(source)}, {where}"}  # with the map beside the grids, or without

        def headings(cell: float, beside: bool, outline: bool, lines: int, short: bool = False) -> list[tuple[QRectF, str]] | None:
            """The headings over the map and the grids on ``lines`` lines (``short``: "patch"
            alone, its rows and columns after the title); None where they do not fit."""
            x, items = area.left(), []
            if outline:
                items.append((x, cell * kh, source if lines == 2 else (" ".join(source),)))
                x += cell * kh + sign
            patch = ("patch", where if outline else f"of {' '.join(source)}, {where}")
            items.append((x, cell * kw, patch if lines == 2 else ("patch",) if short else (f"{patch[0]} {patch[1]}" if not outline else f"patch, {where}",)))
            items += [(x + (cell * kw + sign) * i, cell * kw, (name,)) for i, name in ((1, "kernel"), (2, "products"))]
            right = area.right() - (column + 2 * MARGIN if beside else 0)
            return sheet.headings(items, area.top(), area.left(), right, lines)

        options = []  # (cell, beside, outline, lines, short)
        for outline in (True, False):
            for beside in (True, False) if column_height <= area.height() else (False,):
                cell, taller = cell_size(beside, outline, 1), cell_size(beside, outline, 2)
                if headings(cell, beside, outline, 1) is not None:
                    options.append((cell, beside, outline, 1, False))
                elif taller < cell - 0.5 and sheet.title_right + 3 * MARGIN + sheet.small_metrics.horizontalAdvance(asides[outline]) <= sheet.area.right() and headings(cell, beside, outline, 1, short=True) is not None:
                    options.append((cell, beside, outline, 1, True))
                else:
                    options.append((taller, beside, outline, 2, False))
        grids = (view.patch[:, :, at], view.kernel[:, :, at], view.products[:, :, at])
        values = np.concatenate([grid.ravel() for grid in grids])[:, None]

        def text_px(cell: float) -> int:
            font = sheet.grid_font(values, cell)[0]
            return 0 if font is None else font.pixelSize()

        best_outlined = max(option for option in options if option[2])
        best_plain = max(option for option in options if not option[2])
        keep = text_px(best_outlined[0]) >= min(READABLE_TEXT_PX, text_px(best_plain[0]))
        cell, beside, outline, lines, short = best_outlined if keep else best_plain
        top = area.top() + lines * sheet.small_line
        size = QRectF(0, 0, cell * kw, cell * kh)
        placed = headings(cell, beside, outline, lines, short)
        if short:
            sheet.caption(asides[outline], QRectF(sheet.title_right + 3 * MARGIN, sheet.area.top(), sheet.area.right() - sheet.title_right - 3 * MARGIN, sheet.line))
        if placed is not None:
            for rect, text in placed:
                sheet.caption(text, rect)
        x = area.left()
        if outline:
            side = size.height()
            if placed is None:  # too narrow even on two lines: cut short in their own columns
                for i, line in enumerate(source):
                    sheet.caption(line, QRectF(x, area.top() + i * sheet.small_line, side + sign, sheet.small_line))
            sheet.field(view.input[:, :, channel], view.rows, view.cols, QRectF(x, top, side, side), view.source.drawing)
            x += side + sign
        cells = self._cells(view.source, view.rows, view.cols, channel)
        font = sheet.grid_font(values, cell)  # one size for all three
        for caption, grid, kind, units, mark in (
            ("patch", grids[0], "drawing" if view.source.drawing else "values", cells, "×"),
            ("kernel", grids[1], "values", None, "="),
            ("products", grids[2], "values", None, ""),
        ):
            if placed is None:
                sheet.caption(caption, QRectF(x, area.top(), size.width() + sign, sheet.small_line))
            sheet.grid(grid, QRectF(x, top, size.width(), size.height()), kind, units, self.unit_clicked.emit, font)
            if mark:
                sheet.text(mark, QRectF(x + size.width(), top, sign, size.height()), bold=True, flags=CENTRE)
            x += size.width() + sign
        right = x - sign
        if beside:
            x, y = right + 2 * MARGIN, area.top()
            if several:
                sheet.caption(hint, QRectF(x, y, column, sheet.small_line))
                y += sheet.small_line
                strip = max(MIN_STRIP_PX, min(top + size.height() - y - sheet.small_line - 2 * sheet.line, 3 * sheet.line))
                right = max(right, sheet.channel_strip(sums, at, QRectF(x, y, column, strip), self._pick_channel))
                y += strip
                sheet.caption(picked, QRectF(x, y, column, sheet.small_line))
                y += sheet.small_line
            for line in equation:
                sheet.text(line, QRectF(x, y, column, sheet.line), bold=True)
                y += sheet.line
            return max(right, x + text_width)
        y = top + size.height() + MARGIN / 2
        if several:
            height = max(sheet.small_line, MIN_STRIP_PX)
            label = next((text for text in (f"{picked} · click a bar for its grids", f"{picked} · click a bar", picked) if sheet.small_metrics.horizontalAdvance(text) + MARGIN <= area.width() * 0.5), picked)
            labels = min(sheet.small_metrics.horizontalAdvance(label) + MARGIN, area.width() * 0.5)
            sheet.caption(label, QRectF(area.left(), y, labels, height))
            strip = QRectF(area.left() + labels, y, min(area.width() - labels, MAX_STRIP_PX), height)
            right = max(right, sheet.channel_strip(sums, at, strip, self._pick_channel))
            y += height + MARGIN / 2
        line = f"{equation[0]}, {equation[1]}"
        sheet.text(sheet.bold_metrics.elidedText(line, Qt.TextElideMode.ElideRight, area.width()), QRectF(area.left(), y, area.width(), sheet.line), bold=True)
        return max(right, area.left() + min(sheet.bold_metrics.horizontalAdvance(line), area.width()))

    def _pool(self, sheet: _Sheet, view: PoolView, area: QRectF) -> float:
        """The window outlined on the input, its numbers, and the one kept (max) or their mean.
        Returns the right edge of what it drew."""
        kh, kw = view.window.shape
        glyph = sheet.line * 1.2
        top = area.top() + sheet.small_line
        cell = min((area.width() - 2 * glyph - 3 * MARGIN) / (kw + max(kw, 8)), (area.bottom() - top) / kh, 4 * sheet.line)
        side = max(cell * kh, min(area.bottom() - top, area.width() * 0.35))
        sheet.caption("the drawing" if view.source.drawing else f"{view.source.label} map {view.channel}", QRectF(area.left(), area.top(), side + glyph, sheet.small_line))
        sheet.field(view.input[:, :, view.channel], view.rows, view.cols, QRectF(area.left(), top, side, side), view.source.drawing)
        x = area.left() + side + glyph
        grid = QRectF(x, top, cell * kw, cell * kh)
        sheet.caption(f"window, rows {view.rows[0]}–{view.rows[-1]}, cols {view.cols[0]}–{view.cols[-1]}", QRectF(x, area.top(), area.right() - x, sheet.small_line))
        sheet.grid(view.window, grid, "drawing" if view.source.drawing else "values", self._cells(view.source, view.rows, view.cols, view.channel), self.unit_clicked.emit)
        if view.kept is not None:
            row, col = view.kept
            sheet.box(QRectF(grid.left() + col * cell, grid.top() + row * cell, cell, cell), None, HIGHLIGHT)
        what = f"max = {number(view.value)}" if view.kind == "max" else f"mean of {view.count} = {number(view.value)}"
        sheet.text(what, QRectF(grid.right() + MARGIN, top, area.right() - grid.right() - MARGIN, grid.height()), bold=True)
        return min(grid.right() + MARGIN + sheet.bold_metrics.horizontalAdvance(what), area.right())

    def _softmax(self, sheet: _Sheet, view: SoftmaxView, area: QRectF) -> None:
        """The stable softmax as a table, one row a class, and the plain formula beside it; each
        column as wide as its numbers, the classes in two halves side by side where rows would
        be too short, the columns dropped from the right where the panel is narrow; the note
        beside the table where it has room, else under it. Clicking a row shows that class."""
        note = [line.format(total=number(view.total), factor=view.factor) for line in SOFTMAX_NOTE]
        note[-1] += " The model outputs logits: the app adds the softmax." if view.added else " This layer outputs log(share)." if view.log else ""
        joined = " ".join(note)
        under = [joined] if sheet.fits(joined, area.width()) else note
        count = len(view.logits)
        values = [None, view.logits, view.shifted, view.exps, view.shares, view.scaled_plain, view.scaled_stable, view.plain_exps, view.plain_shares]
        names = [(self.class_names[index] if index < len(self.class_names) else str(index))[:8] for index in range(count)]
        texts = [[name.format(f=view.factor)] + (names if c == 0 else [number(float(value)) for value in values[c]]) for c, name in enumerate(SOFTMAX_COLUMNS)]
        # every arrangement at every size: readable text first, then the plain formula's column
        # (where it overflows), then the largest text, then the most columns
        best = None  # (score, text px, blocks, row height, widths, note beside)
        measured: dict[int, list[float]] = {}  # each column's width at a text size, measured once

        def column_widths(px: int) -> list[float]:
            if px not in measured:
                metrics = sheet.metrics(px)
                measured[px] = [max(metrics.horizontalAdvance(text) for text in column) + COLUMN_GAP for column in texts]
            return measured[px]

        for blocks in (1, 2) if count > 5 else (1,):
            per = math.ceil(count / blocks)
            for beside in (True, False):
                height = area.height() - (0 if beside else len(under) * sheet.line + MARGIN / 2)
                row = min(height / (per + 1), 2 * sheet.line)
                room = area.width() - (MIN_NOTE_PX + 2 * MARGIN if beside else 0) - BLOCK_GAP * (blocks - 1)
                for px in range(min(int((row - 1) / 1.17), sheet.text_px), MIN_GRID_TEXT_PX - 1, -1):
                    widths = column_widths(px)
                    shown = sum(1 for end in np.cumsum(widths) if end * blocks <= room)
                    if shown < KEPT_COLUMNS:
                        continue
                    if beside and len(sheet.wrap(joined, area.width() - sum(widths[:shown]) * blocks - BLOCK_GAP * (blocks - 1) - 2 * MARGIN)) * sheet.small_line > area.height():
                        continue
                    score = (px >= READABLE_TEXT_PX, min(shown, KEPT_COLUMNS + 1), px, shown, blocks == 1, not beside)
                    if best is None or score > best[0]:
                        best = (score, px, blocks, row, widths[:shown], beside)
        if best is None:  # too small for five columns: as many as fit, in the smallest text
            widths = column_widths(MIN_GRID_TEXT_PX)
            height = area.height() - len(under) * sheet.line - MARGIN / 2
            best = ((), MIN_GRID_TEXT_PX, 1, min(height / (count + 1), 2 * sheet.line), widths[: max(1, sum(1 for end in np.cumsum(widths) if end <= area.width()))], False)
        _, px, blocks, height, widths, beside = best
        font = sheet.sized(px)
        per = math.ceil(count / blocks)
        width = sum(widths)
        unit = self.result.unit
        if not beside:
            area = sheet.steps(under, area)
        for block in range(blocks):
            left = area.left() + block * (width + BLOCK_GAP)
            if block:  # a rule between the halves
                rule = left - BLOCK_GAP / 2
                sheet.add(Line(QPolygonF([QPointF(rule, area.top()), QPointF(rule, area.top() + (per + 1) * height)]), AXIS, 1))
            indices = [None] + list(range(block * per, min(count, (block + 1) * per)))
            for r, index in enumerate(indices):
                top = area.top() + r * height
                if index == view.index:
                    sheet.box(QRectF(left, top, width, height), SELECTED_ROW, None)
                x = left
                for c, column in enumerate(texts[: len(widths)]):
                    cell = QRectF(x, top, widths[c] - COLUMN_GAP / 2, height)
                    x += widths[c]
                    if index is None:
                        text, colour = column[0], CAPTION
                    else:
                        value = float(values[c][index]) if c else 0.0
                        text, colour = column[index + 1], INK if math.isfinite(value) else OVERFLOW
                    sheet.add(Text(cell, text, colour, font, RIGHT if c else LEFT))
                if index is not None and index != view.index and len(unit.index) == 1:
                    sheet.targets.append((QRectF(left, top, width, height), lambda index=index: self.unit_clicked.emit(Unit(unit.layer, (index,)))))
        if beside:
            left = area.left() + blocks * width + BLOCK_GAP * (blocks - 1) + 2 * MARGIN
            for i, line in enumerate(sheet.wrap(joined, area.right() - left)):
                sheet.add(Text(QRectF(left, area.top() + i * sheet.small_line, area.right() - left, sheet.small_line), line, CAPTION, sheet.small, LEFT))

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
        self._metrics: dict[int, QFontMetricsF] = {}
        self.text_px = int(np.clip(min(width / 42, height / 13), MIN_TEXT_PX, MAX_TEXT_PX))
        self.font = self.sized(self.text_px)
        self.bold = QFont(self.font)
        self.bold.setBold(True)
        self.bold_metrics = QFontMetricsF(self.bold)
        self.small = self.sized(max(self.text_px - 1, MIN_TEXT_PX))
        self.small_metrics = QFontMetricsF(self.small)
        self.line = QFontMetricsF(self.font).height() + 2
        self.small_line = self.small_metrics.height() + 1
        self.sign = self.bold_metrics.horizontalAdvance("×") + 6  # the room for × and = between grids
        self.area = QRectF(MARGIN, MARGIN, width - 2 * MARGIN, height - 2 * MARGIN)
        self.title_right = self.area.right()
        self.shapes: list[Shape] = []
        self.targets: list[tuple[QRectF, Callable[[], None]]] = []

    def sized(self, px: float) -> QFont:
        font = QFont(self._base)
        font.setPixelSize(max(int(px), 1))
        return font

    def metrics(self, px: int) -> QFontMetricsF:
        """The metrics of the panel's font at ``px`` pixels (kept: a grid tries a few sizes)."""
        if px not in self._metrics:
            self._metrics[px] = QFontMetricsF(self.sized(px))
        return self._metrics[px]

    def fits(self, text: str, width: float) -> bool:
        """Whether ``text`` fits ``width`` on one line in the small (caption) font."""
        return self.small_metrics.horizontalAdvance(text) <= width - 2

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` in lines of the small font no wider than ``width``, broken between words (a
        word wider than that alone on its line, cut short with …)."""
        lines: list[str] = []
        for word in text.split(" "):
            joined = f"{lines[-1]} {word}" if lines else word
            if lines and self.fits(joined, width):
                lines[-1] = joined
            else:
                lines.append(word)
        return [self.small_metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in lines]

    def add(self, shape: Shape) -> None:
        self.shapes.append(shape)

    def text(self, text: str, rect: QRectF, bold: bool = False, flags: int = LEFT) -> None:
        self.add(Text(rect, text, INK, self.bold if bold else self.font, flags))

    def caption(self, text: str, rect: QRectF) -> None:
        """Small grey text on one line, cut short with … only where its place is too narrow (the
        layouts give their headings the room or a second line first)."""
        fitted = self.small_metrics.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        self.add(Text(rect, fitted, CAPTION, self.small, LEFT))

    def captions(self, text: str, rect: QRectF) -> None:
        """Small grey text wrapped into as many lines as ``rect`` holds (the last cut short with …
        if it needs more)."""
        room = max(int(round(rect.height() / self.small_line)), 1)
        lines = self.wrap(text, rect.width())
        if len(lines) > room:
            lines = lines[: room - 1] + [" ".join(lines[room - 1 :])]
        for i, line in enumerate(lines):
            self.caption(line, QRectF(rect.left(), rect.top() + i * self.small_line, rect.width(), self.small_line))

    def headings(self, items: Sequence[tuple[float, float, Sequence[str]]], top: float, left: float, right: float, lines: int) -> list[tuple[QRectF, str]] | None:
        """Headings (x, width, lines of text) each centred over its column, on ``lines`` lines:
        one may spill into the room its neighbours' headings leave, within ``left``..``right``.
        Returns where each line goes, or None where two would come closer than HEADING_GAP."""
        placed = []
        for line in range(lines):
            end = -math.inf
            for x, width, texts in items:
                text = texts[line] if line < len(texts) else ""
                if not text:
                    continue
                advance = self.small_metrics.horizontalAdvance(text)
                start = min(max(x + (width - advance) / 2, left), right - advance)
                if start < left or start < end + HEADING_GAP:
                    return None
                placed.append((QRectF(start, top + line * self.small_line, advance + 2, self.small_line), text))
                end = start + advance
        return placed

    def paragraph(self, text: str, area: QRectF) -> None:
        self.add(Text(area, text, CAPTION, self.font, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap)))

    def box(self, rect: QRectF, fill: QColor | None, edge: QColor | None) -> None:
        self.add(Box(rect, fill, edge))

    def picture(self, image: QImage, rect: QRectF) -> None:
        self.add(Picture(rect, image))

    def title(self, title: str, value: str) -> QRectF:
        """The unit and its number on the first line; returns the area below it."""
        rect = QRectF(self.area.left(), self.area.top(), self.area.width(), self.line)
        text = self.bold_metrics.elidedText(f"{title}  {value}", Qt.TextElideMode.ElideMiddle, rect.width())
        self.text(text, rect, bold=True)
        self.title_right = rect.left() + self.bold_metrics.horizontalAdvance(text)  # where the title line has room left
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

    def curve_width(self, curve: Curve, area: QRectF) -> float:
        """The width the activation's curve takes: a share of the panel, and room for its caption."""
        width = min(area.width() * (0.3 if area.width() > 700 else 0.2), area.height() * 1.4, MAX_CURVE_PX)
        return max(width, min(self.small_metrics.horizontalAdvance(_curve_caption(curve)) + 4, area.width() * 0.4))

    def curve(self, curve: Curve, rect: QRectF) -> None:
        """The activation's curve with the unit's point, in ``rect`` under its caption."""
        box = rect.adjusted(0, self.small_line, 0, 0)
        box.setHeight(min(box.height(), box.width() * 1.2))  # in a tall panel, no taller than it reads
        self.caption(_curve_caption(curve), QRectF(rect.left(), rect.top(), rect.width(), self.small_line))
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

    def grid_font(self, values: np.ndarray, cell: float) -> tuple[QFont | None, int]:
        """The largest font (within MIN_GRID_TEXT_PX..MAX_GRID_TEXT_PX) in which every number of
        the grid fits its cell, and the decimals (two where cells are large enough for them at a
        good size); None: the cells are too small for numbers."""
        finite = values[np.isfinite(values)].ravel().tolist()
        for decimals in (2, 1) if cell >= 40 else (1,):
            texts = {cell_text(value, decimals) for value in finite} or {"0"}
            for px in range(min(int(cell * 0.45), MAX_GRID_TEXT_PX), MIN_GRID_TEXT_PX - 1, -1):
                metrics = self.metrics(px)
                if max(metrics.horizontalAdvance(text) for text in texts) <= cell - max(1.5, (cell - 20) * 0.2):  # small cells: the glyphs' side bearings keep them apart
                    if decimals == 1 or px >= 12:
                        return self.sized(px), decimals
                    break
        return None, 1

    def grid(self, values: np.ndarray, rect: QRectF, kind: str, units: list[list[Unit | None]] | None, follow: Callable[[Unit], None], font: tuple[QFont | None, int] | None = None) -> None:
        """A small grid of numbers, each cell coloured by its number (grey levels for the drawing,
        blue–white–red about zero otherwise); NaN cells (over the edge) stay empty. ``font``: the
        numbers' font and decimals (:meth:`grid_font`; by default the largest these cells hold)."""
        rows, cols = values.shape
        cell = rect.width() / cols
        finite = np.isfinite(values)
        extent = float(np.abs(values[finite]).max()) if finite.any() else 0.0
        fills = _greys(values) if kind == "drawing" else _colours(values, extent or 1.0)
        font, decimals = font or self.grid_font(values, cell)
        for r in range(rows):
            for c in range(cols):
                square = QRectF(rect.left() + c * cell, rect.top() + r * cell, cell, cell)
                if not finite[r, c]:
                    self.box(square, None, AXIS)
                    continue
                fill = fills[r][c]
                self.box(square.adjusted(0.5, 0.5, -0.5, -0.5), fill, None)  # the white between cells parts them
                if font is not None:
                    self.add(Text(square, cell_text(float(values[r, c]), decimals), WHITE if fill.lightness() < 120 else INK, font, CENTRE))
                if units is not None and units[r][c] is not None:
                    self.targets.append((square, lambda unit=units[r][c]: follow(unit)))

    def field(self, image: np.ndarray, rows: Sequence[int], cols: Sequence[int], rect: QRectF, drawing: bool) -> None:
        """The whole input map with the receptive field outlined on it (as the Model's eye shows the drawing)."""
        self.picture(_grey_image(image) if drawing else _diverging_image(image), rect)
        height, width = image.shape
        sx, sy = rect.width() / width, rect.height() / height
        self.box(QRectF(rect.left() + cols[0] * sx, rect.top() + rows[0] * sy, (cols[-1] - cols[0] + 1) * sx, (rows[-1] - rows[0] + 1) * sy), None, HIGHLIGHT)

    def channel_strip(self, sums: np.ndarray, selected: int, rect: QRectF, pick: Callable[[int], None]) -> float:
        """Each input channel's Σ as a bar about zero (click one to see its grids), the one shown
        outlined; each bar at most MAX_SLOT_PX wide, from the left of ``rect``. Returns the right edge."""
        extent = float(np.abs(sums).max()) or 1.0
        width = min(rect.width() / len(sums), MAX_SLOT_PX)
        middle = rect.center().y()
        fills = _colours(sums[None], extent)[0]
        self.add(Line(QPolygonF([QPointF(rect.left(), middle), QPointF(rect.left() + width * len(sums), middle)]), AXIS, 1))
        for index, value in enumerate(sums.tolist()):
            length = value / extent * rect.height() * 0.5
            slot = QRectF(rect.left() + index * width, rect.top(), width, rect.height())
            self.box(QRectF(slot.left() + width * 0.1, min(middle, middle - length), width * 0.8, abs(length)), fills[index], None)
            if index == selected:
                self.box(slot, None, HIGHLIGHT)
            self.targets.append((slot, lambda index=index: pick(index)))
        return rect.left() + width * len(sums)


def _curve_caption(curve: Curve) -> str:
    return f"{curve.name}({number(curve.z)}) = {number(curve.value)}"


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
