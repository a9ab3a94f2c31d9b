"""A network as a learner describes it: its input, a list of layers with their settings, and the
optimizer. The app sums it up as ``model.summary()`` would (shapes, parameters, multiply-adds),
says where a choice cannot work, builds it in Keras, and writes it back as a Keras script.

One table, :func:`layer_calls`, turns each described layer into Keras layer calls: the model the
app trains and the script it hands back are made from the same calls, so they cannot drift apart.
A description may come from a file (``mnistdesk train --model FILE.json``, a model's metadata,
the settings), so :func:`problems` checks it as untrusted input. No Qt; Keras only in :func:`build`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from mnistdesk.net.models import DEFAULT_LEARNING_RATE, OPTIMIZERS

#: Each layer type: what the editor calls it, and its settings with their defaults.
LAYER_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "conv": ("Convolution", {"filters": 32, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu", "batch_norm": False}),
    "pool": ("Pooling", {"kind": "max", "size": 2}),
    "residual": ("Residual block", {"filters": 32, "kernel": 3}),
    "global_pool": ("Global pooling", {"kind": "average"}),
    "flatten": ("Flatten", {}),
    "dense": ("Dense", {"units": 128, "activation": "relu", "batch_norm": False}),
    "dropout": ("Dropout", {"rate": 0.25}),
}
ACTIVATION_CHOICES = ("relu", "sigmoid", "tanh", "elu", "selu", "gelu", "silu", "softplus", "leaky_relu", "linear")
INPUTS = {"image": (28, 28, 1), "flat": (784,)}
#: Caps for a description read from a file: a few of these already exceed any network that trains here.
MAX_LAYERS = 64
MAX_UNITS = 8192
MAX_FILTERS = 1024
MAX_PARAMETERS = 64_000_000  # 256 MB of float32 weights, the cap on a model file's arrays
MAX_NAME = 80
MAX_DESCRIPTION_BYTES = 64 << 10
#: Training speed on this 2-core machine (fit, batch 128), as seconds per digit: a fixed part
#: and a part per multiply-add of the forward pass (measured on dense, lean and cnn: 27k, 9k
#: and 2.3k digits/s). A machine's speed is scaled by a short matrix product (:func:`machine_speed`).
SECONDS_PER_DIGIT = 5e-6
SECONDS_PER_MAC = 7.9e-11
REFERENCE_MATMUL_S = 1.0e-3


@dataclass(frozen=True)
class Row:
    """One Keras layer of the summary: its name as Keras would print it, its output shape (batch
    axis left out), parameters (trainable and not, as ``model.summary()`` counts them) and
    multiply-adds for one digit; ``problem``: why it cannot work, where it is chosen."""

    layer: int  # index of the described layer it comes from (-1: the input, len(layers): the output)
    name: str
    shape: tuple[int, ...]
    parameters: int
    macs: int
    problem: str | None = None


@dataclass(frozen=True)
class Summary:
    rows: tuple[Row, ...]

    @property
    def parameters(self) -> int:
        return sum(row.parameters for row in self.rows)

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.rows)

    @property
    def problems(self) -> list[str]:
        return [row.problem for row in self.rows if row.problem]


def new_layer(kind: str) -> dict[str, Any]:
    """A layer of ``kind`` with its default settings."""
    return {"type": kind, **LAYER_TYPES[kind][1]}


def layer_text(layer: dict[str, Any]) -> str:
    """One line for the editor's list, as the lessons write layers: "Conv 32@5×5 relu"."""
    kind = layer["type"]
    if kind == "conv":
        extra = (f" stride {layer['stride']}" if layer["stride"] != 1 else "") + (" valid" if layer["padding"] == "valid" else "") + (" + batch norm" if layer["batch_norm"] else "")
        return f"Conv {layer['filters']}@{layer['kernel']}×{layer['kernel']} {layer['activation']}{extra}"
    if kind == "pool":
        return f"{layer['kind'].capitalize()} pool {layer['size']}×{layer['size']}"
    if kind == "residual":
        return f"Residual block {layer['filters']}@{layer['kernel']}×{layer['kernel']}"
    if kind == "global_pool":
        return f"Global {layer['kind']} pool"
    if kind == "dense":
        return f"Dense {layer['units']} {layer['activation']}" + (" + batch norm" if layer["batch_norm"] else "")
    if kind == "dropout":
        return f"Dropout {layer['rate']:g}"
    return LAYER_TYPES[kind][0]


# -- checking a description -------------------------------------------------------------------
def problems(description: Any) -> list[str]:
    """Everything wrong with a description, one line each (empty: it builds and trains). Checks
    what a file could get wrong (types, sizes, caps) before the shapes (what the editor shows)."""
    found = _form_problems(description)
    return found or summarize(description).problems


def _form_problems(description: Any) -> list[str]:
    if not isinstance(description, dict):
        return [f"a network description is a JSON object, not {type(description).__name__}"]
    found = []
    name = description.get("name", "")
    if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME and name.isprintable()):
        found.append(f"its name must be 1 to {MAX_NAME} printable characters")
    if description.get("input", "image") not in INPUTS:
        found.append(f"input must be one of {', '.join(INPUTS)}")
    if description.get("optimizer", "adam") not in OPTIMIZERS:
        found.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    rate = description.get("learning_rate")
    if rate is not None and not (_number(rate) and 0 < rate <= 1):
        found.append("learning_rate must be a number in (0, 1], or null for the optimizer's default")
    layers = description.get("layers")
    if not isinstance(layers, list):
        return found + ["layers must be a list"]
    if len(layers) > MAX_LAYERS:
        return found + [f"{len(layers)} layers, over the limit of {MAX_LAYERS}"]
    for index, layer in enumerate(layers, start=1):
        found += [f"layer {index}: {problem}" for problem in _layer_form_problems(layer)]
    return found


def _layer_form_problems(layer: Any) -> list[str]:
    if not isinstance(layer, dict) or layer.get("type") not in LAYER_TYPES:
        return [f"type must be one of {', '.join(LAYER_TYPES)}"]
    defaults = LAYER_TYPES[layer["type"]][1]
    unknown = sorted(set(layer) - set(defaults) - {"type"})
    found = [f"unknown setting {key!r}" for key in unknown[:3]]
    limits = {"filters": (1, MAX_FILTERS), "units": (1, MAX_UNITS), "kernel": (1, 28), "stride": (1, 28), "size": (1, 28)}
    for key, default in defaults.items():
        value = layer.get(key, default)
        if key in limits:
            low, high = limits[key]
            if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
                found.append(f"{key} must be a whole number from {low} to {high}")
        elif key == "rate" and not (_number(value) and 0 <= value < 1):
            found.append("rate must be a number from 0 up to (not including) 1")
        elif key == "activation" and value not in ACTIVATION_CHOICES:
            found.append(f"activation must be one of {', '.join(ACTIVATION_CHOICES)}")
        elif key == "padding" and value not in ("same", "valid"):
            found.append("padding must be same or valid")
        elif key == "kind" and value not in (("max", "average")):
            found.append("kind must be max or average")
        elif key == "batch_norm" and not isinstance(value, bool):
            found.append("batch_norm must be true or false")
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def filled(description: dict[str, Any]) -> dict[str, Any]:
    """The description with every default filled in (a checked one: see :func:`problems`)."""
    return {
        "name": description.get("name", "custom"),
        "input": description.get("input", "image"),
        "optimizer": description.get("optimizer", "adam"),
        "learning_rate": description.get("learning_rate"),
        "layers": [{**new_layer(layer["type"]), **layer} for layer in description["layers"]],
    }


def read_description(text: str, where: str) -> dict[str, Any]:
    """A description from JSON text (a file, the settings, a model's metadata), checked; raises
    ``ValueError`` with one line per problem, naming ``where``."""
    if len(text.encode("utf-8", "replace")) > MAX_DESCRIPTION_BYTES:
        raise ValueError(f"{where}: refused: over {MAX_DESCRIPTION_BYTES // 1024} KB, too big for a network description")
    try:
        description = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{where}: not a network description: {error}") from None
    found = problems(description)
    if found:
        raise ValueError(f"{where}: " + "; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else ""))
    return filled(description)


# -- the summary ------------------------------------------------------------------------------
def summarize(description: dict[str, Any]) -> Summary:
    """Each Keras layer the description builds, with its output shape, parameters and
    multiply-adds, as ``model.summary()`` lists them (plus the multiply-adds it does not);
    an impossible choice gets its reason on the row where it is made."""
    description = filled(description)
    shape = INPUTS[description["input"]]
    rows = [Row(-1, "input", shape, 0, 0)]
    for index, layer in enumerate(description["layers"]):
        for name, shape, parameters, macs, problem in _layer_rows(layer, shape):
            rows.append(Row(index, name, shape, parameters, macs, problem))
            if problem:
                return Summary(tuple(rows))  # later shapes would be guesses
    output = len(description["layers"])
    if len(shape) != 1:
        rows.append(Row(output, "dense (output)", (10,), 0, 0, f"the output needs a flat input, not {_shape(shape)} maps: add Flatten or Global pooling before it"))
    else:
        rows.append(Row(output, "dense (output, softmax)", (10,), shape[0] * 10 + 10, shape[0] * 10))
    if not description["layers"] and description["input"] == "image":
        rows[-1] = Row(output, "dense (output)", (10,), 0, 0, "no layer left: add Flatten (or any layer) before the output")
    total = sum(row.parameters for row in rows)
    if total > MAX_PARAMETERS:
        rows.append(Row(output, "total", (), 0, 0, f"{total:,} parameters, over the limit of {MAX_PARAMETERS:,}"))
    return Summary(tuple(rows))


def _layer_rows(layer: dict[str, Any], shape: tuple[int, ...]) -> list[tuple[str, tuple[int, ...], int, int, str | None]]:
    kind = layer["type"]
    if kind in ("conv", "pool", "residual", "global_pool") and len(shape) != 3:
        return [(kind, shape, 0, 0, f"a {LAYER_TYPES[kind][0].lower()} needs 28×28 maps, but its input is {_shape(shape)}: put it before Flatten, or choose the 28×28 image input")]
    if kind == "conv":
        return _conv_rows(shape, layer["filters"], layer["kernel"], layer["stride"], layer["padding"], layer["batch_norm"])
    if kind == "pool":
        size = layer["size"]
        if size > min(shape[:2]):
            return [("pooling", shape, 0, 0, f"a {size}×{size} window on a {shape[0]}×{shape[1]} map: use a smaller size, or fewer layers before it")]
        return [(f"{layer['kind']}_pooling2d", (shape[0] // size, shape[1] // size, shape[2]), 0, 0, None)]
    if kind == "global_pool":
        return [(f"global_{layer['kind']}_pooling2d", (shape[2],), 0, 0, None)]
    if kind == "residual":
        return _residual_rows(shape, layer["filters"], layer["kernel"])
    if kind == "flatten":
        return [("flatten", (math.prod(shape),), 0, 0, None)]
    if kind == "dense":
        if len(shape) != 1:
            return [("dense", shape, 0, 0, f"a dense layer needs a flat input, not {_shape(shape)} maps: add Flatten or Global pooling before it")]
        units, batch_norm = layer["units"], layer["batch_norm"]
        rows = [("dense", (units,), shape[0] * units + (0 if batch_norm else units), shape[0] * units, None)]
        if batch_norm:
            rows += [("batch_normalization", (units,), 4 * units, 0, None), ("activation", (units,), 0, 0, None)]
        return rows
    return [("dropout", shape, 0, 0, None)]


def _conv_rows(shape: tuple[int, ...], filters: int, kernel: int, stride: int, padding: str, batch_norm: bool) -> list:
    height, width, channels = shape
    if padding == "valid" and kernel > min(height, width):
        return [("conv2d", shape, 0, 0, f"a {kernel}×{kernel} kernel on a {height}×{width} map: use a smaller kernel, same padding, or fewer layers before it")]
    if padding == "same":
        out = (-(-height // stride), -(-width // stride))
    else:
        out = ((height - kernel) // stride + 1, (width - kernel) // stride + 1)
    macs = out[0] * out[1] * kernel * kernel * channels * filters
    rows = [("conv2d", (*out, filters), kernel * kernel * channels * filters + (0 if batch_norm else filters), macs, None)]
    if batch_norm:
        rows += [("batch_normalization", (*out, filters), 4 * filters, 0, None), ("activation", (*out, filters), 0, 0, None)]
    return rows


def _residual_rows(shape: tuple[int, ...], filters: int, kernel: int) -> list:
    height, width, channels = shape
    size = (height, width, filters)
    first = kernel * kernel * channels * filters
    second = kernel * kernel * filters * filters
    rows = [
        ("conv2d", size, first, height * width * first, None),
        ("batch_normalization", size, 4 * filters, 0, None),
        ("activation", size, 0, 0, None),
        ("conv2d", size, second, height * width * second, None),
    ]
    if channels != filters:  # the shortcut is projected to the block's width by a 1×1 convolution (Keras lists it here)
        rows.append(("conv2d (shortcut)", size, channels * filters + filters, height * width * channels * filters, None))
    return rows + [("batch_normalization", size, 4 * filters, 0, None), ("add", size, 0, 0, None), ("activation", size, 0, 0, None)]


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(side) for side in shape)


def machine_speed() -> float:
    """This machine's speed relative to the one :data:`SECONDS_PER_MAC` was measured on, from a
    short float32 matrix product (~1 ms there), best of five."""
    import numpy as np

    a = np.ones((256, 256), np.float32)
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(4):
            a @ a
        best = min(best, time.perf_counter() - started)
    return REFERENCE_MATMUL_S / max(best, 1e-6)


def epoch_seconds(summary: Summary, digits: int, speed: float = 1.0) -> float:
    """Estimated seconds for one epoch of ``digits`` on a machine ``speed`` times this one."""
    return digits * (SECONDS_PER_DIGIT + SECONDS_PER_MAC * summary.macs) / speed


# -- Keras --------------------------------------------------------------------------------------
def layer_calls(layer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The Keras layers (class name, arguments) one described layer becomes, a residual block
    excepted (:func:`build` and :func:`keras_code` write its branches)."""
    kind = layer["type"]
    if kind == "conv":
        if layer["batch_norm"]:  # normalised before the activation, so the convolution needs no bias
            arguments = {"filters": layer["filters"], "kernel_size": layer["kernel"], "strides": layer["stride"], "padding": layer["padding"], "use_bias": False}
            return [("Conv2D", arguments), ("BatchNormalization", {}), ("Activation", {"activation": layer["activation"]})]
        return [("Conv2D", {"filters": layer["filters"], "kernel_size": layer["kernel"], "strides": layer["stride"], "padding": layer["padding"], "activation": layer["activation"]})]
    if kind == "pool":
        return [("MaxPooling2D" if layer["kind"] == "max" else "AveragePooling2D", {"pool_size": layer["size"]})]
    if kind == "global_pool":
        return [("GlobalMaxPooling2D" if layer["kind"] == "max" else "GlobalAveragePooling2D", {})]
    if kind == "flatten":
        return [("Flatten", {})]
    if kind == "dense":
        if layer["batch_norm"]:
            return [("Dense", {"units": layer["units"], "use_bias": False}), ("BatchNormalization", {}), ("Activation", {"activation": layer["activation"]})]
        return [("Dense", {"units": layer["units"], "activation": layer["activation"]})]
    if kind == "dropout":
        return [("Dropout", {"rate": layer["rate"]})]
    raise ValueError(f"no plain layers for {kind}")


OUTPUT_CALL = ("Dense", {"units": 10, "activation": "softmax"})


def build(description: dict[str, Any]) -> Any:
    """The described network as a compiled Keras model (Functional: a residual block branches)."""
    import keras

    from mnistdesk.net.models import compile_model

    description = filled(description)
    found = problems(description)
    if found:
        raise ValueError("; ".join(found))
    inputs = keras.Input(INPUTS[description["input"]])
    x = inputs
    residual_block = _residual_block(keras.layers)
    for layer in description["layers"]:
        if layer["type"] == "residual":
            x = residual_block(x, layer["filters"], layer["kernel"])
            continue
        for class_name, arguments in layer_calls(layer):
            x = getattr(keras.layers, class_name)(**arguments)(x)
    outputs = getattr(keras.layers, OUTPUT_CALL[0])(**OUTPUT_CALL[1])(x)
    model = keras.Model(inputs, outputs, name=_model_name(description["name"]))
    compile_model(model, description["optimizer"], description["learning_rate"])
    return model


RESIDUAL_BLOCK_CODE = '''def residual_block(x, filters, kernel):
    """Two convolutions with batch normalisation, added back to the block's input."""
    shortcut = x
    y = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, kernel, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1)(shortcut)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))
'''


def _residual_block(layers: Any) -> Any:
    """The script's ``residual_block``, for the app's model too: one text, so the network the app
    trains and the one its Keras code builds cannot differ (our own constant, never a file's)."""
    namespace: dict[str, Any] = {"layers": layers}
    exec(RESIDUAL_BLOCK_CODE, namespace)  # noqa: S102
    return namespace["residual_block"]


def _model_name(name: str) -> str:
    """A Keras model name from the user's: letters, digits and underscores."""
    cleaned = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return cleaned[:40] or "custom"


def _call_code(class_name: str, arguments: dict[str, Any]) -> str:
    """A layer call as a lesson writes it: ``layers.Conv2D(32, 5, padding="same", activation="relu")``."""
    leading = ("filters", "kernel_size", "units", "rate", "pool_size")
    positional = [arguments[key] for key in leading if key in arguments]
    keywords = {key: value for key, value in arguments.items() if key not in leading and not (key == "strides" and value == 1)}
    text = [repr(value) for value in positional] + [f"{key}={json.dumps(value) if isinstance(value, str) else repr(value)}" for key, value in keywords.items()]
    return f"layers.{class_name}({', '.join(text)})"


KERAS_DATASETS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist"}


def keras_code(description: dict[str, Any], epochs: int = 5, batch_size: int = 128, validation_fraction: float = 0.1, dataset: str = "mnist", augment: bool = False, version: str = "") -> str:
    """A short, runnable script that builds, compiles and trains the described network with
    ``keras.datasets``, as this app's run would (its data aside: the script reads Keras's own)."""
    description = filled(description)
    shape = INPUTS[description["input"]]
    optimizer = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}[description["optimizer"]]
    rate = description["learning_rate"] or DEFAULT_LEARNING_RATE[description["optimizer"]]
    momentum = ", momentum=0.9" if description["optimizer"] == "sgd" else ""
    source = KERAS_DATASETS.get(dataset, "mnist")
    reshape = ".reshape(-1, 784)" if shape == (784,) else "[..., None]"
    residual = any(layer["type"] == "residual" for layer in description["layers"])
    lines = [
        f'"""{description["name"]}: trains on {source.replace("_", "-").upper() if source == "mnist" else "Fashion-MNIST"} as mnistdesk{" " + version if version else ""} would. Run: python this_file.py"""',
        "",
        "import keras",
        "from keras import layers",
        "",
        f"(x_train, y_train), (x_test, y_test) = keras.datasets.{source}.load_data()",
        f'x_train = (x_train.astype("float32") / 255){reshape}',
        f'x_test = (x_test.astype("float32") / 255){reshape}',
        "",
    ]
    if residual:
        lines += [RESIDUAL_BLOCK_CODE, f"inputs = keras.Input({shape!r})", "x = inputs"]
        for layer in description["layers"]:
            if layer["type"] == "residual":
                lines.append(f"x = residual_block(x, {layer['filters']}, {layer['kernel']})")
            else:
                lines += [f"x = {_call_code(*call)}(x)" for call in layer_calls(layer)]
        lines += [f"outputs = {_call_code(*OUTPUT_CALL)}(x)", f'model = keras.Model(inputs, outputs, name="{_model_name(description["name"])}")']
    else:
        calls = [_call_code(*call) for layer in description["layers"] for call in layer_calls(layer)] + [_call_code(*OUTPUT_CALL)]
        body = "".join(f"        {call},\n" for call in calls)
        lines.append(f'model = keras.Sequential(\n    [\n        keras.Input({shape!r}),\n{body}    ],\n    name="{_model_name(description["name"])}",\n)')
    lines += [
        f'model.compile(\n    optimizer=keras.optimizers.{optimizer}({rate!r}{momentum}),\n    loss="sparse_categorical_crossentropy",\n    metrics=["accuracy"],\n)',
        "model.summary()",
    ]
    if augment:
        lines.append("# mnistdesk also augmented the training digits (rotation, slant, shift, zoom, stroke width); not done here.")
    lines += [
        f"model.fit(x_train, y_train, batch_size={batch_size}, epochs={epochs}, validation_split={validation_fraction!r})",
        "loss, accuracy = model.evaluate(x_test, y_test, verbose=0)",
        'print(f"test accuracy {accuracy:.4f}")',
        "",
    ]
    return "\n".join(lines)


# -- presets ----------------------------------------------------------------------------------
def _conv(filters: int, kernel: int, padding: str = "same", activation: str = "relu") -> dict[str, Any]:
    return {**new_layer("conv"), "filters": filters, "kernel": kernel, "padding": padding, "activation": activation}


def _dense(units: int, activation: str = "relu") -> dict[str, Any]:
    return {**new_layer("dense"), "units": units, "activation": activation}


def _pool(size: int = 2) -> dict[str, Any]:
    return {**new_layer("pool"), "size": size}


#: The classic lessons' networks, exactly as they write them, and the app's own.
PRESETS: dict[str, dict[str, Any]] = {
    "first Keras network": {"name": "first Keras network", "input": "flat", "optimizer": "rmsprop", "learning_rate": None, "layers": [_dense(512)]},
    "textbook 784-50-100-10": {"name": "textbook 784-50-100-10", "input": "flat", "optimizer": "sgd", "learning_rate": 0.1, "layers": [_dense(50, "sigmoid"), _dense(100, "sigmoid")]},
    "lesson CNN": {
        "name": "lesson CNN",
        "input": "image",
        "optimizer": "adam",
        "learning_rate": None,
        "layers": [_conv(32, 5, "valid"), _pool(), _conv(64, 2, "valid"), _pool(), {**new_layer("dropout"), "rate": 0.25}, new_layer("flatten"), _dense(1000)],
    },
    "lean": {
        "name": "lean",
        "input": "image",
        "optimizer": "adam",
        "learning_rate": None,
        "layers": [_conv(24, 3), _pool(), _conv(48, 3), _pool(), _conv(64, 3), _pool(), new_layer("flatten"), {**new_layer("dropout"), "rate": 0.3}],
    },
    "cnn": {
        "name": "cnn",
        "input": "image",
        "optimizer": "adam",
        "learning_rate": None,
        "layers": [_conv(32, 5), _pool(), _conv(64, 2), _pool(), {**new_layer("dropout"), "rate": 0.25}, new_layer("flatten"), _dense(1000)],
    },
    "small residual CNN": {
        "name": "small residual CNN",
        "input": "image",
        "optimizer": "adam",
        "learning_rate": None,
        "layers": [_conv(16, 3), {**new_layer("residual"), "filters": 16}, _pool(), {**new_layer("residual"), "filters": 32}, _pool(), new_layer("global_pool")],
    },
}
#: The app's own networks as descriptions, for the editor and for their Keras code.
BUILT_IN_NETWORKS: dict[str, dict[str, Any]] = {
    "lean": PRESETS["lean"],
    "cnn": PRESETS["cnn"],
    "dense": {"name": "dense", "input": "image", "optimizer": "rmsprop", "learning_rate": None, "layers": [new_layer("flatten"), _dense(512)]},
}
