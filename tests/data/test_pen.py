"""Real pen trajectories drawn as the canvas draws them, and the model's input made from strokes."""

from __future__ import annotations

import numpy as np
import pytest

from mnistdesk.base import paths
from mnistdesk.data import pen
from mnistdesk.data.datasets import load_dataset
from mnistdesk.ink.preprocess import preprocess, stroke_width
from mnistdesk.ink.strokes import Stroke, render, smooth, strokes_input
from mnistdesk.net.engine import load_predictor


@pytest.fixture(scope="module")
def digits():
    return pen.load_digits()


def test_bundled_trajectories_are_all_there(digits):
    assert len(digits) == 7494
    assert {d.writer for d in digits} == set(range(1, 31))
    assert np.bincount([d.label for d in digits]).min() >= 719
    assert sum(len(d.strokes) > 1 for d in digits) > 1500  # crossed 7s, two-stroke 4s and 5s
    assert paths.PENDIGITS_PATH.stat().st_size < 600_000


def test_writer_split_never_shares_a_writer(digits):
    train, validation = pen.split_by_writer(digits)
    train_writers, validation_writers = {d.writer for d in train}, {d.writer for d in validation}
    assert not train_writers & validation_writers
    assert len(train_writers) == 22 and len(validation_writers) == 8
    assert len(train) + len(validation) == len(digits)


def test_pen_ups_are_never_joined():
    left = Stroke(np.array([[10.0, 10.0], [10.0, 90.0]]))
    right = Stroke(np.array([[90.0, 10.0], [90.0, 90.0]]))
    ink = render([left, right], (100, 100), 1.0, (0.0, 0.0), pen_width=6)
    assert ink[50, 10] > 0.9 and ink[50, 90] > 0.9
    assert ink[:, 25:75].max() == 0  # nothing between the end of one stroke and the start of the next
    crossed_seven = next(d for d in pen.load_digits() if d.label == 7 and len(d.strokes) == 2)
    placed = pen.place_on_canvas(crossed_seven, np.random.default_rng(0))
    together = pen.canvas_ink(placed)
    apart = np.maximum(pen.canvas_ink(placed[:1]), pen.canvas_ink(placed[1:]))
    assert (together - apart).max() < 0.3  # the union of the two strokes, no line between them


def test_the_curve_passes_through_every_recorded_point_and_is_smooth():
    corners = np.array([[0.0, 0.0], [40.0, 0.0], [40.0, 40.0], [0.0, 40.0]])
    curve = smooth(corners, step=1.0)
    for point in corners:
        assert np.min(np.linalg.norm(curve - point, axis=1)) < 1e-6
    assert len(curve) > 100  # sampled about every pixel, not four vertices
    turns = np.diff(np.unwrap(np.arctan2(*np.diff(curve, axis=0).T[::-1])))
    assert np.abs(turns).max() < np.pi / 4  # no sharp corner anywhere


def test_distorted_digits_stay_the_same_writers_strokes(digits):
    """A distortion moves the points a little (slant, rotation, width, wobble, a loop left open);
    it never adds a stroke or joins two."""
    rng = np.random.default_rng(0)
    for digit in digits[:200]:
        changed = pen.distorted(digit, rng)
        assert len(changed.strokes) == len(digit.strokes) and changed.label == digit.label
        size = np.ptp(np.concatenate(digit.strokes), axis=0).max()
        new_size = np.ptp(np.concatenate(changed.strokes), axis=0).max()
        assert 0.6 < new_size / size < 1.6
        assert all(len(new) <= len(old) for new, old in zip(changed.strokes, digit.strokes))


def test_drawing_is_deterministic_for_a_seed(digits):
    some = digits[:20]
    np.testing.assert_array_equal(pen.drawn_inputs(some, seed=3), pen.drawn_inputs(some, seed=3))
    placed_a = pen.place_on_canvas(some[0], np.random.default_rng(3))
    placed_b = pen.place_on_canvas(some[0], np.random.default_rng(4))
    assert not np.allclose(placed_a[0].points, placed_b[0].points)


def test_digits_land_at_30_to_90_percent_of_the_canvas_height_anywhere(digits):
    rng = np.random.default_rng(0)
    heights, lefts = [], []
    for digit in digits[:300]:
        points = np.concatenate([s.points for s in pen.place_on_canvas(digit, rng)])
        assert points.min() >= 0 and points.max() <= pen.CANVAS_PX
        heights.append(np.ptp(points[:, 1]) / pen.CANVAS_PX)
        lefts.append(points[:, 0].min() / pen.CANVAS_PX)
    assert 0.28 < min(heights) and max(heights) < 0.91 and np.ptp(heights) > 0.5
    assert min(lefts) < 0.15 and max(lefts) > 0.5


def test_stroke_width_in_the_input_does_not_depend_on_drawing_size(digits):
    """A small digit in a corner and the same digit filling the canvas give the same input,
    with MNIST's ~2-3 px strokes; the canvas ink of the small one alone would be a blob."""
    three = next(d for d in digits if d.label == 3)
    small = pen.place_on_canvas(three, np.random.default_rng(0), (0.2, 0.2))
    large = pen.place_on_canvas(three, np.random.default_rng(0), (0.9, 0.9))
    small_input, large_input = strokes_input(small), strokes_input(large)
    assert np.abs(small_input - large_input).mean() < 0.01
    assert 2.0 < stroke_width(small_input) < 3.5
    ink = pen.canvas_ink(small)  # the canvas's fixed pen: bold for this small digit
    assert stroke_width(ink) / np.ptp(np.flatnonzero(ink.max(axis=1) > 0.5)) > 0.25


def test_image_files_get_even_strokes_too(digits):
    """The raster path (opened images, ``classify``) thins a bold small digit towards MNIST's width."""
    three = next(d for d in digits if d.label == 3)
    small_bold = pen.canvas_ink(pen.place_on_canvas(three, np.random.default_rng(0), (0.25, 0.25)))
    fine_large = render(pen.place_on_canvas(three, np.random.default_rng(0), (0.9, 0.9)), (280, 280), 1.0, (0, 0), 3.0)
    for ink in (small_bold, fine_large):
        assert 1.8 < stroke_width(preprocess(ink)) < 4.0


def test_eraser_strokes_erase_in_the_models_input():
    bar = Stroke(np.array([[0.0, 0.0], [0.0, 1.0]]))
    cross = Stroke(np.array([[-0.3, 0.5], [0.3, 0.5]]))
    eraser = Stroke(np.array([[-0.5, 0.5], [0.5, 0.5]]), erase=True)
    with_cross = strokes_input([bar, cross], eraser_width=0.1)
    erased = strokes_input([bar, cross, eraser], eraser_width=0.1)
    assert stroke_width(with_cross) > 0 and np.abs(with_cross - erased).sum() > 10
    assert strokes_input([bar, eraser], eraser_width=5.0) is None  # everything wiped out


@pytest.fixture(scope="module")
def validation_drawings(digits):
    """The first drawing of 1, 4, 7 and 9 by each validation writer (32 real drawings)."""
    _, validation = pen.split_by_writer(digits)
    chosen = []
    for label in (1, 4, 7, 9):
        for writer in pen.VALIDATION_WRITERS:
            chosen.append(next(d for d in validation if d.label == label and d.writer == writer))
    return chosen


def test_shipped_model_reads_real_ones_fours_sevens_and_nines(validation_drawings):
    predictor = load_predictor(paths.SHIPPED_MODEL_PATH)
    inputs = pen.drawn_inputs(validation_drawings, seed=0)
    predicted = predictor.predict(inputs / 255.0).argmax(axis=1)
    labels = pen.labels_of(validation_drawings)
    wrong = [(int(t), int(p)) for t, p in zip(labels, predicted) if t != p]
    assert len(wrong) <= 1, f"misread (true, predicted): {wrong}"


def test_pen_datasets_load_offline_and_are_cached(keras_home, monkeypatch, digits):
    few = digits[:400]  # drawing all 7,494 digits takes ~30 s; the logic is the same
    monkeypatch.setattr(pen, "load_digits", lambda: few)
    train, validation = pen.split_by_writer(few)
    dataset = load_dataset("pen")
    assert dataset.x_train.shape == (len(train) * (1 + pen.TRAINING_VARIANTS), 28, 28)
    assert dataset.x_test.shape == (len(validation), 28, 28) and len(validation) > 50
    assert dataset.x_train.dtype == np.uint8 and set(np.unique(dataset.y_test)) == set(range(10))
    cached = list((keras_home / "datasets").glob("mnistdesk-pen-*.npz"))
    assert len(cached) == 1
    drawing_set = pen.drawing_set
    monkeypatch.setattr(pen, "drawing_set", lambda: pytest.fail("drawn again although cached"))
    np.testing.assert_array_equal(load_dataset("pen").x_test, dataset.x_test)
    monkeypatch.setattr(pen, "drawing_set", drawing_set)
    cached[0].write_bytes(b"damaged")  # a damaged cache is drawn again, not an error
    np.testing.assert_array_equal(load_dataset("pen").x_test, dataset.x_test)
    both = load_dataset("sample+pen")
    assert len(both.x_train) == 4000 + len(dataset.x_train) and len(both.x_test) == 1000 + len(validation)


def test_a_missing_trajectories_file_is_one_clear_error(monkeypatch, tmp_path):
    from mnistdesk.data.datasets import DatasetError

    monkeypatch.setattr(paths, "PENDIGITS_PATH", tmp_path / "gone.npz")
    with pytest.raises(DatasetError, match="gone.npz: cannot read the bundled pen trajectories"):
        load_dataset("pen")


def test_the_drawing_cache_is_named_by_what_draws_it(monkeypatch):
    from mnistdesk.ink import strokes

    before = pen.drawing_fingerprint()
    monkeypatch.setattr(strokes, "MODEL_BOX_PX", strokes.MODEL_BOX_PX + 1)
    assert pen.drawing_fingerprint() != before
