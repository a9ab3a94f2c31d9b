"""mnistdesk: draw a digit, see what the model sees, and watch a Keras model learn MNIST live."""

__version__ = "0.1.0"
