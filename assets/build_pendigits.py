"""Build ``assets/pendigits.npz``, real pen trajectories, from UCI's original ``pendigits-orig.tra``.

The UNIPEN text file lists 7,494 digits written by 30 people on a tablet whose screen sat under
the pen: ``.SEGMENT DIGIT <n> ? "<label>"`` starts a digit, ``.COMMENT <a> <writer> <n>`` names
its writer, ``.PEN_DOWN``/``.PEN_UP`` bracket each stroke, and the lines between are integer
``x y`` tablet coordinates (500×500 box, y up). This script keeps every point and pen-up exactly,
flips y to point down (as on a screen), and stores compact integer arrays:

- ``steps`` (2, P) int16: x and y steps from point to point, strokes one after another (the
  cumulative sum gives the points; steps compress to half the size of the coordinates);
- ``stroke_starts`` (S+1,) int32: stroke ``s`` is points ``stroke_starts[s]:stroke_starts[s+1]``;
- ``digit_starts`` (D+1,) int32: digit ``d`` is strokes ``digit_starts[d]:digit_starts[d+1]``;
- ``labels`` (D,) uint8 and ``writers`` (D,) uint8 (1-30).

Usage::

    python assets/build_pendigits.py ../shared/data/pendigits/pendigits-orig.tra.Z

(a ``.Z`` file is decompressed with ``gzip -dc``; an already decompressed ``.tra`` works too).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np

TRA_SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
TABLET_SIDE = 500
OUT = Path(__file__).with_name("pendigits.npz")


def read_text(path: Path) -> str:
    raw = subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout if path.suffix == ".Z" else path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TRA_SHA256:
        raise ValueError(f"{path}: decompressed SHA-256 {digest} is not that of pendigits-orig.tra ({TRA_SHA256})")
    return raw.decode("ascii")


def parse(text: str) -> dict[str, np.ndarray]:
    points: list[tuple[int, int]] = []
    stroke_starts: list[int] = []
    digit_starts: list[int] = []
    labels: list[int] = []
    writers: list[int] = []
    in_stroke = False
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == ".SEGMENT":
            digit_starts.append(len(stroke_starts))
            labels.append(int(fields[-1].strip('"')))
        elif fields[0] == ".COMMENT" and len(writers) < len(labels):
            writers.append(int(fields[2]))
        elif fields[0] == ".PEN_DOWN":
            stroke_starts.append(len(points))
            in_stroke = True
        elif fields[0] == ".PEN_UP":
            in_stroke = False
        elif in_stroke and not fields[0].startswith("."):
            x, y = int(fields[0]), int(fields[1])
            points.append((x, TABLET_SIDE - y))
    stroke_starts.append(len(points))
    digit_starts.append(len(stroke_starts) - 1)
    if len(labels) != len(writers):
        raise ValueError(f"{len(labels)} digits but {len(writers)} writer comments")
    return {
        "steps": np.diff(np.asarray(points, np.int16).T, axis=1, prepend=0).astype(np.int16),
        "stroke_starts": np.asarray(stroke_starts, np.int32),
        "digit_starts": np.asarray(digit_starts, np.int32),
        "labels": np.asarray(labels, np.uint8),
        "writers": np.asarray(writers, np.uint8),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="pendigits-orig.tra.Z (or .tra)")
    args = parser.parse_args()
    arrays = parse(read_text(args.source))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT}: {len(arrays['labels'])} digits, {len(arrays['stroke_starts']) - 1} strokes, "
          f"{arrays['steps'].shape[1]} points, {len(set(arrays['writers'].tolist()))} writers, {OUT.stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
