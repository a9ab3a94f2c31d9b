"""The numpy forward pass matches Keras, and model files are checked before anything runs."""

from __future__ import annotations

import zipfile

import keras
import numpy as np
import pytest

from mnistdesk.net.engine import Engine, KerasPredictor, UnsupportedModel, load_predictor
from mnistdesk.net.models import ARCHITECTURES, ModelFileError, build_model, save_model


@pytest.fixture(scope="module")
def random_inputs():
    return np.random.default_rng(0).random((32, 28, 28, 1)).astype(np.float32)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_numpy_engine_matches_keras(architecture, random_inputs, tmp_path):
    keras.utils.set_random_seed(1)
    model = build_model(architecture)
    # Untrained weights give near-uniform outputs; scale the kernels so the test has teeth.
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([w * 3 for w in layer.get_weights()])
    expected = model.predict(random_inputs, verbose=0)
    assert expected.max() > 0.5, "outputs too flat to compare meaningfully"
    np.testing.assert_allclose(Engine.from_keras_model(model).predict(random_inputs), expected, atol=1e-5)
    path = save_model(model, tmp_path / f"{architecture}.keras", {"architecture": architecture})
    np.testing.assert_allclose(Engine.from_keras_file(path).predict(random_inputs), expected, atol=1e-5)


def test_engine_accepts_single_images_and_batches_without_channel(random_inputs):
    engine = Engine.from_keras_model(build_model("lean"))
    one = engine.predict(random_inputs[0, ..., 0])
    batch = engine.predict(random_inputs[..., 0])
    assert one.shape == (1, 10) and batch.shape == (32, 10)
    np.testing.assert_allclose(one[0], batch[0], atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1, atol=1e-5)


def test_same_padding_with_odd_sizes_and_strides_matches_keras(random_inputs):
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 4, strides=3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(3, strides=2, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    bn = model.layers[2]
    bn.set_weights([np.full(4, 1.5), np.full(4, 0.2), np.full(4, 0.1), np.full(4, 2.0)])
    np.testing.assert_allclose(Engine.from_keras_model(model).predict(random_inputs), model.predict(random_inputs, verbose=0), atol=1e-5)


def test_unknown_layer_falls_back_to_keras(tmp_path, random_inputs):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(16), keras.layers.UnitNormalization(), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(UnsupportedModel, match="UnitNormalization"):
        Engine.from_keras_model(model)
    path = save_model(model, tmp_path / "unit.keras", {})
    predictor = load_predictor(path)
    assert isinstance(predictor, KerasPredictor)
    np.testing.assert_allclose(predictor.predict(random_inputs), model.predict(random_inputs, verbose=0), atol=1e-6)


def test_first_layer_weights_are_the_first_kernel():
    model = build_model("dense")
    np.testing.assert_array_equal(Engine.from_keras_model(model).first_layer_weights(), model.layers[1].get_weights()[0])


def test_with_weights_swaps_in_a_snapshot(random_inputs):
    model = build_model("dense")
    engine = Engine.from_keras_model(model)
    zeroed = engine.with_weights([[np.zeros_like(w) for w in layer.get_weights()] for layer in model.layers])
    np.testing.assert_allclose(zeroed.predict(random_inputs), 0.1, atol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such model file"), (b"", "not a Keras model file"), (b"\x00garbage" * 50, "not a Keras model file")],
)
def test_missing_or_garbage_model_file_is_refused(tmp_path, content, message):
    path = tmp_path / "model.keras"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_predictor(path)


def test_zip_that_is_not_a_model_is_refused(tmp_path):
    path = tmp_path / "holiday.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.txt", "not a model")
    with pytest.raises(ModelFileError, match="cannot load"):
        load_predictor(path)


def test_truncated_model_file_is_refused(tmp_path):
    path = save_model(build_model("lean"), tmp_path / "whole.keras", {})
    cut = tmp_path / "cut.keras"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        load_predictor(cut)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")], "input of shape"),
        ([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")], "not 10 class"),
    ],
)
def test_model_of_the_wrong_shape_is_refused(tmp_path, layers, message):
    path = save_model(keras.Sequential(layers), tmp_path / "wrong.keras", {})
    with pytest.raises(ModelFileError, match=message):
        load_predictor(path)
