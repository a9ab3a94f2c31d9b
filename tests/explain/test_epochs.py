"""The epoch scrubber: every epoch's exact weights kept within bounded memory, the model replayed
as it was at any earlier epoch, and an earlier epoch made the model in use."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mnistdesk.base import paths
from mnistdesk.explain.epochs import FOLDER_PREFIX, MEMORY_BUDGET_BYTES, EpochStore, epoch_metadata
from mnistdesk.explain.session import Session
from mnistdesk.net.engine import Engine, LayerSpec, load_predictor

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


def test_a_full_disk_keeps_the_promised_epochs_and_says_once_how_many_were_lost(tmp_path, monkeypatch):
    """The spill folder full: epochs 0-25 of a 40-epoch run were dropped without a word, though
    the run's start and its first epoch are promised kept."""

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    one_epoch = sum(w.nbytes for spec in dense_engine(16, 0).specs for w in spec.weights)
    session = Session()
    session.epoch_store = store = EpochStore(memory_budget=3 * one_epoch, parent=tmp_path)
    monkeypatch.setattr(np, "savez", full_disk)
    session.set_training(True)
    for epoch in range(40):
        session.record_epoch(epoch, dense_engine(16, epoch), None, {"progress": float(epoch)})
    kept = store.epochs()
    assert kept[:2] == (0, 1) and kept[-1] == 39, "the run's start, its first epoch and the newest"
    assert store.memory_bytes <= store.memory_budget + 2 * one_epoch, "over the budget by the promised epochs at most"
    for epoch in (0, 1, 39):
        assert_same_weights(store.get(epoch).predictor, dense_engine(16, epoch))
    notices = []
    session.events.notice.connect(notices.append)
    session.set_training(False)
    (notice,) = notices
    assert f"could not keep {40 - len(kept)} epochs" in notice and "No space left on device" in notice and "\n" not in notice
    session.set_training(True)
    session.set_training(False)
    assert len(notices) == 1, "said once"


def test_an_unwritable_folder_keeps_the_newest_epochs_in_memory(tmp_path):
    store = EpochStore(memory_budget=2 * 784 * 16 * 4, parent=tmp_path / "missing")
    for epoch in range(10):
        store.add(epoch, dense_engine(16, epoch), None, {})
    assert store.epochs()[:2] == (0, 1) and store.epochs()[-1] == 9 and store.lost == 10 - len(store.epochs())
    assert_same_weights(store.get(9).predictor, dense_engine(16, 9))


def test_spilled_files_go_when_the_app_exits_and_after_a_crash(tmp_path):
    abandoned = tmp_path / f"{FOLDER_PREFIX}999999999-x"  # a process id no system hands out
    abandoned.mkdir()
    ours = tmp_path / f"{FOLDER_PREFIX}{os.getpid()}-x"
    ours.mkdir()
    code = (
        "import sys\nimport numpy as np\nsys.path.insert(0, sys.argv[1])\n"
        "from mnistdesk.net.engine import Engine, LayerSpec\nfrom mnistdesk.explain.epochs import EpochStore\n"
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


def test_using_an_earlier_epoch_ends_the_run_there(sample):
    """After Use this epoch the history still showed every epoch of the run: the model in use is
    that epoch's, so the run ends there (Continue carries on from it)."""
    shipped = load_predictor(paths.SHIPPED_MODEL_PATH)
    engines = [perturbed(shipped, seed) for seed in range(4)]
    drawing = sample.x_test[100] / 255.0
    session = Session()
    session.set_drawing(drawing)
    session.start_run()
    for epoch in range(4):
        if epoch:
            session.set_predictor(perturbed(engines[epoch], 10 + epoch), at_epoch=epoch - 0.5)  # a snapshot mid-epoch
        session.set_predictor(engines[epoch], at_epoch=float(epoch))
        session.record_epoch(epoch, engines[epoch], None, {"progress": float(epoch)})
    positions = []
    session.events.scrub_changed.connect(positions.append)
    session.show_epoch(1)
    session.keep_shown_epoch()
    assert session.epoch_store.epochs() == (0, 1) and positions[-1].epochs == (0, 1) and positions[-1].shown is None
    assert session.history_x == [0.0, 0.5, 1.0], "the history ends at the epoch in use"
    np.testing.assert_allclose(session.history_probabilities[-1], engines[1].predict(drawing)[0], rtol=1e-6)
    session.set_drawing(sample.x_test[101] / 255.0)  # a new drawing is re-scored with the snapshots up to that epoch
    while not session.refresh_history():
        pass
    assert session.history_x == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(session.history_probabilities[-1], engines[1].predict(sample.x_test[101] / 255.0)[0], rtol=1e-6)


# -- the window ---------------------------------------------------------------------------------
