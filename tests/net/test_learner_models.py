"""The networks learners bring from the Keras lessons run in the numpy engine equal to Keras,
forwards and backwards, from a live model, a ``.keras`` file and a legacy ``.h5`` file; files
that cannot be models are refused in one line."""

from __future__ import annotations

import json
import re
import time
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from mnistdesk.explain.saliency import Saliency
from mnistdesk.net.engine import Engine, KerasPredictor, load_predictor
from mnistdesk.net.layers import ACTIVATIONS, UnsupportedModel
from mnistdesk.net.lessons import LESSON_NETWORKS
from mnistdesk.net.models import ModelFileError, compiled_settings, load_model

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def inputs():
    return np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)


def spread(model):
    """Untrained weights give near-uniform outputs; scale kernels and give batch normalisation
    real statistics, so equality with Keras means something."""
    rng = np.random.default_rng(1)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            channels = weights[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.2, channels), rng.normal(0, 0.2, channels), rng.uniform(0.5, 2, channels)])
        elif weights:
            layer.set_weights([w * 2.5 if w.ndim > 1 else rng.normal(0, 0.1, w.shape) for w in weights])
    return model


def keras_probabilities(model, images):
    outputs = model.predict(images.reshape((len(images), *model.input_shape[1:])), verbose=0)
    return outputs if np.allclose(outputs.sum(axis=1), 1, atol=1e-3) and outputs.min() >= 0 else tf.nn.softmax(outputs).numpy()


def tape_gradient(model, images, class_index):
    """TensorFlow's own gradient of the class probability with respect to the input."""
    x = tf.constant(images.reshape((len(images), *model.input_shape[1:])))
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = model(x, training=False)
        if not np.allclose(outputs.numpy().sum(axis=1), 1, atol=1e-3):
            outputs = tf.nn.softmax(outputs)
        picked = outputs[:, class_index]
    return tape.gradient(picked, x).numpy().reshape(len(images), 28, 28)


def assert_same_gradient(engine, model, images, class_index=3):
    expected = tape_gradient(model, images, class_index)
    assert np.abs(expected).max() > 0, "a gradient of zero compares nothing"
    np.testing.assert_allclose(Saliency(engine).gradients(images, class_index), expected, atol=1e-4 * np.abs(expected).max() + 1e-8)


@pytest.mark.parametrize("name", LESSON_NETWORKS)
def test_a_lesson_network_runs_in_numpy_equal_to_keras_from_the_model_and_both_file_formats(name, inputs, tmp_path):
    keras.utils.set_random_seed(2)
    model = spread(LESSON_NETWORKS[name]())
    expected = keras_probabilities(model, inputs)
    assert expected.max() > 0.3, "outputs too flat to compare meaningfully"
    np.testing.assert_allclose(Engine.from_keras_model(model).predict(inputs), expected, atol=TOLERANCE)
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"{name}{suffix}"
        model.save(path)
        predictor = load_predictor(path)
        assert isinstance(predictor, Engine), f"{suffix}: {predictor.note}"
        np.testing.assert_allclose(predictor.predict(inputs), expected, atol=TOLERANCE)


@pytest.mark.parametrize("name", LESSON_NETWORKS)
def test_a_lesson_networks_saliency_is_tensorflows_gradient(name, inputs):
    keras.utils.set_random_seed(3)
    model = LESSON_NETWORKS[name]()
    assert_same_gradient(Engine.from_keras_model(model), model, inputs[:4])


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_keras_names_matches_keras_forwards_and_backwards(activation, inputs):
    keras.utils.set_random_seed(4)
    model = spread(keras.Sequential([keras.Input((784,)), layers.Dense(24, activation=activation), layers.Dense(10, activation="softmax")]))
    engine = Engine.from_keras_model(model)
    np.testing.assert_allclose(engine.predict(inputs), keras_probabilities(model, inputs), atol=TOLERANCE)
    assert_same_gradient(engine, model, inputs[:4])


def layer_zoo():
    """Every layer kind the engine knows, in a model that still reads digits."""
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Reshape((28, 28, 1)),
            layers.Rescaling(2.0, offset=-0.5),
            layers.GaussianNoise(0.1),
            layers.ZeroPadding2D(((1, 2), (0, 1))),
            layers.Conv2D(6, 3, strides=(2, 1), dilation_rate=1, activation="elu"),
            layers.Cropping2D(((1, 0), (0, 2))),
            layers.Conv2D(6, 3, dilation_rate=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(negative_slope=0.1),
            layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="selu"),
            layers.SpatialDropout2D(0.3),
            layers.AveragePooling2D(3, strides=2, padding="same"),
            layers.SeparableConv2D(8, 3, depth_multiplier=2, activation="gelu"),
            layers.PReLU(),
            layers.MaxPooling2D(2, padding="same"),
            layers.LayerNormalization(),
            layers.ELU(alpha=0.5),
            layers.ReLU(max_value=2.0, negative_slope=0.05, threshold=0.1),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(32),
            layers.Activation("swish"),
            layers.Dense(10),
            layers.Softmax(),
        ]
    )


def merges():
    inputs = keras.Input((28, 28, 1))
    left = layers.Conv2D(4, 3, padding="same", activation="tanh")(inputs)
    right = layers.Conv2D(4, 5, padding="same", activation="sigmoid")(inputs)
    mixed = [layers.Add()([left, right]), layers.Subtract()([left, right]), layers.Multiply()([left, right]), layers.Average()([left, right]), layers.Maximum()([left, right]), layers.Minimum()([left, right])]
    joined = layers.Concatenate()(mixed)
    pooled = layers.Concatenate()([layers.GlobalAveragePooling2D()(joined), layers.GlobalMaxPooling2D()(joined)])
    return keras.Model(inputs, layers.Dense(10, activation="log_softmax")(pooled))


@pytest.mark.parametrize("build", [layer_zoo, merges])
def test_every_layer_and_merge_matches_keras_forwards_and_backwards(build, inputs, tmp_path):
    keras.utils.set_random_seed(5)
    model = spread(build())
    engine = Engine.from_keras_model(model)
    expected = keras_probabilities(model, inputs)
    np.testing.assert_allclose(engine.predict(inputs), expected, atol=TOLERANCE)
    assert_same_gradient(engine, model, inputs[:4])
    model.save(tmp_path / "zoo.keras")
    np.testing.assert_allclose(load_predictor(tmp_path / "zoo.keras").predict(inputs), expected, atol=TOLERANCE)


def test_a_residual_cnn_shows_its_branches_and_their_join_in_the_activations(inputs):
    model = LESSON_NETWORKS["residual_cnn"]()
    engine = Engine.from_keras_model(model)
    shown = dict(engine.activations(inputs[:1])[1])
    convolutions = [layer.name for layer in model.layers if isinstance(layer, layers.Conv2D)]
    add = next(layer.name for layer in model.layers if isinstance(layer, layers.Add))
    assert set(convolutions) | {add} <= set(shown)
    branch_end = convolutions[2]  # its batch normalisation feeds the Add: shown after it
    bn = model.get_layer(index=[layer.name for layer in model.layers].index(branch_end) + 1)
    expected = keras.Model(model.inputs, bn.output).predict(inputs[:1, ..., None], verbose=0)
    np.testing.assert_allclose(shown[branch_end], expected, atol=TOLERANCE)
    assert engine.logits and "softmax is applied" in engine.note


def test_a_flat_input_model_reads_the_drawing_flattened_and_says_so(inputs):
    engine = Engine.from_keras_model(LESSON_NETWORKS["first_keras"]())
    assert engine.input_shape == (784,) and "flattened" in engine.note
    assert engine.first_layer_weights().shape == (784, 512)


def test_a_layer_the_engine_lacks_falls_back_to_keras_and_is_named(tmp_path, inputs):
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(16), layers.UnitNormalization(), layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "unit.h5")
    predictor = load_predictor(tmp_path / "unit.h5")
    assert isinstance(predictor, KerasPredictor) and "UnitNormalization" in predictor.note
    np.testing.assert_allclose(predictor.predict(inputs), keras_probabilities(model, inputs), atol=1e-6)


@pytest.mark.parametrize(
    ("build", "fix"),
    [
        (lambda: keras.Sequential([keras.Input((28, 28)), layers.Dense(10, activation="softmax")]), "add a Flatten layer"),
        (lambda: keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(10, activation="softmax")]), "Input((28, 28, 1))"),
        (lambda: keras.Sequential([keras.Input((784,)), layers.Dense(5, activation="softmax")]), "end it with Dense(10"),
    ],
    ids=["no-flatten", "colour-input", "five-classes"],
)
def test_a_model_that_cannot_read_digits_is_refused_with_what_would_fix_it(build, fix, tmp_path):
    for suffix in (".keras", ".h5"):
        path = tmp_path / f"wrong{suffix}"
        build().save(path)
        for load in (load_predictor, load_model):
            with pytest.raises(ModelFileError, match=re.escape(fix)) as refused:
                load(path)
            assert str(path) in str(refused.value) and "\n" not in str(refused.value)


def hostile_h5(tmp_path, kind):
    path = tmp_path / f"{kind}.h5"
    if kind == "garbage":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + np.random.default_rng(0).bytes(4000))
        return path
    keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="softmax")]).save(path)
    with h5py.File(path, "r+") as file:
        if kind == "lambda":
            config = json.loads(file.attrs["model_config"])
            config["config"]["layers"].insert(1, {"class_name": "Lambda", "config": {"name": "payload", "function": ["4wEAAAAAAAAA", None, None], "function_type": "lambda"}})
            file.attrs["model_config"] = json.dumps(config)
        elif kind == "huge-array":
            file.create_dataset("model_weights/dense/dense/huge", shape=(200_000, 200_000), dtype="float32")  # 160 GB declared, nothing stored
        elif kind == "weights-only":
            del file.attrs["model_config"]
        elif kind == "custom-class":
            config = json.loads(file.attrs["model_config"])
            config["config"]["layers"][-1]["module"] = "my_lessons.layers"
            file.attrs["model_config"] = json.dumps(config)
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("lambda", "Python code"), ("huge-array", "over the limit"), ("garbage", "not a Keras model file"), ("weights-only", "weights only"), ("custom-class", "custom class")],
)
def test_a_hostile_h5_is_refused_in_one_line_within_a_second(tmp_path, kind, reason):
    path = hostile_h5(tmp_path, kind)
    for load in (load_predictor, load_model):
        started = time.perf_counter()
        with pytest.raises(ModelFileError, match=reason) as refused:
            load(path)
        assert time.perf_counter() - started < 1.0
        assert str(path) in str(refused.value) and "\n" not in str(refused.value)


def test_a_custom_class_in_a_keras_file_is_refused_before_keras_reads_it(tmp_path):
    path = tmp_path / "custom.keras"
    keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="softmax")]).save(path)
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(crafted, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"][-1]["module"] = "my_lessons.layers"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    with pytest.raises(ModelFileError, match="custom class"):
        load_model(crafted)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_how_a_file_was_compiled_is_read_without_tensorflow(tmp_path, suffix):
    model = LESSON_NETWORKS["textbook_sigmoid"]()  # SGD at 0.1
    model.save(tmp_path / f"textbook{suffix}")
    assert compiled_settings(tmp_path / f"textbook{suffix}") == {"optimizer": "sgd", "learning_rate": pytest.approx(0.1)}
    uncompiled = keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="softmax")])
    uncompiled.save(tmp_path / f"plain{suffix}")
    assert compiled_settings(tmp_path / f"plain{suffix}") == {}


def test_a_dense_layer_feeding_only_dropout_at_the_end_does_not_hang_and_shows_after_its_dropout(inputs):
    """A layer that changes nothing (dropout) hands its readers on: the engine once looped forever
    looking for what a dense layer's output became when only a final dropout read it."""
    model = keras.Sequential([keras.Input((784,)), layers.Dense(32, activation="relu"), layers.Dropout(0.5), layers.BatchNormalization(), layers.Dropout(0.2), layers.ReLU(), layers.Dense(10, activation="softmax"), layers.Dropout(0.1)])
    engine = Engine.from_keras_model(spread(model))
    shown = dict(engine.activations(inputs[:1])[1])
    expected = keras.Model(model.inputs, model.layers[4].output).predict(inputs[:1].reshape(1, 784), verbose=0)
    np.testing.assert_allclose(shown[model.layers[0].name], expected, atol=TOLERANCE)
    np.testing.assert_allclose(engine.predict(inputs), keras_probabilities(model, inputs), atol=TOLERANCE)


def test_the_engine_says_why_it_cannot_run_a_model_with_two_inputs():
    left, right = keras.Input((28, 28)), keras.Input((28, 28))
    joined = layers.Concatenate()([layers.Flatten()(left), layers.Flatten()(right)])
    with pytest.raises(UnsupportedModel, match="2 inputs"):
        Engine.from_keras_model(keras.Model([left, right], layers.Dense(10, activation="softmax")(joined)))
