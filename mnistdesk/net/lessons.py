"""The networks learners bring from the Keras lessons, built exactly as the lessons write them.

They are what the app must open and run as well as its own models: the numpy engine's tests and
benchmarks build them here. Each builder returns a compiled Keras model, as the lesson leaves it
before ``fit``. Imports Keras when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def first_keras_network() -> Any:
    """The classic first Keras network (Chollet, *Deep Learning with Python*, ch. 2): images
    flattened to 784 numbers, Dense 512 relu, Dense 10 softmax, RMSprop."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((784,)), layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def textbook_network() -> Any:
    """The textbook numpy network (*Deep Learning from Scratch*, ch. 3) in Keras: 784 → 50 → 100
    → 10 with sigmoid units and a softmax, plain SGD at 0.1."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((784,)), layers.Dense(50, activation="sigmoid"), layers.Dense(100, activation="sigmoid"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def lesson_cnn() -> Any:
    """The lesson CNN: Conv 32@5×5 → pool → Conv 64@2×2 → pool → Dropout → Dense 1000 →
    softmax, Adam, on (28, 28, 1) images."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, (5, 5), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (2, 2), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(1000, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def functional_network() -> Any:
    """The Functional API's first example on MNIST: ``Input((28, 28))`` → Flatten → Dense 128
    → Dense 10, Adam."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28))
    hidden = layers.Dense(128, activation="relu")(layers.Flatten()(inputs))
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(hidden), name="functional_mnist")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def residual_cnn() -> Any:
    """A small residual CNN (Functional, with branches): a convolution, then a block whose two
    convolutions with batch normalisation are added back to its input, pooling, a strided
    convolution, Dense 10; its last layer gives logits, as ``from_logits=True`` lessons write it."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    stem = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    # momentum 0.9: the running statistics settle within an epoch of the 4,000-digit sample (0.99 takes ~500 batches)
    branch = layers.Conv2D(16, 3, padding="same", use_bias=False)(stem)
    branch = layers.BatchNormalization(momentum=0.9)(branch)
    branch = layers.ReLU()(branch)
    branch = layers.Conv2D(16, 3, padding="same", use_bias=False)(branch)
    branch = layers.BatchNormalization(momentum=0.9)(branch)
    joined = layers.Activation("relu")(layers.Add()([stem, branch]))
    pooled = layers.MaxPooling2D(2)(joined)
    features = layers.Flatten()(layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(pooled))
    model = keras.Model(inputs, layers.Dense(10)(features), name="residual_cnn")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _ours(architecture: str) -> Callable[[], Any]:
    def build() -> Any:
        from mnistdesk.net.models import build_model

        return build_model(architecture)

    return build


#: Every lesson network by the name the benchmarks report it under, and the app's own two.
LESSON_NETWORKS: dict[str, Callable[[], Any]] = {
    "first_keras": first_keras_network,
    "textbook_sigmoid": textbook_network,
    "lesson_cnn": lesson_cnn,
    "functional": functional_network,
    "residual_cnn": residual_cnn,
    "lean": _ours("lean"),
    "cnn": _ours("cnn"),
}
