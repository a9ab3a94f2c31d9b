"""mnistdesk: draw a digit, see what the model sees, and watch a Keras model learn MNIST live."""

import os

# numpy's BLAS in one thread, set before numpy is imported (the user's own setting wins). Our
# matrices are small (one drawing; a few hundred digits when scoring), and with training busy on
# every core, waking BLAS's threads made one live prediction 50× slower (24 ms, not 0.5 ms) and
# drawing stutter. TensorFlow has its own thread pools and is not affected.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
