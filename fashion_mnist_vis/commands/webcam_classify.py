"""Classify a camera's or a video file's frames live, with a class activation map laid over them.

Run as ``python -m fashion_mnist_vis.webcam_classify`` or ``python fashion_mnist_vis/webcam_classify.py``::

    python -m fashion_mnist_vis.webcam_classify --source 0 --saved_model model.keras
    python -m fashion_mnist_vis.webcam_classify --source clip.mp4 --no-display --output annotated.mp4 --json

Every ``--every``-th frame is preprocessed as ``classify.py`` does (its centre
square by default) and classified by functions compiled once (Keras, by
default; ``--engine numpy`` runs NumPy)
(:class:`~fashion_mnist_vis.video.frame_predictor.FramePredictor`); every frame is
shown and written with the latest result drawn on it
(:class:`~fashion_mnist_vis.video.frame_overlay.FrameOverlay`): the class activation
map, the top classes and the frame rates. Esc or q in the window stops.

With ``--json``, one JSON object per classified frame goes to stdout; notes,
the closing summary and errors go to stderr. Exit status: 0 at the end of the
video (or when stopped with Esc/q or ``--max-frames``), 2 for bad flags, a
source that cannot be read, no display, or a bad model, 130 after Ctrl-C (the
output video is still finished and playable).
"""

import sys

import argparse
import contextlib
import json
import signal
import time
from pathlib import Path
from typing import Optional, Sequence

from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.classes import CLASS_NAMES, NUM_CLASSES
from fashion_mnist_vis.commands.cli import positive_float, positive_int
from fashion_mnist_vis.commands.training_index_flags import add_unfamiliarity_arguments, open_with_training_index
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.video.frame_region import REGION_CHOICES
from fashion_mnist_vis.video.capture import CAMERA_TIMEOUT_S, CODECS

PROG = "webcam_classify.py"
WINDOW_TITLE = "fashion-mnist-vis (Esc or q quits)"
QUIT_KEYS = (27, ord("q"), ord("Q"))  # Esc, q


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Classify the frames of a camera or a video file with a model trained by train.py and show "
        "them live with the class activation map, the top classes and the frame rate drawn on; "
        "optionally write the annotated video and one JSON line per classified frame.",
    )
    parser.add_argument("--source", default="0",
                        help="a camera index (0 is the first camera) or a video file")
    cli.add_model_arguments(parser, "the trained model file (.keras or .h5)", many_images=True)
    parser.add_argument("--every", type=positive_int, default=1,
                        help="classify every N-th frame (1: all); frames in between show the last result")
    parser.add_argument("--region", choices=REGION_CHOICES, default="centre",
                        help="classify the frame's centred square, or the whole frame")
    parser.add_argument("--top-k", "--top_k", dest="top_k", type=positive_int, default=3,
                        help=f"how many of the most likely classes to show (at most {NUM_CLASSES})")
    parser.add_argument("--max-frames", "--max_frames", dest="max_frames", type=positive_int, default=None,
                        help="stop after this many frames; if not given, run to the end of the video or until Esc/q")
    output = parser.add_argument_group("output")
    output.add_argument("--output", type=Path, default=None,
                        help=f"write the annotated video here ({', '.join(f'{ext}: {codec}' for ext, codec in CODECS.items())}); "
                        "it appears only once complete")
    output.add_argument("--force", action="store_true", help="replace an existing --output file")
    output.add_argument("--no-display", "--no_display", dest="no_display", action="store_true",
                        help="show no window (without a display, --output or --json also implies this)")
    output.add_argument("--json", action="store_true",
                        help="print one JSON object per classified frame on stdout: frame, time, top classes")
    parser.add_argument("--camera-timeout", "--camera_timeout", dest="camera_timeout", type=positive_float,
                        default=CAMERA_TIMEOUT_S, help="seconds a camera may take to open and send its first frame")
    cli.add_preprocess_arguments(parser)
    add_unfamiliarity_arguments(parser)
    parser.add_argument("--unfamiliarity", action="store_true",
                        help=argparse.SUPPRESS)  # on by default now; the flag of earlier versions is still accepted
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.video import capture as video

    if args.output is not None:
        video.check_output_path(args.output, args.force)
    show = wants_window(args, video.display_available())
    source = video.open_source(video.parse_source(args.source), args.camera_timeout, args.debug)
    try:
        predictor, model_label = load_predictor(args)
        print(f"Model: {model_label}; reading {source.name} ({source.size[0]}x{source.size[1]})", file=sys.stderr)
        writing = (video.VideoOutput(args.output, source.fps or video.DEFAULT_FPS, source.size, args.debug)
                   if args.output is not None else contextlib.nullcontext())
        with writing as output, window(show) as title:
            stats = classify_stream(source, predictor, args, output, title)
    finally:
        source.close()
    print(summary(stats, source.name, args), file=sys.stderr)
    return cli.EXIT_INTERRUPTED if stats["interrupted"] else cli.EXIT_OK


def wants_window(args: argparse.Namespace, display: bool) -> bool:
    """Whether to show a window: not with --no-display; without a display, only --output or --json may go on."""
    if args.no_display:
        return False
    if display:
        return True
    if args.output is None and not args.json:
        raise UserError("no display to show the video on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
                        "add --no-display with --output FILE.mp4 or --json")
    print(f"{PROG}: note: no display (DISPLAY/WAYLAND_DISPLAY unset), running without a window", file=sys.stderr)
    return False


def load_predictor(args: argparse.Namespace):
    """The model from --saved-model run by --engine, wrapped once in a FramePredictor; and a one-line
    description that names the engine."""
    from fashion_mnist_vis.video.frame_predictor import FramePredictor

    opened = open_with_training_index(args)
    handle = opened.handle
    if opened.note:  # the source opened: the video will be classified
        print(opened.note, file=sys.stderr)
    predictor = FramePredictor(handle, top_k=args.top_k, unfamiliarity=opened.unfamiliarity,
                               **cli.analyser_options(args))
    return predictor, f"{handle.describe()}, run by {handle.engine}"


@contextlib.contextmanager
def window(show: bool):
    """An OpenCV window's title while it is open (None when not showing)."""
    if not show:
        yield None
        return
    from fashion_mnist_vis.video.capture import import_cv2

    cv2 = import_cv2()
    try:
        cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_AUTOSIZE)
    except cv2.error:
        raise UserError("this OpenCV cannot open windows (a headless build?); use --no-display "
                        "with --output or --json") from None
    try:
        yield WINDOW_TITLE
    finally:
        cv2.destroyWindow(WINDOW_TITLE)
        cv2.waitKey(1)


def classify_stream(source, predictor, args: argparse.Namespace, output, title: Optional[str]) -> dict:
    """Read, classify, draw, show and write frames until the end, a quit key, --max-frames or Ctrl-C.

    Returns counts and times for :func:`summary`: frames read, classified,
    written, seconds, whether Ctrl-C stopped it and why it ended.
    """
    from fashion_mnist_vis.video.frame_overlay import FrameOverlay, RateMeter
    from fashion_mnist_vis.video.frame_region import analysed_region
    from fashion_mnist_vis.video.capture import import_cv2

    cv2 = import_cv2(args.debug)
    left, top, right, bottom = analysed_region(*source.size, args.region)
    overlay = FrameOverlay((left, top, right, bottom), source.size)
    shown, classified = RateMeter(), RateMeter()
    stats = {"read": 0, "classified": 0, "written": 0, "seconds": 0.0, "interrupted": False, "ended": "end of video"}
    start = time.perf_counter()
    frame = source.first_frame
    try:
        while frame is not None:
            index = stats["read"]
            stats["read"] += 1
            record = None
            if index % args.every == 0:
                rgb = cv2.cvtColor(frame[top:bottom, left:right], cv2.COLOR_BGR2RGB)
                overlay.update(predictor.predict(rgb))
                classified.tick()
                stats["classified"] += 1
                record = frame_record(index, time.perf_counter() - start, source, overlay.prediction)
            shown.tick()
            annotated = overlay.draw(frame, rate_texts(shown.rate(), classified.rate()))
            with interrupts_deferred():  # a frame is written, counted and printed together, or not at all
                if output is not None:
                    output.write(annotated)
                    stats["written"] += 1
                if args.json and record is not None:  # after the write: every printed frame is in the video
                    print(json.dumps(record), flush=True)
            if title is not None:
                cv2.imshow(title, annotated)
                if (cv2.waitKey(1) & 0xFF) in QUIT_KEYS or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
                    stats["ended"] = "stopped from the window"
                    break
            if args.max_frames is not None and stats["read"] >= args.max_frames:
                stats["ended"] = f"--max-frames {args.max_frames}"
                break
            frame = source.read()
        else:
            if source.is_camera:
                stats["ended"] = f"{source.name} stopped sending frames"
    except KeyboardInterrupt:
        stats["interrupted"], stats["ended"] = True, "interrupted"
    stats["seconds"] = time.perf_counter() - start
    return stats


@contextlib.contextmanager
def interrupts_deferred():
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block ends, then act on it.

    Without this, a Ctrl-C between writing a frame and counting it left the
    summary one frame short of the video. Acts as the handler in force would
    have: KeyboardInterrupt by default, nothing where SIGINT is ignored.
    """
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, None)
        elif received and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def rate_texts(shown: Optional[float], classified: Optional[float]):
    """The panel's status line parts: frames shown per second and frames classified per second."""
    def number(rate):
        return "--" if rate is None else f"{rate:.1f}"

    return [f"{number(shown)} fps", f"model {number(classified)}/s"]


def frame_record(index: int, seconds: float, source, prediction) -> dict:
    """The --json object of one classified frame."""
    return {
        "frame": index,
        "time": round(seconds, 4),
        "video_time": None if source.is_camera or not source.fps else round(index / source.fps, 4),
        "prediction": prediction.prediction,
        "top_k": [{"class": CLASS_NAMES[class_index], "class_index": class_index, "probability": round(probability, 6)}
                  for class_index, probability in prediction.top_k],
        "cam": prediction.cam_method,
        **({"unfamiliarity": prediction.unfamiliarity.to_dict()} if prediction.unfamiliarity is not None else {}),
    }


def summary(stats: dict, source_name: str, args: argparse.Namespace) -> str:
    """One line: frames read and classified, mean rates, why it ended and where the video went."""
    seconds = max(stats["seconds"], 1e-9)
    line = (f"Read {stats['read']} frames from {source_name}, classified {stats['classified']} "
            f"(every {args.every}): {stats['read'] / seconds:.1f} frames/s, "
            f"{stats['classified'] / seconds:.1f} classified/s ({stats['ended']})")
    if args.output is not None:
        line += f"; wrote {stats['written']} frames to {args.output}"
    return line


if __name__ == "__main__":
    sys.exit(main())
