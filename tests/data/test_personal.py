"""Teaching the model your handwriting: the personal drawings on disk and fine-tuning on them."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistdesk.base import paths
from mnistdesk.cli import main
from mnistdesk.data.personal import LEFTOVER_AFTER_S, LabelledImages, PersonalDrawings, read_labelled_folder
from mnistdesk.ink.imagefile import ImageFileError
from mnistdesk.net.models import DEFAULT_VALIDATION_FRACTION, FineTuneConfig, read_metadata
from mnistdesk.net.training import split_validation


def _ink(seed: int) -> np.ndarray:
    ink = np.zeros((280, 280), np.float32)
    ink[60 + seed : 220, 120:150] = 1.0  # a thick bar: a "1"
    return ink


def test_drawings_round_trip_in_the_keras_folder_layout(tmp_path):
    store = PersonalDrawings(tmp_path / "mine")
    model_input = np.zeros((28, 28), np.float32)
    model_input[4:24, 12:16] = 1.0
    first = store.add(1, _ink(0), model_input)
    store.add(7, _ink(1), model_input)
    assert first.drawing == tmp_path / "mine" / "drawings" / "1" / f"{first.name}.png"
    assert first.model_input == tmp_path / "mine" / "inputs" / "1" / f"{first.name}.png"
    assert np.asarray(Image.open(first.drawing)).shape == (280, 280)  # the canvas as drawn, dark on white
    assert np.asarray(Image.open(first.drawing))[100, 130] == 0
    again = PersonalDrawings(tmp_path / "mine").arrays()  # as after a restart
    assert list(again.labels) == [1, 7] and again.images.dtype == np.uint8
    assert np.array_equal(again.images[0], np.round(model_input * 255).astype(np.uint8))
    store.remove(first)
    assert not first.drawing.exists() and not first.model_input.exists()
    assert [entry.label for entry in store.entries()] == [7]


def test_drawings_kept_within_one_clock_tick_never_overwrite_each_other(tmp_path, monkeypatch):
    monkeypatch.setattr("time.time_ns", lambda: 1_700_000_000_000_000_000)  # a coarse clock (Windows)
    store = PersonalDrawings(tmp_path)
    for seed in range(3):
        store.add(1, _ink(seed), np.ones((28, 28), np.float32))
    assert len(store.entries()) == 3


def test_a_crash_while_saving_loses_nothing_already_saved(tmp_path, monkeypatch):
    store = PersonalDrawings(tmp_path)
    store.add(3, _ink(0), np.ones((28, 28), np.float32))

    def disk_full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_bytes", disk_full)
    with pytest.raises(OSError):
        store.add(4, _ink(1), np.ones((28, 28), np.float32))
    monkeypatch.undo()
    assert [entry.label for entry in store.entries()] == [3]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and "4" in p.parent.name) == []  # no half-written file


def test_keeping_a_drawing_is_all_or_nothing(tmp_path, monkeypatch):
    """A failure between its two files (a full disk) left the drawing without its 28×28 input."""
    store = PersonalDrawings(tmp_path)
    kept = store.add(3, _ink(0), np.ones((28, 28), np.float32))
    replace = os.replace

    def disk_full_for_inputs(source, target):
        if (tmp_path / "inputs") in Path(target).parents:
            raise OSError(errno.ENOSPC, "No space left on device")
        return replace(source, target)

    monkeypatch.setattr(os, "replace", disk_full_for_inputs)
    with pytest.raises(OSError, match="No space"):
        store.add(4, _ink(1), np.ones((28, 28), np.float32))
    monkeypatch.undo()
    assert store.entries() == [kept]
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted([kept.drawing, kept.model_input])


KEEP_AND_DIE = """
import os, signal, sys
import numpy as np
from mnistdesk.data.personal import PersonalDrawings

renamed, rename = [], os.replace

def replace(source, target):
    if len(renamed) == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    renamed.append(target)
    rename(source, target)

os.replace = replace
PersonalDrawings(sys.argv[1]).add(4, np.ones((280, 280)), np.ones((28, 28)))
"""


@pytest.mark.parametrize("renames_before_the_kill", [0, 1])
def test_what_a_process_killed_while_keeping_left_is_tidied_away(tmp_path, renames_before_the_kill):
    """``kill -9`` while keeping drawings left hidden temporary files and drawings without their
    input, never cleaned up; only what is ours and old enough to be nobody's save goes."""
    store = PersonalDrawings(tmp_path)
    kept = store.add(4, _ink(0), np.ones((28, 28), np.float32))
    killed = subprocess.run([sys.executable, "-c", KEEP_AND_DIE, str(tmp_path), str(renames_before_the_kill)], timeout=120)
    assert killed.returncode == -signal.SIGKILL
    leftovers = sorted(set(tmp_path.rglob("*.png")) - {kept.drawing, kept.model_input})
    assert leftovers, "the kill left nothing to tidy"
    assert store.entries() == [kept], "a temporary file is read as a drawing"
    assert store.tidy() == [], "a save that may be under way (another window's) was removed"
    long_ago = time.time() - 2 * LEFTOVER_AFTER_S
    for path in tmp_path.rglob("*.png"):
        os.utime(path, (long_ago, long_ago))
    (tmp_path / "drawings" / "4" / "mine.png").write_bytes(kept.drawing.read_bytes())  # the user's: never ours to remove
    assert sorted(store.tidy()) == leftovers
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted([kept.drawing, tmp_path / "drawings" / "4" / "mine.png", kept.model_input])


def test_a_digit_folder_that_cannot_be_listed_is_named(tmp_path, monkeypatch):
    """A locked (chmod 000) digit folder in the handwriting folder was skipped without a word."""
    store = PersonalDrawings(tmp_path / "handwriting")
    store.add(1, _ink(0), np.ones((28, 28), np.float32))
    store.add(2, _ink(1), np.ones((28, 28), np.float32))
    locked, scandir = tmp_path / "handwriting" / "inputs" / "2", os.scandir

    def locked_scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and os.fspath(path) == str(locked):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", locked_scandir)
    entries, arrays = store.read()
    assert [entry.label for entry in entries] == [1] and list(arrays.labels) == [1]
    assert arrays.problems == (f"{locked}: cannot be read (Permission denied); the 2s in it are left out",)
    assert read_labelled_folder(tmp_path / "handwriting").problems == arrays.problems  # finetune --drawings says it too


def test_a_folder_of_labelled_images_of_any_size_is_read_through_the_preprocessing(tmp_path):
    for digit, size in ((1, (300, 200)), (7, (64, 64))):
        (tmp_path / str(digit)).mkdir()
        paper = np.full(size, 255, np.uint8)
        paper[size[0] // 4 : 3 * size[0] // 4, size[1] // 2 - 4 : size[1] // 2 + 4] = 0  # dark ink on white
        Image.fromarray(paper).save(tmp_path / str(digit) / "a.png")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "7" / "blank.png")
    (tmp_path / "7" / "notes.txt").write_text("not an image")
    found = read_labelled_folder(tmp_path)
    assert list(found.labels) == [1, 7] and found.images.shape == (2, 28, 28)
    assert found.images.max() == 255 and found.images[:, 0, 0].max() == 0  # bright ink on a dark ground
    assert len(found.problems) == 1 and "blank.png" in found.problems[0] and "no ink" in found.problems[0]
    with pytest.raises(ImageFileError, match="folder named after it"):
        read_labelled_folder(tmp_path / "7")
    with pytest.raises(ImageFileError, match="no such folder"):
        read_labelled_folder(tmp_path / "missing")


def test_held_out_drawings_cover_many_digits_and_never_a_digits_only_drawing():
    from mnistdesk.net.finetune import hold_out

    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 9, 9, 5], np.uint8)
    split = hold_out(LabelledImages(np.zeros((len(labels), 28, 28), np.uint8), labels), 0.2)
    assert len(split.held_out_labels) == 5 and len(set(split.held_out_labels)) == 5
    assert set(split.train_labels) == set(range(10))
    lonely = hold_out(LabelledImages(np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3], np.uint8)), 0.5)
    assert len(lonely.held_out_labels) == 0 and len(lonely.train_labels) == 3


def _mirrored_digits(sample, digits=(2, 3, 4, 7), per_digit=8) -> LabelledImages:
    """Digits written mirrored: a style the shipped model has never seen, so it misreads them."""
    chosen = np.concatenate([np.flatnonzero(sample.y_test == d)[:per_digit] for d in digits])
    return LabelledImages(sample.x_test[chosen][:, :, ::-1].copy(), sample.y_test[chosen])


def test_fine_tuning_teaches_the_model_a_new_style(sample):
    from mnistdesk.net.finetune import fine_tune
    from mnistdesk.net.models import load_model

    model = load_model(paths.SHIPPED_MODEL_PATH)
    validations = []
    result = fine_tune(model, sample, _mirrored_digits(sample), FineTuneConfig(epochs=4), on_validation=lambda epoch, probabilities: validations.append(probabilities))
    assert result["fine_tune"]["held_out"] >= 4
    assert result["before"]["held_out_accuracy"] <= 0.5
    assert result["after"]["held_out_accuracy"] >= result["before"]["held_out_accuracy"] + 0.3
    assert result["after"]["test"].accuracy >= result["before"]["test"].accuracy - 0.03  # it still reads MNIST
    # The curves validate on the sample's validation split, as the run before did, not on a few held-out drawings.
    validation_labels = sample.y_train[split_validation(sample.y_train, DEFAULT_VALIDATION_FRACTION)[1]]
    assert [len(p) for p in validations] == [len(validation_labels)] * 4 == [400] * 4
    accuracies = [float(np.mean(np.argmax(p, axis=1) == validation_labels)) for p in validations]
    assert result["history"]["val_accuracy"] == pytest.approx(accuracies, abs=1e-6)


def test_cli_finetune_writes_a_model_and_reports_before_and_after(tmp_path, sample, capsys):
    drawings = _mirrored_digits(sample, per_digit=5)
    for index, (image, label) in enumerate(zip(drawings.images, drawings.labels)):
        (tmp_path / "mine" / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.kron(image, np.ones((4, 4), np.uint8))).save(tmp_path / "mine" / str(label) / f"{index}.png")
    out = tmp_path / "tuned.keras"
    args = ["finetune", "--drawings", str(tmp_path / "mine"), "--dataset", "sample", "--epochs", "2", "--out", str(out), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["drawings"] == 20 and summary["held_out"] == 4
    assert {"before_accuracy", "after_accuracy", "test_accuracy"} <= summary.keys()
    metadata = read_metadata(out)
    assert metadata["fine_tune"]["drawings"] == 20 and metadata["test_accuracy"] == summary["test_accuracy"]
    assert metadata["test_n"] == 1000 and "validation_accuracy" not in metadata  # scores of the model before are not kept
    assert metadata["architecture"] == "lean"  # what it was made from is kept
    shipped = read_metadata(paths.SHIPPED_MODEL_PATH)["history"]["loss"]
    assert metadata["history"]["loss"][: len(shipped)] == shipped and len(metadata["history"]["loss"]) == len(shipped) + 2  # its curves carry on


def test_fine_tuning_a_model_the_numpy_engine_cannot_run(sample):
    import keras

    from mnistdesk.net.finetune import fine_tune

    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))  # not Sequential
    result = fine_tune(model, sample, _mirrored_digits(sample, per_digit=3), FineTuneConfig(epochs=1))
    assert result["fine_tune"]["held_out"] >= 2 and 0 <= result["after"]["test"].accuracy <= 1


def test_an_unreadable_digit_folder_is_reported_not_raised(tmp_path, monkeypatch):
    for digit in (1, 2):
        (tmp_path / str(digit)).mkdir()
        Image.fromarray(np.pad(np.full((20, 6), 255, np.uint8), 10)).save(tmp_path / str(digit) / "a.png")
    real_iterdir = type(tmp_path).iterdir

    def locked(self):
        if self.name == "2":
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(type(tmp_path), "iterdir", locked)
    found = read_labelled_folder(tmp_path)
    assert list(found.labels) == [1] and "2: cannot be read (Permission denied)" in found.problems[0]


def test_cli_finetune_answers_a_bad_folder_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["finetune", "--drawings", str(tmp_path / "empty"), "--out", str(tmp_path / "x.keras")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "folder named after it" in err and "Traceback" not in err
    assert not (tmp_path / "x.keras").exists()


def huge_png(path) -> None:
    """A 20000×20000 PNG of one colour: a few hundred KB that decode to 400 megapixels."""
    import struct
    import zlib

    width = height = 20_000
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


def test_a_decompression_bomb_among_the_stored_inputs_is_named_and_left_out(tmp_path, sample):
    """A 20000×20000 PNG in the folder's stored 28×28 inputs stopped every start (and finetune)
    with a traceback: Pillow's DecompressionBombError is neither OSError nor ValueError."""
    store = PersonalDrawings(tmp_path / "handwriting")
    for index in range(3):
        store.add(int(sample.y_test[index]), sample.x_test[index], sample.x_test[index])
    bomb = tmp_path / "handwriting" / "inputs" / "4" / "bomb.png"
    bomb.parent.mkdir(parents=True, exist_ok=True)
    huge_png(bomb)
    entries, arrays = store.read()
    assert len(entries) == 3 and len(arrays.labels) == 3
    assert any("bomb.png" in problem and "megapixels" in problem for problem in arrays.problems), arrays.problems
    assert len(read_labelled_folder(tmp_path / "handwriting").labels) == 3


def test_an_input_whose_drawing_is_gone_is_kept(tmp_path):
    """Tidying deleted an input whose drawing had been deleted by hand: the training sample
    itself, which no save of ours leaves alone."""
    store = PersonalDrawings(tmp_path)
    kept = store.add(3, _ink(0), np.ones((28, 28), np.float32))
    kept.drawing.unlink()
    long_ago = time.time() - 2 * LEFTOVER_AFTER_S
    os.utime(kept.model_input, (long_ago, long_ago))
    assert store.tidy() == [] and kept.model_input.exists()
    assert [entry.label for entry in store.read()[0]] == [3]


def test_a_digit_folder_that_is_a_file_is_named(tmp_path):
    """inputs/4 as a file left the 4s out without a word."""
    store = PersonalDrawings(tmp_path)
    store.add(1, _ink(0), np.ones((28, 28), np.float32))
    (tmp_path / "inputs" / "4").write_bytes(b"not a folder")
    entries, arrays = store.read()
    assert [entry.label for entry in entries] == [1]
    assert arrays.problems == (f"{tmp_path / 'inputs' / '4'}: is not a folder; the 4s in it are left out",)
