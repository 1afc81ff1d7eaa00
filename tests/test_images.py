"""Tests for fashion_mnist_vis.data.images: every test image is generated here with Pillow."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

from fashion_mnist_vis.data import images
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.images import MAX_PIXELS, collect_image_paths, load_image, to_rgb


def _two_tone(size=(40, 30)):
    """Left half dark red, right half light blue: easy to check colour and orientation."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((150, 200, 250), (size[0] // 2, 0, size[0], size[1]))
    return image


def _assert_one_line_error(error_info, path):
    message = str(error_info.value)
    assert str(path) in message
    assert "\n" not in message


def _png_header_only(width, height):
    """A PNG whose header claims width x height; the pixel data is a tiny stub."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


FORMATS = [
    ("JPEG", ".jpg", {"quality": 95}),
    ("PNG", ".png", {}),
    ("GIF", ".gif", {}),
    ("BMP", ".bmp", {}),
    ("TIFF", ".tiff", {}),
    ("PPM", ".ppm", {}),
    pytest.param(
        "WEBP", ".webp", {"lossless": True},
        marks=pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP"),
    ),
]


@pytest.mark.parametrize("fmt, suffix, options", FORMATS)
def test_formats_load_as_rgb(tmp_path, fmt, suffix, options):
    path = tmp_path / f"two tone{suffix}"
    _two_tone().save(path, fmt, **options)
    image = load_image(path)
    assert image.mode == "RGB"
    assert image.size == (40, 30)
    left = np.asarray(image)[:, :15].reshape(-1, 3).mean(axis=0)
    right = np.asarray(image)[:, 25:].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(left, (200, 30, 30), atol=12)
    np.testing.assert_allclose(right, (150, 200, 250), atol=12)


def test_greyscale_jpeg(tmp_path):
    path = tmp_path / "grey.jpg"
    Image.new("L", (16, 16), 77).save(path)
    image = load_image(path)
    assert image.mode == "RGB"
    assert np.abs(np.asarray(image).astype(int) - 77).max() <= 2


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # pure red
    assert Image.open(path).mode == "CMYK"
    image = load_image(path)
    assert image.mode == "RGB"
    np.testing.assert_allclose(np.asarray(image)[16, 16], (255, 0, 0), atol=8)


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    values = np.array([[0, 257 * 10, 30000, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(path)
    assert Image.open(path).mode in ("I;16", "I")
    grey = np.asarray(load_image(path))[0, :, 0]
    np.testing.assert_array_equal(grey, [0, 10, 117, 128, 255])


def test_32_bit_integer_image_in_16_bit_range(tmp_path):
    path = tmp_path / "deep.tiff"
    Image.fromarray(np.array([[0, 65535, 257 * 100]], dtype=np.int32)).save(path)
    assert Image.open(path).mode == "I"
    np.testing.assert_array_equal(np.asarray(load_image(path))[0, :, 0], [0, 255, 100])


def test_palette_png_with_transparency_on_white(tmp_path):
    path = tmp_path / "palette.png"
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.paste(1, (0, 0, 5, 10))  # left half red, right half index 0 = transparent black
    image.save(path, transparency=0)
    loaded = np.asarray(load_image(path))
    np.testing.assert_array_equal(loaded[5, 2], (255, 0, 0))
    np.testing.assert_array_equal(loaded[5, 8], (255, 255, 255))


def test_rgba_composited_on_white(tmp_path):
    path = tmp_path / "cutout.png"
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.paste((255, 0, 0, 128), (0, 0, 5, 10))
    image.save(path)
    loaded = np.asarray(load_image(path)).astype(int)
    np.testing.assert_allclose(loaded[5, 2], (255, 127, 127), atol=1)
    np.testing.assert_array_equal(loaded[5, 8], (255, 255, 255))


def test_la_png_composited_on_white(tmp_path):
    path = tmp_path / "la.png"
    image = Image.new("LA", (4, 4), (0, 0))  # fully transparent black
    image.putpixel((0, 0), (0, 255))  # one opaque black pixel
    image.save(path)
    loaded = np.asarray(load_image(path))
    assert loaded[0, 0].tolist() == [0, 0, 0]
    assert loaded[3, 3].tolist() == [255, 255, 255]


def test_animated_gif_gives_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (12, 12), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3
    np.testing.assert_allclose(np.asarray(load_image(path))[6, 6], (255, 0, 0), atol=2)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored = Image.new("L", (40, 20), 255)
    stored.paste(0, (0, 0, 20, 20))  # the stored left half is black
    stored.convert("RGB").save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.size == (20, 40)  # width and height swapped
    grey = np.asarray(image.convert("L")).astype(int)
    # Turned clockwise, the stored left half ends up on top.
    assert grey[:18].mean() < 20
    assert grey[22:].mean() > 235


def test_one_by_one_png(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (1, 2, 3)).save(path)
    image = load_image(path)
    assert image.size == (1, 1)
    assert image.getpixel((0, 0)) == (1, 2, 3)


def test_spaces_and_non_ascii_in_path(tmp_path):
    folder = tmp_path / "my photos ünïcødé"
    folder.mkdir()
    path = folder / "sac à main 黑色.png"
    _two_tone().save(path)
    assert load_image(path).size == (40, 30)
    assert collect_image_paths([str(folder)]) == [path]


def test_returned_image_is_detached_from_file(tmp_path):
    path = tmp_path / "gone.png"
    _two_tone().save(path)
    image = load_image(path)
    path.unlink()
    assert image.getpixel((0, 0)) == (200, 30, 30)


def test_to_rgb_does_not_modify_input():
    rgba = Image.new("RGBA", (3, 3), (10, 20, 30, 0))
    out = to_rgb(rgba)
    assert out.mode == "RGB" and rgba.mode == "RGBA"
    assert out is not rgba


# ---------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(UserError, match="does not exist") as error:
        load_image(path)
    _assert_one_line_error(error, path)


def test_folder(tmp_path):
    with pytest.raises(UserError, match="is a folder") as error:
        load_image(tmp_path)
    _assert_one_line_error(error, tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="empty") as error:
        load_image(path)
    _assert_one_line_error(error, path)


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n")
    with pytest.raises(UserError, match="not an image") as error:
        load_image(path)
    _assert_one_line_error(error, path)


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated_file(tmp_path, fmt, suffix):
    path = tmp_path / f"cut{suffix}"
    noise = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated") as error:
        load_image(path)
    _assert_one_line_error(error, path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    _two_tone().save(path)
    path.chmod(0)
    try:
        with pytest.raises(UserError, match="permission denied") as error:
            load_image(path)
        _assert_one_line_error(error, path)
    finally:
        path.chmod(0o644)


def test_permission_error_while_opening(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    _two_tone().save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images.Image, "open", refuse)
    with pytest.raises(UserError, match="permission denied") as error:
        load_image(path)
    _assert_one_line_error(error, path)


@pytest.mark.parametrize(
    "width, height",
    [
        (20000, 20000),  # over twice Pillow's limit: Pillow's DecompressionBombError
        (10000, 10000),  # over Pillow's limit: its DecompressionBombWarning
        (8000, 6000),  # under Pillow's limit, over ours
    ],
)
def test_decompression_bomb_is_refused_without_decoding(tmp_path, width, height):
    assert width * height > MAX_PIXELS
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    with pytest.raises(UserError, match="megapixel") as error:
        load_image(path)
    _assert_one_line_error(error, path)
    assert f"{width}x{height}" in str(error.value)


def test_real_bomb_made_by_pillow(tmp_path):
    # A genuine 20000 x 20000 one-bit image: about 50 KB on disk, 400 megapixels.
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path, optimize=False)
    assert path.stat().st_size < 200_000
    with pytest.raises(UserError, match="megapixel"):
        load_image(path)


@pytest.mark.parametrize("width, height", [(0, 10), (10, 0)])
def test_zero_size_image(tmp_path, width, height):
    path = tmp_path / "flat.png"
    path.write_bytes(_png_header_only(width, height))
    with pytest.raises(UserError, match="zero size") as error:
        load_image(path)
    _assert_one_line_error(error, path)


# -------------------------------------------------------------- collecting


def _touch_image(path):
    Image.new("RGB", (2, 2)).save(path, Image.registered_extensions()[path.suffix.lower()])
    return path


def test_collect_expands_folders_sorted_non_recursive(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = [
        _touch_image(folder / "A.JPG"),
        _touch_image(folder / "b.png"),
        _touch_image(folder / "c.WebP") if features.check("webp") else None,
        _touch_image(folder / "d.tif"),
    ]
    expected = [path for path in expected if path is not None]
    (folder / "notes.txt").write_text("no")
    _touch_image(folder / ".hidden.png")
    (folder / "sub").mkdir()
    _touch_image(folder / "sub" / "deeper.png")
    (folder / "folder.png").mkdir()  # a folder with an image name is not a file
    assert collect_image_paths([folder]) == expected


def test_collect_keeps_files_as_given_and_input_order(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    inside = _touch_image(folder / "x.png")
    odd = tmp_path / "photo.data"
    odd.write_bytes(b"whatever")  # files named explicitly are kept; load_image judges them
    first = _touch_image(tmp_path / "z.jpg")
    assert collect_image_paths([str(first), str(folder), str(odd)]) == [first, inside, odd]


def test_collect_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing to see")
    with pytest.raises(UserError, match="no image files") as error:
        collect_image_paths([tmp_path])
    _assert_one_line_error(error, tmp_path)


def test_collect_missing_path(tmp_path):
    path = tmp_path / "missing.jpg"
    with pytest.raises(UserError, match="no such file") as error:
        collect_image_paths([str(path)])
    _assert_one_line_error(error, path)


def test_collect_nothing_given():
    with pytest.raises(UserError):
        collect_image_paths([])


def test_collect_returns_paths(tmp_path):
    path = _touch_image(tmp_path / "a.png")
    result = collect_image_paths([str(path)])
    assert result == [path] and isinstance(result[0], Path)
