"""The Arithmetic panel on screen: a dense unit, a convolution output and a softmax bar drawn with
their numbers, readable in the room an Inspect dock has at 1024×640 and at 1920×1080 (numbers of
10 px at least, headings whole, the input map beside a convolution's grids), and its clicks follow
a number back to the one it came from."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF

from mnistdesk.base import paths
from mnistdesk.explain.arithmetic import Unit, arithmetic, number
from mnistdesk.gui.arithmetic_panel import CAPTION, CURVE, HOW_TO_SELECT, MAX_STRIP_PX, ArithmeticPanel, Line, Picture, Text, cell_text
from mnistdesk.net.engine import Engine, LayerSpec

#: The panel's room in its dock in a 1024×640 window and in a 1920×1080 one, maximized after it
#: opened smaller (as measured in the app: wide and short, the docks keep their height).
DOCK_SIZES = [(528, 184), (1424, 184)]
#: The dock made taller by hand.
TALL = (1150, 320)
#: The least text size (px) anything in the panel is painted at, grid numbers included.
READABLE_PX = 10


@pytest.fixture
def panel(qtbot):
    panel = ArithmeticPanel()
    qtbot.addWidget(panel)
    panel.resize(*DOCK_SIZES[0])
    panel.show()
    qtbot.waitExposed(panel)
    return panel


@pytest.fixture(scope="module")
def lean() -> Engine:
    return Engine.from_keras_file(paths.SHIPPED_MODEL_PATH)


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[5:23, 12:16] = 1.0  # a thick stroke: a 1
    image[5:8, 9:13] = 0.6
    return image


def dense_engine(logit_bias: float = 0.0) -> Engine:
    """Flatten, 16 ReLU units, then 10 outputs (a softmax unless ``logit_bias``: logits that large)."""
    rng = np.random.default_rng(0)
    hidden = LayerSpec("Dense", {"name": "hidden", "activation": "relu"}, (rng.normal(0, 0.1, (784, 16)).astype(np.float32), np.full(16, 0.1, np.float32)))
    out_kernel = rng.normal(0, 0.5, (16, 10)).astype(np.float32) * (0 if logit_bias else 1)
    out = LayerSpec("Dense", {"name": "out", "activation": "linear" if logit_bias else "softmax"}, (out_kernel, logit_bias - np.arange(10, dtype=np.float32)))
    return Engine([LayerSpec("Flatten", {"name": "flatten"}), hidden, out], (28, 28, 1))


def texts(panel: ArithmeticPanel) -> list[str]:
    """What the panel shows, once painted at its size."""
    panel.grab()
    return [shape.text for shape in panel.shapes if isinstance(shape, Text)]


def assert_inside(panel: ArithmeticPanel) -> None:
    """No text is drawn past the panel's edges (it would be cut off)."""
    bounds = QRectF(panel.rect()).adjusted(-0.5, -0.5, 0.5, 0.5)
    outside = [shape.text for shape in panel.shapes if isinstance(shape, Text) and shape.text and not bounds.contains(shape.rect)]
    assert not outside, outside


def assert_readable(panel: ArithmeticPanel, least: int = READABLE_PX) -> None:
    """Every text at ``least`` px or more; the headings whole (not cut short with …) and apart."""
    small = [(shape.text, shape.font.pixelSize()) for shape in panel.shapes if isinstance(shape, Text) and shape.text and shape.font.pixelSize() < least]
    assert not small, small
    headings = [shape for shape in panel.shapes if isinstance(shape, Text) and shape.colour == CAPTION and shape.text]
    assert not [shape.text for shape in headings if "…" in shape.text]
    spans = sorted((round(shape.rect.top()), shape.rect.left(), shape.rect.left() + QFontMetricsF(shape.font).horizontalAdvance(shape.text), shape.text) for shape in headings if shape.flags & Qt.AlignmentFlag.AlignLeft)
    for (row, _, end, text), (next_row, start, _, next_text) in zip(spans, spans[1:]):
        assert row != next_row or end <= start, f"{text!r} runs into {next_text!r}"


def grid_numbers(panel: ArithmeticPanel) -> list[Text]:
    """The numbers in the cells of the panel's grids (centred in their square cells)."""
    return [shape for shape in panel.shapes if isinstance(shape, Text) and shape.flags == int(Qt.AlignmentFlag.AlignCenter) and abs(shape.rect.width() - shape.rect.height()) < 0.01]


def test_says_how_to_select_until_something_is(panel):
    assert texts(panel) == [HOW_TO_SELECT]
    panel.show_arithmetic(None)
    assert texts(panel) == [HOW_TO_SELECT]


@pytest.mark.parametrize("size", DOCK_SIZES)
def test_dense_unit_shows_its_contributions_bias_sum_and_activation(panel, digit, size):
    panel.resize(*size)
    result = arithmetic(dense_engine(), digit, Unit("hidden", (3,)))
    view = result.view
    panel.show_arithmetic(result)
    shown = texts(panel)
    assert f"hidden · unit 3  = {number(result.value)}" in shown
    assert f"z = {number(view.z)}" in shown and "bias" in shown
    top = view.top[0]
    assert f"px ({top.position[0]}, {top.position[1]})" in shown and number(top.product) in shown
    assert any(isinstance(shape, Line) and shape.colour == CURVE for shape in panel.shapes), "the activation's curve"
    assert f"relu({number(view.z)}) = {number(result.value)}" in shown  # over the curve, not again as a step under it
    assert f"hidden: relu({number(view.z)}) = {number(result.value)}" not in shown
    if size == DOCK_SIZES[1]:
        assert f"{number(top.x)} × {number(top.w)}" in shown  # room for each input's x × w too
    assert_inside(panel)
    assert_readable(panel)


@pytest.mark.parametrize("size", [*DOCK_SIZES, TALL])
def test_convolution_shows_patch_kernel_products_and_follows_a_patch_cell_back(panel, qtbot, lean, digit, size):
    panel.resize(*size)
    name = list(lean.shown.values())[1]  # the second convolution: it reads pooled maps
    result = arithmetic(lean, digit, Unit(name, (5, 6, 2)))
    view = result.view
    panel.show_arithmetic(result)
    shown = texts(panel)
    channel = int(np.argmax(np.abs(view.channel_sums)))
    for grid in (view.patch, view.kernel, view.products):
        for value in grid[:, :, channel].ravel():  # to the decimals a cell has room for
            assert cell_text(float(value), 1) in shown or cell_text(float(value), 2) in shown
    assert any(text.endswith(f"= z {number(view.z)}") for text in shown)
    assert_inside(panel)
    assert_readable(panel)
    cell, _ = panel.targets[0]  # the patch's top-left cell: a pooled number of the layer before
    with qtbot.waitSignal(panel.unit_clicked) as clicked:
        qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=cell.center().toPoint())
    assert clicked.args == [Unit(view.source.layer, (view.rows[0], view.cols[0], view.channels[channel]))]
    pooled = arithmetic(lean, digit, clicked.args[0])
    assert pooled.view.kind == "max" and pooled.value == view.patch[0, 0, channel]  # the number it came from


def test_clicking_a_channel_bar_shows_that_channels_grids(panel, qtbot, lean, digit):
    name = list(lean.shown.values())[1]
    view = arithmetic(lean, digit, Unit(name, (5, 6, 2))).view
    panel.show_arithmetic(arithmetic(lean, digit, Unit(name, (5, 6, 2))))
    panel.grab()
    slot, _ = panel.targets[-1]  # the last channel's bar
    qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=slot.center().toPoint())
    last = len(view.channel_sums) - 1
    assert panel.channel == last
    assert any(text.startswith(f"map {last}: Σ {number(float(view.channel_sums[last]))}") for text in texts(panel))
    panel.show_arithmetic(arithmetic(lean, np.flipud(digit), Unit(name, (5, 6, 2))))  # the drawing changes: the same channel stays
    assert panel.channel == last


@pytest.mark.parametrize("size", [*DOCK_SIZES, TALL])
def test_softmax_shows_finite_shares_for_logits_of_1000_and_the_plain_formulas_nan(panel, qtbot, digit, size):
    panel.resize(*size)
    result = arithmetic(dense_engine(logit_bias=1000.0), digit, Unit(None, (0,)))
    view = result.view
    panel.show_arithmetic(result)
    shown = texts(panel)
    assert "Prediction · 0  = " + number(result.value) in shown
    assert all(number(float(share)) in shown for share in view.shares[:3]) and number(1000.0) in shown
    assert "nan" in shown, "the plain formula's inf / inf"
    assert_inside(panel)
    assert_readable(panel)
    row, _ = panel.targets[2]  # another class's row
    with qtbot.waitSignal(panel.unit_clicked) as clicked:
        qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=row.center().toPoint())
    assert clicked.args == [Unit(None, (3,))]


def test_class_names_label_the_bars_arithmetic(panel, digit):
    panel.set_class_names(["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"])
    result = arithmetic(dense_engine(), digit, Unit(None, (1,)))
    panel.show_arithmetic(result)
    shown = texts(panel)
    assert f"Prediction · Trouser  = {number(result.value)}" in shown and "Boot" in shown


@pytest.mark.parametrize("layer", [1, 2])  # the second and third convolutions: they read pooled maps
@pytest.mark.parametrize("size", DOCK_SIZES)
def test_a_later_convolution_keeps_its_input_map_and_numbers_readable_at_both_sizes(panel, lean, digit, layer, size):
    """A 1920×1080 window gave the grids ~17 px cells with 5 px numbers, left out the map with the
    receptive field and stretched the channel bars over 1,100 px; 1024×640 cut the headings short."""
    panel.resize(*size)
    result = arithmetic(lean, digit, Unit(list(lean.shown.values())[layer], (1, 5, 21)))
    panel.show_arithmetic(result)
    texts(panel)
    numbers = grid_numbers(panel)
    assert len(numbers) == 3 * result.view.patch[:, :, 0].size  # patch, kernel and products, each cell numbered
    assert min(shape.font.pixelSize() for shape in numbers) >= READABLE_PX
    if size == DOCK_SIZES[1]:
        assert min(shape.font.pixelSize() for shape in numbers) >= 13  # larger where there is room
    assert any(isinstance(shape, Picture) for shape in panel.shapes), "the input map with the receptive field outlined"
    slots = panel.targets[-len(result.view.channel_sums) :]  # the channel bars, one a map
    assert slots[-1][0].right() - slots[0][0].left() <= MAX_STRIP_PX
    assert_inside(panel)
    assert_readable(panel)


@pytest.mark.parametrize("size", DOCK_SIZES)
def test_softmax_table_is_as_wide_as_its_numbers_in_text_that_reads(panel, digit, size):
    panel.resize(*size)
    panel.show_arithmetic(arithmetic(dense_engine(), digit, Unit(None, (4,))))
    texts(panel)
    table = [shape for shape in panel.shapes if isinstance(shape, Text) and shape.font.pixelSize() and shape.text in {"logit", "exp", "share"}]
    assert table and min(shape.font.pixelSize() for shape in table) >= (12 if size == DOCK_SIZES[1] else READABLE_PX)
    assert max(shape.rect.width() for shape in table) <= 120  # not spread across a wide panel
    assert_inside(panel)
    assert_readable(panel)


@pytest.mark.parametrize("size", DOCK_SIZES)
def test_pooled_value_shows_its_window_whole(panel, lean, digit, size):
    panel.resize(*size)
    pool = next(spec.name for spec in lean.specs if spec.class_name == "MaxPooling2D")
    result = arithmetic(lean, digit, Unit(pool, (6, 6, 2)))
    panel.show_arithmetic(result)
    shown = texts(panel)
    assert f"max = {number(result.value)}" in shown
    assert any(isinstance(shape, Picture) for shape in panel.shapes)
    assert_inside(panel)
    assert_readable(panel)


def test_without_a_drawing_the_heading_says_where_the_unit_is(panel, lean):
    name = list(lean.shown.values())[2]
    panel.show_arithmetic(arithmetic(lean, None, Unit(name, (1, 5, 21))))
    assert f"{name} · map 21 at row 1, col 5  " in texts(panel)
    panel.show_arithmetic(arithmetic(dense_engine(), None, Unit("hidden", (3,))))
    assert "hidden · unit 3  " in texts(panel)
    panel.show_arithmetic(arithmetic(dense_engine(), None, Unit(None, (7,))))
    assert "Prediction · 7  " in texts(panel)
