"""The Arithmetic panel's numbers: how one unit's number came out of the layer before, equal to
the engine's activations and to Keras's layer outputs, for every network the engine runs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from mnistdesk.explain.arithmetic import NO_DRAWING_NOTE, TOP_CONTRIBUTIONS, ArithmeticSelection, ConvView, DenseView, PoolView, SoftmaxView, Unit, activation_pixel, arithmetic, unit_at
from mnistdesk.explain.inspection import activation_image
from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Engine, KerasPredictor
from mnistdesk.net.models import build_model
from mnistdesk.net.networks import build as build_network


def with_teeth(model: keras.Model, seed: int = 3) -> keras.Model:
    """Random weights scaled up (untrained ones give flat outputs), biases non-zero."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.set_weights([w * 3 + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def layer_outputs(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for one 28×28 image, by layer name, as Keras computes it."""
    named = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    probe = keras.Model(model.inputs, [layer.output for layer in named])
    x = image.reshape((1, *model.input_shape[1:]))
    return {layer.name: np.asarray(output)[0] for layer, output in zip(named, probe([x]))}


@pytest.fixture(scope="module")
def convnet() -> keras.Model:
    """Convolutions on the drawing and on maps, max and average pooling (SAME, over the edge),
    flatten and dropout, a hidden dense layer and logits (the app adds the softmax)."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a"),
            layers.MaxPooling2D(2, name="max_pool"),
            layers.Conv2D(6, 3, activation="relu", name="conv_b"),
            layers.AveragePooling2D(3, strides=2, padding="same", name="mean_pool"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(16, activation="relu", name="hidden"),
            layers.Dense(10, name="logits"),
        ]
    )
    return with_teeth(model)


@pytest.fixture(scope="module")
def engine(convnet) -> Engine:
    return Engine.from_keras_model(convnet)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    from mnistdesk.data.datasets import load_dataset

    return normalize(load_dataset("sample").x_test[:2])


@pytest.fixture(scope="module")
def outputs(convnet, images) -> dict[str, np.ndarray]:
    return layer_outputs(convnet, images[0])


def shown(engine: Engine, image: np.ndarray) -> dict[str, np.ndarray]:
    """The Activations panel's numbers for ``image``, by layer name."""
    return {name: values[0] for name, values in engine.activations(image)[1]}


def test_dense_unit_is_its_weighted_sum_with_the_largest_contributions_first(convnet, engine, images, outputs):
    image = images[0]
    unit = int(np.argmax(outputs["hidden"]))
    result = arithmetic(engine, image, Unit("hidden", (unit,)))
    view = result.view
    assert isinstance(view, DenseView)
    kernel, bias = convnet.get_layer("hidden").get_weights()
    assert view.z == pytest.approx(float(outputs["flatten"] @ kernel[:, unit] + bias[unit]), abs=1e-5)
    assert result.value == pytest.approx(float(outputs["hidden"][unit]), abs=1e-5)
    assert result.value == shown(engine, image)["hidden"][unit]  # the engine's own number
    assert view.bias == bias[unit]
    # each contribution: where its input sits on the pooled maps, its value there, its weight
    assert view.source.layer == "mean_pool" and view.source.via == ("flatten", "dropout")
    for contribution in view.top:
        assert contribution.x == pytest.approx(float(outputs["mean_pool"][contribution.position]), abs=1e-5)
        assert contribution.w == kernel[np.ravel_multi_index(contribution.position, (6, 6, 6)), unit]
        assert contribution.product == pytest.approx(contribution.x * contribution.w, rel=1e-6)
    assert len(view.top) == TOP_CONTRIBUTIONS and view.rest_count == 216 - TOP_CONTRIBUTIONS
    assert sum(c.product for c in view.top) + view.rest + view.bias == pytest.approx(view.z, abs=1e-4)
    smallest_shown = abs(view.top[-1].product)
    assert (np.abs(view.in_place) > smallest_shown).sum() < TOP_CONTRIBUTIONS, "no input left out weighs more than one listed"
    assert view.in_place.shape == (6, 6, 6) and view.in_place.sum() == pytest.approx(view.z - view.bias, abs=1e-4)
    curve = result.curve
    assert curve.name == "relu" and curve.z == view.z and curve.value == result.value
    assert np.interp(curve.z, curve.xs, curve.ys) == pytest.approx(curve.value, abs=0.05)  # the point lies on the curve
    assert [step.text for step in result.steps] == [f"hidden: relu({curve.z:.3g}) = {curve.value:.3g}".replace("-", "−")]


def test_first_dense_layer_reads_pixels_of_the_drawing(images):
    keras.utils.set_random_seed(4)
    model = with_teeth(keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(name="flat"), layers.Dense(8, activation="sigmoid", name="units"), layers.Dense(10, activation="softmax", name="out")]))
    image = images[0]
    result = arithmetic(Engine.from_keras_model(model), image, Unit("units", (5,)))
    view = result.view
    kernel = model.get_layer("units").get_weights()[0]
    assert view.source.drawing and view.source.via == ("flat",)
    np.testing.assert_allclose(view.in_place, image * kernel[:, 5].reshape(28, 28), rtol=1e-6)
    for contribution in view.top:
        row, col = contribution.position
        assert contribution.x == image[row, col] and contribution.w == kernel[row * 28 + col, 5]
    assert result.curve.name == "sigmoid"
    assert result.value == pytest.approx(float(layer_outputs(model, image)["units"][5]), abs=1e-6)


def test_convolution_output_is_patch_times_kernel_summed_over_channels_plus_bias(convnet, engine, images, outputs):
    row, col, channel = 4, 7, 3
    result = arithmetic(engine, images[0], Unit("conv_b", (row, col, channel)))
    view = result.view
    assert isinstance(view, ConvView)
    assert view.source.layer == "max_pool"
    assert view.rows == (4, 5, 6) and view.cols == (7, 8, 9)  # VALID padding: the field starts at the output's position
    np.testing.assert_allclose(view.patch, outputs["max_pool"][4:7, 7:10, :], atol=1e-6)
    kernel, bias = convnet.get_layer("conv_b").get_weights()
    np.testing.assert_array_equal(view.kernel, kernel[:, :, :, channel])
    np.testing.assert_array_equal(view.products, view.patch * view.kernel)
    np.testing.assert_allclose(view.channel_sums, view.products.sum(axis=(0, 1)))
    assert view.channels == (0, 1, 2, 3) and view.bias == bias[channel]
    assert view.channel_sums.sum() + view.bias == pytest.approx(view.z, abs=1e-5)
    assert result.value == pytest.approx(float(outputs["conv_b"][row, col, channel]), abs=1e-5)
    assert result.value == shown(engine, images[0])["conv_b"][row, col, channel]
    assert result.curve.value == result.value == max(view.z, 0)


def test_convolution_on_the_drawing_reads_zeros_beyond_its_edge(convnet, engine, images, outputs):
    image = images[0]
    result = arithmetic(engine, image, Unit("conv_a", (0, 0, 1)))
    view = result.view
    assert view.source.drawing and view.rows == (-1, 0, 1) and view.cols == (-1, 0, 1)  # SAME padding
    assert not view.patch[0].any() and not view.patch[:, 0].any()
    np.testing.assert_array_equal(view.patch[1:, 1:, 0], image[:2, :2])
    assert result.value == pytest.approx(float(outputs["conv_a"][0, 0, 1]), abs=1e-5)


def test_pooled_value_is_the_window_maximum_or_mean(engine, images, outputs):
    result = arithmetic(engine, images[0], Unit("max_pool", (6, 5, 2)))
    view = result.view
    assert isinstance(view, PoolView) and view.kind == "max" and view.source.layer == "conv_a"
    np.testing.assert_allclose(view.window, outputs["conv_a"][12:14, 10:12, 2], atol=1e-6)
    assert view.value == result.value == view.window[view.kept] == pytest.approx(float(outputs["max_pool"][6, 5, 2]), abs=1e-6)
    assert view.value == view.window.max()
    # SAME average pooling over the edge: the cells past it are left out, as Keras leaves them out
    edge = arithmetic(engine, images[0], Unit("mean_pool", (5, 5, 1))).view
    assert edge.kind == "mean" and edge.rows == (10, 11, 12) and edge.count == 4 and np.isnan(edge.window[2]).all()
    np.testing.assert_allclose(edge.window[:2, :2], outputs["conv_b"][10:12, 10:12, 1], atol=1e-6)
    assert edge.value == pytest.approx(float(np.nanmean(edge.window)), abs=1e-6)
    assert edge.value == pytest.approx(float(outputs["mean_pool"][5, 5, 1]), abs=1e-6)


def test_softmax_bar_shows_logits_minus_max_exponentials_and_shares(engine, images, outputs):
    probabilities = engine.predict(images[0])[0]
    klass = int(np.argsort(probabilities)[-2])
    result = arithmetic(engine, images[0], Unit(None, (klass,)))
    view = result.view
    assert isinstance(view, SoftmaxView) and view.index == klass and view.added  # the model outputs logits
    np.testing.assert_allclose(view.logits, outputs["logits"], atol=1e-5)
    np.testing.assert_array_equal(view.shifted, view.logits - view.logits.max())
    np.testing.assert_allclose(view.exps, np.exp(view.shifted), rtol=1e-6)
    assert view.exps.max() == 1 and view.total == pytest.approx(float(view.exps.sum()))
    np.testing.assert_allclose(view.shares, probabilities, atol=1e-7)
    np.testing.assert_allclose(view.shares, np.asarray(keras.ops.softmax(outputs["logits"])), atol=1e-6)
    assert result.value == probabilities[klass]


def test_softmax_of_logits_of_1000_is_finite_where_the_plain_formula_overflows(images):
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, name="logits")])
    logits = np.float32(1000) - np.arange(10, dtype=np.float32)
    model.layers[-1].set_weights([np.zeros((784, 10), np.float32), logits])
    result = arithmetic(Engine.from_keras_model(model), images[0], Unit(None, (0,)))
    view = result.view
    np.testing.assert_array_equal(view.logits, logits)
    assert np.isfinite(view.shares).all() and view.shares.sum() == pytest.approx(1)
    np.testing.assert_allclose(view.shares, np.asarray(keras.ops.softmax(logits)), atol=1e-7)
    assert result.value == pytest.approx(1 / np.exp(-np.arange(10)).sum())
    assert np.isinf(view.plain_exps).all() and np.isnan(view.plain_shares).all()  # exp(1000) overflows: inf / inf
    assert np.isnan(view.scaled_plain).any() and np.isfinite(view.scaled_stable).all()


@pytest.fixture(scope="module")
def residual() -> keras.Model:
    """Dropout before batch norm, a residual add and global average pooling."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = layers.Dropout(0.2, name="drop")(x)
    x = layers.BatchNormalization(name="norm")(x)
    x = layers.Activation("relu", name="relu")(x)
    y = layers.Conv2D(4, 3, padding="same", name="branch")(x)
    x = layers.Add(name="add")([x, y])
    x = layers.Activation("relu", name="after_add")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, layers.Dense(10, activation="softmax", name="out")(x))
    with_teeth(model)
    model.get_layer("norm").set_weights([np.full(4, 1.5), np.full(4, 0.2), np.full(4, 0.1), np.full(4, 2.0)])
    return model


def test_steps_after_the_sum_say_what_dropout_batch_norm_and_a_residual_add_did(residual, images):
    engine = Engine.from_keras_model(residual)
    outputs = layer_outputs(residual, images[0])
    position = (9, 12, 2)
    result = arithmetic(engine, images[0], Unit("conv", position))
    assert [step.layer for step in result.steps] == ["drop", "norm", "relu"]
    drop, norm, relu = result.steps
    assert "unchanged at prediction" in drop.text and drop.after == pytest.approx(float(outputs["conv"][position]), abs=1e-5)
    assert "batch norm" in norm.text and norm.after == pytest.approx(float(outputs["norm"][position]), abs=1e-5)
    assert relu.after == result.value == pytest.approx(float(outputs["relu"][position]), abs=1e-5)
    assert isinstance(result.view, ConvView) and result.view.z == pytest.approx(float(outputs["conv"][position]), abs=1e-5)
    joined = arithmetic(engine, images[0], Unit("add", position))
    add, after = joined.steps
    assert add.text.startswith("add: ") and "(conv)" in add.text and "(branch)" in add.text  # conv as the Activations panel shows it: after its norm and relu
    assert add.after == pytest.approx(float(outputs["add"][position]), abs=1e-5)
    assert after.after == joined.value == pytest.approx(float(outputs["after_add"][position]), abs=1e-5)
    pooled = arithmetic(engine, images[0], Unit("gap", (2,))).view
    assert pooled.kind == "mean" and pooled.count == 784
    np.testing.assert_allclose(pooled.window, outputs["after_add"][:, :, 2], atol=1e-5)
    assert pooled.value == pytest.approx(float(outputs["gap"][2]), abs=1e-6)
    assert isinstance(arithmetic(engine, images[0], Unit(None, (3,))).view, SoftmaxView)


def variety() -> keras.Model:
    """Every other layer the engine runs: padding, separable and depthwise convolutions, PReLU,
    layer norm, concatenation, cropping, max pooling and global max pooling."""
    keras.utils.set_random_seed(6)
    inputs = keras.Input((28, 28, 1))
    x = layers.ZeroPadding2D(1, name="pad")(inputs)
    x = layers.SeparableConv2D(4, 3, activation="relu", name="separable")(x)
    a = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    a = layers.PReLU(name="prelu")(a)
    b = layers.Conv2D(8, 1, name="pointwise")(x)
    b = layers.LayerNormalization(name="layer_norm")(b)
    x = layers.Concatenate(name="join")([a, b])
    x = layers.Cropping2D(2, name="crop")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    return with_teeth(keras.Model(inputs, layers.Dense(10, activation="softmax", name="out")(x)))


def residual_network() -> keras.Model:
    keras.utils.set_random_seed(7)
    return build_network({"name": "res", "input": "image", "layers": [{"type": "conv", "filters": 8, "batch_norm": True}, {"type": "residual", "filters": 8}, {"type": "pool"}, {"type": "flatten"}, {"type": "dense", "units": 16}]})


def flat_input() -> keras.Model:
    """784 numbers in, rescaled: the input flattened before the model sees it."""
    keras.utils.set_random_seed(8)
    return with_teeth(keras.Sequential([keras.Input((784,)), layers.Rescaling(2.0, -1.0, name="rescale"), layers.Dense(32, activation="tanh", name="units"), layers.Dense(10, activation="softmax", name="out")]))


def row_by_row() -> keras.Model:
    """A dense layer on each row of a 28×28 input (no channel), a reshape, then a Softmax layer of its own."""
    keras.utils.set_random_seed(9)
    stack = [keras.Input((28, 28)), layers.Dense(4, activation="elu", name="rows"), layers.Reshape((112,), name="reshape"), layers.Dense(10, name="logits"), layers.Softmax(name="softmax")]
    return with_teeth(keras.Sequential(stack))


NETWORKS = {"lean": lambda: build_model("lean"), "cnn": lambda: build_model("cnn"), "dense": lambda: build_model("dense"), "residual": residual_network, "variety": variety, "flat": flat_input, "rows": row_by_row}


@pytest.mark.parametrize("make", NETWORKS.values(), ids=NETWORKS.keys())
def test_every_network_the_engine_runs_explains_each_shown_unit_each_bar_and_each_layer(make, images):
    model = make()
    engine = Engine.from_keras_model(model)
    image = images[1]
    probabilities, hidden = engine.activations(image)
    for name, values in hidden:
        for position in {0, int(np.argmax(values[0]))}:
            index = np.unravel_index(position, values.shape[1:]) if values.ndim == 4 else (position,)
            result = arithmetic(engine, image, Unit(name, tuple(int(i) for i in index)))
            assert result.value == values[0][index], name
            assert result.view is not None or result.steps, name
            if isinstance(result.view, (DenseView, ConvView)):
                parts = result.view.channel_sums.sum() if isinstance(result.view, ConvView) else sum(c.product for c in result.view.top) + result.view.rest
                assert parts + result.view.bias == pytest.approx(result.view.z, rel=1e-4, abs=1e-4), name
    for klass in range(10):
        assert arithmetic(engine, image, Unit(None, (klass,))).value == probabilities[0, klass]
    shown_names = set(engine.shown.values())
    for layer, output in layer_outputs(model, image).items():  # any layer by its own name: Keras's number
        if layer in shown_names:
            continue
        position = tuple(int(i) for i in np.unravel_index(int(np.argmax(output)), output.shape))
        result = arithmetic(engine, image, Unit(layer, position if output.ndim == 3 else (int(np.argmax(output)),)))
        assert result.value == pytest.approx(float(output[position]), abs=1e-5), layer


def test_padding_says_it_is_padding():
    result = arithmetic(Engine.from_keras_model(variety()), np.ones((28, 28), np.float32), Unit("pad", (0, 3, 0)))
    assert result.value == 0 and result.steps[-1].text == "pad: this number is padding added around the maps: 0"


def test_selection_follows_the_drawing_and_snapshots_and_clears_for_another_model(convnet, engine, images):
    selection = ArithmeticSelection()
    unit = Unit("conv_b", (3, 4, 2))
    selection.select(unit)
    first, second = selection.update(engine, images[0]), selection.update(engine, images[1])
    assert first.value == shown(engine, images[0])["conv_b"][3, 4, 2]
    assert second.value == shown(engine, images[1])["conv_b"][3, 4, 2]
    assert second.view.z != first.view.z and second.view.patch.tolist() != first.view.patch.tolist()
    cleared = selection.update(engine, None)
    assert cleared.note == NO_DRAWING_NOTE and selection.unit == unit  # the canvas cleared: the unit stays selected
    snapshot = engine.with_weights([[w * 0.5 for w in layer.get_weights()] for layer in convnet.layers])  # a training snapshot
    assert selection.update(snapshot, images[1]).value == shown(snapshot, images[1])["conv_b"][3, 4, 2]
    dense = Engine.from_keras_model(build_model("dense"))
    assert selection.update(dense, images[1]) is None and selection.unit is None  # no conv_b there
    assert selection.update(engine, images[1]) is None  # and it stays cleared
    assert arithmetic(engine, images[0], Unit("conv_b", (12, 0, 0))) is None  # conv_b's maps are 12×12
    assert arithmetic(engine, images[0], Unit(None, (10,))) is None


def test_a_model_running_through_keras_says_so():
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(16), layers.UnitNormalization(), layers.Dense(10, activation="softmax")])
    result = arithmetic(KerasPredictor(model, "layer UnitNormalization"), np.zeros((28, 28), np.float32), Unit(None, (3,)))
    assert result.note.startswith("No arithmetic for this model: it runs through Keras") and result.view is None


@pytest.mark.parametrize("shape", [(12, 12, 6), (7, 7, 64), (16,), (1000,)])
def test_a_click_on_the_activations_picture_finds_its_unit(shape):
    values = np.random.default_rng(0).random(shape).astype(np.float32)
    picture = activation_image(values)
    for flat in (0, values.size // 2, values.size - 1):
        position = tuple(int(i) for i in np.unravel_index(flat, shape))
        row, col = activation_pixel(shape, position)
        assert picture[row, col] == values[position]
        assert unit_at("layer", shape, row + 0.5, col + 0.5) == Unit("layer", position if len(shape) == 3 else (flat,))
    gaps = np.argwhere(np.isnan(picture))
    if len(gaps):
        assert unit_at("layer", shape, *(gaps[0] + 0.5)) is None
    assert unit_at("layer", shape, -1, 0) is None and unit_at("layer", shape, 0, picture.shape[1]) is None
