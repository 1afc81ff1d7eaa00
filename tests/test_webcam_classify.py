"""webcam_classify.py: live classification of video frames with a CAM overlay.

A short video is generated with OpenCV's VideoWriter: blocks of frames each
showing one synthetic item (dark on white, scaled up, drifting sideways) whose
class a small trained model gets right through classify.py's own code path.
The command runs headless on it through main(argv) and as a subprocess.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from classify_helpers import synthetic_data, trained_model_path
from conftest import default_sigint, single_error_line
from fashion_mnist_vis.video import capture as video
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.video.frame_overlay import FrameOverlay, RateMeter
from fashion_mnist_vis.video.frame_region import analysed_region
from fashion_mnist_vis.video.frame_predictor import FramePrediction
from fashion_mnist_vis.visualize.map_arrays import overlay, place_on_canvas
from fashion_mnist_vis.commands.webcam_classify import main

cv2 = video.import_cv2()

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT, FPS = 320, 240, 10
BLOCK = 10  # frames per item
CENTRE = analysed_region(WIDTH, HEIGHT, "centre")  # (40, 0, 280, 240)


# ------------------------------------------------------------------- the clip


def render_frame(item: np.ndarray, shift: int) -> np.ndarray:
    """A 28x28 light-on-black item drawn dark on a white 320x240 BGR frame, 140 px tall."""
    big = cv2.resize(255 - item, (140, 140), interpolation=cv2.INTER_CUBIC)
    frame = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    frame[50:190, 86 + shift:226 + shift] = big[:, :, None]
    return frame


def write_clip(path: Path, items, frames_per_item: int = BLOCK) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*video.CODECS[path.suffix]), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for item in items:
        for step in range(frames_per_item):
            writer.write(render_frame(item, step))
    writer.release()
    return path


def read_frames(path: Path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def classify_with_classify_py(model, frames, folder: Path):
    """classify.py's predictions (class indices) for the centre squares of ``frames``, via PNG files."""
    from PIL import Image

    from fashion_mnist_vis.explain.analysis import Analyser
    from fashion_mnist_vis.models.model_handle import keras_handle

    left, top, right, bottom = CENTRE
    analyser = Analyser(keras_handle(model))
    predictions = []
    for index, frame in enumerate(frames):
        path = folder / f"frame_{index:03d}.png"
        Image.fromarray(cv2.cvtColor(frame[top:bottom, left:right], cv2.COLOR_BGR2RGB)).save(path)
        predictions.append(analyser.analyse(path).predicted)
    return predictions


@pytest.fixture(scope="module")
def tiny_model():
    return trained_model_path("tinyvgg")


@pytest.fixture(scope="module")
def clip(tiny_model, tmp_path_factory):
    """(path, labels per frame, classify.py's prediction per decoded frame): 4 items of classes the model gets right."""
    from fashion_mnist_vis.models.model_io import load_model

    folder = tmp_path_factory.mktemp("clip")
    model = load_model(tiny_model)
    images, labels = synthetic_data()
    chosen, classes = [], set()
    for index in range(200):  # one item per class, each one classify.py gets right when drawn on a frame
        label = int(labels[index])
        if label in classes:
            continue
        still = render_frame(images[index], 0)
        if classify_with_classify_py(model, [still], folder)[0] == label:
            chosen.append(index)
            classes.add(label)
        if len(chosen) == 4:
            break
    assert len(chosen) == 4, "the test model recognises too few synthetic items"
    path = write_clip(folder / "clip.mp4", [images[index] for index in chosen])
    frames = read_frames(path)
    assert len(frames) == 4 * BLOCK
    frame_labels = [int(labels[index]) for index in chosen for _ in range(BLOCK)]
    return path, frame_labels, classify_with_classify_py(model, frames, folder)


def run_main(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


# ----------------------------------------------------------- end to end (slow)


@pytest.mark.slow
def test_headless_run_writes_every_frame_and_classifies_every_nth(clip, tiny_model, tmp_path, capsys):
    path, frame_labels, classify_predictions = clip
    output = tmp_path / "annotated.mp4"
    status, records, err = run_main(capsys, "--source", path, "--saved-model", tiny_model, "--no-display",
                                    "--output", output, "--json", "--every", 3, "--no-mirror-average")
    assert status == 0, err
    frames = read_frames(output)
    assert len(frames) == len(frame_labels) == 40
    assert all(frame.shape == (HEIGHT, WIDTH, 3) for frame in frames)
    assert [record["frame"] for record in records] == list(range(0, 40, 3))
    assert len(records) == math.ceil(40 / 3)
    for record in records:
        index = record["frame"]
        assert record["top_k"][0]["class_index"] == classify_predictions[index] == frame_labels[index]
        assert record["prediction"] == CLASS_NAMES[frame_labels[index]]
        assert len(record["top_k"]) == 3 and record["cam"] == "Grad-CAM"
        probabilities = [entry["probability"] for entry in record["top_k"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert record["video_time"] == pytest.approx(index / FPS)
    times = [record["time"] for record in records]
    assert times == sorted(times)
    summary = err.strip().splitlines()[-1]
    assert summary.startswith(f"Read 40 frames from {path}, classified 14 (every 3)")
    assert "frames/s" in summary and f"wrote 40 frames to {output}" in summary
    assert not [name for name in os.listdir(tmp_path) if name != "annotated.mp4"]  # no temporary files left


@pytest.mark.slow
def test_overlay_is_drawn_in_the_analysed_region_only(clip, tiny_model, tmp_path, capsys):
    path, _, _ = clip
    output = tmp_path / "annotated.avi"
    status, records, err = run_main(capsys, "--source", path, "--saved-model", tiny_model, "--no-display",
                                    "--output", output, "--max-frames", 12, "--json")
    assert status == 0, err
    originals, annotated = read_frames(path)[:12], read_frames(output)
    assert len(annotated) == 12 and len(records) == 12
    left, top, right, bottom = CENTRE
    for original, drawn in zip(originals, annotated):
        difference = np.abs(original.astype(int) - drawn.astype(int)).sum(axis=2)
        # the heatmap covers the model's canvas around the item, below the text panel
        assert difference[120:180, 100:220].mean() > 40
        # left and right of the analysed region (past its outline) nothing but compression noise
        assert difference[100:, : left - 4].mean() < 8 and difference[100:, right + 4:].mean() < 8
        # the text panel darkens the top-left corner
        assert drawn[:20, :60].mean() < original[:20, :60].mean() - 100


@pytest.mark.slow
def test_predictor_is_built_once_and_traced_once(clip, tiny_model, tmp_path, capsys, monkeypatch):
    import keras

    import fashion_mnist_vis.video.frame_predictor as frame_predictor

    built, models_built_later = [], []
    model_init = keras.Model.__init__

    def counting_model_init(self, *args, **kwargs):
        models_built_later.append(type(self).__name__)
        model_init(self, *args, **kwargs)

    class CountingPredictor(frame_predictor.FramePredictor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)
            monkeypatch.setattr(keras.Model, "__init__", counting_model_init)  # from now on, count model builds

    monkeypatch.setattr(frame_predictor, "FramePredictor", CountingPredictor)
    status, records, err = run_main(capsys, "--source", clip[0], "--saved-model", tiny_model, "--no-display", "--json",
                                    "--engine", "keras")
    assert status == 0, err
    assert len(records) == 40 and len(built) == 1
    assert built[0].traces == 2 and models_built_later == []  # forward pass and gradient, traced once each


@pytest.mark.slow
def test_both_engines_classify_and_explain_the_frames_alike(clip, tiny_model, capsys):
    records = {}
    for engine, name in (("numpy", "NumPy"), ("keras", "Keras")):
        status, records[engine], err = run_main(capsys, "--source", clip[0], "--saved-model", tiny_model,
                                                "--no-display", "--json", "--max-frames", 6, "--engine", engine)
        assert status == 0, err
        assert f"parameters), run by {name}; reading" in err
    assert len(records["numpy"]) == len(records["keras"]) == 6
    for ours, theirs in zip(records["numpy"], records["keras"]):
        assert ours["cam"] == theirs["cam"] == "Grad-CAM"
        assert [entry["class_index"] for entry in ours["top_k"]] == [entry["class_index"] for entry in theirs["top_k"]]
        for mine, reference in zip(ours["top_k"], theirs["top_k"]):
            assert mine["probability"] == pytest.approx(reference["probability"], abs=1e-5)


@pytest.mark.slow
def test_gap_model_gets_exact_cam(clip, tmp_path, capsys):
    status, records, err = run_main(capsys, "--source", clip[0], "--saved-model", trained_model_path("gap_cnn"),
                                    "--no-display", "--json", "--max-frames", 2, "--region", "full")
    assert status == 0, err
    assert [record["cam"] for record in records] == ["CAM", "CAM"]


@pytest.mark.slow
def test_without_a_display_output_runs_headless(clip, tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(video.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    output = tmp_path / "out.mp4"
    status, _, err = run_main(capsys, "--source", clip[0], "--saved-model", tiny_model, "--output", output,
                              "--max-frames", 3)
    assert status == 0, err
    assert "note: no display" in err
    assert len(read_frames(output)) == 3


@pytest.mark.slow
def test_as_a_subprocess(clip, tiny_model, tmp_path):
    output = tmp_path / "annotated.mp4"
    result = subprocess.run(
        [sys.executable, "fashion_mnist_vis/webcam_classify.py", "--source", str(clip[0]), "--saved_model",
         str(tiny_model), "--no-display", "--output", str(output), "--json", "--every", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 8
    assert result.stderr.splitlines()[-1].startswith("Read 40 frames")
    assert len(read_frames(output)) == 40


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """600 frames (a minute at 10 fps): still running when a test stops it."""
    images, _ = synthetic_data()
    return write_clip(tmp_path_factory.mktemp("long") / "long.avi", images[:20], frames_per_item=30)


def _wait_for(predicate, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_sigint_finishes_a_playable_video_and_exits_130(long_clip, tiny_model, tmp_path):
    output = tmp_path / "partial.mp4"
    with open(tmp_path / "stdout", "w") as out, open(tmp_path / "stderr", "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "fashion_mnist_vis.webcam_classify", "--source", str(long_clip),
             "--saved-model", str(tiny_model), "--no-display", "--output", str(output), "--json"],
            cwd=REPO, stdout=out, stderr=err, preexec_fn=default_sigint,
        )
        try:
            assert _wait_for(lambda: (tmp_path / "stdout").read_text().count("\n") >= 5), "no frames classified"
            process.send_signal(signal.SIGINT)
            assert process.wait(60) == 130
        finally:
            process.kill()
    stderr = (tmp_path / "stderr").read_text()
    assert "(interrupted); wrote" in stderr.splitlines()[-1] and "Traceback" not in stderr
    written = int(re.search(r"wrote (\d+) frames", stderr).group(1))
    classified = len((tmp_path / "stdout").read_text().splitlines())
    assert 5 <= classified <= written < 600
    assert len(read_frames(output)) == written  # finished: it plays to the last frame written
    assert sorted(os.listdir(tmp_path)) == ["partial.mp4", "stderr", "stdout"]


XVFB, XDOTOOL = shutil.which("Xvfb"), shutil.which("xdotool")


@pytest.mark.slow
@pytest.mark.skipif(not (XVFB and XDOTOOL), reason="needs Xvfb and xdotool for a virtual display")
def test_window_shows_frames_until_q_is_pressed(long_clip, tiny_model, tmp_path):
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen([XVFB, display, "-screen", "0", "800x600x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DISPLAY=display)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "fashion_mnist_vis.webcam_classify", "--source", str(long_clip),
             "--saved-model", str(tiny_model)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            def window_id():
                found = subprocess.run([XDOTOOL, "search", "--name", "Esc or q quits"], env=env,
                                       capture_output=True, text=True)
                return found.stdout.split()[0] if found.stdout.split() else None

            assert _wait_for(lambda: window_id() is not None), "the window never appeared"
            subprocess.run([XDOTOOL, "key", "--window", window_id(), "q"], env=env, check=True)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    finally:
        server.terminate()
        server.wait(10)
    assert process.returncode == 0, stderr
    assert "(stopped from the window)" in stderr.splitlines()[-1]


# ------------------------------------------------------------ errors (fast)


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "missing.mp4", "does not exist"),
    (lambda folder: _write(folder / "empty.mp4", b""), "is empty"),
    (lambda folder: _write(folder / "clip.mp4", b"not a video\n" * 50), "not a video file OpenCV can read"),
    (lambda folder: folder, "is a folder"),
])
def test_bad_video_file_gives_one_line_and_exit_2(tmp_path, capsys, make, message):
    source = make(tmp_path)
    status = main(["--source", str(source), "--no-display", "--saved-model", str(tmp_path / "never-loaded.keras")])
    assert status == 2
    assert message in single_error_line(capsys)


def test_missing_camera_fails_fast(capsys):
    status = main(["--source", "97", "--no-display", "--camera-timeout", "3"])
    assert status == 2
    line = single_error_line(capsys)
    assert "camera 97" in line


def test_camera_that_hangs_is_given_up(capsys, monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr(video.Path, "exists", lambda self: True)  # pretend /dev/video5 exists

    class HangingCapture:
        def __init__(self, *args):
            release.wait(5)

        def isOpened(self):  # noqa: N802 (OpenCV's naming)
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", HangingCapture)
    try:
        status = main(["--source", "5", "--no-display", "--camera-timeout", "0.3"])
    finally:
        release.set()
    assert status == 2
    assert "camera 5 did not deliver a frame within 0.3 s" in single_error_line(capsys)


def test_no_display_and_nothing_to_write_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(video.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    clip = write_clip(tmp_path / "clip.avi", [np.zeros((28, 28), np.uint8)], frames_per_item=2)
    assert main(["--source", str(clip)]) == 2
    assert "no display" in single_error_line(capsys)


@pytest.mark.parametrize("name, message", [
    ("out.mov", "must end in .mp4 or .avi"),
    ("missing-folder/out.mp4", "does not exist"),
])
def test_bad_output_path_exits_2(tmp_path, capsys, name, message):
    status = main(["--source", str(tmp_path / "x.mp4"), "--no-display", "--output", str(tmp_path / name)])
    assert status == 2
    assert message in single_error_line(capsys)


def test_existing_output_is_kept_without_force(tmp_path, capsys):
    output = _write(tmp_path / "mine.mp4", b"the user's own video")
    status = main(["--source", str(tmp_path / "x.mp4"), "--no-display", "--output", str(output)])
    assert status == 2
    assert "already exists" in single_error_line(capsys)
    assert output.read_bytes() == b"the user's own video"


@pytest.mark.parametrize("flags, message", [
    (["--every", "0"], "0 must be at least 1"),
    (["--max-frames", "-3"], "must be at least 1"),
    (["--region", "middle"], "invalid choice"),
])
def test_bad_flags_exit_2(capsys, flags, message):
    assert main(flags) == 2
    assert message in single_error_line(capsys)


def test_bad_model_exits_2_after_opening_the_video(tmp_path, capsys):
    clip = write_clip(tmp_path / "clip.avi", [np.zeros((28, 28), np.uint8)], frames_per_item=2)
    model = _write(tmp_path / "model.keras", b"not a model")
    assert main(["--source", str(clip), "--no-display", "--saved-model", str(model)]) == 2
    assert "model.keras" in single_error_line(capsys)


def test_bad_video_as_a_subprocess(tmp_path):
    fake = _write(tmp_path / "clip.mp4", b"plain text, not a video\n")
    result = subprocess.run([sys.executable, "-m", "fashion_mnist_vis.webcam_classify", "--source", str(fake),
                             "--no-display"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"webcam_classify.py: error: {str(fake)!r} is not a video file "
                                     "OpenCV can read (unknown format or damaged)")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ------------------------------------------------------------- parts (fast)


def test_analysed_region_by_hand():
    assert analysed_region(320, 240) == (40, 0, 280, 240)
    assert analysed_region(240, 320) == (0, 40, 240, 280)
    assert analysed_region(321, 240, "full") == (0, 0, 321, 240)
    with pytest.raises(ValueError):
        analysed_region(10, 10, "middle")


def test_rate_meter_counts_events_per_second_in_its_window():
    now = [0.0]
    meter = RateMeter(window=1.0, clock=lambda: now[0])
    assert meter.rate() is None
    for _ in range(5):
        meter.tick()
        now[0] += 0.1
    assert meter.rate() == pytest.approx(10.0)
    now[0] = 5.0
    meter.tick()
    now[0] = 5.5
    meter.tick()  # the old events fall out of the 1 s window
    assert meter.rate() == pytest.approx(2.0)


def test_parse_source():
    assert video.parse_source("0") == 0 and video.parse_source(" 2 ") == 2
    assert video.parse_source("clip.mp4") == Path("clip.mp4")


def test_video_output_is_atomic(tmp_path):
    target = _write(tmp_path / "old.avi", b"previous")
    frame = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(RuntimeError):
        with video.VideoOutput(target, 10, (64, 48)) as output:
            output.write(frame)
            raise RuntimeError("failed half-way")
    assert target.read_bytes() == b"previous" and os.listdir(tmp_path) == ["old.avi"]
    with video.VideoOutput(target, 10, (64, 48)) as output:
        for _ in range(3):
            output.write(frame)
        with pytest.raises(ValueError, match="differs"):
            output.write(np.zeros((10, 10, 3), np.uint8))
        assert target.read_bytes() == b"previous"  # replaced only when complete
    assert len(read_frames(target)) == 3 and os.listdir(tmp_path) == ["old.avi"]


def test_writer_that_cannot_open_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setitem(video.CODECS, ".mp4", "ZZZZ")  # a codec FFmpeg does not have
    with pytest.raises(UserError, match=r"OpenCV cannot write \.mp4 video"):
        with video.VideoOutput(tmp_path / "out.mp4", 10, (64, 48)):
            pass
    assert os.listdir(tmp_path) == []


def test_overlay_draws_heatmap_on_the_canvas_and_the_panel():
    frame = np.full((240, 320, 3), 200, np.uint8)
    drawer = FrameOverlay(CENTRE, (320, 240))
    heatmap = np.zeros((3, 3), np.float32)
    heatmap[2, 2] = 1.0
    prediction = FramePrediction(np.eye(10)[8], [(8, 0.9), (5, 0.06), (0, 0.04)], heatmap, "CAM", (60, 40, 180, 160))
    drawer.update(prediction)
    drawn = drawer.draw(frame, ["12.0 fps", "model 4.0/s"])
    assert drawn.shape == frame.shape and not np.shares_memory(drawn, frame)
    assert (frame == 200).all()  # the input frame is left alone
    left = CENTRE[0]
    hot, cold = drawn[150, left + 170].astype(int), drawn[110, left + 70].astype(int)  # BGR
    assert hot[2] > hot[0] + 40 and cold[0] > cold[2] + 40  # in the canvas: red at the bottom right, else blue
    assert (drawn[170:230, left + 190: left + 230] == 200).all()  # beside the canvas: unchanged
    assert (drawn[100:, :left - 4] == 200).all()  # outside the analysed region: unchanged
    assert drawn[5:60, 5:60].mean() < 120  # the dark text panel
    # below the panel, the region is classify's own overlay (map_arrays.overlay) of the placed map
    placed = place_on_canvas(heatmap, (240, 240), (60, 40, 180, 160))
    expected = overlay(np.full((240, 240, 3), 200 / 255, np.float32), placed)[:, :, ::-1] * 255
    np.testing.assert_allclose(drawn[100:230, left + 10:left + 230], expected[100:230, 10:230], atol=1)


def test_a_ctrl_c_inside_a_deferred_block_lands_when_the_block_ends(python_sigint):
    import signal

    from fashion_mnist_vis.commands.webcam_classify import interrupts_deferred

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            steps.append("the block finished first")
    assert steps == ["the block finished first"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is back
