"""The folders are the layers (gui and cli, explain, net, data, ink, base): one import-linter
contract keeps each layer to the ones below it and Qt out of everything below gui, no module
imports itself back through others, and the core needs no TensorFlow to predict."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra"
    return subprocess.run([lint, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120)


def test_the_layers_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("ink/preprocess.py", "from mnistdesk.net import engine", "Layers"),  # ink reaching up into net
        ("explain/session.py", "import PySide6", "nothing imports Qt"),  # Qt below gui
    ],
)
def test_the_contract_fails_when_a_module_reaches_up_or_into_qt(tmp_path, module, line, broken):
    """A copy of the package with one import that breaks a rule: the contract must catch it."""
    shutil.copytree(ROOT / "mnistdesk", tmp_path / "mnistdesk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "mnistdesk" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout + result.stderr
    assert broken in result.stdout.split("BROKEN")[0].splitlines()[-1], result.stdout


def import_cycles(package: str) -> list[list[str]]:
    """Groups of modules that import one another round a circle (lazy imports included)."""
    graph = grimp.build_graph(package)
    edges = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in edges[module]:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(edges):
        if module not in order:
            visit(module)
    return cycles


def test_no_module_imports_itself_back_through_others():
    assert import_cycles("mnistdesk") == []


def test_the_cycle_check_finds_a_circle(tmp_path, monkeypatch):
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle import b\n")
    (package / "b.py").write_text("def later():\n    from circle import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circle") == [["circle.a", "circle.b"]]


def test_predicting_needs_no_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from mnistdesk.base import paths\n"
        "from mnistdesk.net.engine import load_predictor\n"
        "from mnistdesk.ink.preprocess import preprocess\n"
        "from mnistdesk.data.datasets import load_dataset\n"
        "p = load_predictor(paths.SHIPPED_MODEL_PATH)\n"
        "p.predict(np.zeros((28, 28)))\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
