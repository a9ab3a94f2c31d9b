"""Installed like real software: a built wheel carries the shipped model and the bundled data,
and works from outside the checkout (``.ci/run`` does the same with a fresh venv and pipx-style
install; here the wheel is unpacked next to the test's own environment, without the network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")  # keep build/ and *.egg-info out of the checkout
    command = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=build, env={**os.environ, "PIP_NO_INPUT": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    (built,) = out.glob("mnistdesk-*.whl")
    return built


def test_the_wheel_carries_the_shipped_model_and_the_sample(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "mnistdesk/assets/mnist_sample.npz" in names and "mnistdesk/assets/icon.png" in names
    assert any(name.startswith("mnistdesk/shipped_models/") and name.endswith(".keras") for name in names)


def test_an_installed_wheel_evaluates_and_classifies_outside_the_checkout(wheel, tmp_path, sample):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    Image.fromarray(255 - sample.x_test[3]).resize((112, 112)).save(tmp_path / "digit.png")
    env = {**os.environ, "PYTHONPATH": str(site)}

    def mnistdesk(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "mnistdesk", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    where = subprocess.run([sys.executable, "-c", "import mnistdesk.base.paths as p; print(p.SAMPLE_PATH); print(p.SHIPPED_MODEL_PATH)"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert all(Path(line).is_relative_to(site) and Path(line).is_file() for line in where.stdout.split()), where.stdout + where.stderr
    score = json.loads(mnistdesk("evaluate", "--dataset", "sample", "--json"))
    assert score["n"] == 1000 and score["accuracy"] > 0.95
    answer = json.loads(mnistdesk("classify", "--json", "digit.png"))
    assert answer["digit"] == sample.y_test[3]
