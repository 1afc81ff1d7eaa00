"""Video in and out with OpenCV: cameras and files that fail fast, and atomic video files.

* :func:`open_source` opens a camera (by index) or a video file and reads its
  first frame, or raises :class:`~fashion_mnist_vis.errors.UserError` with one
  line: a missing, empty or non-video file is refused at once, and a camera
  that does not answer within a time limit is given up (OpenCV can probe a
  camera for seconds, or hang on a busy one).
* :class:`VideoOutput` writes frames to a temporary file beside the target and
  renames it into place when closed (see :mod:`fashion_mnist_vis.atomic`), so
  a failed run never leaves a partial file or replaces the user's own; the
  codec comes from the extension (:data:`CODECS`).
* :func:`display_available` says whether a window can be shown.

OpenCV and FFmpeg log their probing failures straight to stderr; :func:`import_cv2`
silences them (unless ``debug``), since every failure is reported here as a
``UserError`` instead.
"""

import os
import sys
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.errors import UserError

CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
"""FourCC codec for each output extension: MPEG-4 Part 2 in .mp4, Motion JPEG in .avi."""

DEFAULT_FPS = 30.0
"""Frame rate written when the source does not report a usable one (most cameras do)."""

CAMERA_TIMEOUT_S = 10.0
"""How long a camera may take to open and deliver its first frame."""


def import_cv2(debug: bool = False):
    """Import and return ``cv2``, with OpenCV's and FFmpeg's own log lines off unless ``debug``."""
    if not debug:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # read when cv2 is first imported
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2  # noqa: PLC0415 (lazy: keeps --help fast)

    if not debug:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # if cv2 was imported before
    return cv2


def parse_source(text: str) -> Union[int, Path]:
    """A camera index (a whole number such as "0") or the path of a video file."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else Path(text)


@dataclass
class VideoSource:
    """An opened camera or video file.

    Attributes:
        capture: the ``cv2.VideoCapture``.
        name: "camera 0" or the file's path, for messages.
        is_camera: True for a camera.
        fps: the frame rate the source reports, or None if it reports none.
        first_frame: uint8 BGR (H, W, 3), already read.
    """

    capture: object
    name: str
    is_camera: bool
    fps: Optional[float]
    first_frame: np.ndarray

    @property
    def size(self) -> Tuple[int, int]:
        """(width, height) of the frames."""
        return self.first_frame.shape[1], self.first_frame.shape[0]

    def read(self) -> Optional[np.ndarray]:
        """The next frame, uint8 BGR (H, W, 3), or None at the end (or when the camera stops)."""
        ok, frame = self.capture.read()
        return _as_bgr(frame) if ok and frame is not None else None

    def close(self) -> None:
        self.capture.release()


def open_source(source: Union[int, str, Path], camera_timeout: float = CAMERA_TIMEOUT_S,
                debug: bool = False) -> VideoSource:
    """Open a camera index or a video file and read its first frame.

    Raises:
        UserError: the file is missing, a folder, empty, unreadable, not a
            video OpenCV can decode, or has no frames; the camera does not
            exist, cannot be opened, or sends no frame within ``camera_timeout``
            seconds.
    """
    cv2 = import_cv2(debug)
    if isinstance(source, int):
        return _open_camera(cv2, source, camera_timeout)
    return _open_file(cv2, Path(source))


def _open_file(cv2, path: Path) -> VideoSource:
    name = str(path)
    if not path.exists():
        raise UserError(f"video file {name!r} does not exist")
    if path.is_dir():
        raise UserError(f"video file {name!r} is a folder; give a video file or a camera index such as 0")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as error:
        raise UserError(f"cannot read video file {name!r}: {error.strerror or error}") from None
    if size == 0:
        raise UserError(f"video file {name!r} is empty (0 bytes)")
    # FFmpeg alone: other back ends read names such as "img%03d.png" as image sequences.
    backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
    capture = cv2.VideoCapture(name, backend)
    if not capture.isOpened():
        capture.release()
        raise UserError(f"{name!r} is not a video file OpenCV can read (unknown format or damaged)")
    ok, frame = capture.read()
    if not ok or frame is None:
        capture.release()
        raise UserError(f"video file {name!r} has no frames OpenCV can decode")
    return VideoSource(capture, name, False, _usable_fps(capture.get(cv2.CAP_PROP_FPS)), _as_bgr(frame))


def _open_camera(cv2, index: int, timeout: float) -> VideoSource:
    name = f"camera {index}"
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        raise UserError(f"there is no {name} (/dev/video{index} does not exist); "
                        "give another camera index or a video file", settings=("source",))
    result = {}

    def probe():  # in a thread: opening a busy or broken camera can block for a long time
        try:
            capture = cv2.VideoCapture(index)
            ok, frame = capture.read() if capture.isOpened() else (False, None)
        except cv2.error as error:
            result["error"] = " ".join(str(error).split())
            return
        result.update(capture=capture, opened=capture.isOpened(), frame=frame if ok else None)

    thread = threading.Thread(target=probe, name=f"open-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise UserError(f"{name} did not deliver a frame within {timeout:g} s; is another program using it?")
    if "error" in result:
        raise UserError(f"cannot open {name}: {result['error']}")
    capture = result["capture"]
    if not result["opened"]:
        capture.release()
        raise UserError(f"cannot open {name}: no such camera, or no permission to use it")
    if result["frame"] is None:
        capture.release()
        raise UserError(f"{name} opened but sent no frame; is another program using it?")
    return VideoSource(capture, name, True, _usable_fps(capture.get(cv2.CAP_PROP_FPS)), _as_bgr(result["frame"]))


def _usable_fps(value: float) -> Optional[float]:
    return float(value) if np.isfinite(value) and 0 < value <= 1000 else None


def _as_bgr(frame: np.ndarray) -> np.ndarray:
    """Frames as uint8 (H, W, 3) BGR: greyscale frames get three channels, BGRA loses alpha."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    return frame[:, :, :3]


def display_available() -> bool:
    """Whether a window can be opened: on Linux and other X11 systems, DISPLAY or WAYLAND_DISPLAY is set."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def check_output_path(path: Path, force: bool = False) -> None:
    """Raise UserError unless ``path`` is a video we may write: known extension, writable folder, no file in the way."""
    name = str(path)
    if path.suffix.lower() not in CODECS:
        raise UserError(f"cannot write video {name!r}: the name must end in "
                        f"{' or '.join(CODECS)} (the codec is chosen from it)")
    if path.is_dir():
        raise UserError(f"output {name!r} is a folder; give a file name ending in .mp4 or .avi")
    if path.exists() and not force:
        raise UserError(f"output {name!r} already exists; choose another name or allow replacing it",
                        settings=("output", "force"))
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"cannot write video {name!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write video {name!r}: the folder {str(folder)!r} is not writable")


class VideoOutput:
    """Writes frames to ``path`` atomically: a temporary file until :meth:`close` succeeds.

    Use as a context manager. Leaving the ``with`` block normally renames the
    finished file to ``path`` (replacing one that was there only if the caller
    allowed it, see :func:`check_output_path`); leaving it with an exception
    removes the temporary file and leaves ``path`` as it was.

    Args:
        path: the video file to write; its extension picks the codec (:data:`CODECS`).
        fps: frames per second written in the file.
        size: (width, height) of every frame.
    """

    def __init__(self, path: Path, fps: float, size: Tuple[int, int], debug: bool = False):
        self.path = Path(path)
        self.fps = fps
        self.size = tuple(size)
        self.frames = 0
        self._cv2 = import_cv2(debug)
        self._stack = ExitStack()
        self._writer = None

    def __enter__(self) -> "VideoOutput":
        temp = self._stack.enter_context(atomic_path(self.path))
        fourcc = self._cv2.VideoWriter_fourcc(*CODECS[self.path.suffix.lower()])
        self._writer = self._cv2.VideoWriter(str(temp), fourcc, self.fps, self.size)
        if not self._writer.isOpened():
            error = UserError(f"OpenCV cannot write {self.path.suffix} video to {str(self.path)!r} "
                              f"(codec {CODECS[self.path.suffix.lower()]} unavailable?); try .avi")
            self._stack.__exit__(UserError, error, None)  # as a failure: the temporary file is removed
            raise error
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 BGR frame of :attr:`size`."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise ValueError(f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the video's "
                             f"{self.size[0]}x{self.size[1]}")
        self._writer.write(frame)
        self.frames += 1

    def __exit__(self, kind, error, trace) -> bool:
        self._writer.release()  # finishes the file (for .mp4: writes the index), even on failure
        return self._stack.__exit__(kind, error, trace)
