"""The MNIST recipe: bounding box → 20×20 keeping aspect → centre of mass at the centre."""

from __future__ import annotations

import numpy as np
import pytest

from mnistdesk.ink.preprocess import centre_of_mass, preprocess


def on_canvas(digit: np.ndarray, scale: int, top: int, left: int, size: int = 280) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    big = np.kron(digit, np.ones((scale, scale), np.uint8))
    canvas[top : top + big.shape[0], left : left + big.shape[1]] = big
    return canvas


def ink_box(image: np.ndarray, threshold: float = 0.0) -> tuple[int, int]:
    rows, cols = np.flatnonzero((image > threshold).any(1)), np.flatnonzero((image > threshold).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("index", range(0, 1000, 50))
def test_centre_of_mass_is_centred_and_box_fits_20(sample, index):
    out = preprocess(on_canvas(sample.x_test[index], 7, 30, 60))
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    height, width = ink_box(out, 0.05)
    assert max(height, width) <= 21  # 20 plus at most one anti-aliased fringe pixel
    assert max(height, width) >= 19


def test_aspect_ratio_is_kept():
    bar = np.zeros((200, 200), np.float32)
    bar[20:180, 90:110] = 1.0  # a tall thin stroke, like a "1"
    out = preprocess(bar)
    # Sub-pixel placement spreads an edge over two rows; the ink's extent still sums to 20 × 2.5.
    assert out.max(axis=1).sum() == pytest.approx(20, abs=0.05)
    assert out.max(axis=0).sum() == pytest.approx(2.5, abs=0.05)


def test_shifted_or_scaled_drawing_gives_nearly_the_same_input(sample):
    digit = sample.x_test[7]
    small_corner = preprocess(on_canvas(digit, 4, 5, 150))
    large_centre = preprocess(on_canvas(digit, 9, 20, 10))
    assert np.abs(small_corner - large_centre).mean() < 0.03
    naive_small, naive_large = preprocess(on_canvas(digit, 4, 5, 150), "naive"), preprocess(on_canvas(digit, 9, 20, 10), "naive")
    assert np.abs(naive_small - naive_large).mean() > 3 * np.abs(small_corner - large_centre).mean()


def test_real_mnist_digit_survives_the_round_trip(sample):
    errors = [np.abs(preprocess(on_canvas(d, 10, 0, 0)) - d / 255).mean() for d in sample.x_test[:100]]
    assert np.mean(errors) < 0.05


def test_empty_or_faint_canvas_gives_no_input():
    assert preprocess(np.zeros((280, 280), np.uint8)) is None
    assert preprocess(np.full((280, 280), 0.02, np.float32)) is None


def test_uint8_and_float_inputs_agree(sample):
    canvas = on_canvas(sample.x_test[3], 8, 10, 10)
    np.testing.assert_allclose(preprocess(canvas), preprocess(canvas / 255.0), atol=1e-5)


def test_naive_mode_scales_the_whole_canvas():
    canvas = np.zeros((280, 280), np.float32)
    canvas[:140, :140] = 1.0
    out = preprocess(canvas, "naive")
    assert out[:14, :14].min() == pytest.approx(1.0) and out[14:, :].max() == 0.0


def test_output_is_float32_in_unit_range(sample):
    out = preprocess(on_canvas(sample.x_test[0], 3, 100, 100))
    assert out.dtype == np.float32 and out.shape == (28, 28) and 0 <= out.min() and out.max() <= 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        preprocess(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="mode"):
        preprocess(np.zeros((28, 28)), "fancy")


def test_shipped_model_reads_drawn_looking_digits(sample):
    """The bar from the canvas issue: >= 90% on digits re-drawn at random size, place and pen width."""
    from mnistdesk.base import paths
    from mnistdesk.data.drawn import drawn_inputs
    from mnistdesk.net.engine import load_predictor

    predictor = load_predictor(paths.SHIPPED_MODEL_PATH)
    inputs = drawn_inputs(sample.x_test[::2], seed=1)
    assert (predictor.predict(inputs).argmax(1) == sample.y_test[::2]).mean() >= 0.90


def test_redrawn_digits_vary_in_size_and_place(sample):
    from mnistdesk.data.drawn import redraw

    rng = np.random.default_rng(0)
    boxes = [ink_box(redraw(sample.x_test[0], rng), 0.5) for _ in range(12)]
    heights = [height for height, _ in boxes]
    assert min(heights) < 0.45 * 280 and max(heights) > 0.7 * 280


def test_ink_too_faint_or_fine_to_measure_is_kept_as_it_is():
    """Two 1-px specks in a big image: too fine to measure a stroke width, never a crash."""
    from mnistdesk.ink.imagefile import ink_from_gray

    paper = np.ones((1000, 1000), np.float32)
    paper[100, 100] = paper[900, 900] = 0.0
    out = preprocess(ink_from_gray(paper))
    assert out is not None and out.max() > 0
