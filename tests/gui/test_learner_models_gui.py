"""The models learners bring from the Keras lessons, opened in the window as ``.keras`` and
legacy ``.h5`` files: every panel follows them, and Continue and Fine-tune train them."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from test_gui import SEVEN, draw

from mnistdesk.gui.app import configure_pyqtgraph
from mnistdesk.gui.main_window import MainWindow
from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Engine
from mnistdesk.net.lessons import LESSON_NETWORKS

TIMEOUT_MS = 60_000
LEARNER_MODELS = ("first_keras", "lesson_cnn", "functional")


@pytest.fixture(scope="module")
def learner_files(tmp_path_factory, sample):
    """Each learner model trained one epoch on 1,000 sample digits, saved as the lessons save it."""
    folder = tmp_path_factory.mktemp("learner")
    files = {}
    for name in LEARNER_MODELS:
        keras.utils.set_random_seed(0)
        model = LESSON_NETWORKS[name]()
        images = normalize(sample.x_train[:1000]).reshape((1000, *model.input_shape[1:]))  # scaled to [0, 1], as the lessons do
        model.fit(images, sample.y_train[:1000], epochs=1, batch_size=64, verbose=0)
        for suffix in (".keras", ".h5"):
            model.save(folder / f"{name}{suffix}")
            files[name, suffix] = folder / f"{name}{suffix}"
    return files


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Discard)
    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), preload_tensorflow=False, personal_dir=tmp_path / "handwriting")
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.training.shutdown()
    window.inspect.test_scorer.shutdown()
    window.teaching.stop()
    window.wait_for_threads()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", LEARNER_MODELS)
def test_a_learner_model_opens_with_every_panel_live_and_equal_to_keras(window, qtbot, learner_files, name, suffix):
    shipped_kernel = window.training.weights.kernel
    path = learner_files[name, suffix]
    assert window.models.open(path, wait_ms=10_000)
    predictor = window.predictor
    assert isinstance(predictor, Engine), "the lesson model must run in the numpy engine, not Keras"
    assert window.models.label.text().startswith(f"Predicting with: {path.name}")
    # first-layer weights: this model's, never the previous one's
    np.testing.assert_array_equal(window.training.weights.kernel, predictor.first_layer_weights())
    assert shipped_kernel is None or np.shape(shipped_kernel) != np.shape(window.training.weights.kernel) or not np.array_equal(shipped_kernel, window.training.weights.kernel)
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=2000)
    model = keras.saving.load_model(path, compile=False)
    expected = model.predict(window.last_input.reshape((1, *model.input_shape[1:])), verbose=0)[0]
    np.testing.assert_allclose(window.last_probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(window.softmax.bars.opts["height"], expected, atol=1e-5)
    # activations: every hidden layer of this model, drawn
    assert [name for name, _ in window.session.activations] == list(predictor.shown.values()) != []
    assert len(window.activations.images) == len(predictor.shown)
    # saliency on the drawing
    qtbot.keyClick(window, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.canvas.saliency_image() is not None, timeout=5000)
    assert window.session.explanation is not None and np.abs(window.session.explanation.field).max() > 0
    # the confusion matrix on the bundled test split
    window.show_dock(window.docks["mistakes"])
    qtbot.waitUntil(lambda: window.session.score is not None, timeout=TIMEOUT_MS)
    assert window.session.score.confusion().sum() == len(window.session.score.labels) > 0


def test_a_legacy_h5_model_is_saved_as_keras(window, qtbot, learner_files, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from mnistdesk.net.engine import load_predictor

    path = learner_files["functional", ".h5"]
    assert window.models.open(path, wait_ms=10_000)
    message = window.statusBar().currentMessage()
    assert "Save model" in message and ".keras" in message and "metadata ignored" not in message, message
    offered = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: offered.append(args[2]) or (str(tmp_path / "functional.keras"), ""))
    assert window.models.save()
    assert offered and offered[0].endswith("functional.keras"), "Save on an .h5 model must offer a .keras file, never write over the .h5"
    np.testing.assert_allclose(load_predictor(tmp_path / "functional.keras").predict(np.zeros((1, 28, 28))), window.predictor.predict(np.zeros((1, 28, 28))), atol=1e-6)
    assert window.models.path == tmp_path / "functional.keras"


@pytest.mark.parametrize(("name", "optimizer"), [("functional", "adam"), ("first_keras", "rmsprop")])
def test_continue_trains_a_lesson_model_from_a_file_as_it_was_compiled(window, qtbot, learner_files, name, optimizer):
    path = learner_files[name, ".h5"]
    assert window.models.open(path, wait_ms=10_000)
    status = window.training.panel.status.text()
    assert optimizer in status and "0.001" in status and "as the file was compiled" in status, status
    window.training.panel.epochs.setValue(1)
    window.training.panel.dataset.setCurrentIndex(window.training.panel.dataset.findData("sample"))
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        assert window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    model, metadata = trained.args
    assert model.input_shape[1:] == keras.saving.load_model(path, compile=False).input_shape[1:]
    assert metadata["train_config"]["optimizer"] == optimizer and len(metadata["history"]["loss"]) == 1
    assert metadata["test_accuracy"] > 0.85, "continued from the file's weights"
    assert isinstance(window.predictor, Engine) and window.models.unsaved
    # the scrubber: the run's start and its epoch, each with exactly its weights
    store = window.session.epoch_store
    assert store.epochs() == (0, 1)
    for layer, weights in zip(model.layers, store.get(1).layer_weights(), strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), weights, strict=True))
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_input is not None, timeout=2000)
    window.scrubber.slider.setFocus()
    qtbot.keyClick(window.scrubber.slider, Qt.Key.Key_Left)
    qtbot.keyClick(window.scrubber.slider, Qt.Key.Key_Left)
    assert window.session.shown_epoch == 0
    np.testing.assert_allclose(window.softmax.bars.opts["height"], store.get(0).predictor.predict(window.last_input)[0], rtol=1e-6)


def test_fine_tune_trains_a_functional_model_from_a_file(window, qtbot, learner_files, sample):
    assert window.models.open(learner_files["functional", ".keras"], wait_ms=10_000)
    for index in np.flatnonzero(sample.y_test < 5)[:10]:
        image = normalize(sample.x_test[index])
        window.personal.add(int(sample.y_test[index]), image, image)
    window.teaching.refresh()
    window.teach.epochs.setValue(1)
    with qtbot.waitSignal(window.training.fine_tuned, timeout=TIMEOUT_MS) as tuned:
        window.teach.fine_tune_button.click()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert "your handwriting" in tuned.args[0]
    assert window.models.metadata["fine_tune"]["drawings"] == 10 and isinstance(window.predictor, Engine)


def test_a_residual_networks_activations_all_fit_in_the_panel(window, qtbot, tmp_path):
    """Five hidden layers (two branches, their join) side by side ran off the panel's right edge."""
    keras.utils.set_random_seed(0)
    LESSON_NETWORKS["residual_cnn"]().save(tmp_path / "residual.keras")
    window.resize(1024, 640)
    assert window.models.open(tmp_path / "residual.keras", wait_ms=10_000)
    window.show_dock(window.docks["activations"])
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: len(window.activations.images) == 5, timeout=2000)
    qtbot.wait(50)
    panel = window.activations.viewport().rect()
    for image in window.activations.images:
        view = image.getViewBox()
        shown = window.activations.mapFromScene(view.sceneBoundingRect()).boundingRect()
        assert panel.contains(shown) and shown.width() > 20, f"{shown} is not inside {panel}"


def test_continue_trains_a_model_the_engine_cannot_run_and_says_why_nothing_follows_it_live(window, qtbot, tmp_path, tiny_npz):
    from conftest import train_tiny_dense

    from mnistdesk.net.engine import KerasPredictor

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.UnitNormalization(), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.save(tmp_path / "unit.keras")
    assert window.models.open(tmp_path / "unit.keras", wait_ms=10_000)
    qtbot.waitUntil(lambda: isinstance(window.predictor, KerasPredictor), timeout=TIMEOUT_MS)
    assert window.training.weights.kernel is None and "No first-layer weights" in window.training.weights.caption.text
    draw(window.canvas, SEVEN)
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=10_000)
    assert "runs through Keras" in window.activations.placeholder.text and "UnitNormalization" in window.activations.placeholder.text
    train_tiny_dense(window.training.panel, tiny_npz)
    window.training.panel.epochs.setValue(1)
    messages = []
    window.training.message.connect(messages.append)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS) as trained:
        assert window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert any("UnitNormalization" in message and "live preview" in message for message in messages), messages
    assert trained.args[0] is not None and isinstance(window.predictor, KerasPredictor) and window.models.unsaved


def drop(window, path) -> None:
    """A file dragged from the file manager and dropped on the window."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)  # as Qt calls it after the drag entered and was accepted


def test_a_model_dropped_on_the_window_opens_and_an_image_is_still_read_as_the_drawing(window, qtbot, learner_files, tmp_path, sample):
    from PIL import Image

    drop(window, learner_files["lesson_cnn", ".h5"])
    qtbot.waitUntil(lambda: window.models.path == learner_files["lesson_cnn", ".h5"], timeout=10_000)
    assert isinstance(window.predictor, Engine) and window.canvas.is_empty()
    Image.fromarray(sample.x_test[0]).save(tmp_path / "digit.png")
    drop(window, tmp_path / "digit.png")
    qtbot.waitUntil(lambda: window.last_probabilities is not None, timeout=5000)
    assert window.models.path == learner_files["lesson_cnn", ".h5"]
