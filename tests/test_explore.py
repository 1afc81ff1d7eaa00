"""The explorer: its JSON API through a real HTTP client, the command's errors, and (slow) the page in Chromium."""

import base64
import http.client
import io
import json
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classify_helpers import save_tiny_model
from test_images import _png_header_only
from conftest import default_sigint, single_error_line, stop_process
from fashion_mnist_vis.commands import classify, explore
from fashion_mnist_vis.data.datasets import DataSettings
from fashion_mnist_vis.explorer import app_server
from fashion_mnist_vis.explorer.encoding import feature_mosaic, unit_to_grey
from fashion_mnist_vis.explorer.session import Explorer, ExplorerSettings
from fashion_mnist_vis.models.model_handle import open_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("explore") / "tiny_gap.keras", seed=5, gap=True)


@pytest.fixture(scope="module")
def server(model_path):
    """The explorer on a free port, serving from a thread (synthetic test images)."""
    settings = ExplorerSettings(data=DataSettings(dataset="synthetic", train_size=300, test_size=40))
    explorer = Explorer(open_model(model_path, "numpy"), settings)
    app = app_server.make_explorer_server(explorer, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=app.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield app
    app.shutdown()
    app.server_close()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def drawing(seed: int) -> bytes:
    """A light blob on black, 140x140, different per seed."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((140, 140), np.uint8)
    top, left = rng.integers(10, 50, size=2)
    pixels[top:top + 70, left:left + rng.integers(20, 80)] = 230
    return png_bytes(pixels)


def request(app, method: str, path: str, body: bytes = None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", app.server_port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.getheader("Content-Type"), answer.read()
    finally:
        connection.close()


def classify_api(app, body: bytes, query: str = ""):
    status, _, payload = request(app, "POST", f"/api/classify{query}", body)
    return status, json.loads(payload)


def test_feature_mosaic_by_hand():
    values = np.zeros((2, 2, 3), np.float32)
    values[:, :, 0] = [[0, 1], [2, 4]]  # scaled on its own: 0 -> 0, 4 -> 255, 1 -> 64
    values[:, :, 1] = 5.0  # constant: black
    values[0, 0, 2] = -1.0
    mosaic = feature_mosaic(values)
    assert mosaic["columns"] == 2 and mosaic["tile"] == [2, 2] and mosaic["channels"] == 3
    assert mosaic["low"] == [0.0, 5.0, -1.0] and mosaic["high"] == [4.0, 5.0, 0.0]
    grid = np.asarray(Image.open(io.BytesIO(base64.b64decode(mosaic["image"].split(",", 1)[1]))))
    assert grid.shape == (5, 5)  # two rows and two columns of 2x2 tiles, one black pixel apart
    np.testing.assert_array_equal(grid[0:2, 0:2], [[0, 64], [128, 255]])
    np.testing.assert_array_equal(grid[0:2, 3:5], 0)
    np.testing.assert_array_equal(grid[3:5, 0:2], [[0, 255], [255, 255]])
    np.testing.assert_array_equal(unit_to_grey(np.array([-1.0, 0.5, 2.0])), [0, 128, 255])


def test_classify_equals_classify_json(server, model_path, tmp_path, capsys):
    image = tmp_path / "drawn.png"
    image.write_bytes(drawing(1))
    assert classify.main([str(image), "--saved-model", str(model_path), "--engine", "numpy", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    status, record = classify_api(server, image.read_bytes())
    assert status == 200
    for key in ("prediction", "class_index", "score", "top_k"):
        assert record[key] == expected[key]
    assert sum(record["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert [stage["image"][:22] for stage in record["stages"]] == ["data:image/png;base64,"] * 4
    conv = next(layer for layer in record["layers"] if layer["name"] == "conv")
    assert conv["shape"] == [26, 26, 6] and conv["channels"] == 6
    assert record["map"]["method"] == "cam" and np.asarray(record["map"]["heatmap"]).shape == (28, 28)
    assert np.max(record["map"]["heatmap"]) == pytest.approx(1.0)
    # the same image as a data: URL gives the same numbers
    data_url = b"data:image/png;base64," + base64.b64encode(image.read_bytes())
    assert classify_api(server, data_url)[1]["probabilities"] == record["probabilities"]


def test_method_and_contrast_class(server):
    status, record = classify_api(server, drawing(2), "?method=gradcam&contrast=3")
    assert status == 200
    assert record["map"]["method"] == "gradcam" and record["map"]["layer"] == "conv"
    expected_contrast = None if record["class_index"] == 3 else "Dress"
    assert record["map"]["contrast"] == expected_contrast
    status, record = classify_api(server, drawing(2), "?method=nonsense")
    assert status == 400 and "unknown explanation method 'nonsense'" in record["error"]


def test_bad_uploads_get_json_errors_and_the_server_keeps_serving(server, monkeypatch):
    status, record = classify_api(server, b"this is a text file, not a picture")
    assert status == 400 and record["error"].startswith("the upload is not an image file Pillow can read")
    # a PNG claiming 20,000 x 20,000 pixels: refused from its header, nothing decoded
    status, record = classify_api(server, _png_header_only(20000, 20000))
    assert status == 400 and "20000x20000" in record["error"] and "megapixel" in record["error"]
    assert record["error"].startswith("the upload is 20000x20000 pixels")  # not "image file the upload is ..."
    status, record = classify_api(server, b"")
    assert status == 400 and record["error"] == "the upload is empty (0 bytes)"
    monkeypatch.setattr(app_server, "MAX_UPLOAD_BYTES", 1000)
    status, record = classify_api(server, b"\0" * 1001)
    assert status == 413 and "up to" in record["error"]
    status, record = classify_api(server, b"data:image/png;base64,@@@")
    assert status == 400 and "not valid base64" in record["error"]
    status, _, payload = request(server, "GET", "/api/info")
    assert status == 200 and json.loads(payload)["classes"][8] == "Bag"


def test_two_concurrent_clients_get_their_own_results(server):
    bodies = [drawing(seed) for seed in range(6)]
    alone = [classify_api(server, body)[1]["probabilities"] for body in bodies]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(lambda body: classify_api(server, body)[1]["probabilities"], bodies * 2))
    assert together == alone * 2
    assert len({tuple(p) for p in alone}) > 1  # the drawings really differ


def test_page_and_static_files_without_cors(server):
    status, content_type, page = request(server, "GET", "/")
    assert status == 200 and content_type.startswith("text/html") and b"explorer.js" in page
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    connection.request("GET", "/explorer.js")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.getheader("Access-Control-Allow-Origin") is None
    assert b"http://" not in answer.read() and b"https://" not in page  # nothing from outside
    connection.close()
    assert request(server, "GET", "/../session.py")[0] in (403, 404)
    assert request(server, "POST", "/api/other", b"x")[0] == 404


def test_random_test_image_and_mistake(server):
    status, _, payload = request(server, "GET", "/api/random")
    record = json.loads(payload)
    assert status == 200 and 0 <= record["index"] < 40 and record["class"]
    image = Image.open(io.BytesIO(base64.b64decode(record["image"].split(",", 1)[1])))
    assert image.size == (28, 28)
    status, _, payload = request(server, "GET", "/api/random?mistake=1")
    record = json.loads(payload)
    explorer = server.explorer
    assert status == 200 and record["index"] in set(explorer._mistakes.tolist())


def test_the_training_images_that_excite_a_channel_most(server):
    status, _, payload = request(server, "GET", "/api/channel?layer=conv&channel=2")
    record = json.loads(payload)
    assert status == 200 and record["searched"] == 300 and len(record["images"]) == 6
    scores = [item["score"] for item in record["images"]]
    assert scores == sorted(scores, reverse=True)
    # by hand: the best image's response is the channel's largest value in that image's feature map
    explorer = server.explorer
    best = explorer._channel_examples.strongest("conv", 2)[0]
    conv = next(out for out in explorer.activations.run(best["pixels"][:, :, None].astype(np.float32) / 255.0)
                if out.name == "conv")
    assert best["score"] == pytest.approx(float(conv.values[:, :, 2].max()), rel=1e-5)
    assert scores[0] == round(best["score"], 4)
    for query, message in (("layer=gap&channel=0", "has no feature maps"), ("layer=conv&channel=6", "channels 0-5"),
                           ("layer=conv&channel=x", "not a channel number"),
                           ("layer=conv&channel=-1", "has channels 0-5, not -1")):
        status, _, payload = request(server, "GET", f"/api/channel?{query}")
        assert status == 400 and message in json.loads(payload)["error"]


def test_missing_model_is_one_line(tmp_path, capsys):
    assert explore.main(["--saved_model", str(tmp_path / "none.keras"), "--no-browser"]) == 2
    assert "none.keras" in single_error_line(capsys)


def test_port_in_use_is_one_line(model_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert explore.main(["--saved_model", str(model_path), "--no-browser", "--port", str(port),
                             "--engine", "numpy", "--no-unfamiliarity"]) == 2
    assert f"port {port} is already in use" in single_error_line(capsys)


def test_command_prints_its_url_and_stops_on_ctrl_c(model_path):
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "fashion_mnist_vis" / "explore.py"), "--saved_model", str(model_path),
         "--no-browser", "--port", "0", "--quiet", "--host", "0.0.0.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        line = process.stdout.readline()
        assert line.startswith("Explorer ready at http://localhost:"), line
        port = int(line.split("localhost:")[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/info")
        assert json.loads(connection.getresponse().read())["engine"] == "NumPy"
        connection.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        error = process.stderr.read()
        assert "makes the explorer and your model usable by other machines" in error
        assert "explorer stopped" in error and "Traceback" not in error
    finally:
        stop_process(process)


DRAW_STROKE = """
const canvas = document.getElementById('canvas');
const box = canvas.getBoundingClientRect();
const points = arguments[0];
const fire = (type, [x, y]) => canvas.dispatchEvent(new PointerEvent(type, {
  pointerId: 1, pointerType: 'pen', bubbles: true, clientX: box.left + x, clientY: box.top + y, pressure: 0.5}));
fire('pointerdown', points[0]);
for (const point of points.slice(1)) fire('pointermove', point);
fire('pointerup', points[points.length - 1]);
"""
UPDATES = "return Number(document.body.dataset.updates || 0)"
PROBABILITIES = "return [...document.querySelectorAll('.bar-row')].map(row => Number(row.dataset.probability))"


@pytest.mark.slow
def test_page_in_headless_chromium(server, tmp_path):
    from webdriver import CHROMEDRIVER, CHROMIUM, headless_chromium

    if CHROMEDRIVER is None or CHROMIUM is None:
        pytest.skip("needs chromium and chromedriver")
    fake_camera = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    with headless_chromium(tmp_path, extra_args=fake_camera) as browser:
        browser.open(f"http://127.0.0.1:{server.server_port}/")
        browser.wait_for("return document.body.dataset.ready === '1'", timeout=30)
        # a stroke: the bars appear and sum to one
        browser.run(DRAW_STROKE, [[140, 40], [140, 120], [140, 240]])
        browser.wait_for(f"{UPDATES} >= 1", timeout=30)
        first = browser.run(PROBABILITIES)
        browser.run("window.firstMap = document.getElementById('map').toDataURL()")
        assert len(first) == 10 and sum(first) == pytest.approx(1.0, abs=1e-4)
        # a second, crossing stroke changes the probabilities and the feature maps stay drawn
        browser.run(DRAW_STROKE, [[30, 60], [150, 70], [260, 60]])
        browser.wait_for(f"{UPDATES} >= 2", timeout=30)
        assert browser.run(PROBABILITIES) != first
        browser.wait_for("return document.getElementById('map').toDataURL() !== window.firstMap", timeout=10)
        assert browser.run("return document.querySelectorAll('.layer canvas').length") >= 1
        # switch the method: the caption names it
        browser.run("const m = document.getElementById('method'); m.value = 'gradcam'; "
                    "m.dispatchEvent(new Event('change'))")
        browser.wait_for(f"{UPDATES} >= 3", timeout=30)
        assert browser.run("return document.getElementById('map-caption').textContent").startswith("Grad-CAM")
        # click a channel: it is enlarged
        browser.run("const c = document.querySelector('.layer canvas'); const b = c.getBoundingClientRect(); "
                    "c.dispatchEvent(new MouseEvent('click', "
                    "{clientX: b.left + 2, clientY: b.top + 2, bubbles: true}))")
        assert "channel 0" in browser.run("return document.getElementById('channel-caption').textContent")
        browser.wait_for("return document.querySelectorAll('#channel-examples img').length === 6", timeout=60)
        # a random test image shows its true class
        browser.run("document.getElementById('random').click()")
        browser.wait_for(f"{UPDATES} >= 4", timeout=30)
        truth = browser.run("return document.getElementById('truth').textContent")
        assert "truly a" in truth and ("the model is right." in truth or "the model is wrong: it says" in truth)
        # an upload of a real image, then a text file named .png: its error shows, then the page still works
        browser.run("const c = document.createElement('canvas'); c.width = c.height = 60; "
                    "const x = c.getContext('2d'); x.fillRect(0, 0, 60, 60); x.fillStyle = '#fff'; "
                    "x.fillRect(20, 5, 20, 50); c.toBlob(b => useFile(new File([b], 'bar.png')))")
        browser.wait_for(f"{UPDATES} >= 5", timeout=30)
        browser.run("useFile(new File(['not a picture'], 'notes.png', {type: 'image/png'}))")
        error = browser.wait_for("return document.getElementById('error').textContent", timeout=30)
        assert "is not an image file" in error
        browser.run(DRAW_STROKE, [[40, 200], [240, 200]])
        browser.wait_for(f"{UPDATES} >= 6", timeout=30)
        assert browser.run("return document.getElementById('error').textContent") == ""
        # the webcam (Chromium's fake camera): frames are classified one after another until stopped
        browser.run("document.getElementById('webcam').click()")
        browser.wait_for(f"{UPDATES} >= 8", timeout=60)
        assert browser.run("return document.getElementById('truth').textContent").startswith("Webcam")
        browser.run("document.getElementById('webcam').click()")
        assert browser.run("return document.getElementById('webcam').textContent") == "Webcam"
        shot = np.asarray(Image.open(browser.screenshot(tmp_path / "explorer.png")).convert("L"))
        assert shot.std() > 20  # not blank
