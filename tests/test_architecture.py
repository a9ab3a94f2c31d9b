"""The core stays free of Qt (import-linter contract) and of TensorFlow at import time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contract_keeps_qt_out_of_the_core():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_predicting_needs_no_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from mnistdesk import paths\n"
        "from mnistdesk.engine import load_predictor\n"
        "from mnistdesk.preprocess import preprocess\n"
        "from mnistdesk.data import load_dataset\n"
        "p = load_predictor(paths.SHIPPED_MODEL_PATH)\n"
        "p.predict(np.zeros((28, 28)))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
