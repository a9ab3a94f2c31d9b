"""Saliency in numpy: the input gradient of a class probability, as TensorFlow computes it."""

from __future__ import annotations

import numpy as np
import pytest

from mnistdesk import paths
from mnistdesk.data import normalize
from mnistdesk.engine import Engine
from mnistdesk.saliency import Saliency


def _tape_gradient(model, image: np.ndarray, class_index: int) -> np.ndarray:
    import tensorflow as tf

    x = tf.constant(image[None, ..., None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probability = model(x, training=False)[0, class_index]
    return tape.gradient(probability, x).numpy()[0, ..., 0]


@pytest.mark.parametrize("architecture", ["shipped", "dense", "cnn"])
def test_gradient_equals_gradient_tape(architecture, sample):
    from mnistdesk.models import build_model, load_model

    model = load_model(paths.SHIPPED_MODEL_PATH) if architecture == "shipped" else build_model(architecture)
    saliency = Saliency(Engine.from_keras_model(model))
    for image in normalize(sample.x_test[:3]):
        for class_index in (0, 7):
            expected = _tape_gradient(model, image, class_index)
            assert np.abs(expected).max() > 0
            np.testing.assert_allclose(saliency.gradient(image, class_index), expected, atol=1e-4, rtol=0)


def test_smoothgrad_is_a_smoother_map_of_the_same_evidence(sample):
    saliency = Saliency(Engine.from_keras_file(paths.SHIPPED_MODEL_PATH))
    image = normalize(sample.x_test[0])
    label = int(sample.y_test[0])
    raw, smooth = saliency.gradient(image, label), saliency.smooth_gradient(image, label)
    assert np.corrcoef(raw.ravel(), smooth.ravel())[0, 1] > 0.3

    def roughness(heat: np.ndarray) -> float:  # neighbouring pixels' disagreement, relative to the map's size
        return float(np.abs(np.diff(heat, axis=0)).mean() + np.abs(np.diff(heat, axis=1)).mean()) / float(np.abs(heat).mean())

    assert roughness(smooth) < roughness(raw)
    assert np.array_equal(smooth, saliency.smooth_gradient(image, label))  # deterministic for a seed
