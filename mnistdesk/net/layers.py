"""Keras layers as numpy operations, each with its forward pass and its input gradient.

:mod:`mnistdesk.net.engine` chains these into a model's graph for prediction; saliency runs
the same operations backwards, so every layer the engine can run also has a saliency map and
there is one implementation of each layer, not two. :func:`layer_ops` turns one layer (its
Keras class name, ``get_config()`` and weights) into its operations, in order.

Each operation's ``backward(grad, inputs, output)`` gives the gradient of the loss with respect
to each of its inputs from the gradient with respect to its output (a vector-Jacobian product),
reading the values the forward pass computed rather than a cache of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

#: Layers that pass their input through unchanged at inference: dropout, noise, augmentation.
IDENTITY_LAYERS = frozenset(
    {
        "InputLayer",
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "ActivityRegularization",
        "Identity",
        "RandomRotation",
        "RandomTranslation",
        "RandomZoom",
        "RandomFlip",
        "RandomContrast",
        "RandomBrightness",
    }
)
#: Layers with weights whose output the Activations panel shows (and the first one's kernel the weights panel).
WEIGHTED_LAYERS = frozenset({"Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D"})
MERGE_LAYERS = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"})
#: Layers that change values one by one (or per channel): a weighted layer's output is shown after them.
ELEMENTWISE_LAYERS = IDENTITY_LAYERS | {"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "BatchNormalization", "LayerNormalization", "Rescaling"}


class UnsupportedModel(Exception):
    """The model uses something the numpy engine does not implement (Keras can still run it)."""


class Op:
    """One numpy operation of a model's graph."""

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray, inputs: Sequence[np.ndarray], output: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError


class Elementwise(Op):
    """``y = f(x)`` value by value; ``slope(x, y)`` is dy/dx."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], slope: Callable[[np.ndarray, np.ndarray], Any]):
        self.function, self.slope = function, slope

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(x), np.float32)

    def backward(self, grad, inputs, output):
        return [grad * self.slope(inputs[0], output)]


class Softmax(Op):
    """Softmax over ``axis``, made safe from overflow by subtracting the largest input first."""

    def __init__(self, axis: int = -1, log: bool = False):
        self.axis, self.log = axis, log

    def forward(self, x):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        if self.log:
            return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))
        exponentials = np.exp(shifted)
        return exponentials / exponentials.sum(axis=self.axis, keepdims=True)

    def backward(self, grad, inputs, output):
        if self.log:
            return [grad - np.exp(output) * grad.sum(axis=self.axis, keepdims=True)]
        return [output * (grad - (grad * output).sum(axis=self.axis, keepdims=True))]


def softmax(x: np.ndarray) -> np.ndarray:
    return Softmax().forward(x)


class Affine(Op):
    """``y = x * factor + shift`` (per channel or scalar): batch normalisation at inference, rescaling."""

    def __init__(self, factor: Any, shift: Any):
        self.factor, self.shift = factor, shift

    def forward(self, x):
        return x * self.factor + self.shift

    def backward(self, grad, inputs, output):
        return [grad * self.factor]


class MatMul(Op):
    """A dense layer before its activation: ``x @ kernel + bias`` over the last axis."""

    def __init__(self, kernel: np.ndarray, bias: Any):
        self.kernel, self.bias = kernel, bias

    def forward(self, x):
        return x @ self.kernel + self.bias

    def backward(self, grad, inputs, output):
        return [grad @ self.kernel.T]


class Reshape(Op):
    def __init__(self, target: tuple[int, ...]):
        self.target = target

    def forward(self, x):
        return x.reshape(x.shape[0], *self.target)

    def backward(self, grad, inputs, output):
        return [grad.reshape(inputs[0].shape)]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: the extra pixel goes after, not before."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Window:
    """How a convolution or pooling layer slides over an NHWC tensor: kernel, strides, dilation, padding."""

    def __init__(self, config: dict[str, Any], kernel: Sequence[int], strides: Sequence[int] | None = None):
        if config.get("data_format") not in (None, "channels_last"):
            raise UnsupportedModel("channels_first data")
        self.kernel = _pair(kernel)
        self.strides = _pair(strides or config.get("strides") or self.kernel)
        self.dilation = _pair(config.get("dilation_rate", 1))
        self.padding = str(config.get("padding", "valid")).lower()
        if self.padding not in ("same", "valid"):
            raise UnsupportedModel(f"padding {self.padding!r}")
        self.span = tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))

    def pads(self, shape: Sequence[int]) -> list[tuple[int, int]]:
        if self.padding == "valid":
            return [(0, 0), (0, 0)]
        return [same_padding(shape[axis], self.span[axis - 1], self.strides[axis - 1]) for axis in (1, 2)]

    def windows(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Sliding windows (N, H', W', C, kh, kw) of ``x``, padded with ``fill`` as Keras pads."""
        pads = self.pads(x.shape)
        if any(sum(p) for p in pads):
            x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
        if x.shape[1] < self.span[0] or x.shape[2] < self.span[1]:
            raise UnsupportedModel(f"a {self.kernel[0]}×{self.kernel[1]} window on a {x.shape[1]}×{x.shape[2]} map")
        views = np.lib.stride_tricks.sliding_window_view(x, self.span, axis=(1, 2))
        return views[:, :: self.strides[0], :: self.strides[1], :, :: self.dilation[0], :: self.dilation[1]]

    def scatter(self, window_grads: np.ndarray, shape: Sequence[int]) -> np.ndarray:
        """The transpose of :meth:`windows`: each window's gradient (N, H', W', C, kh, kw) added back
        onto the (padded) input it was cut from, then the padding cut off."""
        n, h, w = window_grads.shape[:3]
        pads = self.pads(shape)
        padded = np.zeros((n, shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), shape[3]), np.float32)
        (sh, sw), (dh, dw) = self.strides, self.dilation
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                padded[:, i * dh : i * dh + h * sh : sh, j * dw : j * dw + w * sw : sw] += window_grads[..., i, j]
        return padded[:, pads[0][0] : pads[0][0] + shape[1], pads[1][0] : pads[1][0] + shape[2]]


class Conv(Op):
    """A 2-D convolution before its activation: windows times the kernel, plus the bias."""

    def __init__(self, window: Window, kernel: np.ndarray, bias: Any):
        self.window, self.bias = window, bias
        # windows are (N, H', W', C, kh, kw); the kernel is (kh, kw, C, F): contract over C, kh, kw.
        self.matrix = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3).reshape(-1, kernel.shape[-1]))

    def forward(self, x):
        windows = self.window.windows(x)
        n, h, w = windows.shape[:3]
        return (windows.reshape(n * h * w, -1) @ self.matrix + self.bias).reshape(n, h, w, -1)

    def backward(self, grad, inputs, output):
        n, h, w, _ = grad.shape
        window_grads = (grad.reshape(n * h * w, -1) @ self.matrix.T).reshape(n, h, w, inputs[0].shape[3], *self.window.kernel)
        return [self.window.scatter(window_grads, inputs[0].shape)]


class DepthwiseConv(Op):
    """Each input channel convolved with its own ``multiplier`` kernels; output channel c·M + m."""

    def __init__(self, window: Window, kernel: np.ndarray, bias: Any):
        self.window, self.kernel, self.bias = window, kernel, bias  # kernel (kh, kw, C, M)

    def forward(self, x):
        products = np.einsum("nhwcij,ijcm->nhwcm", self.window.windows(x), self.kernel, optimize=True)
        return products.reshape(*products.shape[:3], -1) + self.bias

    def backward(self, grad, inputs, output):
        grad = grad.reshape(*grad.shape[:3], *self.kernel.shape[2:])
        window_grads = np.einsum("nhwcm,ijcm->nhwcij", grad, self.kernel, optimize=True)
        return [self.window.scatter(window_grads, inputs[0].shape)]


class Pool(Op):
    """Max or average pooling; average pooling with SAME padding counts only the real pixels, as Keras does."""

    def __init__(self, window: Window, kind: str):
        self.window, self.kind = window, kind

    def forward(self, x):
        if self.kind == "max":
            return self.window.windows(x, -np.inf).max(axis=(4, 5))
        return self.window.windows(x).sum(axis=(4, 5)) / self._counts(x.shape)

    def _counts(self, shape: Sequence[int]) -> np.ndarray:
        ones = np.ones((1, shape[1], shape[2], 1), np.float32)
        return self.window.windows(ones).sum(axis=(4, 5))

    def backward(self, grad, inputs, output):
        x = inputs[0]
        if self.kind == "max":  # the gradient goes to one maximum of each window, as TensorFlow's does
            windows = self.window.windows(x, -np.inf)
            flat = windows.reshape(*windows.shape[:4], -1)
            winner = flat.argmax(axis=-1)
            window_grads = np.zeros(flat.shape, np.float32)
            np.put_along_axis(window_grads, winner[..., None], grad[..., None], -1)
        else:
            share = grad / self._counts(x.shape)
            window_grads = np.broadcast_to(share[..., None], (*share.shape, math.prod(self.window.kernel)))
        return [self.window.scatter(window_grads.reshape(*grad.shape, *self.window.kernel), x.shape)]


class GlobalPool(Op):
    def __init__(self, kind: str, keepdims: bool):
        self.kind, self.keepdims = kind, keepdims

    def forward(self, x):
        reduce = np.max if self.kind == "max" else np.mean
        return reduce(x, axis=(1, 2), keepdims=self.keepdims)

    def backward(self, grad, inputs, output):
        x = inputs[0]
        grad = grad.reshape(x.shape[0], 1, 1, x.shape[3])
        if self.kind == "mean":
            return [np.broadcast_to(grad / (x.shape[1] * x.shape[2]), x.shape).astype(np.float32)]
        flat = x.reshape(x.shape[0], -1, x.shape[3])
        mask = np.zeros(flat.shape, np.float32)
        np.put_along_axis(mask, flat.argmax(axis=1)[:, None], 1.0, axis=1)
        return [mask.reshape(x.shape) * grad]


class LayerNorm(Op):
    """Layer normalisation over ``axes`` of each sample, then the learned scale and shift."""

    def __init__(self, axes: tuple[int, ...], epsilon: float, gamma: Any, beta: Any, rms: bool):
        self.axes, self.epsilon, self.gamma, self.beta, self.rms = axes, np.float32(epsilon), gamma, beta, rms

    def _normalized(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centred = x if self.rms else x - x.mean(axis=self.axes, keepdims=True)
        inverse = 1 / np.sqrt((centred * centred).mean(axis=self.axes, keepdims=True) + self.epsilon)
        return centred * inverse, inverse

    def forward(self, x):
        return self._normalized(x)[0] * self.gamma + self.beta

    def backward(self, grad, inputs, output):
        normalized, inverse = self._normalized(inputs[0])
        g = grad * self.gamma
        projection = (g * normalized).mean(axis=self.axes, keepdims=True) * normalized
        return [inverse * (g - projection - (0 if self.rms else g.mean(axis=self.axes, keepdims=True)))]


class Merge(Op):
    """Add, Subtract, Multiply, Average, Maximum, Minimum of same-shaped inputs."""

    def __init__(self, kind: str):
        self.kind = kind

    def forward(self, *inputs):
        stacked = np.stack(inputs)
        return {
            "Add": lambda: stacked.sum(axis=0),
            "Subtract": lambda: inputs[0] - inputs[1],
            "Multiply": lambda: np.prod(stacked, axis=0),
            "Average": lambda: stacked.mean(axis=0),
            "Maximum": lambda: stacked.max(axis=0),
            "Minimum": lambda: stacked.min(axis=0),
        }[self.kind]().astype(np.float32)

    def backward(self, grad, inputs, output):
        if self.kind == "Add":
            return [grad] * len(inputs)
        if self.kind == "Subtract":
            return [grad, -grad]
        if self.kind == "Average":
            return [grad / len(inputs)] * len(inputs)
        if self.kind == "Multiply":
            return [grad * np.prod([other for j, other in enumerate(inputs) if j != i], axis=0) for i in range(len(inputs))]
        taken = np.zeros(output.shape, bool)  # maximum/minimum: to the first input that holds it
        grads = []
        for x in inputs:
            mine = (x == output) & ~taken
            taken |= mine
            grads.append(grad * mine)
        return grads


class Concatenate(Op):
    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, *inputs):
        return np.concatenate(inputs, axis=self.axis)

    def backward(self, grad, inputs, output):
        edges = np.cumsum([x.shape[self.axis] for x in inputs])[:-1]
        return np.split(grad, edges, axis=self.axis)


class Crop(Op):
    """ZeroPadding2D (negative crop) and Cropping2D: ``((top, bottom), (left, right))``."""

    def __init__(self, margins: tuple[tuple[int, int], tuple[int, int]], pad: bool):
        self.margins, self.pad = margins, pad

    def _pad(self, x: np.ndarray) -> np.ndarray:
        return np.pad(x, [(0, 0), *self.margins, (0, 0)])

    def _crop(self, x: np.ndarray) -> np.ndarray:
        (top, bottom), (left, right) = self.margins
        return x[:, top : x.shape[1] - bottom, left : x.shape[2] - right]

    def forward(self, x):
        return self._pad(x) if self.pad else self._crop(x)

    def backward(self, grad, inputs, output):
        return [self._crop(grad) if self.pad else self._pad(grad)]


# -- activations -----------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function to ~1e-7 (Abramowitz & Stegun 7.1.26): numpy has none, and exact GELU needs it."""
    t = 1 / (1 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-x * x))


def _relu(negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0) -> Elementwise:
    """Keras's ``relu`` with its options: capped at ``max_value``, ``negative_slope`` below ``threshold``."""
    if negative_slope == 0 and max_value is None and threshold == 0:  # the plain ReLU of most layers: one pass
        return Elementwise(lambda x: np.maximum(x, 0, dtype=np.float32), lambda x, y: x > 0)
    top = np.inf if max_value is None else max_value

    def function(x):
        return np.where(x >= top, top, np.where(x >= threshold, x, negative_slope * (x - threshold)))

    # at the kink itself the slope is TensorFlow's: 0 for a plain ReLU, the slope for a leaky one
    return Elementwise(function, lambda x, y: np.where(x >= top, 0.0, np.where(x > threshold, 1.0, negative_slope)).astype(np.float32))


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
_GELU_DENSITY = 1 / math.sqrt(2 * math.pi)


def _elu(alpha: float) -> Elementwise:
    return Elementwise(lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))), lambda x, y: np.where(x > 0, 1.0, y + alpha))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _gelu_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + _erf(x / math.sqrt(2))) + x * _GELU_DENSITY * np.exp(-0.5 * x * x)


def _hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 6 + 0.5, 0, 1)


def _mish_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    squashed = np.tanh(_softplus(x))
    return squashed + x * _sigmoid(x) * (1 - squashed * squashed)


def _in_band(x: np.ndarray, low: float, high: float) -> np.ndarray:
    return ((x > low) & (x < high)).astype(np.float32)


ACTIVATIONS: dict[str, Callable[[], Op]] = {
    "linear": lambda: Elementwise(lambda x: x, lambda x, y: 1.0),
    "relu": lambda: _relu(),
    "relu6": lambda: _relu(max_value=6.0),
    "leaky_relu": lambda: _relu(negative_slope=0.2),
    "sigmoid": lambda: Elementwise(_sigmoid, lambda x, y: y * (1 - y)),
    "hard_sigmoid": lambda: Elementwise(_hard_sigmoid, lambda x, y: _in_band(x, -3, 3) / 6),
    "sparse_sigmoid": lambda: Elementwise(lambda x: np.clip((x + 1) / 2, 0, 1), lambda x, y: _in_band(x, -1, 1) / 2),
    "log_sigmoid": lambda: Elementwise(lambda x: -_softplus(-x), lambda x, y: _sigmoid(-x)),
    "tanh": lambda: Elementwise(np.tanh, lambda x, y: 1 - y * y),
    "hard_tanh": lambda: Elementwise(lambda x: np.clip(x, -1, 1), lambda x, y: _in_band(x, -1, 1)),
    "tanh_shrink": lambda: Elementwise(lambda x: x - np.tanh(x), lambda x, y: np.tanh(x) ** 2),
    "soft_shrink": lambda: Elementwise(lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)), lambda x, y: (np.abs(x) > 0.5).astype(np.float32)),
    "hard_shrink": lambda: Elementwise(lambda x: np.where(np.abs(x) > 0.5, x, 0), lambda x, y: (np.abs(x) > 0.5).astype(np.float32)),
    "softmax": lambda: Softmax(),
    "log_softmax": lambda: Softmax(log=True),
    "elu": lambda: _elu(1.0),
    "selu": lambda: Elementwise(
        lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
        lambda x, y: np.where(x > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA),
    ),
    "celu": lambda: Elementwise(lambda x: np.maximum(x, 0) + np.minimum(np.expm1(np.minimum(x, 0)), 0), lambda x, y: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))),
    "gelu": lambda: Elementwise(_gelu, _gelu_slope),
    "silu": lambda: Elementwise(lambda x: x * _sigmoid(x), lambda x, y: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "hard_silu": lambda: Elementwise(lambda x: x * _hard_sigmoid(x), lambda x, y: _hard_sigmoid(x) + x * _in_band(x, -3, 3) / 6),
    "softplus": lambda: Elementwise(_softplus, lambda x, y: _sigmoid(x)),
    "sparse_plus": lambda: Elementwise(lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)), lambda x, y: np.clip((x + 1) / 2, 0, 1)),
    "squareplus": lambda: Elementwise(lambda x: (x + np.sqrt(x * x + 4)) / 2, lambda x, y: (1 + x / np.sqrt(x * x + 4)) / 2),
    "softsign": lambda: Elementwise(lambda x: x / (1 + np.abs(x)), lambda x, y: 1 / (1 + np.abs(x)) ** 2),
    "exponential": lambda: Elementwise(np.exp, lambda x, y: y),
    "mish": lambda: Elementwise(lambda x: x * np.tanh(_softplus(x)), _mish_slope),
}
ACTIVATIONS["swish"] = ACTIVATIONS["silu"]
ACTIVATIONS["hard_swish"] = ACTIVATIONS["hard_silu"]


def activation_name(activation: Any) -> str:
    """The name of an activation as a layer's config gives it (a string, or a serialized function)."""
    if isinstance(activation, dict):
        inner = activation.get("config")
        activation = inner if isinstance(inner, str) else (inner or {}).get("name", activation.get("class_name"))
    return "linear" if activation is None else str(activation)


def activation_op(activation: Any) -> Op | None:
    """The operation for a Keras activation (None for linear: nothing to do)."""
    name = activation_name(activation)
    if name == "linear":
        return None
    if name not in ACTIVATIONS:
        raise UnsupportedModel(f"activation {name!r}")
    return ACTIVATIONS[name]()


# -- layers ----------------------------------------------------------------------------------
def layer_ops(class_name: str, config: dict[str, Any], weights: Sequence[np.ndarray]) -> list[Op]:
    """One Keras layer as its numpy operations in order (empty for a layer that changes nothing)."""
    weights = [np.asarray(w, np.float32) for w in weights]
    if class_name in IDENTITY_LAYERS:
        return []
    if class_name == "Flatten":
        return [Reshape((-1,))]
    if class_name == "Reshape":
        return [Reshape(tuple(config["target_shape"]))]
    if class_name in MERGE_LAYERS:
        return [Concatenate(int(config.get("axis", -1)))] if class_name == "Concatenate" else [Merge(class_name)]
    builder = _BUILDERS.get(class_name)
    if builder is None:
        raise UnsupportedModel(f"layer {class_name}")
    return [op for op in builder(config, weights) if op is not None]


def _bias(config: dict[str, Any], weights: list[np.ndarray], index: int) -> Any:
    return weights[index] if config.get("use_bias", True) else np.float32(0)


def _dense(config, weights):
    return [MatMul(weights[0], _bias(config, weights, 1)), activation_op(config.get("activation"))]


def _conv2d(config, weights):
    if config.get("groups", 1) != 1:
        raise UnsupportedModel("grouped convolution")
    return [Conv(Window(config, config["kernel_size"]), weights[0], _bias(config, weights, 1)), activation_op(config.get("activation"))]


def _depthwise(config, weights):
    return [DepthwiseConv(Window(config, config["kernel_size"]), weights[0], _bias(config, weights, 1)), activation_op(config.get("activation"))]


def _separable(config, weights):
    depthwise, pointwise = weights[0], weights[1]
    pointwise_window = Window({}, (1, 1))
    return [
        DepthwiseConv(Window(config, config["kernel_size"]), depthwise, np.float32(0)),
        Conv(pointwise_window, pointwise, _bias(config, weights, 2)),
        activation_op(config.get("activation")),
    ]


def _pool(kind: str) -> Callable[[dict, list], list[Op]]:
    return lambda config, weights: [Pool(Window(config, config["pool_size"], config.get("strides")), kind)]


def _global_pool(kind: str) -> Callable[[dict, list], list[Op]]:
    def build(config, weights):
        if config.get("data_format") not in (None, "channels_last"):
            raise UnsupportedModel("channels_first data")
        return [GlobalPool(kind, bool(config.get("keepdims", False)))]

    return build


def _batch_norm(config, weights):
    factor, shift = batch_norm_affine(config, weights)
    return [Affine(factor, shift)]


def batch_norm_affine(config: dict[str, Any], weights: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Batch normalisation in inference is ``x * factor + shift``: (factor, shift) per channel."""
    if config.get("axis", -1) not in (-1, [-1], 3, [3], 1, [1]):
        raise UnsupportedModel("batch normalisation over a non-channel axis")
    values = list(weights)
    gamma = values.pop(0) if config.get("scale", True) else np.float32(1)
    beta = values.pop(0) if config.get("center", True) else np.float32(0)
    mean, variance = values
    factor = gamma / np.sqrt(variance + np.float32(config.get("epsilon", 1e-3)))
    return factor, beta - mean * factor


def _layer_norm(config, weights):
    axis = config.get("axis", -1)
    axes = tuple(axis) if isinstance(axis, list) else (axis,)
    values = list(weights)
    gamma = values.pop(0) if config.get("scale", True) else np.float32(1)
    beta = values.pop(0) if config.get("center", True) and not config.get("rms_scaling") else np.float32(0)
    if any(a not in (-1, -2, -3, 1, 2, 3) for a in axes):
        raise UnsupportedModel("layer normalisation over the batch axis")
    return [LayerNorm(axes, config.get("epsilon", 1e-3), gamma, beta, bool(config.get("rms_scaling")))]


def _rescaling(config, weights):
    scale, offset = np.asarray(config.get("scale", 1.0), np.float32), np.asarray(config.get("offset", 0.0), np.float32)
    return [Affine(scale, offset)]


def _relu_layer(config, weights):
    return [_relu(float(config.get("negative_slope") or 0.0), config.get("max_value"), float(config.get("threshold") or 0.0))]


def _leaky_relu_layer(config, weights):
    return [_relu(float(config.get("negative_slope", config.get("alpha", 0.3))))]


def _prelu(config, weights):
    alpha = weights[0]
    return [Elementwise(lambda x: np.where(x >= 0, x, alpha * x), lambda x, y: np.where(x > 0, np.float32(1), np.where(x < 0, alpha, np.float32(0))))]


def _softmax_layer(config, weights):
    axis = config.get("axis", -1)
    return [Softmax(axis if isinstance(axis, int) else tuple(axis))]


def _padding(pad: bool) -> Callable[[dict, list], list[Op]]:
    def build(config, weights):
        key = "padding" if pad else "cropping"
        value = config.get(key, 1)
        pairs = [(value, value)] * 2 if isinstance(value, int) else [tuple(v) if isinstance(v, (list, tuple)) else (v, v) for v in value]
        return [Crop((tuple(pairs[0]), tuple(pairs[1])), pad)]

    return build


_BUILDERS: dict[str, Callable[[dict, list], list[Op | None]]] = {
    "Dense": _dense,
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "SeparableConv2D": _separable,
    "MaxPooling2D": _pool("max"),
    "AveragePooling2D": _pool("mean"),
    "GlobalMaxPooling2D": _global_pool("max"),
    "GlobalAveragePooling2D": _global_pool("mean"),
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Rescaling": _rescaling,
    "Activation": lambda config, weights: [activation_op(config.get("activation"))],
    "ReLU": _relu_layer,
    "LeakyReLU": _leaky_relu_layer,
    "PReLU": _prelu,
    "ELU": lambda config, weights: [_elu(float(config.get("alpha", 1.0)))],
    "Softmax": _softmax_layer,
    "ZeroPadding2D": _padding(pad=True),
    "Cropping2D": _padding(pad=False),
}


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)
