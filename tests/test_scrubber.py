"""The epoch scrubber: every epoch's exact weights kept within bounded memory, the model replayed
as it was at any earlier epoch, and an earlier epoch made the model in use."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from mnistdesk import paths
from mnistdesk.engine import Engine, LayerSpec, load_predictor
from mnistdesk.epochs import FOLDER_PREFIX, MEMORY_BUDGET_BYTES, EpochStore, epoch_metadata
from mnistdesk.models import load_model, read_metadata
from mnistdesk.session import Session

TIMEOUT_MS = 60_000
MB = 1 << 20


def dense_engine(units: int, seed: int) -> Engine:
    """A one-hidden-layer network with ``units`` units, its weights drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    hidden = (rng.normal(0, 0.05, (784, units)).astype(np.float32), rng.normal(0, 0.01, units).astype(np.float32))
    out = (rng.normal(0, 0.05, (units, 10)).astype(np.float32), np.zeros(10, np.float32))
    return Engine([LayerSpec("Flatten", {}), LayerSpec("Dense", {"activation": "relu"}, hidden), LayerSpec("Dense", {"activation": "softmax"}, out)])


def assert_same_weights(engine: Engine, expected: Engine) -> None:
    for spec, want in zip(engine.specs, expected.specs, strict=True):
        assert len(spec.weights) == len(want.weights)
        for array, wanted in zip(spec.weights, want.weights):
            assert array.dtype == wanted.dtype and np.array_equal(array, wanted)


# -- the store --------------------------------------------------------------------------------
def test_the_store_gives_back_each_epochs_exact_weights_from_memory_and_from_disk(tmp_path):
    store = EpochStore(memory_budget=3 * 784 * 64 * 4, parent=tmp_path)  # about three epochs in memory
    rng = np.random.default_rng(0)
    probabilities = {epoch: rng.random((50, 10), dtype=np.float32) for epoch in range(1, 7)}
    for epoch in range(7):
        store.add(epoch, dense_engine(64, epoch), probabilities.get(epoch), {"val_accuracy": 0.5 + epoch / 20, "progress": epoch})
    assert store.epochs() == tuple(range(7))
    assert store.disk_bytes > 0 and store.memory_bytes <= store.memory_budget, "the older epochs were spilled"
    image = rng.random((28, 28), dtype=np.float32)
    for epoch in range(7):
        state = store.get(epoch)
        assert_same_weights(state.predictor, dense_engine(64, epoch))
        np.testing.assert_array_equal(state.predictor.predict(image), dense_engine(64, epoch).predict(image))
        if epoch == 0:
            assert state.probabilities is None, "the run's start has no validation"
        else:
            np.testing.assert_array_equal(state.probabilities, probabilities[epoch])
        assert state.metrics == {"val_accuracy": 0.5 + epoch / 20, "progress": epoch}
    with pytest.raises(KeyError):
        store.get(7)


def test_memory_stays_under_200_mb_for_a_big_model_over_many_epochs(tmp_path):
    """16 epochs of a 16 MB model (250 MB of weights): the newest stay in memory within the
    budget, the rest spill to disk and read back identical; clearing deletes the files."""
    store = EpochStore(parent=tmp_path)
    tracemalloc.start()
    try:
        for epoch in range(16):
            store.add(epoch, dense_engine(5120, epoch), None, {})
            assert store.memory_bytes <= MEMORY_BUDGET_BYTES
            assert tracemalloc.get_traced_memory()[0] < 200 * MB, "numpy arrays the store holds, measured"
    finally:
        tracemalloc.stop()
    assert store.disk_bytes + store.memory_bytes > 240 * MB, "every epoch is kept"
    for epoch in (0, 7, 15):  # spilled, spilled, in memory
        assert_same_weights(store.get(epoch).predictor, dense_engine(5120, epoch))
    folder = store.folder
    assert folder is not None and len(list(folder.iterdir())) >= 8
    store.clear()
    assert not folder.exists() and store.epochs() == ()


def test_spilled_epochs_are_thinned_past_the_disk_budget_keeping_the_first_and_the_newest(tmp_path):
    one_epoch = sum(w.nbytes for spec in dense_engine(16, 0).specs for w in spec.weights)
    store = EpochStore(memory_budget=0, disk_budget=6 * one_epoch, parent=tmp_path)
    for epoch in range(40):
        store.add(epoch, dense_engine(16, epoch), None, {})
    kept = store.epochs()
    assert store.disk_bytes <= 6 * one_epoch and kept == tuple(sorted(kept))
    assert kept[:2] == (0, 1) and kept[-1] == 39, "the run's start, its first epoch and the newest stay"
    assert sorted(path.name for path in store.folder.iterdir()) == sorted(f"epoch-{epoch}.npz" for epoch in kept)
    assert_same_weights(store.get(kept[3]).predictor, dense_engine(16, kept[3]))


def test_an_unwritable_disk_thins_the_epochs_instead_of_failing(tmp_path):
    store = EpochStore(memory_budget=2 * 784 * 16 * 4, parent=tmp_path / "missing")
    for epoch in range(10):
        store.add(epoch, dense_engine(16, epoch), None, {})
    assert store.memory_bytes <= store.memory_budget and store.epochs()[-1] == 9
    assert_same_weights(store.get(9).predictor, dense_engine(16, 9))


def test_spilled_files_go_when_the_app_exits_and_after_a_crash(tmp_path):
    abandoned = tmp_path / f"{FOLDER_PREFIX}999999999-x"  # a process id no system hands out
    abandoned.mkdir()
    ours = tmp_path / f"{FOLDER_PREFIX}{os.getpid()}-x"
    ours.mkdir()
    code = (
        "import sys\nimport numpy as np\nsys.path.insert(0, sys.argv[1])\n"
        "from mnistdesk.engine import Engine, LayerSpec\nfrom mnistdesk.epochs import EpochStore\n"
        "dense = LayerSpec('Dense', {'activation': 'softmax'}, (np.ones((784, 10), np.float32), np.zeros(10, np.float32)))\n"
        "store = EpochStore(memory_budget=0, parent=sys.argv[2])\n"
        "store.add(1, Engine([LayerSpec('Flatten', {}), dense]), None, {})\nprint(store.folder)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(paths.PROJECT_ROOT), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    spilled = Path(result.stdout.strip())
    assert spilled.parent == tmp_path and not spilled.exists(), "the exiting app deleted its files"
    assert not abandoned.exists() and ours.exists(), "only a dead process's leftovers are removed"


def test_the_metadata_of_an_earlier_epoch():
    metadata = {
        "architecture": "dense",
        "history": {"loss": [0.9, 0.5, 0.3], "val_accuracy": [0.8, 0.9, 0.95]},
        "validation_accuracy": 0.95,
        "validation_n": 40,
        "test_accuracy": 0.96,
        "test_n": 100,
    }
    earlier = epoch_metadata(metadata, 1, {"val_accuracy": 0.8, "val_loss": 0.7, "loss": 0.9})
    assert earlier["epoch"] == 1 and earlier["history"] == {"loss": [0.9], "val_accuracy": [0.8]}
    assert earlier["validation_accuracy"] == 0.8 and earlier["validation_loss"] == 0.7 and earlier["validation_n"] == 40
    assert "test_accuracy" not in earlier and "test_n" not in earlier, "scored on the final weights, not these"
    assert metadata["history"]["loss"] == [0.9, 0.5, 0.3], "the run's own metadata is left alone"


# -- scrubbing in the session -----------------------------------------------------------------
def perturbed(engine: Engine, seed: int) -> Engine:
    rng = np.random.default_rng(seed)
    return engine.with_weights([[w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in spec.weights] for spec in engine.specs])


def test_scrubbing_replays_verdict_matrix_and_kernel_while_live_updates_wait(sample):
    shipped = load_predictor(paths.SHIPPED_MODEL_PATH)
    engines = [perturbed(shipped, seed) for seed in range(5)]
    images, labels = sample.x_test[:60], sample.y_test[:60]
    session = Session()
    session.set_splits({"validation": (images, labels)})
    shown, positions = [], []
    session.events.epoch_shown.connect(lambda *args: shown.append(args))
    session.events.scrub_changed.connect(positions.append)
    session.set_drawing(sample.x_test[100] / 255.0)
    session.start_run()
    for epoch in range(4):
        session.set_predictor(engines[epoch], at_epoch=float(epoch))
        probabilities = engines[epoch].predict(images / 255.0) if epoch else None
        if epoch:
            session.set_validation(epoch, probabilities)
        session.record_epoch(epoch, engines[epoch], probabilities, {"progress": float(epoch), "val_accuracy": 0.9})
    assert positions[-1].epochs == (0, 1, 2, 3) and positions[-1].shown is None

    session.show_epoch(1)
    assert session.shown_epoch == 1 and positions[-1].shown == 1 and positions[-1].metrics["val_accuracy"] == 0.9
    np.testing.assert_allclose(session.probabilities, engines[1].predict(sample.x_test[100] / 255.0)[0], rtol=1e-6)
    assert session.score.split == "validation split after epoch 1"
    np.testing.assert_array_equal(session.score.probabilities, engines[1].predict(images / 255.0))
    epoch, x, kernel = shown[-1]
    assert epoch == 1 and x == 1.0 and np.array_equal(kernel, engines[1].first_layer_weights())

    # Training goes on: recorded, not shown.
    history_points = len(session.history_x)
    session.set_predictor(engines[4], at_epoch=3.5)
    session.set_validation(4, engines[4].predict(images / 255.0))
    np.testing.assert_allclose(session.probabilities, engines[1].predict(sample.x_test[100] / 255.0)[0], rtol=1e-6)
    assert session.score.split == "validation split after epoch 1"
    assert len(session.history_x) == history_points + 1
    np.testing.assert_allclose(session.history_probabilities[-1], engines[4].predict(sample.x_test[100] / 255.0)[0], rtol=1e-6)

    session.show_epoch(0)
    assert session.score is None, "no validation before the first epoch"
    session.show_epoch(None)
    assert session.predictor is engines[4] and session.score.split == "validation split after epoch 4"
    assert shown[-1] == (None, None, None) and positions[-1].shown is None


# -- the window ---------------------------------------------------------------------------------
@pytest.fixture
def window(quick_training_window):
    return quick_training_window


@pytest.fixture
def end_of_epoch_weights(monkeypatch):
    """The model's weights as Keras leaves them at the end of each epoch, read in the training thread."""
    from mnistdesk.training import LiveCallback

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
    window._show_dock(window.docks["history"])
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

    final = [layer.get_weights() for layer in window.trained_model.layers]
    assert scrubber.use_button.isEnabled()
    scrubber.use_button.click()
    assert window.unsaved and window.session.shown_epoch is None and scrubber.label.text() == "Live — the model in use"
    assert_weights_equal([layer.get_weights() for layer in window.trained_model.layers], end_of_epoch_weights[0])
    assert not np.array_equal(final[1][0], end_of_epoch_weights[0][1][0])
    np.testing.assert_allclose(window.last_probabilities, expected, rtol=1e-6)
    assert window.model_metadata["epoch"] == 1 and len(window.model_metadata["history"]["loss"]) == 1

    target = tmp_path / "epoch-1.keras"
    assert window.save_model_to(target)
    metadata = read_metadata(target)
    assert metadata["epoch"] == 1 and metadata["validation_accuracy"] == pytest.approx(epoch_1.metrics["val_accuracy"])
    assert_weights_equal([layer.get_weights() for layer in load_model(target).layers], end_of_epoch_weights[0])
    assert window.open_model(target)
    qtbot.waitUntil(lambda: window.model_path == target, timeout=10_000)
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
    assert window.model_path == paths.SHIPPED_MODEL_PATH
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
