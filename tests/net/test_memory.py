"""What a training run leaves behind in a long session (issue 12): only the models someone holds."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np

from mnistdesk.net.models import TrainConfig
from mnistdesk.net.training import fit, train


def traced_graphs() -> list:
    from tensorflow.python.framework.func_graph import FuncGraph

    return [obj for obj in gc.get_objects() if isinstance(obj, FuncGraph)]


def test_a_finished_runs_traced_graphs_go_with_its_model(tiny):
    """``training.train`` called again and again (the CLI/API path) must not pile up TensorFlow
    graphs: a dropped model takes its traced train step with it."""
    config = TrainConfig("dense", tiny.name, epochs=1, batch_size=32, seed=0)
    earlier = {id(graph) for graph in traced_graphs()}  # other tests' models may still be alive
    model, _ = train(config, tiny)
    gc.collect()
    graphs = [weakref.ref(graph) for graph in traced_graphs() if id(graph) not in earlier]
    assert graphs, "fit traced no graph: the check below would prove nothing"
    del model
    gc.collect()
    alive = sum(ref() is not None for ref in graphs)
    assert alive == 0, f"{alive} of {len(graphs)} traced graphs of a dropped model are still alive"


def test_building_a_new_model_leaves_an_earlier_one_usable(tiny, tmp_path):
    """Keras's global state is reset before each new model; a model the user still holds (unsaved,
    or to train further) must keep predicting, training and saving the same."""
    from mnistdesk.net.engine import load_predictor
    from mnistdesk.net.models import save_model

    config = TrainConfig("lean", tiny.name, epochs=1, batch_size=32, seed=0)
    first, metadata = train(config, tiny)
    images = tiny.x_test[:20, ..., None] / np.float32(255)
    before = first.predict(images, verbose=0)
    train(config, tiny)
    np.testing.assert_allclose(first.predict(images, verbose=0), before, atol=1e-6)
    history = fit(first, tiny, config)
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    path = save_model(first, tmp_path / "first.keras", metadata)
    np.testing.assert_allclose(load_predictor(path).predict(images[..., 0]), first.predict(images, verbose=0), atol=1e-5)


def test_scoring_the_test_digits_holds_a_few_megabytes_at_once():
    """After every run its 500-digit batches are scored (the test split, the confusion matrix):
    a convolution's windows for a whole batch at once held ~150 MB for a moment, the top of a
    long session's peak (issue 22). The probabilities are Keras's all the same."""
    import keras

    from mnistdesk.net.engine import Engine
    from mnistdesk.net.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model("lean")
    engine = Engine.from_keras_model(model)
    images = np.random.default_rng(0).random((500, 28, 28), dtype=np.float32)
    tracemalloc.start()
    try:
        probabilities = engine.predict(images)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"scoring 500 digits held {peak / 2**20:.0f} MB at once"
    np.testing.assert_allclose(probabilities, model.predict(images[..., None], verbose=0), atol=1e-5)
