"""Fine-tuning: teach the current model one person's handwriting from a few dozen labelled drawings.

The model keeps training (it is not replaced by a fresh one) on a mix of its own training data and
the person's drawings, repeated and augmented so that they make up a quarter of every epoch: a
few dozen drawings then matter, while the rest of the mix keeps what the model knew. A fifth of
the drawings (spread over the digits) is held out and scored before and after, as "your
handwriting"; the dataset's test split is scored before and after too. Imports Keras.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from mnistdesk.data.datasets import Dataset
from mnistdesk.data.personal import LabelledImages
from mnistdesk.net.engine import Predictor, predictor_for
from mnistdesk.net.evaluation import Evaluation, evaluate
from mnistdesk.net.models import DEFAULT_VALIDATION_FRACTION, FINE_TUNE_MIN_DRAWINGS, FineTuneConfig, compile_model
from mnistdesk.net.training import IMAGE_SHAPE, Batches, continued_history, input_shape, split_validation, trained_predictor, validation_pass

EPOCH_DIGITS = 2048


@dataclass(frozen=True)
class PersonalSplit:
    """The person's drawings split into those trained on and those held out to score."""

    train_images: np.ndarray
    train_labels: np.ndarray
    held_out_images: np.ndarray
    held_out_labels: np.ndarray


class FineTuneError(Exception):
    """Fine-tuning cannot start; the message says what is missing."""


def hold_out(drawings: LabelledImages, fraction: float, seed: int = 0) -> PersonalSplit:
    """Hold out ``fraction`` of the drawings, one digit at a time from the digits with the most
    drawings, so the held-out ones cover as many digits as they can; never a digit's only drawing."""
    rng = np.random.default_rng(seed)
    labels = drawings.labels.astype(np.int64)
    members = {digit: list(rng.permutation(np.flatnonzero(labels == digit))) for digit in np.unique(labels)}
    wanted = int(round(fraction * len(labels)))
    held: list[int] = []
    while len(held) < wanted:  # rounds of one drawing per digit, digits with the most first
        spare = sorted((digit for digit, left in members.items() if len(left) > 1), key=lambda digit: (-len(members[digit]), rng.random()))
        if not spare:
            break
        held += [members[digit].pop() for digit in spare[: wanted - len(held)]]
    kept = np.setdiff1d(np.arange(len(labels)), held)
    held_array = np.array(sorted(held), np.int64)
    return PersonalSplit(drawings.images[kept], drawings.labels[kept], drawings.images[held_array], drawings.labels[held_array])


def mixed_batches(dataset: Dataset, split: PersonalSplit, config: FineTuneConfig, shape: tuple[int, ...] = IMAGE_SHAPE) -> Batches:
    """One epoch: the person's training drawings repeated to ``config.personal_share`` of
    :data:`EPOCH_DIGITS`, the rest drawn from the dataset's training split (its validation
    hold-out excluded); augmented, so the repeats are not copies."""
    rng = np.random.default_rng(config.seed)
    personal_count = int(EPOCH_DIGITS * config.personal_share)
    repeats = rng.permutation(np.resize(np.arange(len(split.train_labels)), personal_count))
    train_indices, _ = split_validation(dataset.y_train, DEFAULT_VALIDATION_FRACTION)
    base = rng.choice(train_indices, size=min(EPOCH_DIGITS - personal_count, len(train_indices)), replace=False)
    images = np.concatenate([dataset.x_train[base], split.train_images[repeats]])
    labels = np.concatenate([dataset.y_train[base], split.train_labels[repeats]])
    return Batches(images, labels, config.batch_size, augment=True, seed=config.seed, shape=shape)


def epoch_steps(config: FineTuneConfig) -> int:
    """Batches in one fine-tuning epoch (for progress and ETA)."""
    return math.ceil(EPOCH_DIGITS / config.batch_size)


def fine_tune(
    model: Any,
    dataset: Dataset,
    drawings: LabelledImages,
    config: FineTuneConfig = FineTuneConfig(),
    callbacks: Sequence[keras.callbacks.Callback] = (),
    initial_epoch: int = 0,
    on_validation: Callable[[int, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Continue training ``model`` (in place) on ``dataset`` mixed with ``drawings``; returns
    the scores before and after (held-out drawings and the test split) and the curves. Their
    validation points stay on the dataset's validation split, as in the run before: a few
    held-out drawings would make them jump between 0, 50 and 100% under the same name.
    ``initial_epoch``: the epochs the model has trained already, so a live display carries its
    curves on; ``on_validation(epoch, probabilities)``: each validation pass's predictions.
    Raises :class:`~mnistdesk.net.models.TrainingDiverged` when the learning rate was too high."""
    if len(drawings.labels) < FINE_TUNE_MIN_DRAWINGS:
        raise FineTuneError(f"fine-tuning needs at least {FINE_TUNE_MIN_DRAWINGS} labelled drawings, got {len(drawings.labels)}")
    split = hold_out(drawings, config.hold_out_fraction, config.seed)
    predictor = predictor_for(model)
    before = _scores(predictor, dataset, split)
    started = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    compile_model(model, "adam", config.learning_rate, from_logits=predictor.logits)  # a fresh optimizer: the saved state is for the old data
    shape = input_shape(model)
    validation = validation_pass(dataset, DEFAULT_VALIDATION_FRACTION, on_validation, shape)
    callbacks = ([validation] if validation is not None else []) + list(callbacks)
    history = model.fit(mixed_batches(dataset, split, config, shape), initial_epoch=initial_epoch, epochs=initial_epoch + config.epochs, callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    after = _scores(trained_predictor(model, config.learning_rate), dataset, split)
    return {
        "before": before,
        "after": after,
        "history": {key: [float(v) for v in values] for key, values in history.history.items()},
        "fine_tune": {
            **asdict(config),
            "drawings": int(len(drawings.labels)),
            "held_out": int(len(split.held_out_labels)),
            "dataset": dataset.name,
            "before_accuracy": before["held_out_accuracy"],
            "after_accuracy": after["held_out_accuracy"],
            "test_accuracy_before": before["test"].accuracy,
            "seconds": round(seconds, 1),
        },
    }


def fine_tuned_metadata(previous: dict[str, Any], dataset: Dataset, result: dict[str, Any]) -> dict[str, Any]:
    """The metadata to save with a fine-tuned model: the starting model's, less its old scores
    (they scored the model before), with the new test score and what the fine-tuning did."""
    kept = {key: value for key, value in previous.items() if not key.startswith(("validation_", "test_"))}
    test = result["after"]["test"]
    old_history = previous.get("history") if isinstance(previous.get("history"), dict) else {}
    history = continued_history(old_history, result["history"], len(old_history.get("loss", [])))
    return {**kept, "dataset": dataset.name, "history": history, "test_accuracy": test.accuracy, "test_loss": test.loss, "test_n": test.n, "fine_tune": result["fine_tune"]}


def _scores(predictor: Predictor, dataset: Dataset, split: PersonalSplit) -> dict[str, Any]:
    """The held-out drawings' accuracy (None when none are held out) and the test split's score."""
    held_out = evaluate(predictor, split.held_out_images, split.held_out_labels).accuracy if len(split.held_out_labels) else None
    test: Evaluation = evaluate(predictor, dataset.x_test, dataset.y_test)
    return {"held_out_accuracy": held_out, "test": test}

