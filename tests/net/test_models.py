"""Reference models, atomic saves with metadata, and safe loading."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnistdesk.base import paths
from mnistdesk.data.augment import augment_batch
from mnistdesk.net.engine import Engine
from mnistdesk.net.models import ModelFileError, build_model, load_model, read_metadata, save_model


@pytest.mark.parametrize(("architecture", "parameters"), [("dense", 407_050), ("cnn", 3_156_098)])
def test_classic_recipes_have_their_published_size(architecture, parameters):
    assert build_model(architecture).count_params() == parameters


def test_lean_is_a_fraction_of_cnn():
    assert build_model("lean").count_params() < build_model("cnn").count_params() / 50


@pytest.mark.parametrize(("optimizer", "kind"), [("sgd", "SGD"), ("rmsprop", "RMSprop"), ("adam", "Adam")])
def test_optimizer_and_learning_rate_are_applied(optimizer, kind):
    model = build_model("dense", optimizer, 0.0123)
    assert type(model.optimizer).__name__ == kind
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="lean, cnn, dense"):
        build_model("resnet")
    with pytest.raises(ValueError, match="adam, rmsprop, sgd"):
        build_model("lean", "adagrad")


def test_save_round_trips_weights_and_metadata(tmp_path):
    model = build_model("lean")
    path = save_model(model, tmp_path / "m.keras", {"architecture": "lean", "test_accuracy": 0.5})
    metadata = read_metadata(path)
    assert metadata["architecture"] == "lean" and metadata["test_accuracy"] == 0.5
    assert metadata["preprocessing"] == "mnist-com-v1"
    loaded = load_model(path)
    for saved, original in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(saved, original)


def test_a_crash_while_saving_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_model(build_model("dense"), tmp_path / "m.keras", {"architecture": "dense"})
    before = path.read_bytes()
    model = build_model("lean")

    def crash(target, *args, **kwargs):
        open(target, "wb").write(b"half a model")
        raise RuntimeError("power cut")

    monkeypatch.setattr(model, "save", crash)
    with pytest.raises(RuntimeError):
        save_model(model, path, {"architecture": "lean"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"], "a temporary file was left behind"


def test_model_with_python_code_is_refused_without_running_it(tmp_path):
    ran = tmp_path / "ran"
    marker = str(ran)

    def payload(x):
        open(marker, "w").close()
        return x

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(payload), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    ran.unlink(missing_ok=True)
    model.save(tmp_path / "lambda.keras")
    ran.unlink(missing_ok=True)
    with pytest.raises(ModelFileError, match="Python code"):
        load_model(tmp_path / "lambda.keras")
    assert not ran.exists()


def test_metadata_of_a_foreign_or_broken_file_is_empty(tmp_path):
    model = build_model("dense")
    model.save(tmp_path / "plain.keras")
    (tmp_path / "broken.keras").write_bytes(b"nope")
    assert read_metadata(tmp_path / "plain.keras") == {} and read_metadata(tmp_path / "broken.keras") == {}


def test_shipped_model_records_how_it_was_made():
    metadata = read_metadata(paths.SHIPPED_MODEL_PATH)
    assert metadata["architecture"] == "lean" and metadata["dataset"] == "sample+pen"
    assert metadata["train_config"]["augment"] is True
    assert metadata["test_accuracy"] >= 0.975


def test_augmentation_changes_digits_but_keeps_them_recognisable(sample):
    rng = np.random.default_rng(0)
    images = sample.x_test[:200]
    augmented = augment_batch(images, rng)
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    assert np.mean(augmented != images) > 0.05
    engine = Engine.from_keras_file(paths.SHIPPED_MODEL_PATH)
    labels = sample.y_test[:200]
    accuracy = (engine.predict(augmented / 255).argmax(1) == labels).mean()
    assert accuracy > 0.85


def test_fine_tuning_on_a_few_held_out_drawings_gives_counts_not_a_precise_looking_percentage():
    from mnistdesk.net.models import fine_tuning_summary

    few = fine_tuning_summary({"held_out": 3, "before_accuracy": 2 / 3, "after_accuracy": 1.0, "dataset": "sample", "test_accuracy_before": 0.97}, 0.975)
    assert "2 → 3 of 3 held-out drawings" in few and "too few for a score" in few and "100%" not in few
    enough = fine_tuning_summary({"held_out": 12, "before_accuracy": 10 / 12, "after_accuracy": 1.0, "dataset": "sample", "test_accuracy_before": 0.97}, 0.975)
    assert enough.startswith("your handwriting 83% → 100% (12 held-out drawings)")


def test_one_held_out_drawing_is_one_drawing():
    from mnistdesk.net.models import fine_tuning_summary

    text = fine_tuning_summary({"held_out": 1, "before_accuracy": 0.0, "after_accuracy": 1.0, "dataset": "sample", "test_accuracy_before": 0.97}, 0.975)
    assert "0 → 1 of 1 held-out drawing read right" in text


def test_a_long_history_is_thinned_keeping_its_first_and_last_epochs():
    from mnistdesk.net.models import thin_history

    history = {"loss": list(range(25)), "val_loss": list(range(3))}
    thinned = thin_history(history, limit=10)
    assert thinned["val_loss"] == [0, 1, 2], "a short series is kept whole"
    assert len(thinned["loss"]) == 10 and thinned["loss"][0] == 0 and thinned["loss"][-1] == 24
    steps = {b - a for a, b in zip(thinned["loss"], thinned["loss"][1:])}
    assert steps <= {2, 3}, "evenly spread"


def test_a_history_read_from_a_file_is_bounded(tmp_path):
    from mnistdesk.net.models import read_metadata_checked

    path = save_model(build_model("dense"), tmp_path / "m.keras", {"history": {"loss": [1.0] + [0.5] * 49_998 + [0.25]}})
    metadata, notes = read_metadata_checked(path)
    assert notes == [] and len(metadata["history"]["loss"]) <= 10_000
    assert metadata["history"]["loss"][0] == 1.0 and metadata["history"]["loss"][-1] == 0.25


def test_saved_metadata_always_fits_under_what_the_reader_takes(tmp_path):
    """Fine-tuning a model carrying a big field of its own wrote metadata mnistdesk then refused."""
    from mnistdesk.base.untrusted import MAX_METADATA_BYTES
    from mnistdesk.net.models import read_metadata_checked

    carried = {"architecture": "dense", "notes_from_elsewhere": [0] * 1_500_000}  # 3 MB as read; indented, 7.5
    path = save_model(build_model("dense"), tmp_path / "m.keras", carried)
    metadata, notes = read_metadata_checked(path)
    assert notes == [] and metadata["architecture"] == "dense" and "notes_from_elsewhere" not in metadata
    small = save_model(build_model("dense"), tmp_path / "small.keras", {"architecture": "dense", "notes_from_elsewhere": [0] * 10})
    assert read_metadata_checked(small)[0]["notes_from_elsewhere"] == [0] * 10, "fields from elsewhere are kept while they fit"
    assert MAX_METADATA_BYTES < 7_500_000


def _with_metadata_member_patched(tmp_path, name: str, offset: int, value: bytes):
    """The shipped model with a field of its metadata member's central-directory record changed."""
    import struct

    data = bytearray(paths.SHIPPED_MODEL_PATH.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + length] == b"mnistdesk.json":
            data[start + offset : start + offset + len(value)] = value
            break
        start += 4
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "damage, offset, value",
    [("encrypted", 8, b"\x01\x00"), ("compressed with method 98", 10, b"\x62\x00"), ("a bad checksum", 16, b"\x00\x00\x00\x00")],
)
def test_a_metadata_member_zipfile_cannot_read_is_a_note_not_a_traceback(tmp_path, damage, offset, value):
    """An encrypted or oddly compressed mnistdesk.json ended evaluate, finetune and train
    --continue in a RuntimeError / NotImplementedError traceback; a bad checksum dropped the
    metadata without a word (evaluate then scored on another dataset than the model's)."""
    from mnistdesk.cli import main
    from mnistdesk.net.models import read_metadata_checked

    path = _with_metadata_member_patched(tmp_path, f"{damage.split()[0]}.keras", offset, value)
    metadata, notes = read_metadata_checked(path)
    assert metadata == {} and len(notes) == 1 and notes[0].startswith("metadata ignored: it cannot be read"), notes
    assert main(["evaluate", "--model", str(path), "--dataset", "sample"]) == 0


def test_a_history_number_too_big_for_a_float_is_dropped_with_a_note():
    """A history starting with 10**400 (valid JSON) passed the check and stopped the window from
    starting (OverflowError while drawing the curves), at every start if it was the last model."""
    from mnistdesk.net.models import validate_metadata

    metadata, notes = validate_metadata({"history": {"loss": [10**400, 0.5]}, "architecture": "lean"})
    assert "history" not in metadata and metadata["architecture"] == "lean" and "'history' ignored" in notes[0]
    kept, notes = validate_metadata({"history": {"loss": [float("nan"), 10**300, 1, 0.5]}})
    assert kept["history"]["loss"][1:] == [10**300, 1, 0.5] and not notes
