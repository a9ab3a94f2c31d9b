"""net: the networks. Building, saving and opening Keras models (with their checks), the numpy
engine that predicts without TensorFlow, training and fine-tuning, scoring, and the helpers that
let a run be followed live (throttles, running means, weight mosaics, the training control)."""
