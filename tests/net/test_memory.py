"""What a training run leaves behind in a long session (issue 12): only the models someone holds."""

from __future__ import annotations

import gc
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
