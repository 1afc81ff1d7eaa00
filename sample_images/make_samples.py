"""Generate the sample product photos in this folder (run: python3 sample_images/make_samples.py).

Each image is drawn with Pillow and numpy only: flat shapes for the item's
parts, shaded for a rounded look and lit from the top left, with fabric or
leather texture, a soft drop shadow and a slightly warm off-white studio
background with a little noise, then saved as JPEG. The output is
deterministic (fixed random seeds), so re-running the script reproduces the
committed files.

The items mimic the way Fashion-MNIST shows them (shoes side-on with the
toe pointing left, clothes flat from the front), but as a product photo: a
dark or coloured item on white, which is what :mod:`fashion_mnist_vis.preprocess`
is for.
"""

import sys
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SCALE = 2  # draw at twice the size, then downsample: smooth anti-aliased edges
Colour = Tuple[int, int, int]


class Photo:
    """A studio photo being composed: background, shadow, shaded parts, details."""

    def __init__(self, size: Tuple[int, int], seed: int) -> None:
        self.width, self.height = size
        self.rng = np.random.default_rng(seed)
        self.parts: List[Tuple[Image.Image, Colour, Dict]] = []
        self.details: List[Callable[[ImageDraw.ImageDraw], None]] = []

    def canvas(self) -> Tuple[Image.Image, ImageDraw.ImageDraw]:
        """A blank supersampled mask and a drawer for it."""
        mask = Image.new("L", (self.width * SCALE, self.height * SCALE), 0)
        return mask, ImageDraw.Draw(mask)

    def part(self, draw_fn, colour: Colour, **style) -> None:
        """Add a part: ``draw_fn(draw, s)`` draws it in white, ``s`` scales coordinates."""
        mask, draw = self.canvas()
        draw_fn(draw, lambda *v: [int(round(x * SCALE)) for x in v])
        self.parts.append((mask, colour, style))

    def detail(self, draw_fn) -> None:
        """Add seams, laces, etc., drawn on the final image (RGBA drawer, scaled coords)."""
        self.details.append(draw_fn)

    def render(self) -> Image.Image:
        h, w = self.height, self.width
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        # Warm off-white studio background: brighter at the top, faint vignette.
        base = np.array([243.0, 241.0, 236.0])
        light = 1.0 - 0.035 * (yy / h) - 0.03 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
        image = base[None, None, :] * light[:, :, None]

        masks = [np.asarray(m.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
                 for m, _, _ in self.parts]
        union = np.clip(np.sum(masks, axis=0), 0.0, 1.0)
        # Soft drop shadow below-right of the item, plus a tight contact shadow.
        union_img = Image.fromarray((union * 255).astype(np.uint8))
        for offset, radius, strength in (((10, 16), 18, 0.22), ((3, 5), 4, 0.12)):
            shadow = union_img.transform(
                union_img.size, Image.Transform.AFFINE, (1, 0, -offset[0], 0, 1, -offset[1])
            ).filter(ImageFilter.GaussianBlur(radius))
            image *= (1.0 - strength * np.asarray(shadow, dtype=np.float64) / 255.0)[:, :, None]

        lighting = 1.08 - 0.16 * (xx / w) - 0.14 * (yy / h)  # light from the top left
        for mask, (_, colour, style) in zip(masks, self.parts):
            mask_img = Image.fromarray((mask * 255).astype(np.uint8))
            # Rounded look: darker towards the part's edges.
            inner = np.asarray(mask_img.filter(ImageFilter.GaussianBlur(style.get("round", 14))),
                               dtype=np.float64) / 255.0
            shade = lighting * (0.62 + 0.42 * np.clip(inner * 1.5, 0.0, 1.0))
            texture = self.texture(style.get("texture", "fabric"), style.get("grain", 6.0))
            part = np.array(colour, dtype=np.float64)[None, None, :] * shade[:, :, None]
            part += texture[:, :, None]
            if "sheen" in style:  # a soft specular highlight (leather)
                cx, cy, rx, ry, amount = style["sheen"]
                glow = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2))
                part += amount * glow[:, :, None] * inner[:, :, None]
            image = image * (1.0 - mask[:, :, None]) + part * mask[:, :, None]

        image += self.rng.normal(0.0, 1.2, image.shape)  # sensor noise
        result = Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8), "RGB")
        if self.details:
            overlay = Image.new("RGBA", (w * SCALE, h * SCALE), (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            for draw_fn in self.details:
                draw_fn(draw, lambda *v: [int(round(x * SCALE)) for x in v])
            overlay = overlay.resize((w, h), Image.Resampling.LANCZOS)
            result = Image.alpha_composite(result.convert("RGBA"), overlay).convert("RGB")
        return result

    def texture(self, kind: str, grain: float) -> np.ndarray:
        h, w = self.height, self.width
        noise = self.rng.normal(0.0, 1.0, (h, w))
        if kind == "fabric":  # fine weave: horizontal and vertical threads
            weave = 0.5 * np.sin(np.arange(w) * 2.1)[None, :] + 0.5 * np.sin(np.arange(h) * 1.7)[:, None]
            return grain * (0.6 * noise + 0.5 * weave)
        if kind == "denim":  # diagonal twill
            yy, xx = np.mgrid[0:h, 0:w]
            return grain * (0.6 * noise + 0.8 * np.sin((xx + yy) * 1.3))
        if kind == "leather":  # blotchy grain
            blotches = np.asarray(
                Image.fromarray(((noise + 4) * 32).clip(0, 255).astype(np.uint8)).filter(
                    ImageFilter.GaussianBlur(1.5)), dtype=np.float64) / 32 - 4
            return grain * (0.4 * noise + 1.2 * blotches)
        return grain * noise


def black_bag() -> Image.Image:
    photo = Photo((520, 460), seed=1)
    leather = (44, 41, 46)
    # Handle: a thick arch above the bag.
    photo.part(lambda d, s: d.arc(s(165, 45, 355, 245), 180, 360, fill=255, width=s(22)[0]),
               leather, texture="leather", grain=5, round=6)
    # Body: a slightly trapezoid box with rounded corners.
    photo.part(lambda d, s: (d.rounded_rectangle(s(95, 150, 425, 400), radius=s(34)[0], fill=255),
                             d.polygon(s(115, 150, 405, 150, 425, 230, 95, 230), fill=255)),
               leather, texture="leather", grain=6, round=22, sheen=(190, 200, 90, 60, 38))
    # Flap, a little lighter, and a gold clasp.
    photo.part(lambda d, s: d.rounded_rectangle(s(112, 156, 408, 262), radius=s(20)[0], fill=255),
               (58, 55, 60), texture="leather", grain=5, round=10, sheen=(200, 185, 80, 30, 30))
    photo.part(lambda d, s: d.rounded_rectangle(s(243, 238, 277, 276), radius=s(6)[0], fill=255),
               (196, 160, 82), texture="smooth", grain=3, round=3, sheen=(255, 250, 10, 10, 60))

    def seams(d, s):
        d.line(s(104, 388, 416, 388), fill=(90, 86, 92, 150), width=s(2)[0])
        for x in range(130, 395, 14):  # stitching along the flap
            d.line(s(x, 254, x + 7, 254), fill=(120, 116, 120, 170), width=s(2)[0])
    photo.detail(seams)
    return photo.render()


def sneaker() -> Image.Image:
    photo = Photo((560, 360), seed=2)
    # Upper (navy canvas) in one piece with a rounded toe on the left, heel on the right.
    photo.part(lambda d, s: (d.polygon(s(
        110, 250, 130, 200, 205, 160, 250, 120, 300, 95, 345, 100, 400, 88, 450, 95,
        490, 120, 500, 175, 505, 240, 480, 262, 110, 265), fill=255),
        d.ellipse(s(45, 190, 235, 290), fill=255)),
        (38, 52, 96), texture="fabric", grain=7, round=18, sheen=(230, 150, 120, 50, 25))
    # Red heel tab.
    photo.part(lambda d, s: d.polygon(s(455, 98, 492, 122, 502, 200, 470, 205), fill=255),
               (150, 40, 45), texture="fabric", grain=5, round=8)
    # White rubber sole with a grey stripe.
    photo.part(lambda d, s: d.rounded_rectangle(s(48, 248, 515, 292), radius=s(18)[0], fill=255),
               (236, 234, 228), texture="smooth", grain=3, round=8)
    photo.part(lambda d, s: d.rectangle(s(62, 276, 502, 283), fill=255),
               (150, 150, 150), texture="smooth", grain=2, round=2)

    def laces(d, s):
        for i in range(6):
            x, y = 215 + i * 38, 158 - i * 11
            d.line(s(x, y, x + 34, y + 30), fill=(235, 235, 235, 235), width=s(5)[0])
            d.ellipse(s(x - 4, y + 24, x + 4, y + 32), fill=(20, 20, 30, 220))
        d.line(s(255, 190, 470, 178), fill=(200, 200, 210, 120), width=s(2)[0])  # side stitching
        d.arc(s(52, 198, 228, 300), 200, 300, fill=(200, 200, 210, 110), width=s(2)[0])  # toe cap seam
    photo.detail(laces)
    return photo.render()


def tshirt() -> Image.Image:
    photo = Photo((500, 500), seed=3)
    shirt = (196, 58, 52)
    photo.part(lambda d, s: d.polygon(s(
        175, 60, 212, 52, 250, 78, 288, 52, 325, 60,
        440, 110, 470, 210, 392, 232, 385, 190,
        380, 450, 120, 450, 115, 190, 108, 232, 30, 210, 60, 110), fill=255),
        shirt, texture="fabric", grain=7, round=26)
    # Neck band and a darker inner back of the neck.
    photo.part(lambda d, s: d.chord(s(200, 20, 300, 100), 0, 180, fill=255),
               (120, 30, 28), texture="fabric", grain=5, round=6)

    def seams(d, s):
        d.arc(s(196, 14, 304, 106), 0, 180, fill=(150, 40, 36, 200), width=s(6)[0])
        d.line(s(118, 440, 382, 440), fill=(150, 40, 36, 150), width=s(3)[0])
        d.line(s(35, 200, 108, 222), fill=(150, 40, 36, 150), width=s(3)[0])
        d.line(s(465, 200, 392, 222), fill=(150, 40, 36, 150), width=s(3)[0])
        for x0, x1 in ((175, 118), (325, 382)):  # sleeve seams and soft folds
            d.line(s(x0, 64, x1, 190), fill=(150, 40, 36, 90), width=s(3)[0])
        for x0, x1 in ((200, 185), (300, 318)):  # soft folds
            d.line(s(x0, 250, x1, 430), fill=(0, 0, 0, 28), width=s(9)[0])
    photo.detail(seams)
    return photo.render()


def dress() -> Image.Image:
    photo = Photo((420, 560), seed=4)
    green = (34, 96, 74)
    photo.part(lambda d, s: (
        d.polygon(s(150, 110, 270, 110, 285, 215, 380, 520, 40, 520, 135, 215), fill=255),
        d.chord(s(40, 480, 380, 560), 0, 180, fill=255),
    ), green, texture="fabric", grain=6, round=30, sheen=(170, 300, 60, 160, 22))
    # Shoulder straps and a waist sash.
    photo.part(lambda d, s: (d.line(s(160, 112, 168, 40), fill=255, width=s(14)[0]),
                             d.line(s(260, 112, 252, 40), fill=255, width=s(14)[0])),
               green, texture="fabric", grain=4, round=4)
    photo.part(lambda d, s: d.polygon(s(136, 205, 284, 205, 288, 232, 132, 232), fill=255),
               (22, 64, 50), texture="fabric", grain=4, round=6)

    def folds(d, s):
        for x0, x1 in ((190, 150), (210, 210), (230, 275), (170, 95), (250, 325)):
            d.line(s(x0, 240, x1, 535), fill=(0, 0, 0, 40), width=s(7)[0])
            d.line(s(x0 + 6, 240, x1 + 10, 535), fill=(255, 255, 255, 22), width=s(4)[0])
        d.line(s(150, 112, 270, 112), fill=(20, 60, 45, 160), width=s(3)[0])
    photo.detail(folds)
    return photo.render()


def trousers() -> Image.Image:
    photo = Photo((380, 580), seed=5)
    denim = (52, 84, 140)
    photo.part(lambda d, s: d.polygon(s(
        95, 60, 285, 60, 300, 200, 330, 545, 220, 548, 192, 250, 188, 250, 160, 548,
        50, 545, 80, 200), fill=255), denim, texture="denim", grain=9, round=22)
    # Waistband and belt loops.
    photo.part(lambda d, s: d.rectangle(s(92, 42, 288, 72), fill=255),
               (44, 72, 124), texture="denim", grain=7, round=6)

    def seams(d, s):
        stitch = (205, 150, 70, 210)
        d.line(s(190, 72, 190, 240), fill=(30, 50, 90, 200), width=s(3)[0])  # fly
        d.arc(s(150, 90, 215, 230), 300, 90, fill=stitch, width=s(2)[0])
        d.line(s(105, 105, 150, 85), fill=stitch, width=s(2)[0])  # pocket tops
        d.line(s(275, 105, 230, 85), fill=stitch, width=s(2)[0])
        for x in (120, 190, 260):
            d.rectangle(s(x - 5, 38, x + 5, 76), fill=(40, 66, 116, 255))
        d.ellipse(s(182, 48, 198, 64), fill=(190, 170, 120, 255))  # button
        for x0, x1 in ((125, 110), (255, 270)):  # crease highlights
            d.line(s(x0, 240, x1, 540), fill=(255, 255, 255, 30), width=s(10)[0])
    photo.detail(seams)
    return photo.render()


def ankle_boot() -> Image.Image:
    photo = Photo((520, 480), seed=6)
    brown = (104, 62, 34)
    # Shaft and foot in one piece, toe on the left, heel on the right.
    photo.part(lambda d, s: (d.polygon(s(
        300, 60, 440, 55, 452, 150, 460, 300, 470, 375,
        110, 380, 100, 320, 150, 295, 240, 270, 292, 230, 298, 150), fill=255),
        d.ellipse(s(40, 296, 220, 392), fill=255)),
        brown, texture="leather", grain=7, round=22, sheen=(380, 170, 45, 110, 40))
    # Dark sole and block heel.
    photo.part(lambda d, s: d.rounded_rectangle(s(42, 372, 470, 396), radius=s(10)[0], fill=255),
               (36, 28, 24), texture="leather", grain=3, round=4)
    photo.part(lambda d, s: d.polygon(s(370, 390, 470, 390, 466, 440, 382, 440), fill=255),
               (44, 33, 27), texture="leather", grain=3, round=5)
    # Elastic side panel.
    photo.part(lambda d, s: d.polygon(s(330, 70, 410, 68, 400, 235, 345, 240), fill=255),
               (58, 42, 32), texture="fabric", grain=5, round=8)

    def details(d, s):
        d.line(s(300, 62, 440, 57), fill=(70, 40, 20, 220), width=s(5)[0])  # collar
        d.rectangle(s(425, 20, 445, 70), fill=(80, 48, 26, 255))  # pull tab
        for x in range(80, 360, 16):  # welt stitching
            d.line(s(x, 368, x + 8, 368), fill=(200, 170, 120, 160), width=s(2)[0])
    photo.detail(details)
    return photo.render()


SAMPLES: Dict[str, Callable[[], Image.Image]] = {
    "black_bag.jpg": black_bag,
    "sneaker.jpg": sneaker,
    "tshirt.jpg": tshirt,
    "dress.jpg": dress,
    "trousers.jpg": trousers,
    "ankle_boot.jpg": ankle_boot,
}


def main(argv: Sequence[str] = ()) -> int:
    folder = Path(argv[0]) if argv else HERE
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        path = folder / name
        make().save(path, "JPEG", quality=86, optimize=True, progressive=True)
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
