"""A numpy forward pass built from a Keras model's weights, for instant, thread-safe prediction.

``model.predict`` costs ~50 ms per call in per-call overhead, needs TensorFlow imported (2-4 s)
and is not thread-safe; the same forward pass in numpy takes well under a millisecond for our
models. :func:`load_predictor` reads a ``.keras`` file (a zip of ``config.json`` and
``model.weights.h5``) without importing TensorFlow, and falls back to Keras only for a model
with layers this module does not know.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mnistdesk.base.untrusted import MAX_CONFIG_BYTES, read_member
from mnistdesk.net.models import CONFIG_MEMBER, WEIGHTS_MEMBER, ModelFileError, check_model_file

IDENTITY_LAYERS = frozenset(
    {
        "InputLayer",
        "Dropout",
        "SpatialDropout2D",
        "GaussianNoise",
        "GaussianDropout",
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomFlip",
        "RandomContrast",
    }
)
INPUT_SHAPES = ((28, 28), (28, 28, 1))
#: How far a model's outputs may be from a probability distribution and still count as one.
PROBABILITY_TOLERANCE = 1e-3
SOFTMAX_NOTE = "its outputs are not probabilities (the last layer has no softmax), so softmax is applied to them"


class UnsupportedModel(Exception):
    """The model uses something the numpy engine does not implement (Keras can still run it)."""


class Predictor(Protocol):
    """Anything that maps a batch of 28×28 inputs in [0, 1] to class probabilities.
    ``note`` says, in one line, what was done to make a model's outputs probabilities."""

    note: str | None

    def predict(self, images: np.ndarray) -> np.ndarray: ...


#: A fixed noisy input: a model's outputs for it show whether it gives finite probabilities at
#: all. One image, not a batch: a batch makes BLAS start its threads (10+ ms on a busy laptop).
PROBE_IMAGE = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)


def needs_softmax(outputs: np.ndarray) -> bool:
    """Whether probe ``outputs`` are logits (finite, but not rows of probabilities); refuses a
    model with the wrong output shape or non-finite outputs (NaN or infinite weights)."""
    if outputs.ndim != 2 or outputs.shape[1] != 10:
        raise ModelFileError(f"the model outputs shape {outputs.shape[1:]}, not 10 class probabilities")
    if not np.isfinite(outputs).all():
        raise ModelFileError("refused: the model's outputs are not finite numbers (its weights hold NaN or infinity)")
    in_range = outputs.min() >= -PROBABILITY_TOLERANCE and outputs.max() <= 1 + PROBABILITY_TOLERANCE
    return not (in_range and np.allclose(outputs.sum(axis=1), 1, atol=PROBABILITY_TOLERANCE))


@dataclass(frozen=True)
class LayerSpec:
    """One layer as Keras describes it: class name, ``get_config()`` dict, weight arrays."""

    class_name: str
    config: dict[str, Any]
    weights: tuple[np.ndarray, ...] = ()


class Engine:
    """A chain of numpy layer functions equivalent to a Keras ``Sequential`` model in inference."""

    def __init__(self, specs: Sequence[LayerSpec]):
        self.specs = tuple(specs)
        self._ops = [_build_op(spec) for spec in self.specs]
        weighted = [i for i, spec in enumerate(self.specs) if spec.class_name in ("Conv2D", "Dense")]
        self._hidden = {i: str(self.specs[i].config.get("name", f"layer {i}")) for i in weighted[:-1]}
        self.input_shape = _input_shape(self.specs)
        self.note: str | None = None
        if needs_softmax(self.predict(PROBE_IMAGE)):
            self._ops.append(softmax)
            self.note = SOFTMAX_NOTE

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for images (N, 28, 28) or (N, 28, 28, 1), or one (28, 28) image."""
        return self.activations(images, hidden=False)[0]

    def activations(self, images: np.ndarray, hidden: bool = True) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        """Probabilities, and (in the same pass) each hidden layer's output by layer name: every
        Conv2D and every Dense but the last, after its activation, as a Keras sub-model ending
        at that layer would give it."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        x = x.reshape((x.shape[0], *self.input_shape))
        outputs = []
        with np.errstate(over="ignore", invalid="ignore"):  # a crafted model's overflow is caught by the caller, not printed
            for index, op in enumerate(self._ops):
                x = op(x)
                if hidden and index in self._hidden:
                    outputs.append((self._hidden[index], x))
        return x, outputs

    def with_weights(self, weights: Sequence[Sequence[np.ndarray]]) -> Engine:
        """The same architecture with new weights (one list per layer), e.g. a training snapshot."""
        return Engine([LayerSpec(s.class_name, s.config, tuple(w)) for s, w in zip(self.specs, weights, strict=True)])

    def first_layer_weights(self) -> np.ndarray | None:
        """The kernel of the first Dense or Conv2D layer, for the weight-image panel."""
        return next((s.weights[0] for s in self.specs if s.class_name in ("Dense", "Conv2D")), None)

    @classmethod
    def from_keras_model(cls, model: Any) -> Engine:
        """Build from a live ``keras.Sequential``: its layers' configs and a copy of their weights."""
        if type(model).__name__ != "Sequential":
            raise UnsupportedModel(f"only Sequential models run in numpy, not {type(model).__name__}")
        return cls([LayerSpec(type(layer).__name__, layer.get_config(), tuple(layer.get_weights())) for layer in model.layers])

    @classmethod
    def from_keras_file(cls, path: str | os.PathLike) -> Engine:
        """Build from a ``.keras`` file without importing TensorFlow."""
        import h5py

        check_model_file(path)  # declared sizes are capped before anything is read
        with zipfile.ZipFile(path) as archive:
            config = json.loads(read_member(archive, CONFIG_MEMBER, MAX_CONFIG_BYTES))  # checked above
            kind = config.get("class_name") if isinstance(config, dict) else type(config).__name__
            if kind != "Sequential":
                raise UnsupportedModel(f"only Sequential models run in numpy, not {kind}")
            with archive.open(WEIGHTS_MEMBER) as stream, h5py.File(stream, "r") as weights:
                specs = []
                for layer, key in zip(config["config"]["layers"], _weight_keys(config["config"]["layers"])):
                    group = weights.get(f"layers/{key}/vars")
                    arrays = () if group is None else tuple(np.array(group[k]) for k in sorted(group, key=int))
                    specs.append(LayerSpec(layer["class_name"], layer["config"], arrays))
        try:
            return cls(specs)
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None


class KerasPredictor:
    """Fallback for models the numpy engine cannot run: Keras's own ``predict`` (slow, imports TF)."""

    def __init__(self, model: Any):
        self.model = model
        self.softmax = False
        self.note: str | None = None
        if needs_softmax(self.predict(PROBE_IMAGE)):
            self.softmax, self.note = True, SOFTMAX_NOTE

    def predict(self, images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        x = x.reshape((x.shape[0], *self.model.input_shape[1:]))
        outputs = np.asarray(self.model.predict(x, verbose=0))
        return softmax(outputs) if self.softmax else outputs


def load_predictor(path: str | os.PathLike) -> Predictor:
    """The fastest predictor for a model file: numpy when it can, Keras (``safe_mode=True``) if not."""
    try:
        return Engine.from_keras_file(path)
    except ModelFileError:
        raise
    except Exception:  # unsupported, or a config the numpy engine cannot make sense of: Keras judges it
        from mnistdesk.net.models import load_model

        model = load_model(path)
        try:
            return KerasPredictor(model)
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None


def _weight_keys(layers: list[dict[str, Any]]) -> list[str]:
    """Keras 3 stores each layer's weights under its class name in snake case, numbered per class
    (``conv2d``, ``conv2d_1``, …), not under the layer's own name; the input layer has none."""
    seen: dict[str, int] = {}
    keys = []
    for layer in layers:
        base = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", layer["class_name"])).lower()
        count = seen.get(base, 0) if layer["class_name"] != "InputLayer" else 0
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}_{count}")
    return keys


def _input_shape(specs: Sequence[LayerSpec]) -> tuple[int, ...]:
    for spec in specs:
        shape = spec.config.get("batch_shape") or spec.config.get("batch_input_shape")
        if shape is None and "build_config" in spec.config:
            shape = spec.config["build_config"].get("input_shape")
        if shape is not None:
            if tuple(shape[1:]) not in INPUT_SHAPES:
                raise ModelFileError(f"the model expects input of shape {tuple(shape[1:])}, not a 28×28 image")
            return tuple(shape[1:])
    return (28, 28, 1)


def _activation(name: Any) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(name, dict):
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name in (None, "linear"):
        return lambda x: x
    if name == "relu":
        return lambda x: np.maximum(x, 0, dtype=np.float32)
    if name == "softmax":
        return softmax
    if name == "sigmoid":
        return lambda x: (1 / (1 + np.exp(-x))).astype(np.float32)
    if name == "tanh":
        return np.tanh
    raise UnsupportedModel(f"activation {name!r}")


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the extra pixel goes after, not before."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def sliding_windows(x: np.ndarray, kernel: tuple[int, int], strides: tuple[int, int], padding: str, fill: float) -> np.ndarray:
    """Sliding windows (N, H', W', C, kh, kw) of an NHWC tensor, padded as Keras would."""
    if padding == "same":
        pads = [same_padding(x.shape[axis], kernel[axis - 1], strides[axis - 1]) for axis in (1, 2)]
        x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    elif padding != "valid":
        raise UnsupportedModel(f"padding {padding!r}")
    windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))
    return windows[:, :: strides[0], :: strides[1]]


def _build_op(spec: LayerSpec) -> Callable[[np.ndarray], np.ndarray]:
    name, config, weights = spec.class_name, spec.config, [np.asarray(w, np.float32) for w in spec.weights]
    if name in IDENTITY_LAYERS:
        return lambda x: x
    if name == "Flatten":
        return lambda x: x.reshape(x.shape[0], -1)
    if name == "Reshape":
        return lambda x: x.reshape(x.shape[0], *config["target_shape"])
    if name in ("Activation", "ReLU", "Softmax"):
        return _activation(activation_layer_name(name, config))
    if name == "Rescaling":
        scale, offset = np.float32(config["scale"]), np.float32(config["offset"])
        return lambda x: x * scale + offset
    if name == "Dense":
        activate = _activation(config.get("activation"))
        kernel, bias = weights[0], (weights[1] if config.get("use_bias", True) else np.float32(0))
        return lambda x: activate(x @ kernel + bias)
    if name == "Conv2D":
        return _conv2d(config, weights)
    if name in ("MaxPooling2D", "AveragePooling2D"):
        return _pool2d(name, config)
    if name in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        reduce = np.mean if name == "GlobalAveragePooling2D" else np.max
        return lambda x: reduce(x, axis=(1, 2))
    if name == "BatchNormalization":
        return _batch_norm(config, weights)
    raise UnsupportedModel(f"layer {name}")


def _conv2d(config: dict[str, Any], weights: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1:
        raise UnsupportedModel("dilated or grouped convolution")
    if config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedModel("channels_first convolution")
    activate = _activation(config.get("activation"))
    kernel = weights[0]
    bias = weights[1] if config.get("use_bias", True) else np.float32(0)
    size, strides, padding = tuple(config["kernel_size"]), tuple(config["strides"]), config["padding"]
    # windows are (N, H', W', C, kh, kw); the kernel is (kh, kw, C, F): contract over C, kh, kw.
    matrix = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3).reshape(-1, kernel.shape[-1]))

    def conv(x: np.ndarray) -> np.ndarray:
        windows = sliding_windows(x, size, strides, padding, 0.0)
        n, h, w = windows.shape[:3]
        return activate(windows.reshape(n * h * w, -1) @ matrix + bias).reshape(n, h, w, -1)

    return conv


def _pool2d(name: str, config: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    size = tuple(config["pool_size"])
    strides = tuple(config.get("strides") or size)
    padding = config.get("padding", "valid")
    if name == "AveragePooling2D" and padding == "same":
        raise UnsupportedModel("average pooling with same padding")
    reduce = np.max if name == "MaxPooling2D" else np.mean
    return lambda x: reduce(sliding_windows(x, size, strides, padding, -np.inf), axis=(4, 5))


def activation_layer_name(name: str, config: dict[str, Any]) -> Any:
    """The activation an Activation, ReLU or Softmax layer applies (a plain ReLU only)."""
    if name == "ReLU" and (config.get("max_value") or config.get("negative_slope") or config.get("threshold")):
        raise UnsupportedModel("ReLU with a cap, slope or threshold")
    return {"Activation": config.get("activation"), "ReLU": "relu", "Softmax": "softmax"}[name]


def batch_norm_affine(config: dict[str, Any], weights: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Batch normalisation in inference is ``x * factor + shift``: (factor, shift) per channel."""
    if config.get("axis", -1) not in (-1, [-1]) and config.get("axis") != [3]:
        raise UnsupportedModel("batch normalisation over a non-channel axis")
    values = list(weights)
    gamma = values.pop(0) if config.get("scale", True) else np.float32(1)
    beta = values.pop(0) if config.get("center", True) else np.float32(0)
    mean, variance = values
    factor = gamma / np.sqrt(variance + np.float32(config.get("epsilon", 1e-3)))
    return factor, beta - mean * factor


def _batch_norm(config: dict[str, Any], weights: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    factor, shift = batch_norm_affine(config, weights)
    return lambda x: x * factor + shift
