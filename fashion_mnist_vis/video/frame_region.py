"""Which part of a video frame is classified (no OpenCV, matplotlib or TensorFlow needed)."""

from typing import Tuple

REGION_CHOICES = ("centre", "full")
"""What part of a frame is classified: the largest centred square, or the whole frame."""

Box = Tuple[int, int, int, int]  # (left, top, right, bottom), right and bottom exclusive


def analysed_region(width: int, height: int, region: str = "centre") -> Box:
    """The box of a ``width`` x ``height`` frame that is classified (see :data:`REGION_CHOICES`)."""
    if region not in REGION_CHOICES:
        raise ValueError(f"region must be one of {', '.join(REGION_CHOICES)}; got {region!r}")
    if region == "full":
        return 0, 0, width, height
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side
