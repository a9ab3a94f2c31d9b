"""Looking inside the model: the confusion matrix and its mistakes, the drawing's probability
history over a run, the hidden layers' activations, and the robustness sliders."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import train_tiny_dense
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from test_gui import draw

from mnistdesk.base import paths
from mnistdesk.explain.inspection import SplitScore, Transform, per_class_accuracy, row_normalised, transformed
from mnistdesk.explain.session import Session, Snapshots, bundled_test_split
from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow
from mnistdesk.net.engine import Engine, load_predictor

TIMEOUT_MS = 60_000


def one_hot(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Probabilities that put ``confidence`` on each predicted class, the rest spread evenly."""
    probabilities = np.tile((1 - np.array(confidence))[:, None] / 9, (1, 10))
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


@pytest.fixture
def known_score() -> SplitScore:
    """Six digits: two 4s read as 9 (the second more confidently), a 4 read right, 9 read as 4, two 7s."""
    labels = np.array([4, 4, 4, 9, 7, 7])
    predicted = [9, 9, 4, 4, 7, 1]
    confidence = [0.6, 0.95, 0.9, 0.7, 0.99, 0.8]
    images = np.stack([np.full((28, 28), 10 * (i + 1), np.uint8) for i in range(6)])
    return SplitScore("validation split after epoch 1", images, labels, one_hot(predicted, confidence))


def test_confusion_counts_and_per_class_accuracy_on_a_known_case(known_score):
    counts = known_score.confusion()
    assert counts[4, 9] == 2 and counts[4, 4] == 1 and counts[9, 4] == 1 and counts[7, 7] == 1 and counts[7, 1] == 1
    assert counts.sum() == 6
    accuracy = per_class_accuracy(counts)
    assert accuracy[4] == pytest.approx(1 / 3) and accuracy[9] == 0 and accuracy[7] == 0.5 and np.isnan(accuracy[0])
    assert row_normalised(counts)[4, 9] == pytest.approx(2 / 3) and row_normalised(counts)[0].sum() == 0
    assert known_score.accuracy() == pytest.approx(2 / 6)
    assert list(known_score.cell(4, 9)) == [1, 0], "the most confident mistake comes first"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.training.shutdown()
    window.inspect.test_scorer.shutdown()


def click_cell(qtbot, window, true: int, predicted: int) -> None:
    plot = window.mistakes.matrix.plot
    scene_point = plot.getPlotItem().vb.mapViewToScene(QPointF(predicted, true))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene_point))


def test_clicking_a_cell_lists_its_digits_most_confident_first(window, qtbot, known_score):
    window.inspect.test_scorer.cancel()  # the shipped model's own test scoring must not replace the known case
    window.show_dock(window.docks["mistakes"])
    window.session.set_score(known_score)
    assert window.mistakes.matrix.title.text().startswith("Validation split after epoch 1: 6 digits, accuracy 33.3%")
    assert window.mistakes.matrix.counts[4][9].textItem.toPlainText() == "2"
    click_cell(qtbot, window, 4, 9)
    gallery = window.mistakes.gallery.list
    assert gallery.count() == 2
    assert [gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)] == [1, 0]
    assert gallery.item(0).text() == "95%" and "true 4, predicted 9" in gallery.item(0).toolTip()
    assert "2 digits 4 read as 9" in window.mistakes.gallery.caption.text()


def test_the_matrix_numbers_fit_their_rows_in_a_small_window(window, qtbot, known_score):
    """At 1024×640 (and 1280×800) rows of ~11 px held 13 px numbers: they ran into each other
    and the bottom row's into the axis."""
    from PySide6.QtGui import QFontInfo

    window.inspect.test_scorer.cancel()
    window.resize(1024, 640)
    window.show_dock(window.docks["mistakes"])
    window.session.set_score(known_score)
    matrix = window.mistakes.matrix
    qtbot.waitUntil(lambda: matrix.plot.isVisible(), timeout=2000)
    QApplication.processEvents()
    view = matrix.plot.getPlotItem().vb
    row_px = view.mapViewToScene(QPointF(0, 1)).y() - view.mapViewToScene(QPointF(0, 0)).y()
    assert row_px < 20, "the window is not small enough to tell"
    number = matrix.counts[4][9]
    assert QFontInfo(number.textItem.font()).pixelSize() <= row_px


def test_the_gallery_shows_a_cells_digits_without_scrolling(window, qtbot, sample):
    """At 1280×800 the gallery had a third of the panel: one and a half rows, two digits a row."""
    window.inspect.test_scorer.cancel()
    window.resize(1280, 800)
    window.show_dock(window.docks["mistakes"])
    images, labels = sample.x_test[:200], sample.y_test[:200]
    read_as = np.where(labels == 7, 1, labels)  # every 7 read as a 1
    window.session.set_score(SplitScore("test split", images, labels, np.eye(10, dtype=np.float32)[read_as]))
    window.session.select_cell(7, 1)
    gallery = window.mistakes.gallery.list
    qtbot.waitUntil(lambda: gallery.count() >= 4, timeout=2000)
    QApplication.processEvents()
    seen = [i for i in range(gallery.count()) if gallery.viewport().rect().contains(gallery.visualItemRect(gallery.item(i)))]
    assert len(seen) >= min(gallery.count(), 6), f"{len(seen)} of {gallery.count()} digits in sight"


def test_clicking_a_thumbnail_puts_that_digit_on_the_canvas(window, qtbot, sample):
    window.inspect.test_scorer.cancel()
    window.show_dock(window.docks["mistakes"])
    images, labels = sample.x_test[:50], sample.y_test[:50]
    window.session.set_score(SplitScore("test split", images, labels, window.predictor.predict(images / 255.0)))
    digit = int(labels[0])
    click_cell(qtbot, window, digit, int(window.session.score.predicted[0]))
    gallery = window.mistakes.gallery.list
    row = next(i for i in range(gallery.count()) if gallery.item(i).data(Qt.ItemDataRole.UserRole) == 0)
    item_rect = gallery.visualItemRect(gallery.item(row))
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    assert not window.canvas.is_empty()
    # The model sees that very digit, and scores it as the gallery did (re-preprocessed, a 96% 9 read 92%).
    np.testing.assert_allclose(window.last_input, images[0] / 255.0, atol=1e-6)
    np.testing.assert_allclose(window.last_probabilities, window.session.score.probabilities[0], atol=1e-5)
    draw(window.canvas, [(0.1, 0.1), (0.2, 0.1)])  # a stroke makes it a drawing: preprocessed again
    qtbot.waitUntil(lambda: not np.allclose(window.last_input, images[0] / 255.0, atol=0.05), timeout=2000)
    window.canvas.undo()
    assert window.activations.images and window.softmax.verdict.text().startswith(str(np.argmax(window.last_probabilities)))
    window.canvas.undo()
    assert window.canvas.is_empty(), "Ctrl+Z brings the drawing back"


def test_the_history_grows_with_snapshots_and_a_new_drawing_is_rescored(sample):
    engine = load_predictor(paths.SHIPPED_MODEL_PATH)
    session = Session()
    seen = []
    session.events.history_changed.connect(lambda x, p: seen.append((x, p)))
    session.set_drawing(sample.x_test[0] / 255.0)
    session.start_run()
    rng = np.random.default_rng(0)
    for step in range(4):
        noisy = engine.with_weights([[w + rng.normal(0, 0.02, w.shape).astype(np.float32) for w in spec.weights] for spec in engine.specs])
        session.set_predictor(noisy, at_epoch=step * 0.25)
    x, probabilities = seen[-1]
    assert list(x) == [0, 0.25, 0.5, 0.75] and probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities[-1], session.probabilities)
    session.set_drawing(sample.x_test[1] / 255.0)
    assert session.history_stale
    while not session.refresh_history(budget_s=0.0):  # a slice at a time: one snapshot per call
        assert len(seen[-1][0]) < 4
    x, probabilities = seen[-1]
    assert len(x) == 4
    np.testing.assert_allclose(probabilities[0], session.snapshots.items[0][1].predict(sample.x_test[1] / 255.0)[0], rtol=1e-6)


def test_snapshots_stay_within_their_budget_keeping_the_first_and_newest():
    engine = load_predictor(paths.SHIPPED_MODEL_PATH)
    snapshots = Snapshots(most=8)
    for step in range(30):
        snapshots.add(float(step), engine)
    xs = [x for x, _ in snapshots.items]
    assert len(xs) <= 8 and xs[0] == 0 and xs[-1] == 29 and xs == sorted(xs)


def test_training_fills_the_matrix_and_the_history(window, qtbot, tiny_npz, sample):
    train_tiny_dense(window.training.panel, tiny_npz)
    window.show_dock(window.docks["history"])
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    score = window.session.score
    assert score is not None and score.split == "validation split after epoch 2"
    assert score.confusion().sum() == len(window.session.splits["validation"][1]) > 20  # ~10% of 256, stratified
    assert len(window.session.history_x) >= 2 and window.session.history_x == sorted(window.session.history_x)
    assert window.history.curves[0].getData()[0] is not None


def test_activations_equal_a_keras_sub_models_outputs():
    import keras

    from mnistdesk.net.models import build_model

    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28), dtype=np.float32)
    for architecture in ("lean", "dense", "cnn"):
        model = build_model(architecture)
        engine = Engine.from_keras_model(model)
        probabilities, hidden = engine.activations(images)
        names = [name for name, _ in hidden]
        expected = [layer.name for layer in model.layers if type(layer).__name__ in ("Conv2D", "Dense")][:-1]
        assert names == expected
        for name, values in hidden:
            sub_model = keras.Model(model.inputs[0], model.get_layer(name).output)
            np.testing.assert_allclose(values, sub_model(images[..., None]).numpy(), atol=1e-5)
        np.testing.assert_allclose(probabilities, model(images[..., None]).numpy(), atol=1e-5)


def test_transforms_shift_rotate_scale_and_thicken_the_input():
    image = np.zeros((28, 28), np.float32)
    image[6:22, 13:15] = 1.0  # a vertical bar, a "1"
    same = transformed(image[None], [Transform()])[0]
    np.testing.assert_allclose(same, image, atol=1e-6)
    shifted = transformed(image[None], [Transform(shift_x=3)])[0]
    np.testing.assert_allclose(shifted[:, 3:], image[:, :-3], atol=1e-6)
    lying = transformed(image[None], [Transform(rotation=90)])[0]
    rows, cols = np.nonzero(lying > 0.5)
    assert np.ptp(cols) > 12 and np.ptp(rows) <= 3, "rotated by 90° the bar lies flat"
    small = transformed(image[None], [Transform(scale=0.5)])[0]
    assert 0.15 * image.sum() < small.sum() < 0.35 * image.sum(), "half the size, a quarter of the ink"
    thick = transformed(image[None], [Transform(thickness=1)])[0]
    thin = transformed(image[None], [Transform(thickness=-0.5)])[0]
    assert thick.sum() > 1.5 * image.sum() and thin.sum() < image.sum()


def test_rotation_slider_changes_what_the_model_sees_and_the_sweep_shows_the_flip(window, qtbot, sample):
    window.show_dock(window.docks["robustness"])
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    drawn = window.last_input.copy()
    window.robustness.sliders["rotation"].setValue(45)
    assert window.session.transform.rotation == 45
    assert not np.allclose(window.last_input, drawn), "the slider changes the model's input at once"
    assert window.canvas.is_empty() is False
    qtbot.waitUntil(lambda: window.robustness.curves[0].getData()[0] is not None, timeout=2000)
    values, _ = window.robustness.curves[0].getData()
    assert values[0] == -90 and values[-1] == 90
    assert window.robustness.verdict.text().startswith("Reads as")
    window.robustness.reset.click()
    np.testing.assert_allclose(window.last_input, drawn)


def test_an_opened_model_is_scored_on_test_digits_once_the_matrix_is_shown(window, qtbot, monkeypatch):
    from mnistdesk.gui import model_controller

    # The sample's (the pen digits are drawn on first use, slowly in a fresh test cache).
    name, images, labels = bundled_test_split("sample", [str(d) for d in range(10)])
    assert name == "test split of the bundled sample digits" and len(labels) == 1000
    assert bundled_test_split("fashion_mnist", ["T-shirt/top"] * 10) is None, "no digits to score a model of other classes on"
    # A tenth of them, so that a busy test machine scores them in time.
    monkeypatch.setattr(model_controller, "bundled_test_split", lambda *args: (name, images[::10], labels[::10]))
    window.models.open(paths.SHIPPED_MODEL_PATH)
    assert window.session.score is None, "no work for a panel nobody looks at"
    window.show_dock(window.docks["mistakes"])
    qtbot.waitUntil(lambda: window.session.score is not None, timeout=TIMEOUT_MS)
    score = window.session.score
    assert score.split == name and len(score.labels) == 100
    assert window.mistakes.matrix.title.text().startswith("Test split of the bundled sample digits: 100 digits, accuracy")
    assert score.accuracy() > 0.9


def test_first_layer_weights_can_show_their_change_since_the_run_began(qtbot):
    from mnistdesk.gui.training_panels import WeightsPanel

    configure_pyqtgraph()
    panel = WeightsPanel()
    qtbot.addWidget(panel)
    start = np.random.default_rng(0).normal(0, 0.05, (784, 16)).astype(np.float32)
    learned = start.copy()
    learned[:, 3] += 0.5  # one unit moved a lot
    panel.set_reference(start)
    panel.show_kernel(learned)
    assert "colour" in panel.caption.text
    panel.set_show_change(True)
    assert "change since the start ±0.5" in panel.caption.text
    changes = np.nan_to_num(panel.tiles)
    assert np.isclose(np.abs(changes).max(), 0.5) and np.count_nonzero(changes) == 784


def test_test_scoring_waits_for_a_run_and_a_cancelled_result_is_dropped(qtbot, sample):
    from mnistdesk.gui.scorer import TestScorer

    scorer = TestScorer()
    scored = []
    scorer.scored.connect(scored.append)
    engine = load_predictor(paths.SHIPPED_MODEL_PATH)
    digits = lambda: ("test split", sample.x_test[:50], sample.y_test[:50])  # noqa: E731

    class CancelledWhileScoring:  # a run starts while the last batch is being scored
        note = None

        def predict(self, images):
            scorer.cancel()
            return engine.predict(images)

    scorer.set_active(True)
    scorer.request(CancelledWhileScoring(), digits)
    qtbot.waitUntil(lambda: scorer.thread is None, timeout=10000)
    assert scored == []  # the old model's score must not replace the run's matrix

    scorer.pause()  # a run is starting
    scorer.request(engine, digits)  # the run's trained model, while its thread is alive
    assert scorer.thread is None
    scorer.resume()  # the run's thread is gone
    qtbot.waitUntil(lambda: len(scored) == 1, timeout=10000)
    assert scored[0].split == "test split"
    scorer.shutdown()


def test_history_and_sweep_legends_sit_above_their_curves(window, qtbot):
    window.docks["history"].raise_()
    for panel in (window.history, window.robustness):
        panel.show()
        qtbot.waitUntil(lambda panel=panel: panel.plot.isVisible(), timeout=5000)
        view = panel.plot.getPlotItem().getViewBox().sceneBoundingRect()
        assert panel.legend.sceneBoundingRect().height() > 0
        assert not panel.legend.sceneBoundingRect().intersects(view)  # a legend never hides a curve


def test_the_history_header_names_the_answer_at_the_epoch_on_show(qtbot):
    """Scrubbed back to epoch 1, the header still said "now 7 at 100%"."""
    from mnistdesk.gui.inspect_panels import HistoryPanel

    panel = HistoryPanel()
    qtbot.addWidget(panel)
    x = np.array([0.5, 1.0, 1.5, 2.0])
    probabilities = np.full((4, 10), 0.01)
    probabilities[:2, 3], probabilities[2:, 7] = 0.91, 0.91
    panel.show_history(x, probabilities)
    assert panel.caption.text().endswith("now 7 at 91%")
    panel.mark_epoch(1)
    assert panel.caption.text().endswith("at epoch 1, 3 at 91%")
    panel.mark_epoch(None)
    assert panel.caption.text().endswith("now 7 at 91%")
