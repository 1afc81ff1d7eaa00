"""A procedurally generated, deterministic Fashion-MNIST look-alike.

The real Fashion-MNIST cannot always be downloaded (offline machines, CI), so
tests, demos and benchmarks can use this stand-in instead
(``--dataset synthetic``). It follows the real set's conventions exactly:

* images: uint8 arrays of shape (N, 28, 28), values 0..255, a light item on
  a black (0) background, centred and filling most of the frame;
* labels: uint8 arrays of shape (N,), values 0..9 naming
  :data:`~fashion_mnist_vis.classes.CLASS_NAMES` in the official order.

Each class is drawn as a garment-like silhouette (side views for the shoes,
toes to the left as in the real set): T-shirts with short sleeves, trousers
with two legs, pullovers, coats and shirts with long sleeves (coats have a
front opening and lapels, shirts a collar and buttons, pullovers ribbed
bands), A-line dresses, strappy sandals, low sneakers, bags with a handle and
ankle boots with a shaft. Every image varies in size, aspect, position, a
small rotation, class-specific shape parameters (sleeve length, heel height,
...), shade, texture (stripes, checks, blotches, gradients) and pixel noise.
The shade comes from the same distribution for every class, so mean
brightness alone is a poor classifier, while a small CNN learns the classes
well (the pullover/coat/shirt group is, as in the real set, the hardest).

Generation draws transformed polygons with Pillow on a 4x supersampled
canvas, box-downsamples, and applies shade, texture and noise to whole
batches with numpy: 70,000 images take a few seconds.

The same seed always gives byte-identical arrays.
"""

import math
from typing import Callable, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from fashion_mnist_vis.classes import IMAGE_SIZE, NUM_CLASSES
from fashion_mnist_vis.errors import UserError

SUPERSAMPLE = 4
"""Shapes are drawn at SUPERSAMPLE x the final resolution, then box-downsampled."""

_PAD = 4  # final-resolution pixels of margin around each drawing cell (items may poke out)
_CELL = (IMAGE_SIZE + 2 * _PAD) * SUPERSAMPLE  # side of one drawing cell on the canvas
_CHUNK = 1000  # images drawn and finished per batch (bounds memory use)
_NUM_SHAPE_PARAMS = 16  # uniform numbers per image for the class-specific shape parameters

# Colours on the drawing canvas are "reflectances" in 0..1 (1 = the garment's
# own shade, 0 = black); they are stored as 0..255 and scaled by the image's
# shade afterwards.
Point = Tuple[float, float]
# Drawing operations, in garment coordinates: x to the right, y downwards,
# the garment spanning about -1..1 (the renderer re-centres each item's
# bounding box and scales its longer side to the frame, as in the real set).
#   ("poly", points, value)          a filled polygon
#   ("line", points, width, value)   a polyline of the given width
#   ("dot", (x, y), radius, value)   a filled circle
Op = tuple


# ----------------------------------------------------------------------------
# Small geometry helpers


def _lerp(low: float, high: float, t: float) -> float:
    return low + (high - low) * t


def _mirror(points: Sequence[Point]) -> List[Point]:
    """The mirror image (x -> -x) of ``points``, in reverse order, to close a symmetric outline."""
    return [(-x, y) for x, y in reversed(points)]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int) -> List[Point]:
    """Points on an elliptical arc from angle ``start`` to ``stop`` (radians, y down)."""
    return [
        (cx + rx * math.cos(a), cy + ry * math.sin(a))
        for a in (start + (stop - start) * i / steps for i in range(steps + 1))
    ]


def _detail(u: float, weak: float, strong: float) -> float:
    """Reflectance of a darker detail (seam, opening, button): 1 minus a contrast in weak..strong."""
    return 1.0 - _lerp(weak, strong, u)


# ----------------------------------------------------------------------------
# The garments. Each builder takes _NUM_SHAPE_PARAMS uniform numbers in [0, 1)
# and returns the drawing operations for one item.


def _neckline(half_width: float, top: float, depth: float) -> List[Point]:
    """A rounded neckline dipping ``depth`` below ``top``, from the right side to the left."""
    return _arc(0.0, top, half_width, depth, 0.0, math.pi, 6)


def _short_sleeved_top(u: Sequence[float]) -> List[Op]:
    """T-shirt/top: a straight body with short (sometimes cap) sleeves and a round neck."""
    top = -0.92
    hem = _lerp(0.82, 1.0, u[0])
    shoulder = _lerp(0.42, 0.56, u[1])
    body = shoulder + _lerp(-0.04, 0.06, u[2])
    sleeve_length = _lerp(0.12, 0.5, u[3])
    angle = math.radians(_lerp(22.0, 50.0, u[4]))
    sleeve_width = _lerp(0.26, 0.36, u[5])
    neck = _lerp(0.14, 0.22, u[6])
    neck_depth = _lerp(0.06, 0.22, u[7])
    s = (-shoulder, top + 0.07)
    direction = (-math.cos(angle), math.sin(angle))
    normal = (math.sin(angle), math.cos(angle))
    p1 = (s[0] + sleeve_length * direction[0], s[1] + sleeve_length * direction[1])
    p2 = (p1[0] + sleeve_width * normal[0], p1[1] + sleeve_width * normal[1])
    armpit = (-shoulder + 0.02, min(s[1] + sleeve_width + 0.12, p2[1] + 0.05))
    left = [(-neck, top), s, p1, p2, armpit, (-body, hem)]
    hem_curve = [(-body * 0.5, hem + 0.02 * u[8]), (body * 0.5, hem + 0.02 * u[8])]
    outline = left + hem_curve + _mirror(left)[:-1] + [(neck, top)] + _neckline(neck, top, neck_depth)[1:-1]
    ops: List[Op] = [("poly", outline, 1.0)]
    if u[9] < 0.5:  # a visible neck band
        ops.append(("line", _neckline(neck, top + 0.05, neck_depth), 0.06, _detail(u[10], 0.2, 0.5)))
    return ops


def _long_sleeved_outline(
    u: Sequence[float],
    top: float,
    hem: float,
    neck_points: List[Point],
    neck: float,
    shoulders: Tuple[float, float],
    spreads: Tuple[float, float],
    cuffs: Tuple[float, float],
) -> Tuple[List[Point], float, float]:
    """The outline of a long-sleeved garment (pullover, coat, shirt).

    Sleeves hang from the shoulders, slightly apart from the body, ending at
    cuffs near the hem. ``shoulders``, ``spreads`` and ``cuffs`` are the
    garment's (overlapping) ranges of shoulder half-width, sleeve spread and
    cuff height. Returns (outline, body half-width at the hem, cuff y).
    """
    shoulder = _lerp(*shoulders, u[1])
    body = shoulder + _lerp(-0.03, 0.06, u[2])
    spread = _lerp(*spreads, u[3])
    cuff_y = _lerp(*cuffs, u[4])
    cuff_width = _lerp(0.2, 0.27, u[5])
    s = (-shoulder, top + 0.08)
    cuff_outer = (-shoulder - spread, cuff_y)
    cuff_inner_x = min(-shoulder - spread + cuff_width, -body - 0.04)
    cuff_inner = (cuff_inner_x, cuff_y + 0.03)
    armpit = (-shoulder + 0.02, top + _lerp(0.38, 0.5, u[6]))
    left = [(-neck, top), s, (s[0] - 0.12, s[1] + 0.06), cuff_outer, cuff_inner, armpit, (-body, hem)]
    outline = left + _mirror(left)[:-1] + [(neck, top)] + neck_points
    return outline, body, cuff_y


def _pullover(u: Sequence[float]) -> List[Op]:
    """Pullover: long sleeves held a little wider, a round neck, often a ribbed hem band."""
    top = -0.92
    hem = _lerp(0.76, 0.94, u[0])
    neck = _lerp(0.14, 0.22, u[7])
    neck_depth = _lerp(0.06, 0.2, u[8])
    neckline = _neckline(neck, top, neck_depth)[1:-1]
    outline, body, _ = _long_sleeved_outline(u, top, hem, neckline, neck, (0.46, 0.56), (0.34, 0.46), (0.5, 0.86))
    ops: List[Op] = [("poly", outline, 1.0)]
    band = _detail(u[9], 0.1, 0.45)
    if u[10] < 0.7:  # ribbed hem band
        y = hem - _lerp(0.1, 0.18, u[11])
        ops.append(("line", [(-body, y), (body, y)], 0.05, band))
    if u[12] < 0.6:  # neck band
        ops.append(("line", _neckline(neck, top + 0.05, neck_depth), 0.06, band))
    return ops


def _coat(u: Sequence[float]) -> List[Op]:
    """Coat: long sleeves, a front opening from a V-neck with lapels, sometimes pockets or a belt."""
    top = -0.95
    hem = _lerp(0.9, 1.0, u[0])
    neck = _lerp(0.15, 0.24, u[7])
    v_depth = _lerp(0.25, 0.55, u[8])
    outline, body, _ = _long_sleeved_outline(
        u, top, hem, [(0.0, top + v_depth)], neck, (0.48, 0.6), (0.3, 0.42), (0.7, 0.98)
    )
    dark = _detail(u[9], 0.3, 0.85)
    opening = _lerp(0.04, 0.09, u[10])
    ops: List[Op] = [
        ("poly", outline, 1.0),
        ("line", [(0.0, top + v_depth), (0.0, hem)], opening, dark),
        # lapels: from the neck points down to the bottom of the V
        ("line", [(-neck - 0.08, top + 0.03), (-0.05, top + v_depth + 0.08)], 0.05, dark),
        ("line", [(neck + 0.08, top + 0.03), (0.05, top + v_depth + 0.08)], 0.05, dark),
    ]
    if u[11] < 0.4:  # pockets
        y = _lerp(0.35, 0.55, u[12])
        for x in (-body * 0.55, body * 0.55):
            ops.append(("line", [(x - 0.15, y), (x + 0.15, y)], 0.05, dark))
    elif u[11] < 0.6:  # belt
        y = _lerp(0.0, 0.2, u[12])
        ops.append(("line", [(-body, y), (body, y)], 0.07, dark))
    return ops


def _shirt(u: Sequence[float]) -> List[Op]:
    """Shirt: long sleeves, a pointed collar, a button placket, sometimes a chest pocket."""
    top = -0.92
    hem = _lerp(0.86, 1.0, u[0])
    neck = _lerp(0.12, 0.18, u[7])
    outline, body, _ = _long_sleeved_outline(
        u, top, hem, [(0.0, top + 0.12)], neck, (0.4, 0.52), (0.26, 0.38), (0.7, 0.98)
    )
    dark = _detail(u[9], 0.25, 0.75)
    collar = _lerp(0.22, 0.32, u[8])
    ops: List[Op] = [
        ("poly", outline, 1.0),
        # collar points
        ("line", [(-neck - 0.06, top + 0.02), (-0.08, top + collar), (0.0, top + 0.14)], 0.045, dark),
        ("line", [(neck + 0.06, top + 0.02), (0.08, top + collar), (0.0, top + 0.14)], 0.045, dark),
        # placket
        ("line", [(0.0, top + collar), (0.0, hem)], 0.03, _detail(u[9], 0.1, 0.4)),
    ]
    buttons = 4 + int(u[10] * 4)
    first, last = top + collar + 0.1, hem - 0.12
    radius = _lerp(0.045, 0.065, u[11])
    for i in range(buttons):
        ops.append(("dot", (0.0, first + (last - first) * i / (buttons - 1)), radius, dark))
    if u[12] < 0.4:  # chest pocket
        x, y = -body * 0.5, top + _lerp(0.45, 0.6, u[13])
        ops.append(("line", [(x - 0.14, y), (x - 0.14, y + 0.24), (x + 0.14, y + 0.24), (x + 0.14, y)], 0.04, dark))
    return ops


def _trouser(u: Sequence[float]) -> List[Op]:
    """Trouser: a waistband and two legs, straight, slim or flared."""
    top = -1.0
    bottom = _lerp(0.9, 1.0, u[0])
    waist = _lerp(0.3, 0.42, u[1])
    hip = waist + _lerp(0.0, 0.06, u[2])
    outer = _lerp(0.3, 0.5, u[3])
    gap = _lerp(0.03, 0.14, u[4])
    crotch = _lerp(-0.45, -0.2, u[5])
    ops: List[Op] = [
        (
            "poly",
            [(-waist, top), (waist, top), (hip, -0.55), (outer, bottom), (gap, bottom), (0.0, crotch),
             (-gap, bottom), (-outer, bottom), (-hip, -0.55)],
            1.0,
        )
    ]
    if u[6] < 0.6:  # waistband seam
        y = top + _lerp(0.1, 0.16, u[7])
        ops.append(("line", [(-waist, y), (waist, y)], 0.04, _detail(u[8], 0.15, 0.5)))
    return ops


def _dress(u: Sequence[float]) -> List[Op]:
    """Dress: narrow shoulders or straps, a fitted waist and an A-line skirt."""
    top = -0.98
    hem = _lerp(0.84, 1.0, u[0])
    strap = _lerp(0.2, 0.34, u[1])
    neck = strap * _lerp(0.35, 0.65, u[2])
    neck_depth = _lerp(0.08, 0.3, u[3])
    bust = _lerp(0.28, 0.38, u[4])
    waist_y = _lerp(-0.3, -0.05, u[5])
    waist = _lerp(0.2, 0.3, u[6])
    flare = _lerp(0.5, 0.88, u[7])
    left = [(-neck, top), (-strap, top)]
    if u[8] < 0.35:  # short cap sleeves
        left += [(-strap - 0.18, top + 0.12), (-strap - 0.12, top + 0.3)]
    else:  # armhole
        left += [(-strap + 0.02, top + 0.2)]
    left += [(-bust, -0.5), (-waist, waist_y), (-flare, hem)]
    outline = left + [(-flare * 0.5, hem + 0.03), (flare * 0.5, hem + 0.03)] + _mirror(left)[:-1]
    outline += [(neck, top)] + _neckline(neck, top, neck_depth)[1:-1]
    ops: List[Op] = [("poly", outline, 1.0)]
    if u[9] < 0.4:  # waist seam
        ops.append(("line", [(-waist, waist_y), (waist, waist_y)], 0.05, _detail(u[10], 0.15, 0.5)))
    return ops


def _sandal(u: Sequence[float]) -> List[Op]:
    """Sandal (side view, toe left): a thin sole, maybe a heel, and an upper of straps with gaps."""
    base = _lerp(0.42, 0.6, u[0])
    sole = _lerp(0.07, 0.13, u[1])
    heel = _lerp(0.15, 0.5, u[2]) if u[3] < 0.5 else 0.0
    ball_x = _lerp(-0.4, -0.2, u[4])
    heel_x = _lerp(0.5, 0.68, u[5])
    back = 0.96
    toe_h = _lerp(0.2, 0.34, u[6])
    ankle_h = _lerp(0.7, 1.0, u[7]) - heel * 0.5

    def sole_top(x: float) -> float:
        rise = min(1.0, max(0.0, (x - ball_x) / (heel_x - ball_x)))
        return base - sole - heel * rise

    def foot_top(x: float) -> float:
        t = min(1.0, max(0.0, (x + 0.95) / (back + 0.95 - 0.2)))
        return sole_top(x) - _lerp(toe_h, ankle_h, math.sin(t * math.pi / 2))

    xs = [-0.95 + (back - 0.1 + 0.95) * i / 8 for i in range(9)]
    upper = [(x, sole_top(x) + 0.02) for x in xs] + [(back, sole_top(back) + 0.02), (back, foot_top(back) + 0.1)]
    upper += [(x, foot_top(x)) for x in reversed(xs)] + [(-0.99, sole_top(-0.95) - toe_h * 0.5)]
    ops: List[Op] = [("poly", upper, 1.0)]
    # cut the gaps between the straps out of the upper: a toe band in front,
    # a heel counter at the back and 0-2 thin straps between them
    front = -0.95 + _lerp(0.25, 0.5, u[8])
    rear = back - _lerp(0.2, 0.38, u[9])
    strap = _lerp(0.1, 0.16, u[11])
    slant = _lerp(-0.25, 0.25, u[12])
    if u[14] < 0.8:  # a continuous strap along the top of the foot
        top_margin = _lerp(0.1, 0.16, u[13])
        straps = int(u[10] * 3)
    else:  # separate straps over the foot
        top_margin = -0.1
        straps = 1 + int(u[10] * 2)
    hole = (rear - front - straps * strap) / (straps + 1)
    for i in range(straps + 1):
        x0 = front + i * (hole + strap)
        x1 = x0 + hole
        ops.append(("poly", [(x0, sole_top(x0) - 0.03), (x1, sole_top(x1) - 0.03),
                             (x1 + slant, foot_top(x1 + slant) + top_margin),
                             (x0 + slant, foot_top(x0 + slant) + top_margin)], 0.0))
    if top_margin < 0.0:  # an ankle strap closes the heel
        ops.append(("line", [(rear - 0.25, foot_top(rear - 0.25) + 0.08), (back, foot_top(back) + 0.1)], strap, 1.0))
    # sole, drawn last so the gaps never cut into it
    sole_bottom = [(-0.98, base), (ball_x, base), (heel_x, base - heel), (back, base - heel)]
    sole_outline = sole_bottom + [(x, y - sole) for x, y in reversed(sole_bottom)] + [(-1.0, base - sole * 0.5)]
    ops.append(("poly", sole_outline, 1.0))
    if heel > 0.0:  # heel block or stiletto
        width = _lerp(0.06, 0.24, u[15])
        ops.append(("poly", [(back - width - 0.04, base - heel), (back, base - heel), (back - 0.02, base),
                             (back - width * 0.6 - 0.02, base)], 1.0))
    return ops


def _sneaker(u: Sequence[float]) -> List[Op]:
    """Sneaker (side view, toe left): low, with a thick sole, a laced front and a dipping collar."""
    base = _lerp(0.36, 0.52, u[0])
    collar = _lerp(0.62, 0.85, u[1])  # height of the heel collar above the ground
    toe_h = _lerp(0.24, 0.34, u[2])
    tongue = _lerp(0.04, 0.16, u[3])
    tongue_x = _lerp(-0.05, 0.2, u[4])
    sole = _lerp(0.12, 0.2, u[5])
    dip = _lerp(0.06, 0.18, u[13])  # the ankle opening between tongue and heel
    top = base - collar
    outline = [
        (-0.96, base),
        (-1.0, base - 0.1),
        (-0.94, base - toe_h * 0.8),
        (-0.76, base - toe_h),
        (tongue_x - 0.12, top + 0.06),
        (tongue_x, top - tongue),
        (tongue_x + 0.1, top - tongue + 0.04),
        (tongue_x + 0.18, top + dip * 0.8),
        (0.5, top + dip),
        (0.8, top + 0.02),
        (0.92, top - 0.04),
        (1.0, top + 0.1),
        (1.0, base - 0.12),
        (0.96, base),
    ]
    ops: List[Op] = [("poly", outline, 1.0)]
    sole_shade = _lerp(0.55, 1.0, u[6]) if u[10] < 0.5 else 1.0
    ops.append(("poly", [(-0.96, base), (-0.99, base - sole), (1.0, base - sole), (0.96, base)], sole_shade))
    dark = _detail(u[11], 0.3, 0.75)
    ops.append(("line", [(-0.96, base - sole), (0.99, base - sole)], 0.06, dark))  # midsole edge
    laces = 3 + int(u[7] * 3)
    for i in range(laces):  # laces
        t = (i + 0.5) / laces
        x = _lerp(-0.62, tongue_x - 0.1, t)
        y = _lerp(base - toe_h + 0.02, top + 0.1, t)
        ops.append(("line", [(x - 0.05, y - 0.05), (x + 0.08, y + 0.07)], 0.06, dark))
    if u[8] < 0.5:  # side stripe
        ops.append(("line", [(-0.3, base - sole - 0.06), (0.35, top + 0.2)], 0.07, _detail(u[9], 0.15, 0.5)))
    return ops


def _bag(u: Sequence[float]) -> List[Op]:
    """Bag: a box, often slightly tapered, with a handle arching above it."""
    body_top = _lerp(-0.3, -0.02, u[0])
    bottom = _lerp(0.84, 0.98, u[1])
    bottom_w = _lerp(0.72, 0.98, u[2])
    top_w = bottom_w * _lerp(0.78, 1.0, u[3])
    corner = 0.06
    ops: List[Op] = [
        ("poly", [(-top_w, body_top), (top_w, body_top), (bottom_w, bottom - corner), (bottom_w - corner, bottom),
                  (-bottom_w + corner, bottom), (-bottom_w, bottom - corner)], 1.0)
    ]
    handle_x = _lerp(0.25, 0.6, u[4]) * top_w
    handle_h = min(_lerp(0.35, 0.75, u[5]), body_top + 0.98)
    thickness = _lerp(0.08, 0.15, u[6])
    outer = _arc(0.0, body_top + 0.04, handle_x + thickness / 2, handle_h + thickness / 2, math.pi, 2 * math.pi, 10)
    inner = _arc(0.0, body_top + 0.04, handle_x - thickness / 2, handle_h - thickness / 2, 2 * math.pi, math.pi, 10)
    ops.append(("poly", outer + inner, 1.0))
    dark = _detail(u[7], 0.2, 0.6)
    if u[8] < 0.5:  # flap
        y = body_top + _lerp(0.25, 0.5, u[9])
        ops.append(("line", [(-top_w, y), (top_w, y)], 0.05, dark))
        if u[10] < 0.6:
            ops.append(("dot", (0.0, y + 0.05), 0.07, dark))
    return ops


def _ankle_boot(u: Sequence[float]) -> List[Op]:
    """Ankle boot (side view, toe left): a tall shaft, a sole and often a heel with an arch gap."""
    base = _lerp(0.8, 0.96, u[0])
    shaft_top = _lerp(-0.96, -0.78, u[1])
    back = _lerp(0.8, 0.92, u[2])
    shaft_front = _lerp(0.0, 0.3, u[3])
    instep = (shaft_front - _lerp(0.1, 0.25, u[4]), base - _lerp(0.6, 0.8, u[5]))
    toe_h = _lerp(0.32, 0.45, u[6])
    heel = _lerp(0.08, 0.3, u[7]) if u[8] < 0.6 else 0.0
    outline = [
        (back - 0.04, shaft_top),
        (back, base - 0.2),
        (back + 0.02, base),
    ]
    if heel > 0:  # heel block and arch gap
        heel_front = back - _lerp(0.22, 0.38, u[9])
        outline += [(heel_front, base), (heel_front - 0.03, base - heel), (-0.3, base - heel * 0.25), (-0.38, base)]
    outline += [
        (-0.94, base),
        (-1.0, base - 0.12),
        (-0.92, base - toe_h * 0.8),
        (-0.7, base - toe_h),
        instep,
        (shaft_front, shaft_top),
    ]
    dark = _detail(u[10], 0.2, 0.65)
    ops: List[Op] = [("poly", outline, 1.0)]
    sole = _lerp(0.08, 0.14, u[11])
    ops.append(("line", [(-0.96, base - sole), (back, base - sole)], 0.045, dark))
    if u[12] < 0.35:  # elastic side panel
        ops.append(("poly", [(shaft_front + 0.12, shaft_top + 0.05), (back - 0.2, shaft_top + 0.05),
                             (back - 0.3, base - 0.55), (shaft_front + 0.15, base - 0.55)], dark))
    elif u[12] < 0.6:  # laces down the front
        for i in range(4):
            t = i / 4.0
            x = _lerp(shaft_front, instep[0], t)
            y = _lerp(shaft_top + 0.15, instep[1], t)
            ops.append(("line", [(x - 0.02, y), (x + 0.15, y + 0.04)], 0.045, dark))
    return ops


_BUILDERS: Tuple[Callable[[Sequence[float]], List[Op]], ...] = (
    _short_sleeved_top,  # 0 T-shirt/top
    _trouser,  # 1 Trouser
    _pullover,  # 2 Pullover
    _dress,  # 3 Dress
    _coat,  # 4 Coat
    _sandal,  # 5 Sandal
    _shirt,  # 6 Shirt
    _sneaker,  # 7 Sneaker
    _bag,  # 8 Bag
    _ankle_boot,  # 9 Ankle boot
)
assert len(_BUILDERS) == NUM_CLASSES


# ----------------------------------------------------------------------------
# Rendering


def _draw_chunk(labels: np.ndarray, shape_u: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """Draw one batch of silhouettes; return float32 reflectances (n, 28, 28) in 0..1.

    ``geometry`` holds per image: scale, aspect (log), rotation (radians), dx, dy (pixels).
    """
    count = len(labels)
    canvas = Image.new("L", (_CELL, _CELL * count), 0)
    draw = ImageDraw.Draw(canvas)
    unit = (IMAGE_SIZE / 2 - 0.5) * SUPERSAMPLE  # canvas pixels per garment unit at scale 1
    centre = _CELL / 2
    for i in range(count):
        ops = _BUILDERS[labels[i]](shape_u[i].tolist())
        # Like the real set: centre the item's bounding box and make its longer side span the frame
        # (at scale 1), before the random aspect, scale, rotation and shift.
        xs = [x for op in ops if op[0] == "poly" and op[-1] > 0 for x, _ in op[1]]
        ys = [y for op in ops if op[0] == "poly" and op[-1] > 0 for _, y in op[1]]
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        fit = 2.0 / max(max(xs) - min(xs), max(ys) - min(ys))
        scale, log_aspect, angle, dx, dy = geometry[i].tolist()
        ax = math.exp(log_aspect)
        ay = 1.0 / ax
        s = unit * scale * fit / max(ax, ay)
        c, sn = math.cos(angle), math.sin(angle)
        # affine map garment -> canvas: rotate(scale(aspect(p - centre))) + offset
        a11, a12 = c * ax * s, -sn * ay * s
        a21, a22 = sn * ax * s, c * ay * s
        ox = centre + dx * SUPERSAMPLE - a11 * cx - a12 * cy
        oy = centre + dy * SUPERSAMPLE + i * _CELL - a21 * cx - a22 * cy

        def place(points):
            out = []
            for x, y in points:
                out.append(a11 * x + a12 * y + ox)
                out.append(a21 * x + a22 * y + oy)
            return out

        for op in ops:
            kind = op[0]
            if kind == "poly":
                draw.polygon(place(op[1]), fill=int(round(op[2] * 255)))
            elif kind == "line":
                width = max(1, int(round(op[2] * s)))
                draw.line(place(op[1]), fill=int(round(op[3] * 255)), width=width, joint="curve")
            else:  # dot
                x, y = place([op[1]])
                r = max(1.0, op[2] * s)
                draw.ellipse((x - r, y - r, x + r, y + r), fill=int(round(op[3] * 255)))
    # Box-downsample (cells are a whole number of SUPERSAMPLE blocks, so no block straddles two cells).
    pixels = np.asarray(canvas.reduce(SUPERSAMPLE)).reshape(count, _CELL // SUPERSAMPLE, _CELL // SUPERSAMPLE)
    crop = pixels[:, _PAD : _PAD + IMAGE_SIZE, _PAD : _PAD + IMAGE_SIZE]
    return crop.astype(np.float32) * np.float32(1.0 / 255)


_COORD = np.linspace(-1.0, 1.0, IMAGE_SIZE, dtype=np.float32)
_TEXTURE_GRID = 7  # blotchy texture: random values on a 7x7 grid, bilinearly upsampled
_UPSAMPLE = np.clip(
    1.0 - np.abs(np.linspace(0.0, _TEXTURE_GRID - 1, IMAGE_SIZE)[:, None] - np.arange(_TEXTURE_GRID)[None, :]),
    0.0,
    1.0,
).astype(np.float32)  # (28, 7) bilinear interpolation weights

# Texture kinds and their probabilities.
_PLAIN, _STRIPES, _CHECKS, _BLOTCHES, _GRADIENT = range(5)
_TEXTURE_P = (0.3, 0.2, 0.1, 0.2, 0.2)


def _texture(kind: np.ndarray, params: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Texture patterns (n, 28, 28) in 0..1 for a batch; 0 for plain images.

    ``params`` (n, 3) are uniform numbers giving direction, frequency and
    phase; ``grid`` (n, 7, 7) the random values of blotchy textures.
    """
    pattern = np.zeros((len(kind), IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    x = _COORD[None, None, :]
    y = _COORD[None, :, None]

    def waves(which):
        p = params[which]
        angle = p[:, 0, None, None] * np.float32(math.pi)
        omega = np.float32(math.pi) * (3.0 + 6.0 * p[:, 1, None, None])  # 3..9 cycles across the frame
        cos, sin = np.cos(angle), np.sin(angle)
        return omega * (x * cos + y * sin) + p[:, 2, None, None] * np.float32(2 * math.pi), omega * (y * cos - x * sin)

    which = np.flatnonzero(kind == _STRIPES)
    along, _ = waves(which)
    pattern[which] = 0.5 + 0.5 * np.sin(along)
    which = np.flatnonzero(kind == _CHECKS)
    along, across = waves(which)
    pattern[which] = np.sin(along) * np.sin(across) > 0
    which = np.flatnonzero(kind == _BLOTCHES)
    pattern[which] = _UPSAMPLE @ grid[which] @ _UPSAMPLE.T
    which = np.flatnonzero(kind == _GRADIENT)
    angle = params[which, 0, None, None] * np.float32(2 * math.pi)
    pattern[which] = np.clip(0.5 + 0.5 * (x * np.cos(angle) + y * np.sin(angle)), 0.0, 1.0)
    return pattern


def _generate(num_images: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Generate ``num_images`` images and labels from the random generator ``rng``."""
    labels = rng.permutation(np.arange(num_images) % NUM_CLASSES).astype(np.uint8)
    shape_u = rng.random((num_images, _NUM_SHAPE_PARAMS))
    geometry = np.column_stack(
        [
            rng.uniform(0.84, 1.0, num_images),  # scale
            rng.uniform(-0.12, 0.12, num_images),  # log aspect ratio
            np.radians(rng.uniform(-8.0, 8.0, num_images)),  # rotation
            rng.uniform(-1.5, 1.5, num_images),  # shift x, pixels
            rng.uniform(-1.5, 1.5, num_images),  # shift y, pixels
        ]
    )
    # Shade: the same distribution for every class.
    shade = rng.uniform(70.0, 255.0, num_images).astype(np.float32)
    texture_kind = rng.choice(len(_TEXTURE_P), size=num_images, p=_TEXTURE_P)
    texture_params = rng.random((num_images, 3), dtype=np.float32)
    texture_amount = rng.uniform(0.15, 0.6, num_images).astype(np.float32)
    noise_sigma = rng.uniform(2.0, 14.0, num_images).astype(np.float32)

    images = np.empty((num_images, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, num_images, _CHUNK):
        part = slice(start, min(start + _CHUNK, num_images))
        count = part.stop - part.start
        grid = rng.random((count, _TEXTURE_GRID, _TEXTURE_GRID), dtype=np.float32)
        noise = rng.standard_normal((count, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        reflectance = _draw_chunk(labels[part], shape_u[part], geometry[part])
        pattern = _texture(texture_kind[part], texture_params[part], grid)
        value = reflectance * shade[part, None, None] * (1.0 - texture_amount[part, None, None] * pattern)
        # pixel noise on the item only (fading out over its anti-aliased edge); the background stays black
        value += noise * noise_sigma[part, None, None] * np.minimum(reflectance * 2.0, 1.0)
        images[part] = np.clip(np.rint(value), 0, 255).astype(np.uint8)
    return images, labels


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise UserError(f"{name} must be a whole number >= 0 (got {value!r})")
    return int(value)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"the synthetic data seed must be a whole number >= 0 (got {seed!r})")
    return int(seed)


def generate_synthetic(num_images: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)``: ``num_images`` synthetic Fashion-MNIST look-alikes.

    Args:
        num_images: how many images to draw (>= 0).
        seed: a whole number >= 0; the same seed gives byte-identical arrays.

    Returns:
        images: uint8 array (num_images, 28, 28), values 0..255, light items
            on a black background.
        labels: uint8 array (num_images,), values 0..9 (indices into
            :data:`~fashion_mnist_vis.classes.CLASS_NAMES`); every class occurs
            ``num_images // 10`` or ``num_images // 10 + 1`` times, in random
            order.

    Raises:
        UserError: if ``num_images`` or ``seed`` is negative or not a whole number.
    """
    num_images = _check_count("the number of synthetic images", num_images)
    return _generate(num_images, np.random.default_rng(_check_seed(seed)))


def load_synthetic(
    train_size: int = 60000, test_size: int = 10000, seed: int = 0
) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)`` like ``keras.datasets.fashion_mnist.load_data()``.

    Images are uint8 (size, 28, 28) in 0..255 and labels uint8 (size,) in
    0..9, as from the real set (see :func:`generate_synthetic`). The training
    and test sets come from two independent random streams derived from
    ``seed``, so changing ``test_size`` does not change the training images
    (and vice versa).

    Raises:
        UserError: if a size or the seed is negative or not a whole number.
    """
    train_size = _check_count("the synthetic training set size", train_size)
    test_size = _check_count("the synthetic test set size", test_size)
    train_seed, test_seed = np.random.SeedSequence(_check_seed(seed)).spawn(2)
    train = _generate(train_size, np.random.default_rng(train_seed))
    test = _generate(test_size, np.random.default_rng(test_seed))
    return train, test
