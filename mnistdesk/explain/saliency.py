"""Saliency: which pixels of the 28×28 input move a class's probability, and which way.

The gradient of a class probability with respect to the input, by a backward pass in numpy
through the same operations :class:`mnistdesk.net.engine.Engine` runs (every layer it knows,
branches included), so it is instant while drawing and needs no TensorFlow. SmoothGrad
averages the gradient over noisy copies of the input, which gives a less speckled map. No Qt.
"""

from __future__ import annotations

import numpy as np

from mnistdesk.net.engine import Engine

#: SmoothGrad's defaults (Smilkov et al. 2017): noise of 15% of the input's range, 24 samples.
SMOOTHGRAD_NOISE = 0.15
SMOOTHGRAD_SAMPLES = 24


class Saliency:
    """Input gradients of class probabilities for one model (a snapshot of its weights): the
    engine's graph run forward, then each operation's input gradient from the output back,
    summed where a value feeds several branches."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def gradient(self, image: np.ndarray, class_index: int) -> np.ndarray:
        """d probability[class_index] / d image, for one (28, 28) image in [0, 1]."""
        return self.gradients(np.asarray(image, np.float32)[None], class_index)[0]

    def gradients(self, images: np.ndarray, class_index: int) -> np.ndarray:
        """The same for a batch (N, 28, 28): one backward pass for all of them."""
        engine = self.engine
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            values = engine.trace(images)
            grads: list[np.ndarray | None] = [None] * len(values)
            seed = np.zeros_like(values[engine.result])
            seed[:, class_index] = 1.0
            grads[engine.result] = seed
            for index in range(len(engine.nodes), 0, -1):
                grad, node = grads[index], engine.nodes[index - 1]
                if grad is None:  # off the path to the output
                    continue
                inputs = [values[i] for i in node.inputs]
                for source, part in zip(node.inputs, node.op.backward(grad, inputs, values[index]), strict=True):
                    part = np.asarray(part, np.float32)
                    grads[source] = part if grads[source] is None else grads[source] + part
        if grads[0] is None:  # the output does not depend on the input at all
            return np.zeros((len(images), 28, 28), np.float32)
        return grads[0].reshape(len(images), 28, 28)

    def smooth_gradient(self, image: np.ndarray, class_index: int, samples: int = SMOOTHGRAD_SAMPLES, noise: float = SMOOTHGRAD_NOISE, seed: int = 0) -> np.ndarray:
        """SmoothGrad: the mean gradient over ``samples`` copies of ``image`` with Gaussian noise."""
        rng = np.random.default_rng(seed)
        noisy = np.asarray(image, np.float32)[None] + rng.normal(0.0, noise, (samples, 28, 28)).astype(np.float32)
        return self.gradients(noisy, class_index).mean(axis=0)

