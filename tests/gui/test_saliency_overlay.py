"""The saliency overlay: a heat map over the canvas of what moved a class's probability, driven
like a person would (Ctrl+G, a click on a bar, the Robustness sliders, the method menu)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QImage
from test_gui import SEVEN, draw

from mnistdesk.base import paths
from mnistdesk.explain.saliency import Saliency
from mnistdesk.explain.session import Session
from mnistdesk.gui import canvas as canvas_module
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow
from mnistdesk.ink.preprocess import STROKE_RATIO, field_to_ink
from mnistdesk.net.engine import Engine

CROSSBAR = [(0.38, 0.5), (0.72, 0.5)]


def make_window(qtbot, settings_path) -> MainWindow:
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(settings_path), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(1100, 750)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot, tmp_path):
    return make_window(qtbot, tmp_path / "settings.ini")


def draw_crossed_seven(window, qtbot) -> None:
    draw(window.canvas, SEVEN)
    draw(window.canvas, CROSSBAR)
    qtbot.waitUntil(lambda: window.last_probabilities is not None and np.argmax(window.last_probabilities) == 7, timeout=2000)


def show_overlay(window, qtbot) -> None:
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert window.saliency.action.isChecked()
    qtbot.waitUntil(lambda: window.canvas.saliency_image() is not None, timeout=2000)


def heat_strength(canvas) -> np.ndarray:
    """The overlay as painted: its opacity per pixel of the heat grid, 0-1."""
    image = canvas.saliency_image().convertToFormat(QImage.Format.Format_ARGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes()).reshape(image.height(), image.width(), 4)
    return pixels[..., 3] / 255.0


def ink_on_heat_grid(canvas, shape: tuple[int, int]) -> np.ndarray:
    """The canvas's ink sampled at the heat grid's pixel centres."""
    ink = canvas.ink()
    rows = ((np.arange(shape[0]) + 0.5) * ink.shape[0] / shape[0]).astype(int)
    cols = ((np.arange(shape[1]) + 0.5) * ink.shape[1] / shape[1]).astype(int)
    return ink[rows][:, cols] > 0.5


def click_bar(qtbot, window, index: int) -> None:
    plot = window.softmax.plot
    scene_point = plot.getPlotItem().vb.mapViewToScene(QPointF(index, 0.5))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene_point))


@pytest.mark.parametrize("most_px", [10_000, 300], ids=["canvas-resolution", "coarser-heat-grid"])
def test_the_overlay_lays_the_heat_on_the_drawn_digit(window, qtbot, monkeypatch, most_px):
    monkeypatch.setattr(canvas_module, "HEAT_MAX_PX", most_px)
    assert (max(window.canvas.heat_shape()) < max(window.canvas.width(), window.canvas.height())) == (most_px == 300)
    draw_crossed_seven(window, qtbot)
    assert window.canvas.saliency_image() is None, "off until asked for"
    show_overlay(window, qtbot)
    heat = heat_strength(window.canvas)
    ink = ink_on_heat_grid(window.canvas, heat.shape)
    rows, cols = np.nonzero(ink)
    hot_rows, hot_cols = np.nonzero(heat > 0.05)
    # The map is the model's 28×28 field laid over the strokes: the digit's box (its strokes
    # re-drawn with the model's pen, STROKE_RATIO of the box) is 20 of its pixels on its longer
    # side, so the heat spans at most 28 of those, and the strokes lie inside it.
    size = max(np.ptp(rows), np.ptp(cols))
    most = 28 / 20 * (1 + STROKE_RATIO) * size + 3
    assert np.ptp(hot_rows) <= most and np.ptp(hot_cols) <= most
    assert hot_rows.min() <= rows.min() + 3 and hot_rows.max() >= rows.max() - 3
    assert hot_cols.min() <= cols.min() + 3 and hot_cols.max() >= cols.max() - 3
    assert (heat[ink] > 0.05).mean() > 0.5, "most of the strokes are coloured"
    centre = np.array([rows.mean(), cols.mean()])
    hot_centre = np.array([(heat * np.arange(heat.shape[0])[:, None]).sum(), (heat * np.arange(heat.shape[1])).sum()]) / heat.sum()
    assert np.abs(hot_centre - centre).max() < 0.15 * size
    assert window.canvas.caption.isVisible() and window.canvas.caption.text().startswith("Why <b>7</b>")


def test_an_opened_image_gets_its_heat_on_its_ink(window, qtbot, sample):
    window.canvas.set_background(np.kron(sample.x_test[0] / 255.0, np.ones((10, 10))))
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    show_overlay(window, qtbot)
    heat = heat_strength(window.canvas)
    ink = ink_on_heat_grid(window.canvas, heat.shape)
    rows, cols = np.nonzero(ink)
    hot_centre = np.array([(heat * np.arange(heat.shape[0])[:, None]).sum(), (heat * np.arange(heat.shape[1])).sum()]) / heat.sum()
    assert np.abs(hot_centre - [rows.mean(), cols.mean()]).max() < 0.15 * max(np.ptp(rows), np.ptp(cols))
    assert (heat[ink] > 0.05).mean() > 0.5


def test_the_crossbar_raised_the_seven(window, qtbot):
    """The issue's done-when: the crossbar mattered. Its ink is coloured red (it raised the 7)
    more than blue, and it lowers the 1 the stem alone could be."""
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    explanation = window.session.explanation
    crossbar = np.zeros(explanation.heat.shape, bool)
    rows, cols = explanation.heat.shape
    crossbar[round(0.48 * rows) : round(0.52 * rows), round(0.45 * cols) : round(0.70 * cols)] = True
    assert explanation.heat[crossbar].mean() > 0.3
    click_bar(qtbot, window, 1)
    qtbot.waitUntil(lambda: window.session.explanation.class_index == 1, timeout=2000)
    assert window.session.explanation.heat[crossbar].mean() < -0.3


def test_turned_off_the_overlay_is_gone(window, qtbot):
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    window.saliency.action.trigger()
    assert window.canvas.saliency_image() is None
    assert not window.canvas.caption.isVisible()
    draw(window.canvas, [(0.3, 0.8), (0.4, 0.8)])
    qtbot.wait(100)
    assert window.canvas.saliency_image() is None, "drawing on does not bring it back"


def test_clicking_a_bar_explains_that_class_until_it_is_clicked_again(window, qtbot):
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    seven = window.session.explanation.field
    click_bar(qtbot, window, 3)
    explanation = window.session.explanation
    assert explanation.class_index == 3 and explanation.picked
    assert np.corrcoef(seven.ravel(), explanation.field.ravel())[0, 1] < 0.9, "another class, another map"
    assert window.softmax.picked_band.isVisible() and list(window.softmax.picked_band.opts["x"]) == [3]
    assert "For <b>3</b> (picked)" in window.canvas.caption.text()
    draw(window.canvas, [(0.3, 0.85), (0.35, 0.85)])  # the pick holds while the drawing changes
    qtbot.waitUntil(lambda: not np.array_equal(window.session.explanation.field, explanation.field), timeout=2000)
    assert window.session.explanation.class_index == 3
    click_bar(qtbot, window, 3)
    assert window.session.explanation.class_index == 7 and not window.session.explanation.picked
    assert not window.softmax.picked_band.isVisible()


def test_a_bar_click_turns_the_overlay_on_and_clearing_forgets_the_pick(window, qtbot):
    draw_crossed_seven(window, qtbot)
    click_bar(qtbot, window, 1)
    assert window.saliency.action.isChecked() and window.canvas.saliency_image() is not None
    assert window.session.explanation.class_index == 1
    window.canvas.clear()
    qtbot.waitUntil(lambda: window.last_probabilities is None, timeout=2000)
    assert window.canvas.saliency_image() is None and "Draw a digit" in window.canvas.caption.text()
    draw_crossed_seven(window, qtbot)
    qtbot.waitUntil(lambda: window.session.explanation.class_index == 7, timeout=2000)
    assert not window.session.explanation.picked


def test_the_overlay_is_never_saved_nor_part_of_the_ink(window, qtbot, tmp_path):
    draw_crossed_seven(window, qtbot)
    window.canvas.save_png(tmp_path / "plain.png")
    ink = window.canvas.ink().copy()
    show_overlay(window, qtbot)
    assert window.canvas.save_png(tmp_path / "with_overlay.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "with_overlay.png")), np.asarray(Image.open(tmp_path / "plain.png")))
    np.testing.assert_array_equal(window.canvas.ink(), ink)
    shown = window.canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(shown.constBits(), np.uint8, count=shown.sizeInBytes()).reshape(shown.height(), shown.width(), 4)
    assert (np.abs(pixels[..., 2].astype(int) - pixels[..., 0]) > 60).mean() > 0.02, "on screen it is there, in colour"


def test_robustness_sliders_hide_the_overlay_and_say_why(window, qtbot):
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    window.robustness.sliders["rotation"].setValue(30)
    assert window.canvas.saliency_image() is None, "a map of the rotated input would not line up with the strokes"
    assert "Robustness" in window.canvas.caption.text()
    window.robustness.reset.click()
    assert window.canvas.saliency_image() is not None
    assert window.canvas.caption.text().startswith("Why")


def test_smoothgrad_is_made_once_the_drawing_rests(window, qtbot):
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    window.saliency.menu.methods.actions()[1].trigger()
    assert window.session.saliency_method == "smoothgrad"
    draw(window.canvas, [(0.3, 0.85), (0.35, 0.85)])
    window.drawing.predict_now()  # a change while drawing: the plain gradient stands in
    assert not window.session.explanation.settled and "SmoothGrad when you pause" in window.canvas.caption.text()
    qtbot.waitUntil(lambda: window.session.explanation.settled, timeout=2000)
    expected = Saliency(window.predictor).smooth_gradient(window.last_input, 7)
    np.testing.assert_allclose(window.session.explanation.field, expected, atol=1e-6)
    assert "SmoothGrad when you pause" not in window.canvas.caption.text()


def test_a_resized_canvas_gets_a_map_that_fits_it(window, qtbot):
    draw_crossed_seven(window, qtbot)
    show_overlay(window, qtbot)
    before = window.canvas.saliency_image().size()
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.canvas.saliency_image() is not None and window.canvas.saliency_image().size() != before, timeout=2000)
    assert window.session.explanation.heat.shape == window.canvas.heat_shape()


def test_the_overlay_settings_persist(qtbot, tmp_path):
    first = make_window(qtbot, tmp_path / "settings.ini")
    first.saliency.action.trigger()
    first.saliency.menu.methods.actions()[1].trigger()
    first.saliency.menu.opacity.setValue(35)
    first.close()
    second = make_window(qtbot, tmp_path / "settings.ini")
    assert second.saliency.action.isChecked() and second.session.saliency_wanted
    assert second.saliency.menu.method() == "smoothgrad" and second.session.saliency_method == "smoothgrad"
    assert second.canvas.heat_opacity == pytest.approx(0.35)
    second.close()


def test_unreadable_settings_fall_back_to_the_defaults(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("saliency/method", "magic")
    settings.setValue("saliency/opacity", "9000")
    settings.setValue("saliency/shown", "perhaps")
    settings.sync()
    window = make_window(qtbot, tmp_path / "settings.ini")
    assert not window.saliency.action.isChecked()
    assert window.session.saliency_method == "gradient" and window.canvas.heat_opacity == pytest.approx(0.6)


# -- the session, without Qt ------------------------------------------------------------------
def test_the_session_explains_with_the_engines_gradient_carried_onto_the_canvas(sample):
    from mnistdesk.ink.preprocess import preprocess_placed

    session, engine = Session(), Engine.from_keras_file(paths.SHIPPED_MODEL_PATH)
    explanations = []
    session.events.saliency_changed.connect(explanations.append)
    session.set_predictor(engine)
    ink = np.kron(sample.x_test[0] / 255.0, np.ones((10, 10)))
    image, placement = preprocess_placed(ink)
    session.set_drawing(image, placement, ink.shape)
    assert not explanations, "nothing is computed while the overlay is off"
    session.set_saliency_wanted(True)
    explanation = explanations[-1]
    label = int(sample.y_test[0])
    assert explanation.class_index == label and not explanation.picked and explanation.note is None
    field = Saliency(engine).gradient(image, label)
    np.testing.assert_allclose(explanation.field, field, atol=1e-7)
    robust_max = np.percentile(np.abs(field), 99)
    np.testing.assert_allclose(explanation.heat, field_to_ink(field / robust_max, placement, ink.shape), atol=1e-5)
    session.pick_class(3)
    assert explanations[-1].class_index == 3 and explanations[-1].picked
    session.set_saliency_wanted(False)
    assert explanations[-1].heat is None and session.saliency_pick is None


def test_a_keras_fallback_model_has_no_saliency_and_says_so():
    class KerasLike:
        note = None

        def predict(self, images):
            images = np.asarray(images)
            return np.full((1 if images.ndim == 2 else len(images), 10), 0.1, np.float32)

    session = Session()
    session.set_predictor(KerasLike())
    session.set_saliency_wanted(True)
    session.set_drawing(np.ones((28, 28), np.float32) * 0.5)
    assert session.explanation.heat is None and session.explanation.field is None
    assert "Keras" in session.explanation.note
