"""The fault battery: hostile and broken input, one class per section (issue 8).

Every crafted file is made here, in ``tmp_path``. Each case asserts what a user sees — one line
naming the file and the reason, or a graceful fallback — and, where a file declares something
huge, that nothing near that size was allocated and no time was spent reading it.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
import urllib.request
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from mnistdesk.base import paths
from mnistdesk.base.untrusted import MAX_IMAGE_PIXELS, file_problem
from mnistdesk.cli import main
from mnistdesk.data import datasets
from mnistdesk.data.datasets import DatasetError, DownloadCancelled, load_dataset
from mnistdesk.ink.imagefile import ImageFileError, load_ink
from mnistdesk.net.engine import SOFTMAX_NOTE, Engine, load_predictor
from mnistdesk.net.models import ModelFileError, check_model_file, load_model, read_metadata, read_metadata_checked, save_model, validate_metadata

SHIPPED = paths.SHIPPED_MODEL_PATH
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
MB = 1 << 20


# -- crafting files ----------------------------------------------------------------------------
def rebuilt_model(target: Path, replace: dict[str, bytes | Path] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """The shipped model with some archive members replaced (bytes, or a file streamed in)."""
    replace = replace or {}
    with zipfile.ZipFile(SHIPPED) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            if name not in replace and name not in drop:
                archive.writestr(name, source.read(name))
        for name, content in replace.items():
            if isinstance(content, Path):
                archive.write(content, name)
            else:
                archive.writestr(name, content)
    return target


def shipped_member(name: str) -> bytes:
    with zipfile.ZipFile(SHIPPED) as archive:
        return archive.read(name)


def weights_with(change) -> bytes:
    """The shipped weights file after ``change(h5py.File)``."""
    buffer = io.BytesIO(shipped_member("model.weights.h5"))
    with h5py.File(buffer, "r+") as weights:
        change(weights)
    return buffer.getvalue()


def config_with(change) -> bytes:
    config = json.loads(shipped_member("config.json"))
    change(config)
    return json.dumps(config).encode()


def metadata_with(**fields) -> bytes:
    return json.dumps({**json.loads(shipped_member("mnistdesk.json")), **fields}).encode()


def compressible_member(path: Path, size: int) -> Path:
    """A file of ``size`` spaces: deflates to ~1/1000 of that in an archive (a zip bomb)."""
    with path.open("wb") as out:
        for _ in range(size // MB):
            out.write(b" " * MB)
    return path


#: Appended to code run in a fresh interpreter: prints its peak resident memory in KiB. Not
#: ``ru_maxrss``: Linux carries the parent's (this test process's, TensorFlow and all) over exec.
PRINT_PEAK = "\nprint('PEAK', next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))"
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc")


def peak_rss_mb(code: str) -> float:
    """Run ``code`` in a fresh interpreter; its peak resident memory in MB (what a user's
    process would pay)."""
    result = subprocess.run([sys.executable, "-c", code + PRINT_PEAK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return int(result.stdout.split("PEAK")[-1]) / 1024


# -- 1. resource limits before parsing ---------------------------------------------------------
def test_a_config_bomb_is_refused_without_unpacking_it(tmp_path):
    bomb = compressible_member(tmp_path / "config.json", 64 * MB)
    model = rebuilt_model(tmp_path / "bomb.keras", {"config.json": bomb})
    assert model.stat().st_size < MB
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=r"bomb.keras: refused: config.json unpacks to 64 MiB, over the limit of 4.0 MiB"):
        load_predictor(model)
    elapsed, (_, peak) = time.perf_counter() - started, tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 8 * MB


def test_a_metadata_bomb_costs_nothing_to_read(tmp_path):
    bomb = compressible_member(tmp_path / "mnistdesk.json", 64 * MB)
    model = rebuilt_model(tmp_path / "meta.keras", {"mnistdesk.json": bomb})
    tracemalloc.start()
    metadata, notes = read_metadata_checked(model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert metadata == {} and "over the limit" in notes[0] and peak < 8 * MB
    with pytest.raises(ModelFileError, match="mnistdesk.json unpacks to 64 MiB"):
        check_model_file(model)


@needs_proc
def test_a_kernel_declared_40000_by_40000_is_refused_from_its_shape(tmp_path):
    def huge_kernel(weights):
        del weights["layers/dense/vars/0"]
        weights.create_dataset("layers/dense/vars/0", shape=(40000, 40000), dtype="float32", chunks=(1000, 1000), compression="gzip")

    model = rebuilt_model(tmp_path / "huge.keras", {"model.weights.h5": weights_with(huge_kernel)})
    assert model.stat().st_size < MB
    code = f"""
import time
from mnistdesk.net.engine import load_predictor
from mnistdesk.net.models import ModelFileError
started = time.perf_counter()
try:
    load_predictor({str(model)!r})
except ModelFileError as error:
    print(error)
print('SECONDS', time.perf_counter() - started)
"""
    result = subprocess.run([sys.executable, "-c", code + PRINT_PEAK], capture_output=True, text=True, timeout=120)
    assert "refused: the weights (with layers/dense/vars/0 of shape (40000, 40000)) declare 6.0 GiB" in result.stdout, result.stderr[-2000:]
    assert float(result.stdout.split("SECONDS")[1].split()[0]) < 2
    assert int(result.stdout.split("PEAK")[1]) / 1024 < 400, "the declared kernel was allocated"
    assert "tensorflow" not in result.stderr.lower()


def test_a_layer_declared_huge_in_the_config_is_refused_before_keras_builds_it(tmp_path):
    def wide(config):
        config["config"]["layers"][-1]["config"]["units"] = 1_000_000

    model = rebuilt_model(tmp_path / "wide.keras", {"config.json": config_with(wide)})
    with pytest.raises(ModelFileError, match=r"wide.keras: refused: the layers in config.json declare 2.1 GiB"):
        load_predictor(model)


@pytest.fixture
def temporary_folder(tmp_path, monkeypatch):
    """The temporary folder, empty: what a model's load leaves there is seen."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        ({f"padding{index}.bin": 8 * MB for index in range(3)}, 'refused: it holds "padding0.bin", which a Keras model file has no use for'),
        ({"assets/vocabulary.txt": 17 * MB}, "refused: the files in assets/ unpack to 17 MiB, over the limit of 16 MiB"),
        ({"assets/../../escape.txt": 0}, 'refused: it holds "assets/../../escape.txt"'),
    ],
)
def test_members_a_model_does_not_need_are_refused_before_keras_unpacks_them(tmp_path, temporary_folder, members, reason):
    """A 6.4 MB .keras with 24 extra members of 240 MB of zeros made fine-tuning write 5.7 GB
    to the temporary folder: Keras unpacks every member of an archive there."""
    padded = rebuilt_model(tmp_path / "padded.keras", {name: compressible_member(tmp_path / f"zeros{size}", size) if size else b"x" for name, size in members.items()})
    assert padded.stat().st_size < MB
    with pytest.raises(ModelFileError, match=f"padded.keras: {reason}"):
        load_model(padded)
    assert list(temporary_folder.iterdir()) == []
    load_model(SHIPPED)
    assert list(temporary_folder.iterdir()) == [], "a load leaves nothing behind"


@pytest.mark.parametrize("when", ["before unpacking", "while unpacking"])
def test_a_full_temporary_folder_fails_the_load_in_one_line_and_keeps_nothing_there(temporary_folder, monkeypatch, when):
    """A full temporary folder left 300 MB of a half-unpacked model behind."""
    if when == "before unpacking":
        real_usage = shutil.disk_usage
        monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * MB, 10 * MB - 65536, 65536) if str(path).startswith(str(temporary_folder)) else real_usage(path))
        reason = "cannot load this model: it unpacks to 558 KiB, and the temporary folder .* has only 64 KiB free"
    else:
        real_extract = zipfile.ZipFile._extract_member

        def disk_fills(self, member, *args):
            written = real_extract(self, member, *args)
            if getattr(member, "filename", member) == "model.weights.h5":
                raise OSError(28, "No space left on device")
            return written

        monkeypatch.setattr(zipfile.ZipFile, "_extract_member", disk_fills)
        reason = "No space left on device"
    with pytest.raises(ModelFileError, match=reason) as refused:
        load_model(SHIPPED)
    assert str(SHIPPED) in str(refused.value) and "\n" not in str(refused.value)
    assert list(temporary_folder.iterdir()) == []


def test_what_a_killed_load_left_in_the_temporary_folder_goes_at_the_next_load(temporary_folder):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60).stdout.strip()
    leftover = temporary_folder / f"mnistdesk-model-{gone}-x1y2z3"
    leftover.mkdir()
    (leftover / "model.weights.h5").write_bytes(b"half a model")
    load_model(SHIPPED)
    assert list(temporary_folder.iterdir()) == []


def test_a_gzip_bomb_in_the_dataset_cache_is_cut_off(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_DATASET_BYTES", MB)
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as out:
        out.write(bytes([0, 0, 8, 3]) + (10**6).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        for _ in range(16):
            out.write(bytes(MB))
    tracemalloc.start()
    with pytest.raises(ValueError, match="unpacks to over 1.0 MiB"):
        datasets._read_idx(bomb)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * MB


@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_an_archive_listing_thousands_of_entries_is_refused_before_zipfile_parses_it(tmp_path, suffix):
    path = tmp_path / f"crowded{suffix}"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(5000):
            archive.writestr(f"{index}.npy", b"")
    error = ModelFileError if suffix == ".keras" else DatasetError
    with pytest.raises(error, match=f"crowded{suffix}: refused: the archive lists 5000 entries, over the limit of 1000"):
        load_predictor(path) if suffix == ".keras" else load_dataset(path)


def test_a_config_that_is_not_an_object_gets_one_line(tmp_path):
    model = rebuilt_model(tmp_path / "list.keras", {"config.json": b"[1, 2, 3]"})
    with pytest.raises(ModelFileError, match="list.keras: cannot load this model"):
        load_predictor(model)


def write_npz(path: Path, arrays: dict[str, np.ndarray], lying_header: dict[str, tuple] | None = None) -> Path:
    """An .npz; ``lying_header`` makes a member's .npy header declare another shape."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            if lying_header and name in lying_header:
                np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": lying_header[name]})
                buffer.write(array.tobytes())
            else:
                np.save(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


@pytest.fixture
def tiny_arrays(tiny):
    return {"x_train": tiny.x_train, "y_train": tiny.y_train, "x_test": tiny.x_test, "y_test": tiny.y_test}


@needs_proc
def test_an_npy_header_claiming_146_gib_is_refused_before_allocating(tmp_path, tiny_arrays):
    path = write_npz(tmp_path / "liar.npz", tiny_arrays, {"x_train": (200_000_000, 28, 28)})
    code = f"""
from mnistdesk.data.datasets import load_dataset, DatasetError
try:
    load_dataset({str(path)!r})
except DatasetError as error:
    print(error)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "liar.npz: refused: the arrays (200000000, 28, 28 in x_train) need 146 GiB, over the limit of 512 MiB" in result.stdout, result.stderr[-2000:]
    assert peak_rss_mb(code) < 400


def test_an_npy_header_claiming_more_data_than_the_file_holds_is_damaged(tmp_path, tiny_arrays):
    path = write_npz(tmp_path / "short.npz", tiny_arrays, {"x_train": (100_000, 28, 28)})
    with pytest.raises(DatasetError, match=r"short.npz: x_train declares shape \(100000, 28, 28\) .* it is damaged"):
        load_dataset(path)


def test_an_npz_of_python_objects_is_refused_from_its_header(tmp_path, tiny_arrays):
    path = tmp_path / "objects.npz"
    np.savez(path, **{**tiny_arrays, "y_test": np.array([{"x": 1}] * 100, dtype=object)})
    with pytest.raises(DatasetError, match="y_test holds Python objects"):
        load_dataset(path)


def test_a_model_needing_keras_opens_off_the_gui_thread(window, qtbot, monkeypatch, tmp_path):
    import mnistdesk.gui.model_loader as loader

    def slow(path):  # what a Functional model costs: importing TensorFlow, 2-4 s
        time.sleep(1.5)
        return Engine.from_keras_file(path)

    monkeypatch.setattr(loader, "load_predictor", slow)
    target = Path(shutil.copy(SHIPPED, tmp_path / "functional.keras"))
    started = time.perf_counter()
    assert window.models.open(target)
    assert time.perf_counter() - started < 0.8, "the window froze while the model loaded"
    assert "Opening functional.keras" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.models.path == target, timeout=10_000)
    assert window.models.loader_thread is None


# -- 2. metadata is data, validated ------------------------------------------------------------
@pytest.fixture
def window(qtbot, tmp_path):
    from mnistdesk.gui.app import configure_pyqtgraph
    from mnistdesk.gui.main_window import MainWindow

    configure_pyqtgraph()
    window = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(window)
    window.show()
    return window


def open_and_wait(window, qtbot, path: Path) -> None:
    """Open a model; a busy machine may take longer than the window waits in the foreground."""
    assert window.models.open(path)
    qtbot.waitUntil(lambda: window.models.path == path, timeout=10_000)


def test_markup_in_metadata_shows_as_plain_text(window, qtbot, tmp_path):
    heading = "<h1 style='color:red'>big</h1>"
    names = ["<img src='x.png'>"] + [str(d) for d in range(1, 10)]
    model = rebuilt_model(tmp_path / "markup.keras", {"mnistdesk.json": metadata_with(architecture=heading, class_names=names)})
    open_and_wait(window, qtbot, model)
    assert window.models.label.textFormat() == Qt.TextFormat.PlainText and heading in window.models.label.text()
    assert window.softmax.verdict.textFormat() == Qt.TextFormat.PlainText


def test_file_names_in_dialogs_are_escaped(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    bad = tmp_path / "<img src='x.png'>.keras"
    bad.write_bytes(b"junk")
    assert not window.models.open(bad)
    assert "&lt;img src='x.png'&gt;.keras" in shown[0] and "<img" not in shown[0]


@pytest.mark.parametrize(
    ("fields", "ignored"),
    [
        ({"test_accuracy": "ninety"}, "test_accuracy"),
        ({"test_accuracy": float("nan")}, "test_accuracy"),
        ({"test_accuracy": 10**400}, "test_accuracy"),
        ({"class_names": ["only one"]}, "class_names"),
        ({"class_names": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "class_names"),
        ({"architecture": ["lean"]}, "architecture"),
        ({"test_n": True}, "test_n"),
        ({"history": {"loss": "down"}}, "history"),
    ],
)
def test_a_malformed_metadata_field_is_ignored_with_a_note(fields, ignored):
    clean, notes = validate_metadata({"architecture": "lean", "dataset": "sample", **fields})
    assert ignored not in clean and len(notes) == 1 and repr(ignored) in notes[0]


def test_metadata_that_is_not_an_object_or_not_json_is_ignored(tmp_path):
    for name, content in (("list", b"[1, 2]"), ("html", b"<html><body>hi</body></html>"), ("deep", b"[" * 100_000 + b"]" * 100_000)):
        model = rebuilt_model(tmp_path / f"{name}.keras", {"mnistdesk.json": content})
        metadata, notes = read_metadata_checked(model)
        assert metadata == {} and len(notes) == 1, name
        assert isinstance(load_predictor(model), Engine)


def test_bad_metadata_never_stops_the_window(window, tmp_path, qtbot):
    model = rebuilt_model(tmp_path / "odd.keras", {"mnistdesk.json": metadata_with(test_accuracy="ninety", class_names=["x"])})
    open_and_wait(window, qtbot, model)
    assert "test accuracy" not in window.models.label.text() and "test split" not in window.models.label.text()
    assert "'test_accuracy' ignored" in window.statusBar().full_message()
    window.canvas.set_background(np.pad(np.ones((200, 20), np.float32), ((40, 40), (130, 130))))
    window.drawing.predict_now()
    assert window.last_probabilities is not None and window.softmax.class_names[1] == "1"
    # remembered in the settings, it must not stop the next start either
    from mnistdesk.gui.main_window import MainWindow

    again = MainWindow(settings=window.settings, preload_tensorflow=False)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.models.path == model, timeout=10_000)


def test_a_first_layer_that_is_no_image_does_not_stop_the_window(window, qtbot, tmp_path):
    import keras

    odd = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")])
    odd.save(tmp_path / "pooled.keras")
    open_and_wait(window, qtbot, tmp_path / "pooled.keras")
    assert "not drawable" in window.training.weights.caption.text


# -- 3. model outputs are checked --------------------------------------------------------------
def linear_output(config):
    config["config"]["layers"][-1]["config"]["activation"] = "linear"


def test_a_logits_model_gets_softmax_and_says_so(tmp_path, capsys, sample):
    model = rebuilt_model(tmp_path / "logits.keras", {"config.json": config_with(linear_output)})
    predictor = load_predictor(model)
    assert predictor.note == SOFTMAX_NOTE
    image = tmp_path / "digit.png"
    Image.fromarray(255 - np.kron(sample.x_test[0], np.ones((4, 4), np.uint8))).save(image)
    assert main(["classify", "--json", "--model", str(model), str(image)]) == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert sum(record["probabilities"]) == pytest.approx(1, abs=1e-4) and min(record["probabilities"]) >= 0
    assert record["digit"] == int(sample.y_test[0])
    assert "softmax is applied" in captured.err
    assert main(["classify", "--model", str(model), str(image)]) == 0
    assert "%)" in capsys.readouterr().out and "1409" not in captured.out


def test_a_model_with_nan_weights_is_refused_in_one_line(tmp_path, capsys, sample):
    def poison(weights):
        weights["layers/dense/vars/1"][3] = np.nan

    model = rebuilt_model(tmp_path / "nan.keras", {"model.weights.h5": weights_with(poison)})
    image = tmp_path / "digit.png"
    Image.fromarray(sample.x_test[0]).save(image)
    assert main(["classify", "--json", "--model", str(model), str(image)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "nan.keras: refused: the model's outputs are not finite numbers" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert main(["evaluate", "--json", "--model", str(model)]) == 1


def test_a_functional_logits_model_through_keras_gets_softmax_too(tmp_path):
    import keras

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "functional.keras")
    predictor = load_predictor(tmp_path / "functional.keras")
    assert predictor.note == SOFTMAX_NOTE
    probabilities = predictor.predict(np.random.default_rng(1).random((3, 28, 28), dtype=np.float32))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


# -- 4. the CLI never destroys a good model ----------------------------------------------------
def test_a_nan_run_keeps_the_good_model(tmp_path, tiny_npz, capsys):
    keep = Path(shutil.copy(SHIPPED, tmp_path / "keep.keras"))
    before = keep.read_bytes()
    status = main(["train", "--model", "dense", "--optimizer", "sgd", "--lr", "1e9", "--epochs", "2", "--dataset", str(tiny_npz), "--out", str(keep)])
    err = capsys.readouterr().err
    assert status == 1 and keep.read_bytes() == before
    assert "training stopped: The loss became nan" in err and "keep.keras is unchanged" in err and "Traceback" not in err
    assert not keep.with_suffix(".history.json").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "abc"])
def test_a_non_finite_learning_rate_is_refused_by_the_argument_check(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--lr", value])
    assert stop.value.code == 2 and "--lr" in capsys.readouterr().err


def test_a_seed_numpy_cannot_take_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--seed", str(2**40)])
    assert "--seed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make_out", "reason"),
    [
        (lambda tmp: (tmp / "d.keras").mkdir() or tmp / "d.keras", "is a directory"),
        (lambda tmp: tmp / "model.h5", "must end in .keras"),
        (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt" / "m.keras", "a part of its path is a file"),
        (lambda tmp: tmp / ("n" * 300 + ".keras"), "name is too long"),
    ],
)
def test_a_bad_output_target_fails_before_training(tmp_path, tiny_npz, capsys, make_out, reason):
    out = make_out(tmp_path)
    started = time.perf_counter()
    assert main(["train", "--dataset", str(tiny_npz), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert reason in err and "training" not in err and len(err.strip().splitlines()) == 1
    assert time.perf_counter() - started < 60  # before loading TensorFlow or the data; the bound is against a hang


@pytest.mark.skipif(IS_ROOT, reason="root may write anywhere: permissions are not enforced")
def test_an_unwritable_output_folder_fails_before_training(tmp_path, tiny_npz, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["train", "--dataset", str(tiny_npz), "--out", str(folder / "m.keras")]) == 1
    finally:
        folder.chmod(0o755)
    assert "is not writable" in capsys.readouterr().err


def test_a_full_disk_fails_before_training(tmp_path, tiny_npz, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * MB, 10 * MB - 4096, 4096))
    assert main(["train", "--dataset", str(tiny_npz), "--out", str(tmp_path / "m.keras")]) == 1
    assert "only 4.0 KiB free" in capsys.readouterr().err


def test_when_the_save_fails_anyway_the_model_goes_to_a_fallback(tmp_path, tiny_npz, capsys, monkeypatch):
    import mnistdesk.cli as cli

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    out = tmp_path / "m.keras"

    def failing_save(model, path, metadata):
        if Path(path) == out:
            raise OSError(28, "No space left on device")
        return save_model(model, path, metadata)

    monkeypatch.setattr(cli, "save_model", failing_save)
    assert main(["train", "--model", "dense", "--epochs", "1", "--dataset", str(tiny_npz), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    rescued = list(home.glob("m-rescued-*.keras"))
    assert len(rescued) == 1 and f"saved as {rescued[0]}" in err and "No space left" in err
    assert rescued[0].with_suffix(".history.json").is_file() and read_metadata(rescued[0])["architecture"] == "dense"


def test_the_history_file_is_written_atomically(tmp_path, tiny_npz, monkeypatch, capsys):
    out = tmp_path / "m.keras"
    history = out.with_suffix(".history.json")
    history.write_text('{"loss": [1.0]}')
    real_write = Path.write_text

    def disk_full_halfway(self, text, *args, **kwargs):
        if "history.json" not in self.name:
            return real_write(self, text, *args, **kwargs)
        real_write(self, text[:5])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full_halfway)
    assert main(["train", "--model", "dense", "--epochs", "1", "--dataset", str(tiny_npz), "--out", str(out)]) == 1
    assert history.read_text() == '{"loss": [1.0]}' and "No space left" in capsys.readouterr().err


# -- 5. paths that cannot be stat'ed -----------------------------------------------------------
@pytest.fixture
def odd_paths(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    return {"fifo": fifo, "folder": folder, "long": tmp_path / ("x" * 300 + ".png"), "missing": tmp_path / "missing.png"}


def test_each_unreadable_path_gets_its_real_reason(odd_paths):
    assert file_problem(odd_paths["fifo"]) == "not a regular file (a pipe, socket or device)"
    assert file_problem(odd_paths["folder"]) == "is a directory, not a file"
    assert "too long" in file_problem(odd_paths["long"])
    assert file_problem(odd_paths["missing"]) == "no such file"
    assert "null byte" in file_problem("a\0b")


@pytest.mark.skipif(IS_ROOT, reason="root enters any folder: permissions are not enforced")
def test_a_file_in_a_folder_that_cannot_be_entered(tmp_path):
    folder = tmp_path / "closed"
    folder.mkdir()
    (folder / "m.keras").write_bytes(b"x")
    folder.chmod(0)
    try:
        assert "permission denied" in file_problem(folder / "m.keras")
        with pytest.raises(ModelFileError, match="permission denied"):
            load_predictor(folder / "m.keras")
    finally:
        folder.chmod(0o755)


def test_the_cli_names_the_reason_for_odd_paths(odd_paths, capsys):
    assert main(["classify", str(odd_paths["fifo"]), str(odd_paths["folder"]), str(odd_paths["long"])]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "not a regular file" in err[0] and "is a directory" in err[1] and "too long" in err[2]
    for option in (["classify", "--model", str(odd_paths["folder"]), str(odd_paths["missing"])], ["evaluate", "--model", str(odd_paths["long"]).replace(".png", ".keras")]):
        assert main(option) == 1
        assert "Traceback" not in capsys.readouterr().err
    assert main(["train", "--dataset", str(odd_paths["long"]).replace(".png", ".npz")]) == 1
    assert "too long" in capsys.readouterr().err
    assert main(["train", "--dataset", str(odd_paths["folder"])]) == 1
    assert "is a directory" in capsys.readouterr().err


def test_the_window_starts_with_unstattable_paths_in_its_settings(qtbot, tmp_path, odd_paths, monkeypatch):
    from mnistdesk.gui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "warning", lambda *args: pytest.fail("a dialog at start"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model/path", str(odd_paths["long"]).replace(".png", ".keras"))
    settings.setValue("model/recent", [str(odd_paths["long"]), str(odd_paths["folder"]), str(odd_paths["fifo"])])
    window = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.models.path == SHIPPED, timeout=5000)
    assert not window.models.recent_menu.isEnabled()


def test_dropping_a_folder_says_it_is_a_folder(window, odd_paths, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args[2]))
    assert not window.drawing.open_image(odd_paths["folder"])
    assert "is a directory" in shown[0]


# -- 6. images as people have them -------------------------------------------------------------
@pytest.fixture
def digit(sample):
    return np.kron(sample.x_test[0], np.ones((4, 4), np.uint8))


def test_a_16_bit_grey_png_is_scaled_not_clipped(tmp_path, digit):
    Image.fromarray((255 - digit).astype(np.uint16) * 257).save(tmp_path / "deep.png")
    Image.fromarray(255 - digit).save(tmp_path / "plain.png")
    np.testing.assert_allclose(load_ink(tmp_path / "deep.png"), load_ink(tmp_path / "plain.png"), atol=1e-3)


@pytest.mark.parametrize("scale", [1.0, 255.0, 1000.0])
def test_a_float_tiff_is_scaled_not_clipped(tmp_path, digit, scale):
    Image.fromarray((255 - digit).astype(np.float32) / 255 * scale).save(tmp_path / "float.tif")
    ink = load_ink(tmp_path / "float.tif")
    np.testing.assert_allclose(ink, digit / 255, atol=1e-3)


# A camera stores the pixels as the sensor saw them and the turn to display them in EXIF.
@pytest.mark.parametrize(("orientation", "as_stored"), [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180)])
def test_a_photo_with_an_exif_orientation_is_read_upright(tmp_path, sample, orientation, as_stored):
    upright = Image.fromarray(255 - np.kron(sample.x_test[0], np.ones((8, 8), np.uint8)))
    stored = upright.transpose(as_stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / "photo.jpg", quality=95, exif=exif.tobytes())
    upright.save(tmp_path / "upright.jpg", quality=95)
    assert np.abs(load_ink(tmp_path / "photo.jpg") - load_ink(tmp_path / "upright.jpg")).mean() < 0.02


@pytest.mark.parametrize("size", [(8000, 6000), (15000, 15000)])
def test_a_decompression_bomb_is_refused_in_one_line(tmp_path, size, capfd):
    Image.new("1", size).save(tmp_path / "bomb.png")
    with no_warnings():
        with pytest.raises(ImageFileError, match=rf"bomb.png: refused: the image has over {MAX_IMAGE_PIXELS // 1_000_000} megapixels"):
            load_ink(tmp_path / "bomb.png")
    assert capfd.readouterr().err == ""


def test_a_large_jpeg_photo_is_read_at_reduced_size(tmp_path, sample):
    Image.fromarray(255 - sample.x_test[0]).resize((9000, 6000)).save(tmp_path / "big.jpg", quality=80)  # 54 MP
    assert load_ink(tmp_path / "big.jpg").max() == 1.0


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
    assert not seen, [str(w.message) for w in seen]


# -- 7. stalled downloads ----------------------------------------------------------------------
class Trickle(http.server.BaseHTTPRequestHandler):
    """Sends headers for 10 MB, then ``self.server.chunk`` bytes every ``self.server.every`` s."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(self.server.length))
        self.end_headers()
        sent = 0
        try:
            while sent < self.server.length and not self.server.closing.is_set():
                if self.server.chunk:
                    self.wfile.write(b"x" * self.server.chunk)
                    self.wfile.flush()
                    sent += self.server.chunk
                self.server.closing.wait(self.server.every)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def trickle_server(monkeypatch):
    """A local server on 127.0.0.1 that trickles bytes; downloads of mnist go to it."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    server.closing = threading.Event()
    server.length, server.chunk, server.every = 10 * MB, 1, 0.2
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def local_only(url, *args, **kwargs):  # the network stays off: only this server answers
        assert url.startswith("http://127.0.0.1:"), url
        return opener.open(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", f"http://127.0.0.1:{server.server_address[1]}/")
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


def test_a_stalled_download_fails_within_its_stall_window(trickle_server, monkeypatch, keras_home):
    monkeypatch.setattr(datasets, "STALL_WINDOW_S", 1.0)
    started = time.perf_counter()
    with pytest.raises(DatasetError, match="the connection stalled") as failure:
        load_dataset("mnist")
    assert time.perf_counter() - started < 3 and "bundled sample" in str(failure.value)
    assert not list((keras_home / "datasets").glob("*.part*"))


def test_a_slow_download_fails_at_its_deadline(trickle_server, monkeypatch):
    trickle_server.chunk, trickle_server.every = 4096, 0.05  # ~80 kB/s: not stalled, too slow
    monkeypatch.setattr(datasets, "STALL_WINDOW_S", 0.5)
    monkeypatch.setattr(datasets, "STALL_MIN_BYTES", 1024)
    monkeypatch.setattr(datasets, "DOWNLOAD_DEADLINE_S", 1.5)
    started = time.perf_counter()
    with pytest.raises(DatasetError, match="not finished after 2 s"):
        load_dataset("mnist")
    assert time.perf_counter() - started < 3


def test_cancel_stops_a_silent_download_at_once(trickle_server):
    trickle_server.chunk = 0  # headers, then nothing at all
    asked = []
    started = time.perf_counter()
    with pytest.raises(DownloadCancelled):
        load_dataset("mnist", progress=lambda done, total: asked.append(done) or len(asked) < 3)
    assert time.perf_counter() - started < 1


def test_an_oversized_download_is_refused(trickle_server):
    trickle_server.length = 1 << 40
    with pytest.raises(DatasetError, match="over 64 MiB"):
        load_dataset("mnist")


def test_stop_and_close_during_a_stalled_download_are_immediate(window, qtbot, trickle_server):
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("mnist"))
    window.training.start()
    qtbot.waitUntil(lambda: "Downloading" in panel.status.text(), timeout=10_000)
    started = time.perf_counter()
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_running(), timeout=2000)
    assert time.perf_counter() - started < 1
    window.training.start()
    qtbot.waitUntil(lambda: "Downloading" in panel.status.text(), timeout=10_000)
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1 and not window.isVisible()
    qtbot.waitUntil(lambda: window.training.thread is None, timeout=2000)


# -- 8. settings are untrusted -----------------------------------------------------------------
def test_the_window_starts_with_garbage_settings(qtbot, tmp_path):
    from mnistdesk.gui.main_window import MainWindow

    path = tmp_path / "settings.ini"
    path.write_text(
        textwrap.dedent(
            """\
            [train]
            epochs=abc
            batch_size=
            learning_rate=xyz
            optimizer=adagrad
            architecture=resnet
            augment=perhaps
            [model]
            recent=5
            [preprocess]
            mode=fancy
            [window]
            geometry=not bytes
            state=@ByteArray(garbage)
            """
        )
    )
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, preload_tensorflow=False)
    qtbot.addWidget(window)
    panel = window.training.panel
    assert (panel.epochs.value(), panel.batch_size.value(), panel.chosen_learning_rate()) == (5, 128, None)
    assert panel.architecture.currentData() == "lean" and panel.optimizer.currentData() is None  # "Default (adam)"
    path.write_text("[train]\nepochs=99999999999999999999\n")
    again = MainWindow(settings=QSettings(str(path), QSettings.Format.IniFormat), preload_tensorflow=False)
    qtbot.addWidget(again)
    assert again.training.panel.epochs.value() == 5


def test_closing_while_the_worker_cannot_be_interrupted_is_immediate(window, qtbot, monkeypatch, tiny_npz):
    import mnistdesk.gui.worker as worker

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args: shown.append(args))

    def busy(*args, **kwargs):  # like TensorFlow's import: deaf to Stop for a few seconds
        time.sleep(2)
        raise DatasetError("never mind")

    monkeypatch.setattr(worker, "load_dataset", busy)
    window.training.start()
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 1 and not window.isVisible()
    qtbot.waitUntil(lambda: window.training.thread is None, timeout=5000)
    qtbot.wait(50)
    assert not shown, "a closed window showed the run's failure"


def test_closing_the_app_right_after_train_exits_at_once_and_cleanly(tmp_path):
    """The real app and the real TensorFlow import: Train, close 0.1 s later."""
    code = textwrap.dedent(
        """\
        import os, sys, time
        os.environ['QT_QPA_PLATFORM'] = 'offscreen'
        from PySide6.QtCore import QTimer
        from mnistdesk.gui import app as gui
        from mnistdesk.gui.main_window import MainWindow
        create = gui.create_app
        times = {}
        def create_and_train():
            application = create()
            def train():
                window = next(w for w in application.topLevelWidgets() if isinstance(w, MainWindow))
                window.training.start()
                def close():
                    times['close'] = time.perf_counter()
                    window.close()
                    times['closed'] = time.perf_counter()
                    print('HIDDEN', not window.isVisible(), times['closed'] - times['close'], flush=True)
                QTimer.singleShot(100, close)
            QTimer.singleShot(200, train)
            return application
        gui.create_app = create_and_train
        sys.exit(gui.run())
        """
    )
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Destroyed while thread" not in result.stderr
    hidden, seconds = result.stdout.split("HIDDEN")[1].split()
    assert hidden == "True" and float(seconds) < 1


@pytest.mark.filterwarnings("error")
def test_a_weight_snapshot_that_overflows_keeps_the_last_good_engine(window):
    controller = window.training
    controller.engine = Engine.from_keras_file(SHIPPED)
    good = controller.engine
    huge = [[np.full_like(w, 1e30) for w in spec.weights] for spec in good.specs]
    controller._on_worker_weights_changed(huge)
    assert controller.engine is good


# -- 7. weights files that reach outside themselves, or are read through a zip member ----------
def link_out(kind: str, folder: Path):
    """A change to the shipped weights: the last layer's bias (10 floats) read from elsewhere,
    as it would be under the fault the check must catch; the model still loads without it."""
    outside = folder / "outside.h5"
    with h5py.File(outside, "w") as other:
        other["bias"] = np.zeros(10, np.float32)
    (folder / "raw.bin").write_bytes(bytes(40))

    def change(weights):
        bias = "layers/dense/vars/1"
        if kind == "second name":
            weights["spare"] = weights[bias]
            return
        weights["spare/bias"] = np.array(weights[bias])
        del weights[bias]
        if kind == "external link":
            weights[bias] = h5py.ExternalLink(str(outside), "bias")
        elif kind == "soft link":
            weights[bias] = h5py.SoftLink("/spare/bias")
        elif kind == "external storage":
            weights.create_dataset(bias, shape=(10,), dtype="f4", external=[(str(folder / "raw.bin"), 0, 40)])
        else:
            layout = h5py.VirtualLayout(shape=(10,), dtype="f4")
            layout[:] = h5py.VirtualSource(str(outside), "bias", shape=(10,))
            weights.create_virtual_dataset(bias, layout)

    return change


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("external link", "refused: layers/dense/vars/1 in the weights file is a link to another file; mnistdesk reads only what the model file itself holds"),
        ("soft link", "refused: layers/dense/vars/1 in the weights file is a soft link"),
        ("external storage", "refused: weight layers/dense/vars/1 keeps its data in other files"),
        ("virtual dataset", "refused: weight layers/dense/vars/1 keeps its data in other files"),
        ("second name", r"refused: \S+ in the weights file has more than one name \(a hard link\)"),
    ],
)
def test_weights_that_reach_outside_the_model_file_are_refused(tmp_path, kind, reason):
    """A legacy .h5 whose bias was an HDF5 external link to a 1.6 KB file declaring 2e9 gzip'd
    floats cost 8.2 GB and 20 s: the check listed only the arrays inside the file, and the engine
    followed the link. A second name for an array is counted once and read twice."""
    model = rebuilt_model(tmp_path / "linked.keras", {"model.weights.h5": weights_with(link_out(kind, tmp_path))})
    with pytest.raises(ModelFileError, match=f"linked.keras: {reason}") as refused:
        load_predictor(model)
    assert "\n" not in str(refused.value)



def test_groups_nested_thousands_deep_are_refused_at_once(tmp_path):
    """HDF5 walks a file recursively: 5,000 nested groups took 40 s to check, 20,000 crashed it."""
    def nest(weights):
        group = weights
        for _ in range(2000):
            group = group.create_group("g")

    model = rebuilt_model(tmp_path / "deep.keras", {"model.weights.h5": weights_with(nest)})
    with pytest.raises(ModelFileError, match="deep.keras: refused: the weights file nests groups over 64 deep"):
        check_model_file(model)

def legacy_h5(path: Path, layer_names: list[str], weights: dict[str, tuple[list[str], dict]], config: dict | None = None) -> Path:
    """A Keras 2 ``.h5`` model: ``weights`` maps a layer name to its ``weight_names`` and arrays
    (name: an array, or an h5py link)."""
    with h5py.File(path, "w") as file:
        file.attrs["model_config"] = json.dumps(config) if config else shipped_member("config.json").decode()
        group = file.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name in layer_names]
        for layer, (names, arrays) in weights.items():
            group.require_group(layer).attrs["weight_names"] = [name.encode() for name in names]
            for name, array in arrays.items():
                group[layer][name] = array
    return path


def test_a_legacy_h5_linking_a_huge_array_in_another_file_is_refused(tmp_path):
    with h5py.File(tmp_path / "target.h5", "w") as target:
        target.create_dataset("huge_bias", shape=(2_000_000_000,), dtype="f4", chunks=(1 << 20,), compression="gzip")
    link = h5py.ExternalLink(str(tmp_path / "target.h5"), "huge_bias")
    model = legacy_h5(tmp_path / "legacy.h5", ["dense"], {"dense": (["dense/bias"], {"dense/bias": link})})
    with pytest.raises(ModelFileError, match="legacy.h5: refused: model_weights/dense/dense/bias in the weights file is a link to another file"):
        check_model_file(model)


def test_a_legacy_h5_naming_one_array_twice_is_refused(tmp_path):
    """Keras reads an array at each mention in a legacy file's name lists; the check counted it once."""
    kernel = np.zeros((3, 3), np.float32)
    twice = legacy_h5(tmp_path / "twice.h5", ["a", "b"], {"a": (["a/kernel"], {"a/kernel": kernel}), "b": (["/model_weights/a/a/kernel"], {})})
    with pytest.raises(ModelFileError, match='twice.h5: refused: its weight_names lead to "/model_weights/a/a/kernel" more than once'):
        check_model_file(twice)
    again = legacy_h5(tmp_path / "again.h5", ["a", "/model_weights/a"], {"a": (["a/kernel"], {"a/kernel": kernel})})
    with pytest.raises(ModelFileError, match='again.h5: refused: its layer_names lead to "/model_weights/a" more than once'):
        check_model_file(again)


def test_the_engine_stops_reading_a_legacy_h5_at_the_weights_cap(tmp_path):
    """An 8 KB legacy .h5 whose config named one layer 12 times made the engine read its 196 MB
    kernel 12 times (2.3 GB): the check counts each array once."""
    layers = [{"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": [None, 28, 28, 1]}}, {"class_name": "Flatten", "config": {"name": "flatten"}}]
    layers += [{"class_name": "Dense", "config": {"name": "d", "units": 10}}] * 3
    kernel = {"d/kernel": np.zeros((9000, 3000), np.float32)}  # 103 MB, 3 times: over the 256 MB cap
    model = legacy_h5(tmp_path / "repeated.h5", ["d"], {"d": (["d/kernel"], kernel)}, {"class_name": "Sequential", "config": {"name": "s", "layers": layers}})
    with pytest.raises(ModelFileError, match=r"repeated.h5: refused: the weights its layers read \(with /model_weights/d/d/kernel of shape \(9000, 3000\)\) come to 309 MiB, over the limit of 256 MiB"):
        Engine.from_keras_file(model)


def many_arrays(target: Path, arrays: int, floats: int) -> Path:
    """The shipped model with ``arrays`` more arrays of zeros in its weights, deflated: a few
    hundred KB that h5py reads by seeking back and forth."""
    def add(weights):
        for index in range(arrays):
            weights.create_dataset(f"padding/{index}", data=np.zeros(floats, np.float32))

    return rebuilt_model(target, {"model.weights.h5": weights_with(add)})


@pytest.mark.parametrize(("arrays", "floats"), [(3000, 400), (1200, 2000)], ids=["unpacked into memory", "unpacked into a temporary file"])
def test_compressed_weights_holding_many_arrays_are_unpacked_once(tmp_path, temporary_folder, monkeypatch, arrays, floats):
    """A 280 KB .keras whose deflated weights held 1,000 arrays took 127 s to check and 217 s to
    evaluate: each seek back in a compressed zip member unpacks it again from its start, with a
    new decompressor."""
    model = many_arrays(tmp_path / "seeks.keras", arrays, floats)
    assert model.stat().st_size < MB
    decompressors = []
    real_decompressor = zipfile._get_decompressor
    monkeypatch.setattr(zipfile, "_get_decompressor", lambda kind: decompressors.append(kind) or real_decompressor(kind))
    load_predictor(model)
    assert len(decompressors) < 10, f"the weights were unpacked again {len(decompressors)} times"
    assert list(temporary_folder.iterdir()) == [], "the unpacked weights are removed"


def test_a_full_temporary_folder_while_unpacking_the_weights_is_one_line(tmp_path, temporary_folder, monkeypatch):
    model = many_arrays(tmp_path / "big.keras", 1200, 2000)
    real_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * MB, 10 * MB - 65536, 65536) if str(path).startswith(str(temporary_folder)) else real_usage(path))
    with pytest.raises(ModelFileError, match=r"big.keras: cannot read its weights: they unpack to 10 MiB, and the temporary folder .* has only 64 KiB free") as refused:
        load_predictor(model)
    assert "\n" not in str(refused.value)
    assert list(temporary_folder.iterdir()) == []


@needs_proc
@pytest.mark.parametrize(("kind", "pixel_bytes"), [("float TIFF", 4), ("16-bit PNG", 2), ("RGBA PNG", 4)])
def test_a_big_deep_or_transparent_image_is_read_in_bounded_memory(tmp_path, kind, pixel_bytes):
    """A 6300×6300 float TIFF, 16-bit PNG or RGBA PNG (under the 40-megapixel cap) took 1.5 to
    1.8 GB in the window and 1 GB in classify: converted whole, through several full-size
    copies. Now: the decoded image, and tiles of a few MB."""
    side = 5000
    ink = np.zeros((side, side), np.float32)
    ink[1200:3800, 2300:2700] = 1  # a "1"
    path = tmp_path / ("deep.tif" if kind == "float TIFF" else "deep.png")
    if kind == "float TIFF":
        Image.fromarray(1 - ink).save(path, compression="tiff_deflate")
    elif kind == "16-bit PNG":
        Image.fromarray(((1 - ink) * 65535).astype(np.uint16)).save(path, compress_level=1)
    else:
        rgba = np.zeros((side, side, 4), np.uint8)
        rgba[..., 3] = ink.astype(np.uint8) * 255  # black ink on a transparent sheet
        Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
    del ink
    code = f"from mnistdesk.ink.imagefile import load_ink\nink = load_ink({str(path)!r})\nassert ink.shape == (1024, 1024) and ink.max() == 1 and ink[0, 0] == 0"
    decoded = side * side * pixel_bytes / MB
    assert peak_rss_mb(code) < decoded + 120, "more than the decoded image and a few tiles"
