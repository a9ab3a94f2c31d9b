"""Saliency: which pixels of the 28×28 input move a class's probability, and which way.

The gradient of a class probability with respect to the input, by a backward pass in numpy
through the same layers :class:`mnistdesk.net.engine.Engine` runs (Dense, Conv2D, pooling, the
activations, softmax), so it is instant while drawing and needs no TensorFlow. SmoothGrad
averages the gradient over noisy copies of the input, which gives a less speckled map. No Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mnistdesk.net.engine import IDENTITY_LAYERS, Engine, LayerSpec, UnsupportedModel, activation_layer_name, batch_norm_affine, same_padding, sliding_windows, softmax

#: SmoothGrad's defaults (Smilkov et al. 2017): noise of 15% of the input's range, 24 samples.
SMOOTHGRAD_NOISE = 0.15
SMOOTHGRAD_SAMPLES = 24

Forward = Callable[[np.ndarray], tuple[np.ndarray, Any]]
Backward = Callable[[np.ndarray, Any], np.ndarray]


class Saliency:
    """Input gradients of class probabilities for one model (a snapshot of its weights)."""

    def __init__(self, engine: Engine):
        self.input_shape = engine.input_shape
        self._steps: list[tuple[Forward, Backward]] = []
        for spec in engine.specs:
            self._steps += _layer_steps(spec)
        if engine.note is not None:  # the engine applies softmax to a model that ends in logits
            self._steps.append(_activation_step("softmax"))

    def gradient(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """d probability[class_index] / d image, for one (28, 28) image in [0, 1]."""
        return self.gradients(np.asarray(image, np.float32)[None], class_index)[0]

    def gradients(self, images: np.ndarray, class_index: int) -> np.ndarray:
        """The same for a batch (N, 28, 28): one backward pass for all of them."""
        x = np.asarray(images, np.float32).reshape((len(images), *self.input_shape))
        caches = []
        with np.errstate(over="ignore", invalid="ignore"):
            for forward, _ in self._steps:
                x, cache = forward(x)
                caches.append(cache)
            grad = np.zeros_like(x)
            grad[:, class_index] = 1.0
            for (_, backward), cache in zip(reversed(self._steps), reversed(caches)):
                grad = backward(grad, cache)
        return grad.reshape(len(images), 28, 28)

    def smooth_gradient(self, image: np.ndarray, class_index: int, samples: int = SMOOTHGRAD_SAMPLES, noise: float = SMOOTHGRAD_NOISE, seed: int = 0) -> np.ndarray:
        """SmoothGrad: the mean gradient over ``samples`` copies of ``image`` with Gaussian noise."""
        rng = np.random.default_rng(seed)
        noisy = np.asarray(image, np.float32)[None] + rng.normal(0.0, noise, (samples, 28, 28)).astype(np.float32)
        return self.gradients(noisy, class_index).mean(axis=0)


def _layer_steps(spec: LayerSpec) -> list[tuple[Forward, Backward]]:
    name, config = spec.class_name, spec.config
    weights = [np.asarray(w, np.float32) for w in spec.weights]
    if name in IDENTITY_LAYERS:
        return []
    if name in ("Flatten", "Reshape"):
        target = (-1,) if name == "Flatten" else tuple(config["target_shape"])
        return [(lambda x: (x.reshape(x.shape[0], *target), x.shape), lambda g, shape: g.reshape(shape))]
    if name in ("Activation", "ReLU", "Softmax"):
        return [_activation_step(activation_layer_name(name, config))]
    if name == "Rescaling":
        scale, offset = np.float32(config["scale"]), np.float32(config["offset"])
        return [(lambda x: (x * scale + offset, None), lambda g, _: g * scale)]
    if name == "BatchNormalization":
        factor, shift = batch_norm_affine(config, weights)
        return [(lambda x: (x * factor + shift, None), lambda g, _: g * factor)]
    if name == "Dense":
        kernel = weights[0]
        bias = weights[1] if config.get("use_bias", True) else np.float32(0)
        return [(lambda x: (x @ kernel + bias, None), lambda g, _: g @ kernel.T), _activation_step(config.get("activation"))]
    if name == "Conv2D":
        return [_conv_step(config, weights), _activation_step(config.get("activation"))]
    if name == "MaxPooling2D":
        return [_max_pool_step(config)]
    raise UnsupportedModel(f"saliency through {name}")


def _activation_step(name: Any) -> tuple[Forward, Backward]:
    if isinstance(name, dict):
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name in (None, "linear"):
        return (lambda x: (x, None), lambda g, _: g)
    if name == "relu":
        return (lambda x: (np.maximum(x, 0, dtype=np.float32),) * 2, lambda g, y: g * (y > 0))
    if name == "sigmoid":
        return (lambda x: ((1 / (1 + np.exp(-x))).astype(np.float32),) * 2, lambda g, y: g * y * (1 - y))
    if name == "tanh":
        return (lambda x: (np.tanh(x),) * 2, lambda g, y: g * (1 - y * y))
    if name == "softmax":
        return (lambda x: (softmax(x),) * 2, lambda g, y: y * (g - (g * y).sum(axis=-1, keepdims=True)))
    raise UnsupportedModel(f"activation {name!r}")


def _conv_step(config: dict[str, Any], weights: list[np.ndarray]) -> tuple[Forward, Backward]:
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1 or config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedModel("saliency through a dilated, grouped or channels-first convolution")
    kernel = weights[0]
    bias = weights[1] if config.get("use_bias", True) else np.float32(0)
    size, strides, padding = tuple(config["kernel_size"]), tuple(config["strides"]), config["padding"]
    matrix = np.ascontiguousarray(kernel.transpose(2, 0, 1, 3).reshape(-1, kernel.shape[-1]))

    def forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
        windows = sliding_windows(x, size, strides, padding, 0.0)
        n, h, w = windows.shape[:3]
        return (windows.reshape(n * h * w, -1) @ matrix + bias).reshape(n, h, w, -1), x.shape

    def backward(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        n, h, w, _ = grad.shape
        window_grads = (grad.reshape(n * h * w, -1) @ matrix.T).reshape(n, h, w, shape[3], *size)
        return _scatter_windows(window_grads, shape, size, strides, padding)

    return forward, backward


def _max_pool_step(config: dict[str, Any]) -> tuple[Forward, Backward]:
    size = tuple(config["pool_size"])
    strides = tuple(config.get("strides") or size)
    padding = config.get("padding", "valid")

    def forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
        windows = sliding_windows(x, size, strides, padding, -np.inf)
        flat = windows.reshape(*windows.shape[:4], -1)
        winner = flat.argmax(axis=-1)  # the gradient goes to one maximum, as TensorFlow's does
        return np.take_along_axis(flat, winner[..., None], -1)[..., 0], (x.shape, winner)

    def backward(grad: np.ndarray, cache: Any) -> np.ndarray:
        shape, winner = cache
        window_grads = np.zeros((*grad.shape, size[0] * size[1]), np.float32)
        np.put_along_axis(window_grads, winner[..., None], grad[..., None], -1)
        return _scatter_windows(window_grads.reshape(*grad.shape, *size), shape, size, strides, padding)

    return forward, backward


def _scatter_windows(window_grads: np.ndarray, shape: tuple[int, ...], size: tuple[int, int], strides: tuple[int, int], padding: str) -> np.ndarray:
    """The transpose of :func:`mnistdesk.net.engine.sliding_windows`: each window's gradient (N, H', W', C,
    kh, kw) added back onto the (padded) input it was cut from, then the padding cut off."""
    n, h, w = window_grads.shape[:3]
    pads = [same_padding(shape[axis], size[axis - 1], strides[axis - 1]) for axis in (1, 2)] if padding == "same" else [(0, 0), (0, 0)]
    padded = np.zeros((n, shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), shape[3]), np.float32)
    for i in range(size[0]):
        for j in range(size[1]):
            padded[:, i : i + h * strides[0] : strides[0], j : j + w * strides[1] : strides[1]] += window_grads[..., i, j]
    return padded[:, pads[0][0] : pads[0][0] + shape[1], pads[1][0] : pads[1][0] + shape[2]]
