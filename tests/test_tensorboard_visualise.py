"""tensorboard_visualise.py end to end, and its files read by the real clients.

(a) the CORS server (fashion_mnist_vis.serve) and a plain HTTP client read
    config.json and every file it names;
(b) the real TensorBoard (a subprocess) serves the offline folder through its
    projector plugin's HTTP API;
(c) headless Chromium shows the points, coloured by class, in TensorBoard's
    Projector tab and in the standalone Projector app (the one at
    projector.tensorflow.org, which TensorBoard's plugin bundles) reading
    config.json cross-origin from the CORS server.
"""

import contextlib
import functools
import http.server
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from conftest import free_port, stop_process
from fashion_mnist_vis.projector import server as projector_server
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.commands.tensorboard_visualise import main

REPO = Path(__file__).resolve().parents[1]
NUM = 200
TEST_SIZE = 1000  # --test-size: the synthetic test set generated (of which NUM are exported)
TSNE_POINTS = 100
FOREIGN = {"serve_assets.py": "# another engineer's launcher\n", "README.md": "# not ours\n", "notes.txt": "mine\n"}
EXPORT_FILES = {"config.json", "projector_config.pbtxt", "metadata.tsv", "sprite.png", "export.json",
                "embeddings.bytes", "embeddings.tsv", "pixels.bytes", "pixels.tsv",
                "pca.png", "pca.csv", "tsne.png", "tsne.csv", "neighbors.csv", "atlas.parquet"}
CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if path and Path(path).exists()), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


# -- fixtures ----------------------------------------------------------------------


def _synthetic_test_set():
    """The images and labels that --dataset synthetic --test-size 1000 --seed 42 exports from."""
    from fashion_mnist_vis.data.synthetic import load_synthetic

    _, (images, labels) = load_synthetic(10, TEST_SIZE, 42)
    return images, labels


@pytest.fixture(scope="module")
def tiny_gap_model(tmp_path_factory):
    """A 1,418-weight CNN ending in GAP -> Dense, trained for a few seconds on synthetic data."""
    import keras
    from keras import layers

    from fashion_mnist_vis.models.model_io import save_model_atomic
    from fashion_mnist_vis.data.pipeline import to_model_input
    from fashion_mnist_vis.data.synthetic import generate_synthetic

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="input"),
            layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2d"),
            layers.Conv2D(16, 3, activation="relu", name="conv2d_1"),
            layers.GlobalAveragePooling2D(name="global_average_pooling2d"),
            layers.Dense(10, activation="softmax", name="dense"),
        ],
        name="tiny_gap",
    )
    images, labels = generate_synthetic(3000, seed=5)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(to_model_input(images), labels, epochs=3, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("model") / "tiny_gap.keras"
    save_model_atomic(model, path)
    return path


def _start(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def _stop(server):
    server.shutdown()
    server.server_close()


def _run(argv):
    """main(argv) with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_gap_model):
    """One export of 200 points (with --raw) into a folder that already holds other people's files,
    served by the CORS server whose port config.json names."""
    folder = tmp_path_factory.mktemp("export") / "tensorboard_assets"
    folder.mkdir()
    for name, text in FOREIGN.items():
        (folder / name).write_text(text)
    server = _start(projector_server.make_server(folder, "127.0.0.1", 0, quiet=True))
    started = time.perf_counter()
    code, out, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", TEST_SIZE,
                           "--num", NUM, "--output", folder, "--host", "127.0.0.1", "--port", server.server_port,
                           "--raw", "--tsne-points", TSNE_POINTS, "--batch-size", 64])
    seconds = time.perf_counter() - started
    yield SimpleNamespace(folder=folder, port=server.server_port, code=code, out=out, err=err,
                          seconds=seconds, model=tiny_gap_model)
    _stop(server)


def fetch(url, origin="https://projector.tensorflow.org"):
    """GET ``url`` as the Projector page would: (status, headers, body)."""
    request = urllib.request.Request(url, headers={"Origin": origin})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, response.read()


def read_metadata(text):
    lines = text.rstrip("\n").split("\n")
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def sprite_cells_used(png_bytes, cell):
    """Indices of the sprite's cells that hold a thumbnail (any opaque pixel), row-major."""
    with Image.open(io.BytesIO(png_bytes)) as image:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    per_row = alpha.shape[1] // cell
    used = alpha.reshape(per_row, cell, per_row, cell).max(axis=(1, 3)) > 0
    return np.flatnonzero(used.ravel()), per_row


# -- the export itself ----------------------------------------------------------


def test_export_writes_its_files_and_a_summary_and_leaves_others_alone(exported):
    assert exported.code == 0, exported.err
    names = {path.name for path in exported.folder.iterdir()}
    assert names == EXPORT_FILES | set(FOREIGN), names
    for name, text in FOREIGN.items():
        assert (exported.folder / name).read_text() == text
    out = exported.out
    assert f"Exported {NUM} points (16-d global_average_pooling2d embeddings + 784-d raw pixels)" in out
    assert "the model's accuracy on them:" in out and "Embedding: 200/200 images" in out
    assert f"https://projector.tensorflow.org/?config=http://127.0.0.1:{exported.port}/config.json" in out
    assert f"tensorboard --logdir {exported.folder}" in out and "t-SNE of 100 points" in out
    manifest = json.loads((exported.folder / "export.json").read_text())
    assert manifest["points"] == NUM and manifest["dimensions"] == 16 and manifest["layer"] == "global_average_pooling2d"
    assert manifest["tsne"]["points"] == TSNE_POINTS and set(manifest["files"]) == EXPORT_FILES
    assert 0.3 < manifest["accuracy"] <= 1.0  # better than chance: the metadata compares real predictions


def test_metadata_rows_are_the_stratified_sample_with_the_models_predictions(exported):
    from fashion_mnist_vis.models.model_io import load_model
    from fashion_mnist_vis.data.pipeline import to_model_input

    header, rows = read_metadata((exported.folder / "metadata.tsv").read_text())
    assert header == ["index", "label", "predicted", "score", "correct", "entropy"]
    assert len(rows) == NUM and all(len(row) == 6 for row in rows)
    indices = np.array([int(row[0]) for row in rows])
    assert (np.diff(indices) > 0).all() and indices.max() < TEST_SIZE  # test-set positions, in order
    images, labels = _synthetic_test_set()
    assert [row[1] for row in rows] == [CLASS_NAMES[label] for label in labels[indices]]
    assert np.bincount(labels[indices], minlength=10).tolist() == [NUM // 10] * 10  # stratified
    probabilities = load_model(exported.model).predict(to_model_input(images[indices]), verbose=0)
    assert [row[2] for row in rows] == [CLASS_NAMES[i] for i in probabilities.argmax(axis=1)]
    np.testing.assert_allclose([float(row[3]) for row in rows], probabilities.max(axis=1), atol=2e-4)
    assert [row[4] for row in rows] == ["true" if row[1] == row[2] else "false" for row in rows]
    entropies = np.array([float(row[5]) for row in rows])
    assert (entropies >= 0).all() and (entropies <= np.log(10) + 1e-4).all()


def test_tensor_files_agree_and_sprite_cells_are_the_images(exported):
    folder = exported.folder
    embeddings = np.fromfile(folder / "embeddings.bytes", dtype="<f4").reshape(NUM, 16)
    tsv = np.loadtxt(folder / "embeddings.tsv", delimiter="\t", ndmin=2)
    assert tsv.shape == (NUM, 16)
    np.testing.assert_allclose(tsv, embeddings, rtol=1e-4, atol=1e-6)
    assert max(len(value) for value in (folder / "embeddings.tsv").read_text().split()) <= 12  # compact
    _, rows = read_metadata((folder / "metadata.tsv").read_text())
    indices = np.array([int(row[0]) for row in rows])
    images, _ = _synthetic_test_set()
    pixels = np.fromfile(folder / "pixels.bytes", dtype="<f4").reshape(NUM, 784)
    np.testing.assert_array_equal(pixels, images[indices].reshape(NUM, 784) / np.float32(255))
    pixels_tsv = np.loadtxt(folder / "pixels.tsv", delimiter="\t")
    np.testing.assert_allclose(pixels_tsv, pixels, atol=1e-5)
    with Image.open(folder / "sprite.png") as sprite:
        assert sprite.mode == "P" and sprite.size == (15 * 28, 15 * 28)  # ceil(sqrt(200)) = 15 per row
        alpha = np.asarray(sprite.convert("RGBA"))[..., 3]
    for i in (0, 1, 14, 15, 199):  # each cell's opaque pixels are exactly the image's non-black ones
        top, left = (i // 15) * 28, (i % 15) * 28
        np.testing.assert_array_equal(alpha[top : top + 28, left : left + 28] > 0, images[indices[i]] > 0)


def test_pca_and_tsne_plots_and_coordinates(exported):
    for stem, points, axes in (("pca", NUM, ["PC1", "PC2"]), ("tsne", TSNE_POINTS, ["t-SNE 1", "t-SNE 2"])):
        with Image.open(exported.folder / f"{stem}.png") as image:
            assert image.width > 500 and image.height > 400
            assert np.asarray(image.convert("L")).std() > 10, f"{stem}.png looks blank"
        lines = (exported.folder / f"{stem}.csv").read_text().splitlines()
        assert lines[0].split(",") == ["index", "label", "class", *axes] and len(lines) == points + 1
        index, label, name, x, y = lines[1].split(",")
        assert CLASS_NAMES[int(label)] == name and math.isfinite(float(x)) and math.isfinite(float(y))


# -- (a) the online Projector's files over HTTP ------------------------------------


def test_a_cors_server_serves_config_and_every_file_it_names(exported):
    base = f"http://127.0.0.1:{exported.port}/"
    status, headers, body = fetch(base + "config.json")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    config = json.loads(body)
    assert [embedding["tensorName"] for embedding in config["embeddings"]] == [
        "global_average_pooling2d (16-d)", "raw pixels (784-d)"]
    for embedding in config["embeddings"]:
        rows, dims = embedding["tensorShape"]
        urls = [embedding["tensorPath"], embedding["metadataPath"], embedding["sprite"]["imagePath"]]
        assert all(url.startswith(base) for url in urls), urls
        bodies = {}
        for url in urls:
            status, headers, bodies[url] = fetch(url)
            name = urllib.parse.urlsplit(url).path.lstrip("/")
            assert status == 200 and headers["Access-Control-Allow-Origin"] == "*", url
            assert int(headers["Content-Length"]) == len(bodies[url]) == (exported.folder / name).stat().st_size
        tensor = np.frombuffer(bodies[urls[0]], dtype="<f4")
        assert embedding["tensorPath"].endswith(".bytes") and tensor.size == rows * dims
        _, metadata_rows = read_metadata(bodies[urls[1]].decode("utf-8"))
        cell = embedding["sprite"]["singleImageDim"][0]
        used, per_row = sprite_cells_used(bodies[urls[2]], cell)
        assert rows == NUM == len(metadata_rows) == len(used) and list(used) == list(range(NUM))
        assert (per_row - 1) ** 2 < NUM <= per_row ** 2 and per_row * cell <= 8192


# -- (b) the offline folder in the real TensorBoard ------------------------------


def _get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


@pytest.fixture(scope="module")
def tensorboard(exported, tmp_path_factory):
    """The real TensorBoard on the export folder, once its projector plugin is active."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("tensorboard") / "tensorboard.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(exported.folder), "--port", str(port),
         "--host", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                listing = json.loads(_get(url + "/data/plugins_listing"))
                if listing.get("projector", {}).get("enabled"):
                    break
            except (urllib.error.URLError, ConnectionError, ValueError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"TensorBoard did not start with an active projector:\n{log.read()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(process)
        log.close()


@pytest.mark.slow
def test_b_tensorboard_projector_plugin_serves_tensor_metadata_and_sprite(exported, tensorboard):
    api = tensorboard + "/data/plugin/projector"
    assert json.loads(_get(api + "/runs")) == ["."]  # the export folder itself is the run
    info = json.loads(_get(api + "/info?run=."))
    by_name = {embedding["tensorName"]: embedding for embedding in info["embeddings"]}
    assert set(by_name) == {"global_average_pooling2d (16-d)", "raw pixels (784-d)"}
    expected = {
        "global_average_pooling2d (16-d)": np.fromfile(exported.folder / "embeddings.bytes", dtype="<f4"),
        "raw pixels (784-d)": np.fromfile(exported.folder / "pixels.bytes", dtype="<f4"),
    }
    metadata_file = (exported.folder / "metadata.tsv").read_text()
    sprite_file = (exported.folder / "sprite.png").read_bytes()
    for name, embedding in by_name.items():
        query = urllib.parse.urlencode({"run": ".", "name": name})
        rows, dims = (int(size) for size in embedding["tensorShape"])
        tensor = np.frombuffer(_get(f"{api}/tensor?{query}"), dtype="<f4")
        assert rows == NUM and tensor.size == rows * dims
        np.testing.assert_allclose(tensor, expected[name], rtol=1e-4, atol=1e-6)  # read from the TSV
        metadata = _get(f"{api}/metadata?{query}&num_rows={NUM}").decode("utf-8")
        assert metadata == metadata_file and len(read_metadata(metadata)[1]) == NUM
        sprite = _get(f"{api}/sprite_image?{query}")
        assert sprite == sprite_file
        used, _ = sprite_cells_used(sprite, int(embedding["sprite"]["singleImageDim"][0]))
        assert len(used) == rows


# -- (c) a real browser ---------------------------------------------------------------


def screenshot_with_points(url, path, work_dir, attempts=3, timeout=90):
    """Screenshot ``url`` (1400x900, headless Chromium, software WebGL) once the points are drawn.

    Chromium takes the screenshot when a budget of *virtual* time has passed
    (it advances only while nothing is pending). Every host name but
    127.0.0.1 fails to resolve at once: the Projector app asks
    fonts.googleapis.com for a style sheet, and on a machine without internet
    that lookup can hang, and virtual time with it.

    On a busy machine the Projector may still be computing its PCA when the
    budget runs out, and headless Chromium occasionally never finishes a run
    at all (every file already served: a browser scheduling problem, not the
    page's). So a run that hangs for ``timeout`` seconds, or whose screenshot
    does not yet show the points (:func:`points_problem`), is retried with a
    fresh profile and twice the budget: 10, 20, then 40 s of virtual time.
    Each run has a session of its own, ended (with any helper processes left
    over) afterwards; its output goes to a log file.
    """
    problems = []
    for attempt in range(1, attempts + 1):
        budget_ms = 10000 * 2 ** (attempt - 1)
        command = [
            CHROMIUM, "--headless", "--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-quic", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={work_dir / f'profile{attempt}'}", "--window-size=1400,900",
            f"--virtual-time-budget={budget_ms}", f"--screenshot={path}", url,
        ]
        log_path = work_dir / f"chromium{attempt}.log"
        path.unlink(missing_ok=True)
        with open(log_path, "w") as log:
            browser = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                browser.wait(timeout=timeout)
                problem = points_problem(path) if path.is_file() else "chromium wrote no screenshot"
            except subprocess.TimeoutExpired:
                problem = f"chromium did not finish in {timeout} s"
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(browser.pid, signal.SIGKILL)  # the browser's own session: it and its helpers
                browser.wait()
        if problem is None:
            return path
        problems.append(f"attempt {attempt} ({budget_ms // 1000} s of virtual time): {problem}")
    raise AssertionError("; ".join(problems) + f"\nchromium said:\n{log_path.read_text(errors='replace')[-1500:]}")


PLOT_AREA = (320, 130, 1090, 900)  # the Projector's scatter plot in a 1400x900 window


def class_colours_seen(path, box=PLOT_AREA, min_pixels=300):
    """Classes whose (tinted) colour covers at least ``min_pixels`` pixels of the plot area."""
    from matplotlib.colors import rgb_to_hsv

    from fashion_mnist_vis.visualize.embedding_plots import class_colours_rgb

    with Image.open(path) as image:
        pixels = rgb_to_hsv(np.asarray(image.convert("RGB").crop(box)).reshape(-1, 3) / 255.0)
    vivid = (pixels[:, 1] > 0.3) & (pixels[:, 2] > 0.2)
    seen = set()
    for label, (hue, saturation, _) in enumerate(rgb_to_hsv(class_colours_rgb() / 255.0)):
        distance = np.abs(pixels[:, 0] - hue)
        distance = np.minimum(distance, 1 - distance)
        if (vivid & (distance < 0.02) & (np.abs(pixels[:, 1] - saturation) < 0.15)).sum() >= min_pixels:
            seen.add(label)
    return seen


def points_problem(path):
    """None if the screenshot shows points in at least 7 of the 9 non-grey class colours, else what is wrong.

    (The 3-D axes are thin red, green and blue lines: at most 3 classes' worth.)
    """
    with Image.open(path) as image:
        if image.size != (1400, 900):
            return f"screenshot is {image.size}, not 1400x900"
        plot = np.asarray(image.convert("RGB").crop(PLOT_AREA))
    colours = len(np.unique(plot.reshape(-1, 3), axis=0))
    if colours <= 200:  # coarse; the class colours below are the real check
        return f"the plot area is (nearly) uniform: {colours} distinct colours"
    seen = class_colours_seen(path)
    if len(seen) < 7:
        return f"only these classes' colours are visible: {sorted(CLASS_NAMES[i] for i in seen)}"
    return None


@pytest.mark.slow
@needs_chromium
def test_c_chromium_shows_the_points_in_tensorboards_projector(tensorboard, tmp_path):
    screenshot_with_points(f"{tensorboard}/#projector", tmp_path / "tensorboard_projector.png", tmp_path)


@pytest.mark.slow
@needs_chromium
def test_c_chromium_standalone_projector_reads_config_json_cross_origin(exported, tmp_path):
    """projector.tensorflow.org's app (bundled with TensorBoard) on one origin, ?config= on the CORS server."""
    plugin = Path(__import__("tensorboard.plugins.projector", fromlist=["x"]).__file__).parent / "tf_projector_plugin"
    site = tmp_path / "projector_app"
    site.mkdir()
    head = (plugin / "projector_binary.html").read_text(encoding="utf-8").split("<body>")[0]
    (site / "index.html").write_text(
        head + '<body><vz-projector-app serving-mode="demo" projector-config-json-path="none.json">'
        '</vz-projector-app><script src="projector_binary.js"></script></body></html>', encoding="utf-8")
    shutil.copyfile(plugin / "projector_binary.js", site / "projector_binary.js")

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    page_server = _start(http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site))))
    try:
        config_url = f"http://127.0.0.1:{exported.port}/config.json"
        page = f"http://127.0.0.1:{page_server.server_address[1]}/index.html?config={config_url}"
        screenshot_with_points(page, tmp_path / "standalone_projector.png", tmp_path)
    finally:
        _stop(page_server)


# -- re-running, other models, bad input -------------------------------------------


def test_rerun_replaces_only_its_own_files_and_drops_its_stale_ones(exported, tmp_path):
    folder = tmp_path / "assets"
    shutil.copytree(exported.folder, folder)  # a full export (with --raw and t-SNE) among foreign files
    first = (folder / "metadata.tsv").read_text()
    code, out, err = _run(["--saved-model", exported.model, "--dataset", "synthetic", "--test-size", 300,
                           "--output", folder, "--num", 30, "--no-tsne", "--format", "bytes", "--port", 9000,
                           "--neighbours", 0, "--no-atlas"])
    assert code == 0, err
    assert "projector_config.pbtxt for offline TensorBoard" in err  # the note says why it is gone
    assert ("Removed stale files of the previous export: atlas.parquet, embeddings.tsv, neighbors.csv, "
            "pixels.bytes, pixels.tsv, projector_config.pbtxt, tsne.csv, tsne.png") in out
    names = {path.name for path in folder.iterdir()}
    assert names == {"config.json", "metadata.tsv", "sprite.png", "export.json", "embeddings.bytes",
                     "pca.png", "pca.csv"} | set(FOREIGN)
    for name, text in FOREIGN.items():
        assert (folder / name).read_text() == text
    assert (folder / "metadata.tsv").read_text() != first
    config = json.loads((folder / "config.json").read_text())
    assert config["embeddings"][0]["tensorShape"] == [30, 16]
    assert config["embeddings"][0]["tensorPath"] == "http://localhost:9000/embeddings.bytes"


def test_a_failed_export_leaves_the_previous_one_intact(exported, tmp_path, monkeypatch):
    from fashion_mnist_vis.projector import sprite as projector_sprite

    folder = tmp_path / "assets"
    shutil.copytree(exported.folder, folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}

    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(projector_sprite.SpriteSheet, "save", disk_full)
    code, out, err = _run(["--saved-model", exported.model, "--dataset", "synthetic", "--test-size", 300,
                           "--output", folder, "--no-tsne", "--num", 30])
    assert code == 2 and err.strip() == (
        f"tensorboard_visualise.py: error: could not write the export to '{folder}': No space left on device")
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before  # no temp files either


def test_a_folder_in_the_way_of_an_export_file_is_named(exported, tmp_path):
    folder = tmp_path / "assets"
    (folder / "sprite.png").mkdir(parents=True)
    code, out, err = _run(["--saved-model", exported.model, "--dataset", "synthetic", "--test-size", 300,
                           "--output", folder, "--num", 30])
    assert code == 2 and err.strip() == (
        f"tensorboard_visualise.py: error: could not write '{folder / 'sprite.png'}': Is a directory")
    assert [path.name for path in folder.iterdir()] == ["sprite.png"]  # nothing half-written beside it


def test_model_without_gap_exports_the_last_dense_layers_input_as_tsv(tmp_path):
    from fashion_mnist_vis.models.model_io import save_model_atomic
    from fashion_mnist_vis.models.registry import build_model

    save_model_atomic(build_model("tinyvgg"), tmp_path / "tinyvgg.keras")
    code, out, err = _run(["--saved-model", tmp_path / "tinyvgg.keras", "--dataset", "synthetic",
                           "--test-size", 300, "--num", 30, "--base-url", "https://example.org/fmnist",
                           "--output", tmp_path / "out", "--format", "tsv", "--plain-sprite"])
    assert code == 0, err
    assert "input of the last Dense layer, layer 'dense', 250 dimensions" in out
    assert json.loads((tmp_path / "out" / "export.json").read_text())["tsne"] is None  # t-SNE is off by default
    assert not list((tmp_path / "out").glob("tsne.*")) and (tmp_path / "out" / "pca.png").is_file()
    (embedding,) = json.loads((tmp_path / "out" / "config.json").read_text())["embeddings"]
    assert embedding["tensorShape"] == [30, 250]
    assert embedding["tensorPath"] == "https://example.org/fmnist/embeddings.tsv"
    assert embedding["sprite"]["imagePath"] == "https://example.org/fmnist/sprite.png"
    assert "?config=https://example.org/fmnist/config.json" in out
    assert not list((tmp_path / "out").glob("*.bytes"))
    with Image.open(tmp_path / "out" / "sprite.png") as sprite:
        assert sprite.mode == "L" and sprite.size == (6 * 28, 6 * 28)


def test_layer_flag_picks_any_layer_and_flattens_it(tiny_gap_model, tmp_path):
    code, out, err = _run(["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", 300,
                           "--num", 20, "--output", tmp_path, "--no-tsne", "--layer", "conv2d_1"])
    assert code == 0, err
    assert "output of layer 'conv2d_1' (Conv2D), layer 'conv2d_1', 1936 dimensions" in out  # 11 x 11 x 16
    assert (tmp_path / "embeddings.bytes").stat().st_size == 20 * 1936 * 4


@pytest.mark.parametrize(
    "flags, runs, points",
    [
        ([], False, 2000),  # the Projector computes t-SNE itself
        (["--tsne"], True, 2000),
        (["--tsne-points", "500"], True, 500),  # giving a size asks for t-SNE
        (["--no-tsne"], False, 2000),  # the seed-era flag still works
        (["--tsne-points", "500", "--no_tsne"], False, 500),
    ],
)
def test_tsne_is_off_unless_asked_for(flags, runs, points):
    from fashion_mnist_vis.commands.tensorboard_visualise import build_parser, tsne_points, wants_tsne

    args = build_parser().parse_args(flags)
    assert (wants_tsne(args), tsne_points(args)) == (runs, points)

@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num", "0"], "argument --num: 0 must be at least 1"),
        (["--num", "ten"], "'ten' is not an integer"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--port", "0"], "0 must be between 1 and 65535"),
        (["--tsne-points", "-5"], "must be at least 1"),
        (["--perplexity", "0"], "0.0 must be greater than 0"),
        (["--saved-model", "{tmp}/missing.keras"], "model file '{tmp}/missing.keras' does not exist"),
        (["--layer", "nope"], "has no layer 'nope'; its layers are: conv2d, conv2d_1, global_average_pooling2d, dense"),
        (["--output", "{tmp}/a_file"], "output '{tmp}/a_file' exists and is not a folder"),
        (["--data-dir", "{tmp}"], "--data-dir is for the real dataset"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tiny_gap_model, tmp_path, flags, message):
    (tmp_path / "a_file").write_text("x")
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    argv = ["--saved-model", tiny_gap_model, "--dataset", "synthetic", "--test-size", 300,
            "--output", tmp_path / "out", *flags]
    code, out, err = _run(argv)
    assert code == 2 and message.replace("{tmp}", str(tmp_path)) in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_help_imports_neither_tensorflow_nor_sklearn():
    """(tests/test_scripts.py runs --help as a file and a module; this also keeps scikit-learn out.)"""
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
            "sys.modules['sklearn'] = None; "
            "from fashion_mnist_vis.tensorboard_visualise import main; sys.exit(main(['--help']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
