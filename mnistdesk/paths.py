"""Where mnistdesk finds its bundled files and keeps its caches (no Qt, no TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
SAMPLE_PATH = ASSETS_DIR / "mnist_sample.npz"
PENDIGITS_PATH = ASSETS_DIR / "pendigits.npz"
SHIPPED_MODEL_PATH = PROJECT_ROOT / "models" / "lean-sample-pen.keras"


def keras_home() -> Path:
    """Keras's own cache root (``$KERAS_HOME`` or ``~/.keras``), so downloads are shared with Keras."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    home = Path.home()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def datasets_dir() -> Path:
    """Where ``keras.datasets`` caches MNIST and Fashion-MNIST."""
    return keras_home() / "datasets"
