"""Saliency in numpy: the input gradient of a class probability, as TensorFlow computes it."""

from __future__ import annotations

import numpy as np
import pytest

from mnistdesk.base import paths
from mnistdesk.explain.saliency import Saliency
from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Engine


def _tape_gradient(model, image: np.ndarray, class_index: int) -> np.ndarray:
    import tensorflow as tf

    x = tf.constant(image[None, ..., None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probability = model(x, training=False)[0, class_index]
    return tape.gradient(probability, x).numpy()[0, ..., 0]


@pytest.mark.parametrize("architecture", ["shipped", "dense", "cnn"])
def test_gradient_equals_gradient_tape(architecture, sample):
    from mnistdesk.net.models import build_model, load_model

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


def test_mapping_back_is_the_transpose_of_the_preprocessing():
    from mnistdesk.ink.preprocess import field_to_ink, preprocess_placed

    rng = np.random.default_rng(0)
    ink = np.zeros((300, 240), np.float32)
    ink[40:260, 70:200] = rng.random((220, 130)) * 0.5 + 0.5
    image, placement = preprocess_placed(ink, even_strokes=False)
    fields = rng.normal(size=(3, 28, 28)).astype(np.float32)
    # <preprocess(ink), f> = k <ink, field_to_ink(f)> with one k for every f: a transpose
    ratios = [float((image * f).sum() / (ink * field_to_ink(f, placement, ink.shape)).sum()) for f in fields]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-3)


def test_saliency_on_the_canvas_lands_on_the_ink():
    from mnistdesk.data import pen
    from mnistdesk.ink.preprocess import field_to_ink
    from mnistdesk.ink.strokes import render, strokes_input_placed

    saliency = Saliency(Engine.from_keras_file(paths.SHIPPED_MODEL_PATH))
    digits = [digit for digit in pen.load_digits()[:40] if digit.label in (4, 7)][:4]
    for digit in digits:
        strokes = pen.place_on_canvas(digit, np.random.default_rng(1))
        image, placement = strokes_input_placed(strokes)
        ink = render(strokes, (280, 280), 1.0, (0.0, 0.0), 21.0) > 0.1
        mapped_input = field_to_ink(image, placement, (280, 280)) > 0.1
        assert (mapped_input & ink).sum() > 0.6 * (mapped_input | ink).sum()  # the model's eye maps back onto the drawing
        heat = np.abs(field_to_ink(saliency.smooth_gradient(image, digit.label), placement, (280, 280)))
        assert heat[ink].mean() > 2 * heat[~ink].mean()  # the heat is strongest on the strokes
