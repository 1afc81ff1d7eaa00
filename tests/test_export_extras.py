"""tensorboard_visualise.py beyond the Projector: UMAP, neighbors.csv, atlas.parquet, --split train,
and the real ``embedding-atlas`` command serving the Parquet file to headless Chromium."""

import contextlib
import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import free_port, stop_process
from fashion_mnist_vis.classes import CLASS_NAMES
from test_tensorboard_visualise import _run, read_metadata
from test_tensorboard_visualise import tiny_gap_model  # noqa: F401 (a module-scoped fixture, shared)
from webdriver import CHROMEDRIVER, CHROMIUM, headless_chromium

NUM = 300
TEST_SIZE = 1000
K = 5
EMBEDDING_ATLAS = shutil.which("embedding-atlas") or (
    os.path.join(os.path.dirname(sys.executable), "embedding-atlas")
    if os.path.exists(os.path.join(os.path.dirname(sys.executable), "embedding-atlas")) else None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_gap_model):  # noqa: F811
    """300 synthetic test points exported with UMAP and 5 neighbours each."""
    folder = tmp_path_factory.mktemp("extras") / "export"
    code, out, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", TEST_SIZE,
                           "--num", NUM, "--output", folder, "--umap", "--neighbours", K, "--format", "bytes"])
    return SimpleNamespace(folder=folder, code=code, out=out, err=err)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


@pytest.mark.slow
def test_umap_map_is_written_for_every_point_and_is_not_degenerate(exported):
    assert exported.code == 0, exported.err
    assert "UMAP of 300 points..." in exported.out
    header, rows = read_csv(exported.folder / "umap.csv")
    assert header == ["index", "label", "class", "UMAP 1", "UMAP 2"] and len(rows) == NUM
    coords = np.array([[float(row[3]), float(row[4])] for row in rows])
    labels = np.array([int(row[1]) for row in rows])
    assert np.isfinite(coords).all() and (coords.std(axis=0) > 0.5).all()
    assert len(np.unique(coords.round(3), axis=0)) > 0.95 * NUM  # points are not piled on each other
    # UMAP keeps neighbours together: a point's nearest point on the map shares its class about as often
    # as its nearest point in the embedding space does (0.67 for this tiny model; chance is 0.1).
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    embeddings = np.fromfile(exported.folder / "embeddings.bytes", dtype="<f4").reshape(NUM, -1)
    units = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosines = units @ units.T
    np.fill_diagonal(cosines, -np.inf)
    in_embedding_space = (labels[cosines.argmax(axis=1)] == labels).mean()
    assert in_embedding_space > 0.4
    assert (labels[distances.argmin(axis=1)] == labels).mean() > 0.75 * in_embedding_space
    with Image.open(exported.folder / "umap.png") as image:
        assert image.width > 500 and image.height > 400
        assert np.asarray(image.convert("L")).std() > 10, "umap.png looks blank"
    manifest = json.loads((exported.folder / "export.json").read_text())
    assert manifest["umap"]["points"] == NUM and manifest["umap"]["neighbours"] == 15
    assert manifest["atlas"]["coordinates"] == "umap"


@pytest.mark.slow
def test_neighbours_csv_agrees_with_a_brute_force_search_of_the_exported_embeddings(exported):
    embeddings = np.fromfile(exported.folder / "embeddings.bytes", dtype="<f4").reshape(NUM, -1)
    _, metadata = read_metadata((exported.folder / "metadata.tsv").read_text())
    header, rows = read_csv(exported.folder / "neighbors.csv")
    assert header == ["index", "class", "predicted", "rank", "neighbour_index", "neighbour_class", "cosine_distance"]
    assert len(rows) == NUM * K
    position = {int(row[0]): i for i, row in enumerate(metadata)}  # test-set index -> row of the export
    units = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    distances = 1 - units.astype(np.float64) @ units.T.astype(np.float64)
    np.fill_diagonal(distances, np.inf)
    expected = np.argsort(distances, axis=1, kind="stable")[:, :K]
    found = np.array([position[int(row[4])] for row in rows]).reshape(NUM, K)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(np.array([float(row[6]) for row in rows]).reshape(NUM, K),
                               np.take_along_axis(distances, expected, axis=1), atol=6e-5)
    for row in rows[:K]:
        assert row[1] == metadata[0][1] and row[2] == metadata[0][2]  # the point's class and prediction
        assert row[5] == metadata[position[int(row[4])]][1]


@pytest.mark.slow
def test_atlas_parquet_holds_the_metadata_coordinates_thumbnails_and_neighbours(exported):
    table = pq.read_table(exported.folder / "atlas.parquet")
    _, metadata = read_metadata((exported.folder / "metadata.tsv").read_text())
    assert table.num_rows == NUM
    assert table.schema.names == ["index", "label", "prediction", "confidence", "correct",
                                  "pca_x", "pca_y", "umap_x", "umap_y", "image", "neighbors"]
    assert table["index"].to_pylist() == [int(row[0]) for row in metadata]
    assert table["label"].to_pylist() == [row[1] for row in metadata]
    assert table["prediction"].to_pylist() == [row[2] for row in metadata]
    np.testing.assert_allclose(table["confidence"].to_numpy(), [float(row[3]) for row in metadata], atol=5e-5)
    assert table["correct"].to_pylist() == [row[4] == "true" for row in metadata]
    _, umap_rows = read_csv(exported.folder / "umap.csv")
    np.testing.assert_allclose(table["umap_x"].to_numpy(), [float(row[3]) for row in umap_rows], rtol=1e-4)
    _, neighbour_rows = read_csv(exported.folder / "neighbors.csv")
    first = table["neighbors"][0].as_py()
    assert [int(table["index"][i].as_py()) for i in first["ids"]] == [int(row[4]) for row in neighbour_rows[:K]]
    from fashion_mnist_vis.data.synthetic import load_synthetic

    _, (images, _) = load_synthetic(10, TEST_SIZE, 42)
    for row in table.slice(0, 5).to_pylist():
        with Image.open(io.BytesIO(row["image"]["bytes"])) as thumbnail:
            np.testing.assert_array_equal(np.asarray(thumbnail), images[row["index"]])


def test_split_train_exports_training_images_with_pca_coordinates_in_the_atlas(tiny_gap_model, tmp_path):  # noqa: F811
    from fashion_mnist_vis.data.synthetic import load_synthetic

    code, out, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--split", "train",
                           "--train-size", 400, "--num", 120, "--output", tmp_path, "--format", "bytes"])
    assert code == 0, err
    assert "exporting 120 images of the synthetic training set (seed 42)" in out
    (train_images, train_labels), _ = load_synthetic(400, 10000, 42)
    _, metadata = read_metadata((tmp_path / "metadata.tsv").read_text())
    indices = [int(row[0]) for row in metadata]
    assert [row[1] for row in metadata] == [CLASS_NAMES[train_labels[i]] for i in indices]
    table = pq.read_table(tmp_path / "atlas.parquet")
    assert "umap_x" not in table.schema.names and "pca_x" in table.schema.names
    with Image.open(io.BytesIO(table["image"][7].as_py()["bytes"])) as thumbnail:
        np.testing.assert_array_equal(np.asarray(thumbnail), train_images[indices[7]])
    manifest = json.loads((tmp_path / "export.json").read_text())
    assert manifest["split"] == "train" and manifest["neighbours"]["k"] == 10
    assert manifest["atlas"]["command"].endswith("--x pca_x --y pca_y --image image --pagerank confidence "
                                                 "--neighbors neighbors")
    assert "Atlas:   embedding-atlas" in out and "PCA coordinates; --umap for UMAP's" in out


def test_the_atlas_hint_after_a_umap_of_a_sample_does_not_suggest_umap_again(tmp_path, capsys):
    from fashion_mnist_vis.commands.export_maps import Extras
    from fashion_mnist_vis.commands.tensorboard_visualise import print_summary

    result = SimpleNamespace(source=SimpleNamespace(dims=64, layer_name="gap"), accuracy=0.9)
    extras = Extras(atlas_coordinates="pca", atlas_command="embedding-atlas a.parquet")
    for umap, umap_points, hint in ((None, None, "; --umap for UMAP's)"),
                                    (None, 100, "; --umap without --umap-points for UMAP's)")):
        args = SimpleNamespace(raw=False, port=8000, base_url=None, umap=umap, umap_points=umap_points)
        print_summary(args, result, tmp_path, "http://localhost:8000/", 200, [], extras, 1.0)
        assert capsys.readouterr().out.splitlines()[-1].endswith(f"PCA coordinates{hint}")


def test_the_printed_server_command_works_from_any_folder(tmp_path, capsys, monkeypatch):
    from fashion_mnist_vis.commands.export_maps import Extras
    from fashion_mnist_vis.commands.tensorboard_visualise import print_summary

    result = SimpleNamespace(source=SimpleNamespace(dims=64, layer_name="gap"), accuracy=0.9)
    args = SimpleNamespace(raw=False, port=8000, base_url=None, umap=None, umap_points=None)
    repo = Path(__file__).resolve().parents[1]
    anywhere = f"python {repo / 'tensorboard_assets' / 'serve_assets.py'} --directory assets"
    from_root = "python tensorboard_assets/serve_assets.py --directory assets"
    for folder, expected in ((repo, from_root), (tmp_path, anywhere)):
        monkeypatch.chdir(folder)
        print_summary(args, result, Path("assets"), "http://localhost:8000/", 20, [], Extras(), 1.0)
        online = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Online:"))
        assert online == f"Online:  {expected}"  # from tmp_path, tensorboard_assets/serve_assets.py is not there


def test_no_atlas_and_no_neighbours_write_neither(tiny_gap_model, tmp_path):  # noqa: F811
    code, _, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", 200,
                         "--num", 50, "--output", tmp_path, "--neighbours", 0, "--no-atlas"])
    assert code == 0, err
    names = {path.name for path in tmp_path.iterdir()}
    assert not names & {"neighbors.csv", "atlas.parquet"}


@pytest.mark.parametrize("flags, message", [
    (["--neighbours", "50"], "--neighbours 50 needs more than 50 exported points; 50 were chosen"),
    (["--neighbours", "-1"], "argument --neighbours/--neighbors: -1 must be at least 0"),
    (["--split", "validation"], "invalid choice: 'validation'"),
    (["--umap-neighbours", "1"], "1 must be at least 2"),
])
def test_bad_flags_give_one_line_and_exit_2(tiny_gap_model, tmp_path, flags, message):  # noqa: F811
    code, out, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", 200,
                           "--num", 50, "--output", tmp_path, *flags])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "atlas.parquet").exists()


# -- the real embedding-atlas, in headless Chromium ---------------------------------------


@contextlib.contextmanager
def embedding_atlas(command, log_path, timeout=180):
    """Run the export's ``embedding-atlas`` command on a free port (offline) until it answers; yield its URL."""
    port = free_port()
    argv = [EMBEDDING_ATLAS, *shlex.split(command)[1:], "--host", "127.0.0.1", "--port", str(port), "--no-auto-port"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "*"}
    with open(log_path, "w") as log:
        server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"embedding-atlas did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(1)
            yield url
        finally:
            stop_process(server, group=True)


@pytest.mark.slow
@pytest.mark.skipif(EMBEDDING_ATLAS is None, reason="embedding-atlas is not installed (see .ci/run)")
@pytest.mark.skipif(CHROMEDRIVER is None or CHROMIUM is None, reason="needs chromium and chromedriver")
def test_embedding_atlas_opens_the_parquet_and_its_page_shows_the_points(exported, tmp_path):
    """The printed command, run for real: the page loads all 300 points, their classes and thumbnails.

    The scatter plot itself needs WebGPU with 16-bit floats (shader-f16), which
    headless Chromium's software renderer lacks; the page says so in place of
    the plot, and everything else it shows is read from our file.
    """
    command = json.loads((exported.folder / "export.json").read_text())["atlas"]["command"]
    table = pq.read_table(exported.folder / "atlas.parquet")
    ours = {row["image"]["bytes"] for row in table.select(["image"]).to_pylist()}
    counts = {name: table["label"].to_pylist().count(name) for name in CLASS_NAMES}
    with embedding_atlas(command, tmp_path / "embedding_atlas.log") as url:
        with urllib.request.urlopen(url + "data/metadata.json", timeout=30) as response:
            props = json.loads(response.read())["props"]["data"]
        assert props["projection"] == {"x": "umap_x", "y": "umap_y"}
        assert (props["image"], props["neighbors"], props["importance"]) == ("image", "neighbors", "confidence")
        with headless_chromium(tmp_path) as browser:
            browser.open(url)
            browser.wait_for(f"return document.body.innerText.includes('{NUM} / {NUM} points')")
            thumbnails = browser.wait_for(
                "const shown = [...document.querySelectorAll('img')].filter(i => i.src.startsWith('data:image/png')"
                " && i.complete && i.naturalWidth === 28);"
                "return shown.length >= 5 ? shown.map(i => i.src) : null")
            text = browser.run("return document.body.innerText")
            browser.screenshot(tmp_path / "embedding_atlas.png")
    assert "Initializing" not in text
    for name, count in counts.items():
        assert f"{name}\n{count}" in text, f"the label chart does not show {name}: {count}"
    import base64

    assert all(base64.b64decode(src.split(",", 1)[1]) in ours for src in thumbnails)
