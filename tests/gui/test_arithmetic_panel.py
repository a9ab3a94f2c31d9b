"""The Arithmetic panel on screen: a dense unit, a convolution output and a softmax bar drawn with
their numbers, readable in the room an Inspect dock has at 1024×640 and at 1920×1080, and its
clicks follow a number back to the one it came from."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt

from mnistdesk.base import paths
from mnistdesk.explain.arithmetic import Unit, arithmetic, number
from mnistdesk.gui.arithmetic_panel import CURVE, HOW_TO_SELECT, ArithmeticPanel, Line, Text, cell_text
from mnistdesk.net.engine import Engine, LayerSpec

#: The Inspect docks' room (the panel inside its dock) in a 1024×640 and a 1920×1080 window.
DOCK_SIZES = [(424, 190), (1150, 320)]


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
    assert f"hidden: relu({number(view.z)}) = {number(result.value)}" in shown
    if size == DOCK_SIZES[1]:
        assert f"{number(top.x)} × {number(top.w)}" in shown  # room for each input's x × w too
    assert_inside(panel)


@pytest.mark.parametrize("size", DOCK_SIZES)
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


@pytest.mark.parametrize("size", DOCK_SIZES)
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
