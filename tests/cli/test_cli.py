"""The headless CLI: train, evaluate, classify, and its answers to bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from mnistdesk import __version__
from mnistdesk.cli import main
from mnistdesk.net.models import read_metadata


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    assert all(word in usage for word in ("train", "evaluate", "classify"))


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "mnistdesk", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"mnistdesk {__version__}"


def test_train_then_evaluate(tmp_path, tiny_npz, capsys):
    out = tmp_path / "m.keras"
    assert main(["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "2", "--batch-size", "64", "--seed", "3", "--out", str(out)]) == 0
    progress = capsys.readouterr().err
    assert "epoch 1/2" in progress and "epoch 2/2" in progress and "ETA" in progress
    history = json.loads(out.with_suffix(".history.json").read_text())
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    assert read_metadata(out)["train_config"]["optimizer"] == "rmsprop"
    assert main(["evaluate", "--model", str(out), "--dataset", str(tiny_npz), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert score["n"] == 100 and 0.5 < score["accuracy"] <= 1 and score["loss"] > 0
    assert score["accuracy"] == pytest.approx(read_metadata(out)["test_accuracy"])
    assert sum(map(sum, score["confusion_matrix"])) == 100


def test_train_names_the_validation_and_test_scores_and_writes_tensorboard_logs(tmp_path, tiny_npz, capsys):
    out = tmp_path / "m.keras"
    args = ["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "1", "--validation-split", "0.2", "--log-dir", str(tmp_path / "logs"), "--out", str(out)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "validation accuracy" in err and "test accuracy" in err and "205 train / 51 validation / 100 test" in err
    metadata = read_metadata(out)
    assert metadata["validation_n"] == 51 and metadata["test_n"] == 100
    assert metadata["train_config"]["validation_fraction"] == 0.2
    assert list((tmp_path / "logs" / "validation").glob("events.out.tfevents.*"))


def test_stderr_carries_only_our_own_lines(tmp_path, tiny_npz):
    """TensorFlow's start-up noise (oneDNN, cuInit, absl) stays out of the terminal."""
    out = tmp_path / "m.keras"
    command = [sys.executable, "-m", "mnistdesk", "train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "1", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ours = ("training dense", "epoch 1/1", "validation accuracy", "test accuracy")
    assert [line for line in result.stderr.splitlines() if not line.startswith(ours)] == []
    assert subprocess.run([*command, "--verbose"], capture_output=True, timeout=120).returncode == 0


def test_shipped_model_scores_at_least_97_5_on_the_sample(capsys):
    assert main(["evaluate", "--dataset", "sample", "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert score["n"] == 1000 and score["accuracy"] >= 0.975


def test_evaluate_prints_a_confusion_table(capsys):
    assert main(["evaluate"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "accuracy" in lines[0] and len(lines) == 12


def test_train_on_mnist_offline_fails_fast_and_clearly(capsys):
    started = time.perf_counter()
    assert main(["train", "--dataset", "mnist", "--epochs", "1"]) == 1
    assert time.perf_counter() - started < 20
    err = capsys.readouterr().err
    assert "--dataset sample" in err and "Traceback" not in err


def test_train_with_bad_dataset_file_fails_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["train", "--dataset", str(bad)]) == 1
    assert "bad.npz: not a readable .npz" in capsys.readouterr().err


@pytest.fixture
def images(tmp_path, sample):
    files = {}
    for index in range(3):
        digit = sample.x_test[index]
        files[int(sample.y_test[index])] = tmp_path / f"digit{index}.png"
        Image.fromarray(255 - np.kron(digit, np.ones((6, 6), np.uint8))).save(files[int(sample.y_test[index])])
    return files


def test_classify_json_gives_one_line_per_good_image(images, capsys):
    assert main(["classify", "--json", *map(str, images.values())]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(images)
    for line, (label, path) in zip(lines, images.items()):
        record = json.loads(line)
        assert record["path"] == str(path) and record["digit"] == label
        assert len(record["probabilities"]) == 10 and sum(record["probabilities"]) == pytest.approx(1, abs=1e-4)


def test_classify_reports_bad_files_and_still_classifies_the_rest(tmp_path, images, capsys):
    empty, corrupt, blank = tmp_path / "empty.png", tmp_path / "corrupt.jpg", tmp_path / "blank.png"
    empty.write_bytes(b"")
    corrupt.write_bytes(b"\xff\xd8\xff garbage")
    Image.new("L", (64, 64), 255).save(blank)
    good = list(images.values())
    status = main(["classify", "--json", str(empty), str(good[0]), str(tmp_path / "missing.png"), str(corrupt), str(blank), str(good[1])])
    captured = capsys.readouterr()
    assert status != 0
    assert [json.loads(line)["path"] for line in captured.out.splitlines()] == [str(good[0]), str(good[1])]
    errors = captured.err.splitlines()
    assert len(errors) == 4 and "Traceback" not in captured.err
    assert any("empty" in e for e in errors) and any("no such file" in e for e in errors) and any("no ink" in e for e in errors)


def test_classify_with_a_garbage_model_fails_clearly(tmp_path, images, capsys):
    model = tmp_path / "model.keras"
    model.write_bytes(b"garbage")
    assert main(["classify", "--model", str(model), str(images[7] if 7 in images else next(iter(images.values())))]) == 1
    assert "not a Keras model file" in capsys.readouterr().err


@pytest.fixture
def lesson_files(tmp_path, tiny):
    """The Functional lesson network (logits, no metadata of ours) and the first Keras network
    (784 inputs), trained a little and saved as a lesson saves them: .h5 and .keras."""
    import keras

    from mnistdesk.ink.pixels import normalize
    from mnistdesk.net.lessons import LESSON_NETWORKS

    files = {}
    for name in ("residual_cnn", "first_keras"):
        keras.utils.set_random_seed(0)
        model = LESSON_NETWORKS[name]()
        model.fit(normalize(tiny.x_train).reshape((-1, *model.input_shape[1:])), tiny.y_train, epochs=1, batch_size=32, verbose=0)
        for suffix in (".h5", ".keras"):
            model.save(tmp_path / f"{name}{suffix}")
            files[name, suffix] = tmp_path / f"{name}{suffix}"
    return files


def test_train_continues_a_lesson_model_from_an_h5_file(tmp_path, tiny_npz, lesson_files, capsys):
    out = tmp_path / "continued.keras"
    assert main(["train", "--continue", str(lesson_files["residual_cnn", ".h5"]), "--dataset", str(tiny_npz), "--epochs", "2", "--batch-size", "32", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "residual_cnn.h5 further (adam, learning rate 0.001)" in err and "softmax is applied" in err
    metadata = read_metadata(out)
    assert len(metadata["history"]["loss"]) == 2 and metadata["history"]["loss"][1] < metadata["history"]["loss"][0]
    assert metadata["train_config"]["optimizer"] == "adam"
    capsys.readouterr()
    assert main(["train", "--continue", str(out), "--dataset", str(tiny_npz), "--epochs", "1", "--batch-size", "32", "--out", str(tmp_path / "again.keras")]) == 0
    assert len(read_metadata(tmp_path / "again.keras")["history"]["loss"]) == 3, "a second Continue carries the curves on"
    assert "epoch 1/1 (the model's epoch 3)" in capsys.readouterr().err, "it printed epoch 3/1"
    assert main(["train", "--continue", str(out), "--model", "dense", "--out", str(tmp_path / "x.keras")]) == 1
    assert "leave out --model" in capsys.readouterr().err


def test_finetune_evaluate_and_classify_take_lesson_models(tmp_path, tiny, tiny_npz, lesson_files, capsys):
    folder = tmp_path / "drawings"
    for index in range(12):
        label = int(tiny.y_test[index])
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(tiny.x_test[index]).save(folder / str(label) / f"{index}.png")
    first = lesson_files["first_keras", ".h5"]
    assert main(["finetune", "--model", str(first), "--drawings", str(folder), "--dataset", str(tiny_npz), "--epochs", "1", "--out", str(tmp_path / "tuned.keras"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["drawings"] == 12 and 0 <= summary["test_accuracy"] <= 1
    assert main(["evaluate", "--model", str(lesson_files["residual_cnn", ".keras"]), "--dataset", str(tiny_npz), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 100
    Image.fromarray(tiny.x_test[0]).save(tmp_path / "digit.png")
    assert main(["classify", "--model", str(first), "--json", str(tmp_path / "digit.png")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["digit"] in range(10) and "flattened" in err


def test_train_takes_a_network_description_and_a_model_files_architecture(tmp_path, tiny_npz, lesson_files, capsys):
    from mnistdesk.net.networks import PRESETS, summarize

    description = {**PRESETS["textbook 784-50-100-10"], "name": "sigmoid net"}
    (tmp_path / "net.json").write_text(json.dumps(description))
    out = tmp_path / "net.keras"
    assert main(["train", "--model", str(tmp_path / "net.json"), "--dataset", str(tiny_npz), "--epochs", "1", "--batch-size", "32", "--out", str(out)]) == 0
    metadata = read_metadata(out)
    assert metadata["architecture"] == "sigmoid net" and metadata["network"]["layers"][0]["activation"] == "sigmoid"
    assert metadata["train_config"]["optimizer"] == "sgd"
    source = lesson_files["residual_cnn", ".h5"]
    fresh = tmp_path / "fresh.keras"
    assert main(["train", "--model", str(source), "--dataset", str(tiny_npz), "--epochs", "1", "--batch-size", "32", "--out", str(fresh)]) == 0
    assert read_metadata(fresh)["architecture"] == "residual_cnn"
    (tmp_path / "bad.json").write_text(json.dumps({**description, "layers": [{"type": "dense", "units": 10**7}]}))
    capsys.readouterr()
    assert main(["train", "--model", str(tmp_path / "bad.json"), "--out", str(tmp_path / "x.keras")]) == 1
    err = capsys.readouterr().err
    assert "bad.json: layer 1: units must be a whole number from 1 to 8192" in err and err.count("\n") == 1, "one line naming the file and the reason"
    assert main(["train", "--model", "resnet50", "--out", str(tmp_path / "x.keras")]) == 1
    assert "unknown --model 'resnet50'" in capsys.readouterr().err
    assert summarize(description).parameters == 784 * 50 + 50 + 50 * 100 + 100 + 100 * 10 + 10


def test_print_code_writes_the_network_and_settings_as_keras_and_trains_nothing(tmp_path, capsys):
    assert main(["train", "--model", "cnn", "--epochs", "3", "--batch-size", "64", "--optimizer", "sgd", "--lr", "0.05", "--print-code", "--out", str(tmp_path / "never.keras")]) == 0
    code = capsys.readouterr().out
    assert "layers.Conv2D(32, 5, padding=\"same\", activation=\"relu\")" in code and "keras.optimizers.SGD(0.05, momentum=0.9)" in code
    assert "model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.1)" in code
    assert not (tmp_path / "never.keras").exists()
    compile(code, "cnn.py", "exec")


def test_the_window_without_a_display_says_so_instead_of_aborting_silently(monkeypatch, capsys):
    """On a server without a display Qt aborted the process (exit 134) with nothing on the terminal."""
    if not sys.platform.startswith("linux"):
        pytest.skip("a display is a Linux (X11/Wayland) notion")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 1
    assert "no display to open the window on" in capsys.readouterr().err


def test_file_names_reach_the_terminal_as_text_not_as_commands(tmp_path, tiny, tiny_npz, capsys):
    """An OSC sequence in a file name retitled the terminal; CR and LF faked output lines."""
    hostile = tmp_path / "seven\x1b]0;pwned\x07\rfake line\n.png"
    Image.fromarray(tiny.x_test[0]).save(hostile, format="PNG")
    assert main(["classify", str(hostile)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and out.count("\n") == 1 and "\\x1b]0;pwned\\x07\\rfake line\\n.png" in out
    assert main(["classify", "--json", str(hostile)]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == str(hostile), "--json stays valid JSON with the name intact"
    folder = tmp_path / "drawings"
    for index in range(6):
        (folder / str(int(tiny.y_test[index]))).mkdir(parents=True, exist_ok=True)
        Image.fromarray(tiny.x_test[index]).save(folder / str(int(tiny.y_test[index])) / f"{index}.png")
    (folder / "3" / "broken\x1b[2J\r.png").write_bytes(b"not a png")
    main(["finetune", "--drawings", str(folder), "--dataset", str(tiny_npz), "--epochs", "1", "--out", str(tmp_path / "t.keras")])
    err = capsys.readouterr().err
    assert "skipped" in err and "\x1b" not in err and "\r" not in err and "broken\\x1b[2J\\r.png" in err


def test_argument_edges_get_one_line_not_a_traceback_and_counts_agree(tmp_path, tiny_npz, capsys):
    """--validation-split 0.9999 ended in a traceback (PyDataset has length 0); --epochs 10**22 was
    accepted with an ETA of ages; the start said "25 validation" and the end "on 26 digits"."""
    assert main(["train", "--dataset", str(tiny_npz), "--validation-split", "0.9999", "--out", str(tmp_path / "a.keras")]) == 1
    err = capsys.readouterr().err
    assert "holds out every training digit" in err and "Traceback" not in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as refused:
        main(["train", "--epochs", str(10**22), "--out", str(tmp_path / "b.keras")])
    assert refused.value.code == 2 and "at most 10,000" in capsys.readouterr().err
    out = tmp_path / "c.keras"
    assert main(["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "1", "--validation-split", "0.3", "--out", str(out)]) == 0
    start = capsys.readouterr().err.splitlines()[0]
    assert f"/ {read_metadata(out)['validation_n']} validation /" in start, start


def test_a_log_folder_failing_mid_run_stops_the_logs_and_the_model_is_saved(tmp_path, tiny_npz, capsys, logs_fill_up_from_epoch_2):
    """With --log-dir on a disk that filled up, train ended in a ResourceExhaustedError traceback
    after 4 of 6 epochs and the trained model was never saved."""
    out = tmp_path / "m.keras"
    assert main(["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "3", "--log-dir", str(tmp_path / "logs"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "TensorBoard logs stopped at epoch 2" in warnings[0] and "No space left on device" in warnings[0], err
    assert "epoch 3/3" in err and "Traceback" not in err
    assert len(read_metadata(out)["history"]["loss"]) == 3


@pytest.mark.parametrize("log_dir", ["a file", "a full disk"])
def test_a_log_folder_that_cannot_take_logs_is_refused_before_training(tmp_path, tiny_npz, capsys, monkeypatch, log_dir):
    import shutil

    logs = tmp_path / "logs"
    if log_dir == "a file":
        logs.write_text("not a folder")
        reason = f"{logs} is a file, not a folder"
    else:
        logs.mkdir()
        real_usage = shutil.disk_usage
        monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 << 20, (10 << 20) - 4096, 4096) if str(path).startswith(str(logs)) else real_usage(path))
        reason = "only 4.0 KiB free on its disk, 16 MiB needed"
    out = tmp_path / "m.keras"
    assert main(["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "1", "--log-dir", str(logs), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"mnistdesk: error: {logs}: cannot write TensorBoard logs there: {reason}"], "one line, before any epoch"
    assert not out.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("command", "signal_name", "code"),
    [("train", "SIGTERM", 143), ("finetune", "SIGTERM", 143), ("train", "SIGINT", 130)],
)
def test_a_signal_ends_a_long_command_saying_so_and_writing_nothing(tmp_path, tiny, tiny_npz, command, signal_name, code):
    """SIGTERM ended train and finetune silently; Ctrl+C (SIGINT) said "interrupted" and exited 130."""
    import signal

    if signal_name == "SIGINT" and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored here, and so in the command (a background job)")
    out = tmp_path / "out" / "m.keras"
    arguments = ["--dataset", str(tiny_npz), "--epochs", "10000", "--out", str(out)]
    if command == "finetune":
        folder = tmp_path / "drawings"
        for index in range(12):
            (folder / str(int(tiny.y_test[index]))).mkdir(parents=True, exist_ok=True)
            Image.fromarray(tiny.x_test[index]).save(folder / str(int(tiny.y_test[index])) / f"{index}.png")
        arguments += ["--drawings", str(folder)]
    else:
        arguments += ["--model", "dense", "--batch-size", "32"]
    process = subprocess.Popen([sys.executable, "-m", "mnistdesk", command, *arguments], stderr=subprocess.PIPE, text=True)
    started_line = "fine-tuning" if command == "finetune" else "epoch 1/"
    seen = []
    for line in process.stderr:  # until the run is under way
        seen.append(line)
        if line.startswith(started_line):
            break
    time.sleep(0.5)
    process.send_signal(getattr(signal, signal_name))
    sent = time.perf_counter()
    try:
        err = process.communicate(timeout=180)[1]
    finally:
        process.kill()
    # Within a second here; the bound is only against a hang (the suite must pass on a loaded machine).
    assert process.returncode == code and time.perf_counter() - sent < 120, "".join(seen) + err
    assert err.splitlines()[-1] == "mnistdesk: interrupted" and "Traceback" not in err, err
    assert not out.parent.exists() or list(out.parent.iterdir()) == [], "nothing written, not even a temporary file"


@pytest.fixture
def drawings_folder(tmp_path, tiny):
    folder = tmp_path / "drawings"
    for index in range(12):
        (folder / str(int(tiny.y_test[index]))).mkdir(parents=True, exist_ok=True)
        Image.fromarray(tiny.x_test[index]).save(folder / str(int(tiny.y_test[index])) / f"{index}.png")
    return folder


def test_fine_tuning_a_model_with_a_huge_history_writes_a_file_mnistdesk_opens(tmp_path, tiny_npz, drawings_folder, capsys):
    """A history of 1.9 M points (3.8 MB, under the cap) became 11 MiB of metadata, refused."""
    import zipfile

    from mnistdesk.base import paths
    from mnistdesk.net.models import read_metadata_checked

    crafted = tmp_path / "long.keras"
    with zipfile.ZipFile(paths.SHIPPED_MODEL_PATH) as source, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            if name != "mnistdesk.json":
                target.writestr(name, source.read(name))
        target.writestr("mnistdesk.json", json.dumps({"architecture": "lean", "history": {"loss": [3] + [1] * 1_899_998 + [2]}}, separators=(",", ":")))
    out = tmp_path / "tuned.keras"
    assert main(["finetune", "--model", str(crafted), "--drawings", str(drawings_folder), "--dataset", str(tiny_npz), "--epochs", "1", "--out", str(out)]) == 0
    metadata, notes = read_metadata_checked(out)
    assert notes == [] and "fine_tune" in metadata, capsys.readouterr().err
    loss = metadata["history"]["loss"]
    assert len(loss) <= 10_000 and loss[0] == 3 and 0 < loss[-1] < 1, "thinned, the first epoch and the fine-tuning's kept"


def test_a_learning_rate_that_makes_training_diverge_is_blamed_not_the_model(tmp_path, tiny_npz, drawings_folder, capsys):
    """finetune --lr 1e12 said the input model's "weights hold NaN"."""
    tuned, trained = tmp_path / "tuned.keras", tmp_path / "trained.keras"
    assert main(["finetune", "--drawings", str(drawings_folder), "--dataset", str(tiny_npz), "--epochs", "2", "--lr", "1e12", "--out", str(tuned)]) == 1
    assert main(["train", "--model", "dense", "--optimizer", "sgd", "--lr", "1e12", "--seed", "1", "--dataset", str(tiny_npz), "--epochs", "3", "--out", str(trained)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 2 and not tuned.exists() and not trained.exists()
    for line in errors:
        assert "diverged" in line and "learning rate 1e+12" in line and "lower learning rate (--lr)" in line and "weights hold NaN" not in line, line


def test_a_history_file_that_cannot_be_written_says_the_model_was_saved(tmp_path, tiny_npz, capsys, monkeypatch):
    """A disk that filled between the model and its .history.json ended in "[Errno 28] No space
    left on device", naming no file and not saying the model had been saved."""
    import errno

    import mnistdesk.cli as cli

    real = cli.replacing

    def full_for_the_history(path, *args, **kwargs):
        if str(path).endswith(".history.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(cli, "replacing", full_for_the_history)
    out = tmp_path / "m.keras"
    assert main(["train", "--model", "dense", "--dataset", str(tiny_npz), "--epochs", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(tmp_path / "m.history.json") in err and "No space left on device" in err and f"saved to {out}" in err
    assert len(read_metadata(out)["history"]["loss"]) == 1
