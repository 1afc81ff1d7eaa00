"""projector.atlas: the Embedding Atlas table, written to Parquet and read back with pyarrow."""

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.explain.neighbours import Neighbours
from fashion_mnist_vis.projector.atlas import atlas_command, atlas_coordinates, atlas_table, write_atlas_parquet

COUNT = 6


@pytest.fixture()
def points():
    rng = np.random.default_rng(0)
    return dict(
        images=rng.integers(0, 256, size=(COUNT, 28, 28), dtype=np.uint8),
        indices=np.array([3, 8, 15, 16, 23, 42]),
        labels=np.array([0, 1, 2, 9, 9, 5]),
        predictions=np.array([0, 1, 4, 9, 7, 5]),
        confidences=np.array([0.9, 0.5, 0.25, 1.0, 0.4, 0.75], dtype=np.float32),
        coordinates={"pca": rng.normal(size=(COUNT, 2)), "umap": rng.normal(size=(COUNT, 2))},
        neighbours=Neighbours(np.array([[1, 2], [0, 2], [1, 0], [4, 5], [3, 5], [4, 3]]),
                              np.array([[0.1, 0.2]] * COUNT, dtype=np.float32)),
    )


def test_parquet_reads_back_with_the_columns_types_and_values_given(points, tmp_path):
    path = tmp_path / "atlas.parquet"
    write_atlas_parquet(path, atlas_table(**points))
    table = pq.read_table(path)
    assert table.schema.names == ["index", "label", "prediction", "confidence", "correct",
                                  "pca_x", "pca_y", "umap_x", "umap_y", "image", "neighbors"]
    assert table.schema.field("index").type == pa.int64()
    assert table.schema.field("confidence").type == pa.float32()
    assert table.schema.field("correct").type == pa.bool_()
    assert table.schema.field("image").type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert table.schema.field("neighbors").type == pa.struct(
        [("ids", pa.list_(pa.int64())), ("distances", pa.list_(pa.float32()))])
    rows = table.to_pylist()
    assert [row["index"] for row in rows] == [3, 8, 15, 16, 23, 42]
    assert [row["label"] for row in rows] == [CLASS_NAMES[i] for i in points["labels"]]
    assert rows[2]["prediction"] == "Coat" and rows[2]["label"] == "Pullover"
    assert [row["correct"] for row in rows] == [True, True, False, True, False, True]
    np.testing.assert_array_equal(table["confidence"].to_numpy(), points["confidences"])
    for method in ("pca", "umap"):
        np.testing.assert_array_equal(table[f"{method}_x"].to_numpy(), points["coordinates"][method][:, 0].astype(np.float32))
        np.testing.assert_array_equal(table[f"{method}_y"].to_numpy(), points["coordinates"][method][:, 1].astype(np.float32))
    assert rows[3]["neighbors"] == {"ids": [4, 5], "distances": [pytest.approx(0.1), pytest.approx(0.2)]}
    for row, image in zip(rows, points["images"]):
        assert row["image"]["path"] == f"{row['index']}.png"
        with Image.open(io.BytesIO(row["image"]["bytes"])) as thumbnail:
            assert thumbnail.format == "PNG" and thumbnail.mode == "L"
            np.testing.assert_array_equal(np.asarray(thumbnail), image)


def test_without_neighbours_there_is_no_neighbours_column(points):
    points["neighbours"] = None
    assert "neighbors" not in atlas_table(**points).schema.names


def test_coordinates_must_cover_every_point(points):
    points["coordinates"]["tsne"] = np.zeros((COUNT - 1, 2))
    with pytest.raises(ValueError, match=r"tsne coordinates have shape \(5, 2\), expected \(6, 2\)"):
        atlas_table(**points)


def test_the_atlas_opens_on_umap_then_tsne_then_pca():
    assert atlas_coordinates(["pca", "tsne", "umap"]) == "umap"
    assert atlas_coordinates(["pca", "tsne"]) == "tsne"
    assert atlas_coordinates(["pca"]) == "pca"


def test_command_names_the_columns_and_quotes_the_path(tmp_path):
    assert atlas_command(tmp_path / "my export" / "atlas.parquet", "umap", True) == (
        f"embedding-atlas '{tmp_path}/my export/atlas.parquet' --x umap_x --y umap_y --image image "
        "--pagerank confidence --neighbors neighbors")
    assert atlas_command("atlas.parquet", "pca", False).endswith("--x pca_x --y pca_y --image image --pagerank confidence")
