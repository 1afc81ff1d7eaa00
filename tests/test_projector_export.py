"""projector_export: TSV text, metadata, the sprite grid, the two configs, stale-file clean-up."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from fashion_mnist_vis.visualize.embedding_plots import CLASS_COLOURS, class_colours_rgb
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.projector.config import TensorFiles, base_url, projector_config_json, projector_config_pbtxt
from fashion_mnist_vis.projector.export import format_metadata, format_pixel_tsv, format_tsv, metadata_header
from fashion_mnist_vis.projector.manifest import MANIFEST_JSON, OWN_FILES, finish_export
from fashion_mnist_vis.projector.sprite import TINT_LEVELS, SpriteSheet, sprite_layout, tint_palette

# -- tensors as TSV ------------------------------------------------------------


def test_tsv_numbers_are_compact_by_hand():
    rows = np.array([[0.5, -1.25e-7, 1 / 3], [1234567.0, 0.0, -2.0]], dtype=np.float32)
    assert format_tsv(rows) == "0.5\t-1.25e-07\t0.33333\n1.2346e+06\t0\t-2\n"


def test_tsv_round_trips_within_five_digits_and_never_writes_long_numbers():
    rows = (np.random.default_rng(0).normal(size=(50, 64)) * np.logspace(-4, 3, 64)).astype(np.float32)
    text = format_tsv(rows)
    lines = text.splitlines()
    assert len(lines) == 50 and all(len(line.split("\t")) == 64 for line in lines)
    assert max(len(value) for line in lines for value in line.split("\t")) <= 11  # e.g. -1.2346e-03
    parsed = np.array([[float(value) for value in line.split("\t")] for line in lines])
    np.testing.assert_allclose(parsed, rows, rtol=5e-5)


def test_pixel_tsv_is_the_model_inputs_formatted_like_any_tensor():
    images = np.random.default_rng(1).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    images[0, 0, :3] = (0, 255, 128)
    text = format_pixel_tsv(images)
    assert text == format_tsv(images.astype(np.float32) / np.float32(255.0))
    assert text.split("\n")[0].split("\t")[:3] == ["0", "1", "0.50196"]


# -- metadata --------------------------------------------------------------------


def test_metadata_header_and_rows_by_hand():
    assert metadata_header() == "index\tlabel\tpredicted\tscore\tcorrect\tentropy\n"
    probabilities = np.array(
        [
            [1.0] + [0.0] * 9,  # certain and right: entropy 0
            [0.1] * 10,  # uniform: entropy ln 10, argmax is the first class
            [0.0, 0.25, 0.75] + [0.0] * 7,  # entropy -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.5623
        ]
    )
    text = format_metadata(np.array([7, 42, 9999]), np.array([0, 9, 2]), probabilities)
    assert text.splitlines() == [
        "7\tT-shirt/top\tT-shirt/top\t1.0000\ttrue\t0.0000",
        "42\tAnkle boot\tT-shirt/top\t0.1000\tfalse\t2.3026",
        "9999\tPullover\tPullover\t0.7500\ttrue\t0.5623",
    ]


def test_metadata_fields_cannot_break_the_tsv():
    text = format_metadata(np.array([0]), np.array([0]), np.eye(2)[:1], class_names=["a\tb\nc", "d"])
    assert text == "0\ta b c\ta b c\t1.0000\ttrue\t0.0000\n"


# -- the sprite ------------------------------------------------------------------


@pytest.mark.parametrize(
    "count, per_row", [(1, 1), (2, 2), (4, 2), (5, 3), (9, 3), (10, 4), (200, 15), (10000, 100), (10001, 101)]
)
def test_sprite_grid_is_the_smallest_square_that_holds_every_thumbnail(count, per_row):
    layout = sprite_layout(count)
    assert layout.per_row == per_row == math.ceil(math.sqrt(count))
    assert layout.cell == 28 and layout.side == 28 * per_row


def test_full_test_set_sprite_is_2800_pixels():
    assert sprite_layout(10000).side == 2800


def test_full_training_set_sprite_keeps_28_pixel_thumbnails_within_8192_pixels():
    layout = sprite_layout(60000)  # 245 x 245 cells: 245 * 28 = 6860 <= 8192
    assert (layout.per_row, layout.cell, layout.side) == (245, 28, 6860)
    assert layout.origin(59999) == (219 * 28, 244 * 28)  # 59999 = 244 * 245 + 219


@pytest.mark.parametrize("count, per_row, cell", [(85264, 292, 28), (85265, 293, 27), (100000, 317, 25),
                                                  (1170 ** 2, 1170, 7)])
def test_more_points_than_fit_at_28_pixels_get_smaller_cells(count, per_row, cell):
    layout = sprite_layout(count)  # cell = 8192 // per_row, by hand: 8192 // 293 = 27, 8192 // 1170 = 7
    assert (layout.per_row, layout.cell) == (per_row, cell) and layout.side <= 8192


def test_sprite_places_thumbnails_row_major_hand_made():
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    for i in range(5):
        images[i, 3:25, 3:25] = 50 * (i + 1)  # thumbnail i: a square of grey level 50(i+1)
    layout = sprite_layout(5)  # 3 x 3 cells: rows [0 1 2], [3 4 _], [_ _ _]
    assert (layout.per_row, layout.origin(0), layout.origin(2), layout.origin(3), layout.origin(4)) == (
        3, (0, 0), (56, 0), (0, 28), (28, 28))
    sheet = SpriteSheet(layout, tint=False)
    sheet.add(0, images[:2], np.zeros(2, int))
    sheet.add(2, images[2:], np.zeros(3, int))  # batches may split anywhere
    grey = sheet.pixels
    assert grey.shape == (84, 84)
    for i in range(5):
        left, top = layout.origin(i)
        np.testing.assert_array_equal(grey[top : top + 28, left : left + 28], images[i])
    assert not grey[28:56, 56:].any() and not grey[56:].any()  # the four unused cells stay empty


def test_tinted_sprite_colours_each_thumbnail_by_class_on_transparent_background(tmp_path):
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[:, 10:20, 10:20] = 255
    images[:, 21, 10] = 1  # a faint pixel: darkest shade, still opaque
    sheet = SpriteSheet(sprite_layout(2), tint=True)
    sheet.add(0, images, np.array([3, 8]))
    sheet.save(tmp_path / "sprite.png")
    with Image.open(tmp_path / "sprite.png") as image:
        assert image.mode == "P" and image.size == (56, 56) and image.info["transparency"] == 0
        pixels = np.asarray(image.convert("RGBA"))
    colours = class_colours_rgb()
    assert CLASS_COLOURS[3] == "#d62728" and tuple(colours[3]) == (0xD6, 0x27, 0x28)
    np.testing.assert_array_equal(pixels[15, 15], [*colours[3], 255])  # full brightness: the class colour
    np.testing.assert_array_equal(pixels[15, 28 + 15], [*colours[8], 255])
    darkest = np.rint(colours[3] * (0.3 + 0.7 / (TINT_LEVELS - 1)))
    np.testing.assert_array_equal(pixels[21, 10], [*darkest, 255])
    assert pixels[0, 0, 3] == 0 and pixels[0, 28 + 0, 3] == 0  # background: transparent
    assert (pixels[28:, :, 3] == 0).all()  # empty row of cells


def test_tint_palette_by_hand():
    palette = tint_palette()
    assert palette.shape == (1 + 10 * TINT_LEVELS, 3) and palette.dtype == np.uint8
    assert palette[0].tolist() == [0, 0, 0]
    blue = class_colours_rgb()[0].astype(float)  # T-shirt/top: #1f77b4
    assert palette[1].tolist() == np.rint(0.3 * blue).tolist() == [9, 36, 54]
    assert palette[TINT_LEVELS].tolist() == blue.tolist()
    assert palette[-1].tolist() == class_colours_rgb()[9].tolist()


def test_plain_sprite_is_the_greyscale_inputs(tmp_path):
    images = np.arange(4 * 28 * 28, dtype=np.uint32).reshape(4, 28, 28).astype(np.uint8)
    sheet = SpriteSheet(sprite_layout(4), tint=False)
    sheet.add(0, images, np.arange(4))
    sheet.save(tmp_path / "sprite.png")
    with Image.open(tmp_path / "sprite.png") as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image)[28:, 28:], images[3])


def test_sprite_shrinks_thumbnails_to_stay_within_the_limit():
    assert sprite_layout(100000).cell == 25 and sprite_layout(100000).side <= 8192  # 317 per row
    layout = sprite_layout(50, max_side=100)  # 8 per row: 100 // 8 = 12-pixel cells
    assert (layout.per_row, layout.cell, layout.side) == (8, 12, 96)
    images = np.full((50, 28, 28), 200, dtype=np.uint8)
    sheet = SpriteSheet(layout, tint=False)
    sheet.add(0, images, np.zeros(50, int))
    assert sheet.pixels.shape == (96, 96)
    assert abs(int(sheet.pixels[0:12, 0:12].mean()) - 200) <= 1 and sheet.pixels[-12:, 2 * 12 :].max() == 0


def test_sprite_refuses_when_even_small_thumbnails_do_not_fit():
    with pytest.raises(UserError, match=r"8192x8192.*at most 1368900 points$"):
        sprite_layout(1368901)
    assert sprite_layout(1368900).cell == 7
    with pytest.raises(UserError, match="at most 4 points"):
        sprite_layout(5, max_side=20, min_cell=10)


# -- the configs -----------------------------------------------------------------


TENSORS = [
    TensorFiles("gap (64-d)", (200, 64), tsv="embeddings.tsv", bytes="embeddings.bytes"),
    TensorFiles("raw pixels (784-d)", (200, 784), tsv=None, bytes="pixels.bytes"),
]


def test_config_json_names_absolute_urls_and_prefers_bytes():
    config = projector_config_json(TENSORS, base_url("localhost", 8000), 28)
    first, second = config["embeddings"]
    assert first == {
        "tensorName": "gap (64-d)",
        "tensorShape": [200, 64],
        "tensorPath": "http://localhost:8000/embeddings.bytes",
        "metadataPath": "http://localhost:8000/metadata.tsv",
        "sprite": {"imagePath": "http://localhost:8000/sprite.png", "singleImageDim": [28, 28]},
    }
    assert second["tensorPath"] == "http://localhost:8000/pixels.bytes" and second["tensorShape"] == [200, 784]
    tsv_only = projector_config_json([TensorFiles("t", (3, 2), tsv="embeddings.tsv")], "https://example.org/x", 12)
    assert tsv_only["embeddings"][0]["tensorPath"] == "https://example.org/x/embeddings.tsv"
    assert tsv_only["embeddings"][0]["sprite"]["singleImageDim"] == [12, 12]
    json.dumps(config)  # serialisable


def test_base_url_brackets_ipv6():
    assert base_url("127.0.0.1", 9000) == "http://127.0.0.1:9000/"
    assert base_url("::1", 8000) == "http://[::1]:8000/"


def test_pbtxt_is_a_valid_projector_config_with_relative_paths():
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = text_format.Parse(projector_config_pbtxt(TENSORS, 25), ProjectorConfig())
    (embedding,) = config.embeddings  # the bytes-only tensor is left out: TensorBoard reads TSV
    assert embedding.tensor_name == "gap (64-d)" and embedding.tensor_path == "embeddings.tsv"
    assert list(embedding.tensor_shape) == [200, 64] and embedding.metadata_path == "metadata.tsv"
    assert embedding.sprite.image_path == "sprite.png" and list(embedding.sprite.single_image_dim) == [25, 25]


# -- re-running ------------------------------------------------------------------


def test_finish_export_removes_only_stale_files_of_its_own(tmp_path):
    for name in ("tsne.png", "tsne.csv", "pca.png", "notes.txt", "serve_assets.py", "README.md"):
        (tmp_path / name).write_text(name)
    (tmp_path / MANIFEST_JSON).write_text(json.dumps({"files": ["tsne.png", "tsne.csv", "pca.png",
                                                                "notes.txt", "../outside.txt", "serve_assets.py"]}))
    (tmp_path.parent / "outside.txt").write_text("keep")
    removed = finish_export(tmp_path, ["pca.png"], {"points": 3})
    assert removed == ["tsne.csv", "tsne.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", MANIFEST_JSON, "notes.txt", "pca.png",
                                                         "serve_assets.py"]
    assert (tmp_path.parent / "outside.txt").read_text() == "keep"
    manifest = json.loads((tmp_path / MANIFEST_JSON).read_text())
    assert manifest == {"points": 3, "files": [MANIFEST_JSON, "pca.png"]}
    assert "notes.txt" not in OWN_FILES and "serve_assets.py" not in OWN_FILES


def test_finish_export_ignores_a_damaged_manifest(tmp_path):
    (tmp_path / MANIFEST_JSON).write_text("{not json")
    (tmp_path / "tsne.png").write_text("user's own")
    assert finish_export(tmp_path, ["pca.png"], {}) == []
    assert (tmp_path / "tsne.png").read_text() == "user's own"
