"""The shoes of the synthetic Fashion-MNIST look-alike, as drawing operations.

Side views with the toes to the left, as in the real set: strappy sandals, low
sneakers and ankle boots with a shaft. Each builder turns
:data:`~fashion_mnist_vis.data.garment_shapes.NUM_SHAPE_PARAMS` uniform numbers
in [0, 1) into the operations of one item (see
:mod:`fashion_mnist_vis.data.garment_shapes` for their form).
"""

import math
from typing import List, Sequence

from fashion_mnist_vis.data.garment_shapes import Op, detail_reflectance, lerp


def sandal(u: Sequence[float]) -> List[Op]:
    """Sandal (side view, toe left): a thin sole, maybe a heel, and an upper of straps with gaps."""
    base = lerp(0.42, 0.6, u[0])
    sole = lerp(0.07, 0.13, u[1])
    heel = lerp(0.15, 0.5, u[2]) if u[3] < 0.5 else 0.0
    ball_x = lerp(-0.4, -0.2, u[4])
    heel_x = lerp(0.5, 0.68, u[5])
    back = 0.96
    toe_h = lerp(0.2, 0.34, u[6])
    ankle_h = lerp(0.7, 1.0, u[7]) - heel * 0.5

    def sole_top(x: float) -> float:
        rise = min(1.0, max(0.0, (x - ball_x) / (heel_x - ball_x)))
        return base - sole - heel * rise

    def foot_top(x: float) -> float:
        t = min(1.0, max(0.0, (x + 0.95) / (back + 0.95 - 0.2)))
        return sole_top(x) - lerp(toe_h, ankle_h, math.sin(t * math.pi / 2))

    xs = [-0.95 + (back - 0.1 + 0.95) * i / 8 for i in range(9)]
    upper = [(x, sole_top(x) + 0.02) for x in xs] + [(back, sole_top(back) + 0.02), (back, foot_top(back) + 0.1)]
    upper += [(x, foot_top(x)) for x in reversed(xs)] + [(-0.99, sole_top(-0.95) - toe_h * 0.5)]
    ops: List[Op] = [("poly", upper, 1.0)]
    # cut the gaps between the straps out of the upper: a toe band in front,
    # a heel counter at the back and 0-2 thin straps between them
    front = -0.95 + lerp(0.25, 0.5, u[8])
    rear = back - lerp(0.2, 0.38, u[9])
    strap = lerp(0.1, 0.16, u[11])
    slant = lerp(-0.25, 0.25, u[12])
    if u[14] < 0.8:  # a continuous strap along the top of the foot
        top_margin = lerp(0.1, 0.16, u[13])
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
        width = lerp(0.06, 0.24, u[15])
        ops.append(("poly", [(back - width - 0.04, base - heel), (back, base - heel), (back - 0.02, base),
                             (back - width * 0.6 - 0.02, base)], 1.0))
    return ops


def sneaker(u: Sequence[float]) -> List[Op]:
    """Sneaker (side view, toe left): low, with a thick sole, a laced front and a dipping collar."""
    base = lerp(0.36, 0.52, u[0])
    collar = lerp(0.62, 0.85, u[1])  # height of the heel collar above the ground
    toe_h = lerp(0.24, 0.34, u[2])
    tongue = lerp(0.04, 0.16, u[3])
    tongue_x = lerp(-0.05, 0.2, u[4])
    sole = lerp(0.12, 0.2, u[5])
    dip = lerp(0.06, 0.18, u[13])  # the ankle opening between tongue and heel
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
    sole_shade = lerp(0.55, 1.0, u[6]) if u[10] < 0.5 else 1.0
    ops.append(("poly", [(-0.96, base), (-0.99, base - sole), (1.0, base - sole), (0.96, base)], sole_shade))
    dark = detail_reflectance(u[11], 0.3, 0.75)
    ops.append(("line", [(-0.96, base - sole), (0.99, base - sole)], 0.06, dark))  # midsole edge
    laces = 3 + int(u[7] * 3)
    for i in range(laces):  # laces
        t = (i + 0.5) / laces
        x = lerp(-0.62, tongue_x - 0.1, t)
        y = lerp(base - toe_h + 0.02, top + 0.1, t)
        ops.append(("line", [(x - 0.05, y - 0.05), (x + 0.08, y + 0.07)], 0.06, dark))
    if u[8] < 0.5:  # side stripe
        ops.append(("line", [(-0.3, base - sole - 0.06), (0.35, top + 0.2)], 0.07, detail_reflectance(u[9], 0.15, 0.5)))
    return ops


def ankle_boot(u: Sequence[float]) -> List[Op]:
    """Ankle boot (side view, toe left): a tall shaft, a sole and often a heel with an arch gap."""
    base = lerp(0.8, 0.96, u[0])
    shaft_top = lerp(-0.96, -0.78, u[1])
    back = lerp(0.8, 0.92, u[2])
    shaft_front = lerp(0.0, 0.3, u[3])
    instep = (shaft_front - lerp(0.1, 0.25, u[4]), base - lerp(0.6, 0.8, u[5]))
    toe_h = lerp(0.32, 0.45, u[6])
    heel = lerp(0.08, 0.3, u[7]) if u[8] < 0.6 else 0.0
    outline = [
        (back - 0.04, shaft_top),
        (back, base - 0.2),
        (back + 0.02, base),
    ]
    if heel > 0:  # heel block and arch gap
        heel_front = back - lerp(0.22, 0.38, u[9])
        outline += [(heel_front, base), (heel_front - 0.03, base - heel), (-0.3, base - heel * 0.25), (-0.38, base)]
    outline += [
        (-0.94, base),
        (-1.0, base - 0.12),
        (-0.92, base - toe_h * 0.8),
        (-0.7, base - toe_h),
        instep,
        (shaft_front, shaft_top),
    ]
    dark = detail_reflectance(u[10], 0.2, 0.65)
    ops: List[Op] = [("poly", outline, 1.0)]
    sole = lerp(0.08, 0.14, u[11])
    ops.append(("line", [(-0.96, base - sole), (back, base - sole)], 0.045, dark))
    if u[12] < 0.35:  # elastic side panel
        ops.append(("poly", [(shaft_front + 0.12, shaft_top + 0.05), (back - 0.2, shaft_top + 0.05),
                             (back - 0.3, base - 0.55), (shaft_front + 0.15, base - 0.55)], dark))
    elif u[12] < 0.6:  # laces down the front
        for i in range(4):
            t = i / 4.0
            x = lerp(shaft_front, instep[0], t)
            y = lerp(shaft_top + 0.15, instep[1], t)
            ops.append(("line", [(x - 0.02, y), (x + 0.15, y + 0.04)], 0.045, dark))
    return ops
