"""Image files for ``classify`` and the canvas: polarity detection and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mnistdesk.ink.imagefile import ImageFileError, ink_from_gray, load_ink


@pytest.fixture
def digit(sample):
    return np.kron(sample.x_test[0], np.ones((4, 4), np.uint8))


def test_dark_on_light_and_light_on_dark_read_the_same(tmp_path, digit):
    Image.fromarray(digit).save(tmp_path / "light_ink.png")
    Image.fromarray(255 - digit).save(tmp_path / "dark_ink.bmp")
    light, dark = load_ink(tmp_path / "light_ink.png"), load_ink(tmp_path / "dark_ink.bmp")
    np.testing.assert_allclose(light, digit / 255, atol=1e-6)
    np.testing.assert_allclose(dark, light, atol=1e-6)


def test_grey_paper_is_levelled_to_zero(tmp_path, digit):
    photo = (200 - digit.astype(np.int32) * 150 // 255).astype(np.uint8)  # grey paper, dark-grey ink
    Image.fromarray(photo).convert("RGB").save(tmp_path / "photo.jpg", quality=95)
    ink = load_ink(tmp_path / "photo.jpg")
    assert np.median(ink) < 0.05 and ink.max() > 0.9


def test_transparent_background_counts_as_paper(tmp_path, digit):
    rgba = np.zeros((*digit.shape, 4), np.uint8)
    rgba[..., 3] = digit  # black ink whose opacity is the stroke
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    np.testing.assert_allclose(load_ink(tmp_path / "transparent.png"), digit / 255, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), (b"", "empty"), (b"\x89PNG\r\n\x1a\n garbage", "not an image")],
)
def test_bad_files_get_a_clear_error(tmp_path, content, message):
    path = tmp_path / "drawing.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageFileError, match=message):
        load_ink(path)


def test_truncated_png_is_an_error(tmp_path, digit):
    Image.fromarray(digit).save(tmp_path / "whole.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "whole.png").read_bytes()[:200])
    with pytest.raises(ImageFileError, match="cut.png"):
        load_ink(tmp_path / "cut.png")


def whole_image_gray(image: Image.Image) -> np.ndarray:
    """Grey levels as the whole image converted at once, then shrunk to at most 1024 pixels."""
    if image.mode == "RGBA":
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("L")
    elif image.mode in ("F", "I;16"):
        values = np.asarray(image).astype(np.float32)
        image = Image.fromarray(values / np.float32(65535 if image.mode == "I;16" else values.max()))
    image.thumbnail((1024, 1024), Image.Resampling.BOX)
    return np.asarray(image, np.float32) if image.mode == "F" else np.asarray(image) / np.float32(255)


@pytest.mark.parametrize("size", [(2500, 1700), (4500, 700)])
@pytest.mark.parametrize("mode", ["F", "I;16", "RGBA"])
def test_a_big_image_reads_as_if_converted_whole(tmp_path, digit, size, mode):
    """Big images are converted a tile at a time (a 6300×6300 float image took 1.8 GB whole);
    the ink is the same, to the last bit, as converting the whole image and shrinking it."""
    ink = np.asarray(Image.fromarray(digit).resize(size, Image.Resampling.BILINEAR))
    if mode == "F":
        image = Image.fromarray((255 - ink).astype(np.float32) * 4)  # paper at 1020: scaled by its range
    elif mode == "I;16":
        image = Image.fromarray((255 - ink).astype(np.uint16) * 257)
    else:
        image = Image.fromarray(np.dstack([np.zeros((*ink.shape, 3), np.uint8), ink]), "RGBA")
    image.save(tmp_path / "big.tif")
    expected = ink_from_gray(whole_image_gray(Image.open(tmp_path / "big.tif")))
    np.testing.assert_array_equal(load_ink(tmp_path / "big.tif"), expected)
