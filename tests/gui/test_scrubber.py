"""The epoch scrubber: every epoch's exact weights kept within bounded memory, the model replayed
as it was at any earlier epoch, and an earlier epoch made the model in use."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from mnistdesk.base import paths
from mnistdesk.net.engine import load_predictor
from mnistdesk.net.models import load_model, read_metadata

TIMEOUT_MS = 60_000
MB = 1 << 20


@pytest.fixture
def window(quick_training_window):
    return quick_training_window


@pytest.fixture
def end_of_epoch_weights(monkeypatch):
    """The model's weights as Keras leaves them at the end of each epoch, read in the training thread."""
    from mnistdesk.net.training import LiveCallback

    recorded = []
    original = LiveCallback.on_epoch_end

    def recording(self, epoch, logs=None):
        recorded.append([layer.get_weights() for layer in self.model.layers])
        original(self, epoch, logs)

    monkeypatch.setattr(LiveCallback, "on_epoch_end", recording)
    return recorded


def assert_weights_equal(layers: list[list[np.ndarray]], expected: list[list[np.ndarray]]) -> None:
    assert len(layers) == len(expected)
    for arrays, wanted in zip(layers, expected):
        assert len(arrays) == len(wanted) and all(np.array_equal(a, w) and a.dtype == w.dtype for a, w in zip(arrays, wanted))


def test_scrub_back_to_epoch_1_use_it_save_and_reopen(window, qtbot, sample, tmp_path, end_of_epoch_weights):
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    window.show_dock(window.docks["history"])
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    store = window.session.epoch_store
    assert store.epochs() == (0, 1, 2)
    for epoch in (1, 2):  # exactly the weights Keras had at each epoch's end, no throttled snapshot
        assert_weights_equal(store.get(epoch).layer_weights(), end_of_epoch_weights[epoch - 1])
    scrubber = window.scrubber
    assert scrubber.slider.isEnabled() and scrubber.label.text() == "Live — the model in use"

    scrubber.slider.setFocus()
    qtbot.keyClick(scrubber.slider, Qt.Key.Key_Left)  # from live to epoch 2
    qtbot.keyClick(scrubber.slider, Qt.Key.Key_Left)
    assert window.session.shown_epoch == 1
    epoch_1 = store.get(1)
    expected = epoch_1.predictor.predict(window.last_input)[0]
    np.testing.assert_allclose(window.softmax.bars.opts["height"], expected, rtol=1e-6)
    assert window.mistakes.matrix.title.text().startswith("Validation split after epoch 1:")
    np.testing.assert_array_equal(window.session.score.probabilities, epoch_1.probabilities)
    assert scrubber.label.text() == f"Epoch 1 of 2 — validation {epoch_1.metrics['val_accuracy']:.1%}"
    assert window.training.curves.epoch_markers["loss"].isVisible() and window.training.curves.epoch_markers["loss"].value() == 1
    assert window.history.epoch_marker.isVisible() and window.history.epoch_marker.value() == 1
    assert np.array_equal(window.training.weights.kernel, end_of_epoch_weights[0][1][0])
    assert window.training.weights.caption.text.startswith("epoch 1 · ")

    final = [layer.get_weights() for layer in window.models.trained.layers]
    assert scrubber.use_button.isEnabled()
    scrubber.use_button.click()
    assert window.models.unsaved and window.session.shown_epoch is None and scrubber.label.text() == "Live — the model in use"
    assert_weights_equal([layer.get_weights() for layer in window.models.trained.layers], end_of_epoch_weights[0])
    assert not np.array_equal(final[1][0], end_of_epoch_weights[0][1][0])
    np.testing.assert_allclose(window.last_probabilities, expected, rtol=1e-6)
    assert window.models.metadata["epoch"] == 1 and len(window.models.metadata["history"]["loss"]) == 1

    target = tmp_path / "epoch-1.keras"
    assert window.models.save_to(target)
    metadata = read_metadata(target)
    assert metadata["epoch"] == 1 and metadata["validation_accuracy"] == pytest.approx(epoch_1.metrics["val_accuracy"])
    assert_weights_equal([layer.get_weights() for layer in load_model(target).layers], end_of_epoch_weights[0])
    assert window.models.open(target)
    qtbot.waitUntil(lambda: window.models.path == target, timeout=10_000)
    assert window.session.epoch_store.epochs() == () and not scrubber.slider.isEnabled()


def test_a_scrubbed_view_stays_on_its_epoch_while_training_goes_on(window, qtbot, sample):
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    window.training.panel.epochs.setValue(200)
    window.training.start()
    qtbot.waitUntil(lambda: len(window.session.epoch_store.epochs()) >= 3, timeout=TIMEOUT_MS)
    scrubber = window.scrubber
    scrubber.slider.setValue(1)
    epoch_1 = window.session.epoch_store.get(1)
    expected = epoch_1.predictor.predict(window.last_input)[0]
    recorded = len(window.session.epoch_store.epochs())
    qtbot.waitUntil(lambda: len(window.session.epoch_store.epochs()) >= recorded + 2, timeout=TIMEOUT_MS)
    assert window.session.shown_epoch == 1
    np.testing.assert_allclose(window.softmax.bars.opts["height"], expected, rtol=1e-6)
    assert window.session.score.split == "validation split after epoch 1"
    assert "training goes on" in scrubber.label.text() and scrubber.label.styleSheet()
    assert not scrubber.use_button.isEnabled(), "the model is still training"
    scrubber.live_button.click()
    assert window.session.shown_epoch is None and scrubber.slider.value() == scrubber.slider.maximum()
    assert window.session.predictor is window.session.live_predictor
    assert window.session.score.split != "validation split after epoch 1"
    assert not window.training.curves.epoch_markers["loss"].isVisible()
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)


def test_an_opened_model_leaves_the_scrubber_disabled_with_a_tip_to_train(window):
    scrubber = window.scrubber
    assert window.models.path == paths.SHIPPED_MODEL_PATH
    assert not scrubber.slider.isEnabled() and "Train a model" in scrubber.slider.toolTip()
    assert not scrubber.use_button.isEnabled() and not scrubber.live_button.isEnabled()
    assert scrubber.label.text() == "Train a model to replay it epoch by epoch"


def test_an_epoch_whose_end_weights_did_not_arrive_is_not_recorded(window):
    """Non-finite end weights are not sent: the newest snapshot is then from mid-epoch."""
    reached = []
    window.training.epoch_reached.connect(lambda *args: reached.append(args))
    window.training.engine, window.training.engine_is_newest = load_predictor(paths.SHIPPED_MODEL_PATH), True
    window.training._on_worker_epoch_done({"epoch": 3, "progress": 3.0, "weights_sent": False})
    assert reached == []
    window.training._on_worker_epoch_done({"epoch": 3, "progress": 3.0, "weights_sent": True})
    assert [args[0] for args in reached] == [3]


def test_after_use_this_epoch_the_curves_and_history_end_there_and_continue_carries_on_from_it(window, qtbot, sample):
    """After Use this epoch the slider went to Live while the curves and the history still showed
    every epoch of the run."""
    window.canvas.set_background(np.kron(sample.x_test[0] / 255, np.ones((10, 10))))
    window.show_dock(window.docks["history"])
    window.training.panel.epochs.setValue(3)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.start()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    scrubber, curves, history = window.scrubber, window.training.curves, window.history
    scrubber.slider.setValue(1)
    scrubber.use_button.click()
    assert window.session.shown_epoch is None and scrubber.label.text() == "Live — the model in use"
    assert window.session.epoch_store.epochs() == (0, 1) and scrubber.slider.maximum() == 2, "Live is the epoch in use"
    for key in ("loss", "accuracy"):
        x, _ = curves.buffers[key].data()
        assert len(x) and x[-1] <= 1 and curves.validation[key][0] == [1.0], "the curves end at epoch 1"
        assert curves.plots[key].getViewBox().viewRange()[0][1] < 1.5
    assert history.x[-1] == 1 and history.caption.text().startswith(f"{len(history.x)} snapshots, epoch 0.00 to 1.00: now ")
    np.testing.assert_allclose(history.probabilities[-1], window.last_probabilities, rtol=1e-6)
    panel = window.training.panel  # it said "Done in 12 s · test 95.80%", the run's last epoch
    assert panel.status.text().startswith("Epoch 1 in use") and panel.detail.text() == ""

    window.training.panel.epochs.setValue(1)
    with qtbot.waitSignal(window.training.model_trained, timeout=TIMEOUT_MS):
        window.training.continue_training()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=TIMEOUT_MS)
    assert len(window.models.metadata["history"]["loss"]) == 2
    x, _ = curves.buffers["loss"].data()
    assert np.all(np.diff(x) > 0) and x[-1] <= 2, "carried on from epoch 1, not from the run's end"
    assert curves.validation["loss"][0] == [1.0, 2.0]
