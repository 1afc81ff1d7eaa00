"""Drawing a frame's classification onto the frame: CAM heatmap, top classes, frame rates.

:class:`FrameOverlay` keeps the latest :class:`~fashion_mnist_vis.video.frame_predictor.FramePrediction`
and draws it on every frame shown, so frames between two classified ones
reuse the last result. On each frame it

* alpha-blends the class activation map (colour map
  :data:`~fashion_mnist_vis.visualize.map_arrays.HEATMAP_CMAP`, opacity
  :data:`~fashion_mnist_vis.visualize.map_arrays.HEATMAP_ALPHA`) over the part of the
  analysed region the model saw (the preprocessing's canvas; the rest is left
  unchanged, as in ``classify.py``'s CAM-on-photo plot),
* outlines the analysed region (when it is not the whole frame),
* writes a panel in the top-left corner: the top classes with their
  probabilities, the map's method and class, and the frame rates.

Frames are OpenCV's uint8 BGR (H, W, 3); the text scales with the frame height.
"""

import collections
import time
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.video.frame_region import Box
from fashion_mnist_vis.visualize.map_arrays import HEATMAP_ALPHA, overlay, place_on_canvas

_WHITE, _BLACK, _YELLOW, _RED = (255, 255, 255), (0, 0, 0), (0, 230, 255), (60, 60, 255)  # BGR


class RateMeter:
    """Events per second over a sliding window (for the frame rates shown live).

    Args:
        window: seconds of history the rate is averaged over.
        clock: returns the time in seconds (``time.perf_counter`` by default).
    """

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.perf_counter):
        self.window = window
        self.clock = clock
        self._times = collections.deque()

    def tick(self) -> None:
        """Record one event now."""
        now = self.clock()
        self._times.append(now)
        while len(self._times) > 2 and now - self._times[0] > self.window:
            self._times.popleft()

    def rate(self) -> Optional[float]:
        """Events per second between the oldest and newest recorded events; None before two events."""
        if len(self._times) < 2 or self._times[-1] <= self._times[0]:
            return None
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])


OVERLAY_REASONS = {
    "nearest_training_image": lambda found: f"d {found.score:.2f}",
    "mahalanobis": lambda found: "outside classes",
    "lit_share": lambda found: "fills frame",
    "dimness": lambda found: "too dim",
    "busy_background": lambda found: "busy background",
}
"""The short reason on the overlay's warning, by the first score that flagged the frame."""


class FrameOverlay:
    """Draws the latest prediction on frames of one size.

    Args:
        box: the analysed region of each frame (see :func:`~fashion_mnist_vis.video.frame_region.analysed_region`).
        frame_size: (width, height) of the frames.
    """

    def __init__(self, box: Box, frame_size: Tuple[int, int]):
        self.box = box
        self.frame_size = tuple(frame_size)
        self.prediction = None
        self._tint: Optional[np.ndarray] = None  # float32 (h, w, 3) BGR, 0..255 x alpha
        self._keep: Optional[np.ndarray] = None  # float32 (h, w, 1): 1 - alpha on the map, 1 elsewhere
        self._scale = float(np.clip(frame_size[1] / 540.0, 0.38, 1.6))
        self._thickness = max(1, int(round(self._scale * 1.6)))

    def update(self, prediction) -> None:
        """Show ``prediction`` (a FramePrediction) from now on; its heatmap is placed on the region once here."""
        self.prediction = prediction
        left, top, right, bottom = self.box
        self._tint = self._keep = None
        if prediction.heatmap is not None:
            placed = place_on_canvas(prediction.heatmap, (right - left, bottom - top), prediction.canvas_box)
            # overlay() on black gives colour x alpha where the map is (the blend's second term),
            # so each frame only needs frame x (1 - alpha) + tint.
            self._tint = overlay(np.zeros(placed.shape, np.float32), placed)[:, :, ::-1] * 255.0  # BGR
            self._keep = np.where(np.isfinite(placed), 1.0 - HEATMAP_ALPHA, 1.0).astype(np.float32)[:, :, None]

    def draw(self, frame: np.ndarray, rates: Sequence[str] = ()) -> np.ndarray:
        """A copy of ``frame`` (uint8 BGR) with the heatmap, region outline and text panel.

        Args:
            frame: uint8 BGR (H, W, 3) of :attr:`frame_size`.
            rates: short status texts (e.g. "12.0 fps"), joined on the panel's last line.
        """
        import cv2  # noqa: PLC0415 (lazy: keeps --help fast)

        annotated = np.array(frame, dtype=np.uint8, copy=True)
        left, top, right, bottom = self.box
        if self._tint is not None:
            blended = annotated[top:bottom, left:right] * self._keep + self._tint
            annotated[top:bottom, left:right] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        if (left, top, right, bottom) != (0, 0) + self.frame_size:
            cv2.rectangle(annotated, (left, top), (right - 1, bottom - 1), _BLACK, self._thickness + 2)
            cv2.rectangle(annotated, (left, top), (right - 1, bottom - 1), _WHITE, self._thickness)
        self._draw_panel(cv2, annotated, self._panel_lines(rates))
        return annotated

    def _panel_lines(self, rates: Sequence[str]):
        """(text, right-aligned text, colour) rows: the top classes (the first highlighted), the map, a warning
        on an unfamiliar frame, the rates."""
        rows = []
        if self.prediction is not None:
            for rank, (index, probability) in enumerate(self.prediction.top_k):
                rows.append((CLASS_NAMES[index], f"{100 * probability:.1f}%", _YELLOW if rank == 0 else _WHITE))
            method = self.prediction.cam_method
            rows.append((f"{method} of {self.prediction.prediction}" if method else "no CAM (no conv layer)", "", _WHITE))
            unfamiliarity = self.prediction.unfamiliarity
            if unfamiliarity is not None and unfamiliarity.flagged:
                rows.append(("Not like any garment it knows", OVERLAY_REASONS[unfamiliarity.flagged_by[0]](unfamiliarity),
                             _RED))
        if rates:
            rows.append((" | ".join(rates), "", _WHITE))
        return rows

    def _draw_panel(self, cv2, image: np.ndarray, rows) -> None:
        """Rows of text on a darkened box in the top-left corner; percentages right-aligned in a column."""
        if not rows:
            return
        font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, self._scale, self._thickness

        def size(text):
            (width, height), baseline = cv2.getTextSize(text or " ", font, scale, thickness)
            return width, height + baseline

        pad = int(round(8 * scale))
        gap = size("  ")[0]
        line_height = max(size(text)[1] for row in rows for text in row[:2]) + int(round(6 * scale))
        left_width = max(size(left)[0] for left, right, _ in rows if right) if any(row[1] for row in rows) else 0
        right_width = max(size(right)[0] for _, right, _ in rows)
        width = max([left_width + gap + right_width] + [size(left)[0] for left, right, _ in rows if not right])
        right_edge, bottom = min(image.shape[1], width + 2 * pad), min(image.shape[0], line_height * len(rows) + pad)
        panel = image[:bottom, :right_edge]
        panel[:] = (panel.astype(np.float32) * 0.35).astype(np.uint8)  # darken: text stays readable on any frame
        descent = int(round(4 * scale))
        for number, (left, right, colour) in enumerate(rows):
            baseline = pad + (number + 1) * line_height - descent - int(round(3 * scale))
            cv2.putText(image, left, (pad, baseline), font, scale, colour, thickness, cv2.LINE_AA)
            if right:
                x = pad + left_width + gap + right_width - size(right)[0]
                cv2.putText(image, right, (x, baseline), font, scale, colour, thickness, cv2.LINE_AA)
