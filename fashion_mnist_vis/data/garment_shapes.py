"""The clothes and bags of the synthetic Fashion-MNIST look-alike, as drawing operations.

Each builder turns :data:`NUM_SHAPE_PARAMS` uniform numbers in [0, 1) into
the polygons, lines and dots of one item: T-shirts with short sleeves,
trousers with two legs, pullovers, coats and shirts with long sleeves (coats
with a front opening and lapels, shirts with a collar and buttons, pullovers
with ribbed bands), A-line dresses and bags with a handle. The shoes are in
:mod:`fashion_mnist_vis.data.shoe_shapes`; :mod:`fashion_mnist_vis.data.synthetic`
renders every class, shades and textures it. The geometry helpers here
(:func:`lerp`, :func:`arc`, ...) serve both.
"""

import math
from typing import List, Sequence, Tuple

NUM_SHAPE_PARAMS = 16
"""Uniform numbers per image for the class-specific shape parameters (sleeve length, heel height, ...)."""

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


def lerp(low: float, high: float, t: float) -> float:
    """The value a fraction ``t`` (0..1) of the way from ``low`` to ``high``."""
    return low + (high - low) * t


def mirror(points: Sequence[Point]) -> List[Point]:
    """The mirror image (x -> -x) of ``points``, in reverse order, to close a symmetric outline."""
    return [(-x, y) for x, y in reversed(points)]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int) -> List[Point]:
    """Points on an elliptical arc from angle ``start`` to ``stop`` (radians, y down)."""
    return [
        (cx + rx * math.cos(a), cy + ry * math.sin(a))
        for a in (start + (stop - start) * i / steps for i in range(steps + 1))
    ]


def detail_reflectance(u: float, weak: float, strong: float) -> float:
    """Reflectance of a darker detail (seam, opening, button): 1 minus a contrast in weak..strong."""
    return 1.0 - lerp(weak, strong, u)


# ----------------------------------------------------------------------------
# The garments. Each builder takes NUM_SHAPE_PARAMS uniform numbers in [0, 1)
# and returns the drawing operations for one item.


def _neckline(half_width: float, top: float, depth: float) -> List[Point]:
    """A rounded neckline dipping ``depth`` below ``top``, from the right side to the left."""
    return arc(0.0, top, half_width, depth, 0.0, math.pi, 6)


def short_sleeved_top(u: Sequence[float]) -> List[Op]:
    """T-shirt/top: a straight body with short (sometimes cap) sleeves and a round neck."""
    top = -0.92
    hem = lerp(0.82, 1.0, u[0])
    shoulder = lerp(0.42, 0.56, u[1])
    body = shoulder + lerp(-0.04, 0.06, u[2])
    sleeve_length = lerp(0.12, 0.5, u[3])
    angle = math.radians(lerp(22.0, 50.0, u[4]))
    sleeve_width = lerp(0.26, 0.36, u[5])
    neck = lerp(0.14, 0.22, u[6])
    neck_depth = lerp(0.06, 0.22, u[7])
    s = (-shoulder, top + 0.07)
    direction = (-math.cos(angle), math.sin(angle))
    normal = (math.sin(angle), math.cos(angle))
    p1 = (s[0] + sleeve_length * direction[0], s[1] + sleeve_length * direction[1])
    p2 = (p1[0] + sleeve_width * normal[0], p1[1] + sleeve_width * normal[1])
    armpit = (-shoulder + 0.02, min(s[1] + sleeve_width + 0.12, p2[1] + 0.05))
    left = [(-neck, top), s, p1, p2, armpit, (-body, hem)]
    hem_curve = [(-body * 0.5, hem + 0.02 * u[8]), (body * 0.5, hem + 0.02 * u[8])]
    outline = left + hem_curve + mirror(left)[:-1] + [(neck, top)] + _neckline(neck, top, neck_depth)[1:-1]
    ops: List[Op] = [("poly", outline, 1.0)]
    if u[9] < 0.5:  # a visible neck band
        ops.append(("line", _neckline(neck, top + 0.05, neck_depth), 0.06, detail_reflectance(u[10], 0.2, 0.5)))
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
    shoulder = lerp(*shoulders, u[1])
    body = shoulder + lerp(-0.03, 0.06, u[2])
    spread = lerp(*spreads, u[3])
    cuff_y = lerp(*cuffs, u[4])
    cuff_width = lerp(0.2, 0.27, u[5])
    s = (-shoulder, top + 0.08)
    cuff_outer = (-shoulder - spread, cuff_y)
    cuff_inner_x = min(-shoulder - spread + cuff_width, -body - 0.04)
    cuff_inner = (cuff_inner_x, cuff_y + 0.03)
    armpit = (-shoulder + 0.02, top + lerp(0.38, 0.5, u[6]))
    left = [(-neck, top), s, (s[0] - 0.12, s[1] + 0.06), cuff_outer, cuff_inner, armpit, (-body, hem)]
    outline = left + mirror(left)[:-1] + [(neck, top)] + neck_points
    return outline, body, cuff_y


def pullover(u: Sequence[float]) -> List[Op]:
    """Pullover: long sleeves held a little wider, a round neck, often a ribbed hem band."""
    top = -0.92
    hem = lerp(0.76, 0.94, u[0])
    neck = lerp(0.14, 0.22, u[7])
    neck_depth = lerp(0.06, 0.2, u[8])
    neckline = _neckline(neck, top, neck_depth)[1:-1]
    outline, body, _ = _long_sleeved_outline(u, top, hem, neckline, neck, (0.46, 0.56), (0.34, 0.46), (0.5, 0.86))
    ops: List[Op] = [("poly", outline, 1.0)]
    band = detail_reflectance(u[9], 0.1, 0.45)
    if u[10] < 0.7:  # ribbed hem band
        y = hem - lerp(0.1, 0.18, u[11])
        ops.append(("line", [(-body, y), (body, y)], 0.05, band))
    if u[12] < 0.6:  # neck band
        ops.append(("line", _neckline(neck, top + 0.05, neck_depth), 0.06, band))
    return ops


def coat(u: Sequence[float]) -> List[Op]:
    """Coat: long sleeves, a front opening from a V-neck with lapels, sometimes pockets or a belt."""
    top = -0.95
    hem = lerp(0.9, 1.0, u[0])
    neck = lerp(0.15, 0.24, u[7])
    v_depth = lerp(0.25, 0.55, u[8])
    outline, body, _ = _long_sleeved_outline(
        u, top, hem, [(0.0, top + v_depth)], neck, (0.48, 0.6), (0.3, 0.42), (0.7, 0.98)
    )
    dark = detail_reflectance(u[9], 0.3, 0.85)
    opening = lerp(0.04, 0.09, u[10])
    ops: List[Op] = [
        ("poly", outline, 1.0),
        ("line", [(0.0, top + v_depth), (0.0, hem)], opening, dark),
        # lapels: from the neck points down to the bottom of the V
        ("line", [(-neck - 0.08, top + 0.03), (-0.05, top + v_depth + 0.08)], 0.05, dark),
        ("line", [(neck + 0.08, top + 0.03), (0.05, top + v_depth + 0.08)], 0.05, dark),
    ]
    if u[11] < 0.4:  # pockets
        y = lerp(0.35, 0.55, u[12])
        for x in (-body * 0.55, body * 0.55):
            ops.append(("line", [(x - 0.15, y), (x + 0.15, y)], 0.05, dark))
    elif u[11] < 0.6:  # belt
        y = lerp(0.0, 0.2, u[12])
        ops.append(("line", [(-body, y), (body, y)], 0.07, dark))
    return ops


def shirt(u: Sequence[float]) -> List[Op]:
    """Shirt: long sleeves, a pointed collar, a button placket, sometimes a chest pocket."""
    top = -0.92
    hem = lerp(0.86, 1.0, u[0])
    neck = lerp(0.12, 0.18, u[7])
    outline, body, _ = _long_sleeved_outline(
        u, top, hem, [(0.0, top + 0.12)], neck, (0.4, 0.52), (0.26, 0.38), (0.7, 0.98)
    )
    dark = detail_reflectance(u[9], 0.25, 0.75)
    collar = lerp(0.22, 0.32, u[8])
    ops: List[Op] = [
        ("poly", outline, 1.0),
        # collar points
        ("line", [(-neck - 0.06, top + 0.02), (-0.08, top + collar), (0.0, top + 0.14)], 0.045, dark),
        ("line", [(neck + 0.06, top + 0.02), (0.08, top + collar), (0.0, top + 0.14)], 0.045, dark),
        # placket
        ("line", [(0.0, top + collar), (0.0, hem)], 0.03, detail_reflectance(u[9], 0.1, 0.4)),
    ]
    buttons = 4 + int(u[10] * 4)
    first, last = top + collar + 0.1, hem - 0.12
    radius = lerp(0.045, 0.065, u[11])
    for i in range(buttons):
        ops.append(("dot", (0.0, first + (last - first) * i / (buttons - 1)), radius, dark))
    if u[12] < 0.4:  # chest pocket
        x, y = -body * 0.5, top + lerp(0.45, 0.6, u[13])
        ops.append(("line", [(x - 0.14, y), (x - 0.14, y + 0.24), (x + 0.14, y + 0.24), (x + 0.14, y)], 0.04, dark))
    return ops


def trouser(u: Sequence[float]) -> List[Op]:
    """Trouser: a waistband and two legs, straight, slim or flared."""
    top = -1.0
    bottom = lerp(0.9, 1.0, u[0])
    waist = lerp(0.3, 0.42, u[1])
    hip = waist + lerp(0.0, 0.06, u[2])
    outer = lerp(0.3, 0.5, u[3])
    gap = lerp(0.03, 0.14, u[4])
    crotch = lerp(-0.45, -0.2, u[5])
    ops: List[Op] = [
        (
            "poly",
            [(-waist, top), (waist, top), (hip, -0.55), (outer, bottom), (gap, bottom), (0.0, crotch),
             (-gap, bottom), (-outer, bottom), (-hip, -0.55)],
            1.0,
        )
    ]
    if u[6] < 0.6:  # waistband seam
        y = top + lerp(0.1, 0.16, u[7])
        ops.append(("line", [(-waist, y), (waist, y)], 0.04, detail_reflectance(u[8], 0.15, 0.5)))
    return ops


def dress(u: Sequence[float]) -> List[Op]:
    """Dress: narrow shoulders or straps, a fitted waist and an A-line skirt."""
    top = -0.98
    hem = lerp(0.84, 1.0, u[0])
    strap = lerp(0.2, 0.34, u[1])
    neck = strap * lerp(0.35, 0.65, u[2])
    neck_depth = lerp(0.08, 0.3, u[3])
    bust = lerp(0.28, 0.38, u[4])
    waist_y = lerp(-0.3, -0.05, u[5])
    waist = lerp(0.2, 0.3, u[6])
    flare = lerp(0.5, 0.88, u[7])
    left = [(-neck, top), (-strap, top)]
    if u[8] < 0.35:  # short cap sleeves
        left += [(-strap - 0.18, top + 0.12), (-strap - 0.12, top + 0.3)]
    else:  # armhole
        left += [(-strap + 0.02, top + 0.2)]
    left += [(-bust, -0.5), (-waist, waist_y), (-flare, hem)]
    outline = left + [(-flare * 0.5, hem + 0.03), (flare * 0.5, hem + 0.03)] + mirror(left)[:-1]
    outline += [(neck, top)] + _neckline(neck, top, neck_depth)[1:-1]
    ops: List[Op] = [("poly", outline, 1.0)]
    if u[9] < 0.4:  # waist seam
        ops.append(("line", [(-waist, waist_y), (waist, waist_y)], 0.05, detail_reflectance(u[10], 0.15, 0.5)))
    return ops


def bag(u: Sequence[float]) -> List[Op]:
    """Bag: a box, often slightly tapered, with a handle arching above it."""
    body_top = lerp(-0.3, -0.02, u[0])
    bottom = lerp(0.84, 0.98, u[1])
    bottom_w = lerp(0.72, 0.98, u[2])
    top_w = bottom_w * lerp(0.78, 1.0, u[3])
    corner = 0.06
    ops: List[Op] = [
        ("poly", [(-top_w, body_top), (top_w, body_top), (bottom_w, bottom - corner), (bottom_w - corner, bottom),
                  (-bottom_w + corner, bottom), (-bottom_w, bottom - corner)], 1.0)
    ]
    handle_x = lerp(0.25, 0.6, u[4]) * top_w
    handle_h = min(lerp(0.35, 0.75, u[5]), body_top + 0.98)
    thickness = lerp(0.08, 0.15, u[6])
    outer = arc(0.0, body_top + 0.04, handle_x + thickness / 2, handle_h + thickness / 2, math.pi, 2 * math.pi, 10)
    inner = arc(0.0, body_top + 0.04, handle_x - thickness / 2, handle_h - thickness / 2, 2 * math.pi, math.pi, 10)
    ops.append(("poly", outer + inner, 1.0))
    dark = detail_reflectance(u[7], 0.2, 0.6)
    if u[8] < 0.5:  # flap
        y = body_top + lerp(0.25, 0.5, u[9])
        ops.append(("line", [(-top_w, y), (top_w, y)], 0.05, dark))
        if u[10] < 0.6:
            ops.append(("dot", (0.0, y + 0.05), 0.07, dark))
    return ops
