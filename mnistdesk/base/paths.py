"""Where mnistdesk finds its bundled files and keeps its caches (no Qt, no TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mnistdesk/, where pyproject.toml maps the bundled folders
PROJECT_ROOT = PACKAGE_DIR.parent


def _bundled(installed: str, checkout: str) -> Path:
    """A bundled folder: inside the installed package (wheel, ``pip install .``, pipx), where
    pyproject.toml maps it, else at the top of the checkout (``pip install -e``, a clone)."""
    inside = PACKAGE_DIR / installed
    return inside if inside.is_dir() else PROJECT_ROOT / checkout


ASSETS_DIR = _bundled("assets", "assets")
MODELS_DIR = _bundled("shipped_models", "models")
SAMPLE_PATH = ASSETS_DIR / "mnist_sample.npz"
PENDIGITS_PATH = ASSETS_DIR / "pendigits.npz"
SHIPPED_MODEL_PATH = MODELS_DIR / "lean-sample-pen.keras"


def keras_home() -> Path:
    """Keras's own cache root (``$KERAS_HOME`` or ``~/.keras``), so downloads are shared with Keras."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"])
    home = Path.home()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def datasets_dir() -> Path:
    """Where ``keras.datasets`` caches MNIST and Fashion-MNIST."""
    return keras_home() / "datasets"
