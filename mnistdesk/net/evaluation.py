"""Scoring a predictor on a labelled set: loss, accuracy, per-class accuracy, confusion matrix.

Pure numpy, so ``mnistdesk evaluate`` runs without importing TensorFlow for the models the
numpy engine knows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistdesk.ink.pixels import normalize
from mnistdesk.net.engine import Predictor

BATCH = 500
EPSILON = 1e-7  # Keras's clip for cross-entropy, so our loss matches ``model.evaluate``


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    n: int
    per_class_accuracy: list[float]
    confusion: list[list[int]]

    def as_dict(self) -> dict:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class_accuracy": self.per_class_accuracy,
            "confusion_matrix": self.confusion,
        }


def predict_all(predictor: Predictor, images: np.ndarray) -> np.ndarray:
    """Probabilities for uint8 images, normalised one batch at a time."""
    return np.concatenate([predictor.predict(normalize(images[i : i + BATCH])) for i in range(0, len(images), BATCH)])


def evaluate(predictor: Predictor, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score ``predictor`` on uint8 ``images`` (N, 28, 28) with integer ``labels``."""
    return score(predict_all(predictor, images), labels)


def score(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Loss (as Keras computes sparse cross-entropy), accuracy and confusion of predictions."""
    labels = labels.astype(np.int64)
    predicted = probabilities.argmax(axis=1)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(10), where=totals > 0)
    return Evaluation(
        loss=float(-np.log(picked).mean()),
        accuracy=float((predicted == labels).mean()),
        n=int(len(labels)),
        per_class_accuracy=[round(float(v), 4) for v in per_class],
        confusion=confusion.tolist(),
    )
