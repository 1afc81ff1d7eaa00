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

The shapes come from :mod:`~fashion_mnist_vis.data.garment_shapes` and
:mod:`~fashion_mnist_vis.data.shoe_shapes`. Generation draws them as
transformed polygons with Pillow on a 4x supersampled canvas, box-downsamples,
and applies shade, texture and noise to whole batches with numpy: 70,000
images take a few seconds.

The same seed always gives byte-identical arrays.
"""

import math
from typing import Callable, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from fashion_mnist_vis.classes import IMAGE_SIZE, NUM_CLASSES
from fashion_mnist_vis.data import garment_shapes, shoe_shapes
from fashion_mnist_vis.data.garment_shapes import NUM_SHAPE_PARAMS, Op
from fashion_mnist_vis.errors import UserError

SUPERSAMPLE = 4
"""Shapes are drawn at SUPERSAMPLE x the final resolution, then box-downsampled."""

_PAD = 4  # final-resolution pixels of margin around each drawing cell (items may poke out)
_CELL = (IMAGE_SIZE + 2 * _PAD) * SUPERSAMPLE  # side of one drawing cell on the canvas
_CHUNK = 1000  # images drawn and finished per batch (bounds memory use)

_BUILDERS: Tuple[Callable[[Sequence[float]], List[Op]], ...] = (
    garment_shapes.short_sleeved_top,  # 0 T-shirt/top
    garment_shapes.trouser,  # 1 Trouser
    garment_shapes.pullover,  # 2 Pullover
    garment_shapes.dress,  # 3 Dress
    garment_shapes.coat,  # 4 Coat
    shoe_shapes.sandal,  # 5 Sandal
    garment_shapes.shirt,  # 6 Shirt
    shoe_shapes.sneaker,  # 7 Sneaker
    garment_shapes.bag,  # 8 Bag
    shoe_shapes.ankle_boot,  # 9 Ankle boot
)
"""One builder per class, in label order: ``_BUILDERS[label](u)`` draws an item from NUM_SHAPE_PARAMS numbers."""
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
    shape_u = rng.random((num_images, NUM_SHAPE_PARAMS))
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
