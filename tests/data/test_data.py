"""The data layer: bundled sample, downloads and their cache, a user's own .npz."""

from __future__ import annotations

import gzip
import hashlib
import time

import numpy as np
import pytest

from mnistdesk.data import datasets
from mnistdesk.data.datasets import DatasetError, DatasetOffline, DownloadCancelled, load_dataset
from mnistdesk.ink.pixels import normalize


def test_sample_is_a_stratified_uint8_split(sample):
    assert sample.x_train.shape == (4000, 28, 28) and sample.x_test.shape == (1000, 28, 28)
    assert sample.x_train.dtype == np.uint8 and sample.y_train.dtype == np.uint8
    assert np.bincount(sample.y_train).tolist() == [400] * 10
    assert np.bincount(sample.y_test).tolist() == [100] * 10
    train_rows = {row.tobytes() for row in sample.x_train}
    assert not any(row.tobytes() in train_rows for row in sample.x_test), "a test digit is also in train"


def test_sample_file_is_compact():
    assert datasets.paths.SAMPLE_PATH.stat().st_size <= 2_000_000


def test_normalize_maps_bytes_to_unit_floats():
    batch = np.array([[0, 51, 255]], np.uint8)
    out = normalize(batch)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2, 1.0]])


def test_own_npz_loads(tiny_npz):
    dataset = load_dataset(tiny_npz)
    assert dataset.x_train.shape == (256, 28, 28) and dataset.name == "tiny.npz"


def test_npz_with_channel_axis_is_accepted(tmp_path, tiny):
    path = tmp_path / "channels.npz"
    np.savez(path, x_train=tiny.x_train[..., None], y_train=tiny.y_train, x_test=tiny.x_test[..., None], y_test=tiny.y_test)
    assert load_dataset(path).x_test.shape == (100, 28, 28)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(x_train=a["x_train"][:, :20]), "shape"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.float32)), "dtype float32"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.int64) + 5), "labels outside 0-9"),
        (lambda a: a.update(y_test=a["y_test"][:10]), "100 images but 10 labels"),
        (lambda a: a.pop("y_test"), "missing array(s) y_test"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.float64)), "integer"),
    ],
)
def test_bad_npz_gets_an_error_naming_the_problem(tmp_path, tiny, change, message):
    arrays = {"x_train": tiny.x_train, "y_train": tiny.y_train, "x_test": tiny.x_test, "y_test": tiny.y_test}
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(path)


def test_truncated_npz_is_reported(tmp_path, tiny_npz):
    path = tmp_path / "truncated.npz"
    path.write_bytes(tiny_npz.read_bytes()[:5000])
    with pytest.raises(DatasetError, match="truncated|not a readable"):
        load_dataset(path)


def test_non_npz_file_is_reported(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("just some text")
    with pytest.raises(DatasetError, match="not a readable .npz"):
        load_dataset(path)


def test_pickled_objects_are_never_loaded(tmp_path, tiny):
    path = tmp_path / "pickled.npz"
    objects = np.array([{"evil": 1}] * 100, dtype=object)
    np.savez(path, x_train=tiny.x_train, y_train=tiny.y_train, x_test=tiny.x_test, y_test=objects)
    with pytest.raises(DatasetError, match="Python objects"):
        load_dataset(path)


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(DatasetError, match=r"sample, pen, sample\+pen, mnist, fashion_mnist"):
        load_dataset("cifar")


def test_mnist_offline_fails_fast_with_what_to_do(keras_home):
    started = time.perf_counter()
    with pytest.raises(DatasetError) as raised:
        load_dataset("mnist")
    assert time.perf_counter() - started < 10
    message = str(raised.value)
    assert "bundled sample" in message and f"mnist.npz from a machine that has it into {keras_home / 'datasets'}" in message
    assert "--" not in message, "the message is shown in the app too: no CLI flags"
    assert not list((keras_home / "datasets").glob("*.part")), "a partial download was left behind"


def test_fashion_mnist_offline_names_all_four_files(keras_home):
    with pytest.raises(DatasetError) as raised:
        load_dataset("fashion_mnist")
    message = str(raised.value)
    assert all(name in message for name in datasets.FASHION_FILES), message
    assert str(keras_home / "datasets" / "fashion-mnist") in message and "bundled sample" in message


@pytest.fixture
def mirror(tmp_path, monkeypatch, tiny):
    """A local 'server' (file:// URLs) holding mnist.npz, with its checksum trusted."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    np.savez_compressed(folder / "mnist.npz", x_train=tiny.x_train, y_train=tiny.y_train, x_test=tiny.x_test, y_test=tiny.y_test)
    monkeypatch.setattr(datasets, "KERAS_ORIGIN", folder.as_uri() + "/")
    monkeypatch.setattr(datasets, "MNIST_SHA256", hashlib.sha256((folder / "mnist.npz").read_bytes()).hexdigest())
    return folder


def test_mnist_downloads_once_with_progress_then_uses_the_cache(mirror, keras_home):
    seen = []
    first = load_dataset("mnist", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == (mirror / "mnist.npz").stat().st_size
    assert (keras_home / "datasets" / "mnist.npz").is_file()
    (mirror / "mnist.npz").unlink()
    second = load_dataset("mnist")
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_truncated_cache_is_downloaded_again(mirror, keras_home):
    cached = keras_home / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes((mirror / "mnist.npz").read_bytes()[:1000])
    assert load_dataset("mnist").x_train.shape == (256, 28, 28)
    assert cached.read_bytes() == (mirror / "mnist.npz").read_bytes()


def test_truncated_cache_offline_says_so(keras_home):
    cached = keras_home / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="offline"):
        load_dataset("mnist")


def test_cancelled_download_leaves_no_file(mirror, keras_home):
    with pytest.raises(DownloadCancelled):
        load_dataset("mnist", progress=lambda done, total: False)
    assert not (keras_home / "datasets" / "mnist.npz").exists()
    assert not list((keras_home / "datasets").iterdir())


def test_damaged_download_is_rejected(mirror, keras_home, monkeypatch):
    monkeypatch.setattr(datasets, "MNIST_SHA256", "0" * 64)
    with pytest.raises(DatasetError, match="checksum"):
        load_dataset("mnist")
    assert not (keras_home / "datasets" / "mnist.npz").exists()


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.tobytes())


def test_fashion_mnist_reads_cached_idx_files(keras_home, tiny):
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, array in zip(datasets.FASHION_FILES, (tiny.y_train, tiny.x_train, tiny.y_test, tiny.x_test)):
        (folder / name).write_bytes(_idx(array))
    dataset = load_dataset("fashion_mnist")
    np.testing.assert_array_equal(dataset.x_test, tiny.x_test)
    assert dataset.class_names[9] == "Ankle boot"


def test_fashion_mnist_truncated_cache_offline_fails_clearly(keras_home, tiny):
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / datasets.FASHION_FILES[0]).write_bytes(_idx(tiny.y_train)[:20])
    with pytest.raises(DatasetError, match="offline"):
        load_dataset("fashion_mnist")


def test_offline_says_no_internet_connection_not_the_systems_errno(keras_home, monkeypatch):
    """Offline, the name lookup fails first: the dialog showed "[Errno -2] Name or service not known"."""
    import socket
    import urllib.error
    import urllib.request

    def unreachable(url, *args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DatasetOffline) as offline:
        load_dataset("mnist")
    assert "no internet connection" in str(offline.value) and "Errno" not in str(offline.value)
