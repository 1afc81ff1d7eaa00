"""The photo benchmark: real test images rendered as photos, classified the way classify.py does it.

Run from the repository root::

    python -m benchmarks.photos --saved-model model.keras                    # 1,000 test images
    python -m benchmarks.photos --saved-model model.keras --images validation --json photos.json

A stratified, seeded subset (``--count``, ``--seed``) of the real test images
(half of it, see below; or, with ``--images validation``, of the 6,000 training
images train.py holds out for validation with its default seed 42: a subset to
choose settings on)
is rendered in every style of :data:`fashion_mnist_vis.data.photo_render.STYLES`
(scale, position, background level and gradient, soft shadow, blur, JPEG
quality, rotation, mirror, padding, tight crop, and all of them at once) and
written as image files. Each file is then read back with classify's own
functions (:func:`~fashion_mnist_vis.data.images.load_image`,
:func:`~fashion_mnist_vis.data.preprocess.preprocess` with its defaults) and
run through the model's graph (:mod:`fashion_mnist_vis.models.model_handle`)
in batches. Besides the photos: the arrays themselves, and mirrored, as the
baseline; and the photos of things that are not garments bundled with
scikit-image and scikit-learn (a test dependency).

Reported per rendering: accuracy, accuracy with test-time averaging over the
photo and its mirror, per class (footwear separately); and the share of
images flagged as unfamiliar by the scores of
:mod:`fashion_mnist_vis.explain.unfamiliarity` (energy, and with the
model's cached training index the distance to the nearest training image,
alone and "combined" with the Mahalanobis distance and the input checks of
:mod:`fashion_mnist_vis.explain.input_checks` as classify reports it),
each calibrated so that 1% of real test arrays are flagged: the test set is
split in two halves (stratified, seeded); the thresholds come from 2,000
images of one, the measured images from the other (or from the validation
split). The training index holds all 60,000 training images, so validation
images are no test of the nearest-image score. The same shares are reported
for the whole measured half of the test set, the non-garment photos, and
images that are not garments and were not looked at while the checks were
chosen (:func:`held_out_non_garments`).

Prints a table and the machine; ``--json FILE`` writes every figure. Asserts nothing.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

CALIBRATION_COUNT = 2000
"""Test arrays the unfamiliarity thresholds are calibrated on, from the half of the test set never measured."""

FOOTWEAR = (5, 7, 9)  # Sandal, Sneaker, Ankle boot


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/photos.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Classify real test images rendered as photos, and photos of things that are not garments.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of the four Fashion-MNIST IDX files (default: the loader's usual places)")
    parser.add_argument("--images", choices=("test", "validation"), default="test",
                        help="which real images are rendered: the test set, or the held-out validation split")
    parser.add_argument("--count", type=int, default=1000, help="images rendered (a stratified subset)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset and of the rendering's noise")
    parser.add_argument("--photo-dir", type=Path, default=None,
                        help="keep the photos in this folder (default: a temporary folder, removed)")
    parser.add_argument("--neighbour-index", action="store_true",
                        help="also score by the distance to the nearest training image (builds the model's "
                        "cached training index if it is missing: one pass over 60,000 images)")
    parser.add_argument("--no-flatten", action="store_true", help="preprocess without evening out the background")
    parser.add_argument("--no-stretch", action="store_true",
                        help="preprocess without stretching the brightest pixel to white")
    parser.add_argument("--renderings", nargs="+", choices=list(_style_names()), default=None, metavar="NAME",
                        help="measure only these renderings (e.g. product 'as taken'; default: all 14)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this JSON file")
    return parser


def _style_names():
    from fashion_mnist_vis.data.photo_render import STYLES

    return STYLES.keys()


def non_garment_photos() -> Dict[str, np.ndarray]:
    """uint8 (H, W, 3) photos of things that are not garments, bundled with scikit-image and scikit-learn."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    names = ("astronaut", "chelsea", "coffee", "rocket", "camera", "clock", "coins", "moon",
             "hubble_deep_field", "immunohistochemistry", "brick", "grass", "gravel", "page", "text", "colorwheel")
    photos = {}
    for name in names:
        image = np.asarray(getattr(data, name)())
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        photos[f"skimage {name}"] = np.ascontiguousarray(image[:, :, :3])
    sample = load_sample_images()
    for file_name, image in zip(sample.filenames, sample.images):
        photos[f"sklearn {Path(file_name).stem}"] = image
    return photos


HELD_OUT_SKIMAGE = ("binary_blobs", "cell", "checkerboard", "horse", "logo", "microaneurysms", "retina",
                    "shepp_logan_phantom", "stereo_motorcycle")
"""scikit-image's bundled images not among :func:`non_garment_photos` (``cat`` is ``chelsea`` again), kept out
while the unfamiliarity checks were chosen."""


def held_out_non_garments(digits: int = 40, seed: int = 1) -> Dict[str, np.ndarray]:
    """uint8 (H, W, 3) images that are not garments and were not looked at while choosing the unfamiliarity
    score: :data:`HELD_OUT_SKIMAGE`, ``digits`` of scikit-learn's 8 x 8 handwritten digits drawn dark on
    white paper and upscaled to 160 px on a 240 px sheet, and 5 photos of uniform noise; ``seed`` picks the
    digits and draws the noise and the binary blobs (random in scikit-image unless seeded)."""
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_digits

    images = {}
    for name in HELD_OUT_SKIMAGE:
        image = getattr(data, name)(**({"rng": seed} if name == "binary_blobs" else {}))  # random blobs: seeded
        image = np.asarray(image[0] if isinstance(image, tuple) else image)
        if image.dtype == bool:  # binary_blobs
            image = image.astype(np.uint8) * 255
        elif image.dtype != np.uint8:
            image = (255 * (image - image.min()) / (np.ptp(image) or 1)).astype(np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        images[f"skimage {name}"] = np.ascontiguousarray(image[:, :, :3])
    rng = np.random.default_rng(seed)
    bundle = load_digits()
    for index in rng.choice(len(bundle.images), digits, replace=False):
        ink = (255 - bundle.images[index] * 255 / 16).astype(np.uint8)
        sheet = np.full((240, 240), 235, dtype=np.uint8)
        sheet[40:200, 40:200] = np.asarray(Image.fromarray(ink).resize((160, 160), Image.BICUBIC))
        images[f"digit {index} ({bundle.target[index]})"] = np.repeat(sheet[:, :, None], 3, axis=2)
    for index in range(5):
        images[f"noise {index}"] = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    return images


def classify_files(paths: Sequence[Path], input_shape, **options) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each file as classify.py prepares it (load_image, then preprocess with its defaults, or
    ``options``): float32 (N, H, W, C) model inputs, the same before the stretch to white (what the
    input checks read) and float64 (N,) background variations (the photo check; NaN where none)."""
    from fashion_mnist_vis.data.images import load_image
    from fashion_mnist_vis.data.preprocess import preprocess

    prepared = [preprocess(load_image(path), input_shape, **options) for path in paths]
    return (np.stack([item.model_input for item in prepared]),
            np.stack([item.unstretched_input for item in prepared]),
            np.array([np.nan if item.background_variation is None else item.background_variation
                      for item in prepared]))


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark."""
    from PIL import Image

    from fashion_mnist_vis.classes import CLASS_NAMES
    from fashion_mnist_vis.data.datasets import DataSettings, load_splits, stratified_split, stratified_subset
    from fashion_mnist_vis.data.photo_render import STYLES, render_photo, write_photo
    from fashion_mnist_vis.explain import unfamiliarity as unf
    from fashion_mnist_vis.data.object_finder import PLAIN_BACKGROUND_LIMIT
    from fashion_mnist_vis.explain.input_checks import BUSY_BACKGROUND, INPUT_CHECKS
    from fashion_mnist_vis.models.model_handle import open_model

    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # before minutes of rendering
    started = time.perf_counter()
    options = {"flatten": not args.no_flatten, "stretch": not args.no_stretch}
    splits = load_splits(DataSettings(data_dir=args.data_dir), 42)  # train.py's default split: x_val never trained on
    # Half the test set calibrates the thresholds, the other half is measured: the training index holds
    # every training image (validation ones included), so only test images are new to it.
    (test_images, test_labels), (held_out, held_out_labels) = stratified_split(
        splits.x_test, splits.y_test, 0.5, args.seed)
    pool = (test_images, test_labels) if args.images == "test" else (splits.x_val, splits.y_val)
    images, labels = stratified_subset(*pool, args.count, args.seed)
    calibration, _ = stratified_subset(held_out, held_out_labels, CALIBRATION_COUNT, args.seed + 1)
    handle = open_model(args.saved_model, "keras", many_images=True)
    input_shape = tuple(handle.model.input_shape[1:])
    probe = unf.LogitProbe(handle)
    neighbour_index = _training_index(args.saved_model, handle, args.data_dir) if args.neighbour_index else None

    def scores(inputs: np.ndarray, unstretched: Optional[np.ndarray] = None,
               variations: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
        """Every score of ``inputs``; the input checks read ``unstretched`` (default: ``inputs``), the
        photo check ``variations`` (default: none, as for arrays)."""
        checked = inputs if unstretched is None else unstretched
        embeddings, logits, probabilities = unf.run_batches(probe, inputs)
        _, _, mirrored = unf.run_batches(probe, inputs, mirror=True)
        result = {"probabilities": probabilities, "averaged": (probabilities + mirrored) / 2,
                  "energy": unf.energy_scores(logits),
                  **{name: check(checked) for name, check in INPUT_CHECKS.items()},
                  BUSY_BACKGROUND: np.full(len(inputs), np.nan) if variations is None else variations}
        if neighbour_index is not None:
            result["nearest"] = unf.nearest_distances(neighbour_index.search, embeddings)
            result[unf.MAHALANOBIS] = neighbour_index.gaussians.distances(embeddings)
        return result

    reference = scores(calibration.astype(np.float32)[..., None] / 255.0)
    thresholds = {name: unf.calibrate_threshold(reference[name])
                  for name in ("energy", "nearest") if name in reference}
    combined = None  # classify's score: the distance or an input check above its threshold, 1% together
    if "nearest" in reference:
        combined = unf.calibrate_union(reference["nearest"], {name: reference[name] for name in
                                                              (*INPUT_CHECKS, unf.MAHALANOBIS)},
                                       shares={unf.MAHALANOBIS: unf.MAHALANOBIS_SHARE})
        thresholds["nearest (with the input checks)"] = combined[0]
        thresholds.update({f"{name} (input check)" if name in INPUT_CHECKS else f"{name} (with the distance)": value
                           for name, value in combined[1].items()})
        thresholds[f"{BUSY_BACKGROUND} (photo check, fixed)"] = PLAIN_BACKGROUND_LIMIT

    def flags(result: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        found = {name: unf.flagged(result[name], threshold)
                 for name, threshold in thresholds.items() if name in ("energy", "nearest")}
        if combined is not None:
            found["combined"] = unf.flagged(result["nearest"], combined[0])
            for name, threshold in combined[1].items():
                found["combined"] = found["combined"] | unf.flagged(result[name], threshold)
            found["combined"] = found["combined"] | unf.flagged(result[BUSY_BACKGROUND], PLAIN_BACKGROUND_LIMIT)
        return found

    def summary(result: Dict[str, np.ndarray], truth: Optional[np.ndarray]) -> Dict[str, object]:
        figures: Dict[str, object] = {f"flagged_{name}": float(flagged.mean()) for name, flagged in flags(result).items()}
        if truth is not None:
            plain = result["probabilities"].argmax(axis=1) == truth
            averaged = result["averaged"].argmax(axis=1) == truth
            footwear = np.isin(truth, FOOTWEAR)
            figures.update(accuracy=float(plain.mean()), accuracy_mirror_averaged=float(averaged.mean()),
                           footwear_accuracy=float(plain[footwear].mean()),
                           footwear_accuracy_mirror_averaged=float(averaged[footwear].mean()),
                           per_class={CLASS_NAMES[c]: float(plain[truth == c].mean()) for c in range(10)})
        return figures

    arrays = images.astype(np.float32)[..., None] / 255.0
    measured_half = summary(scores(test_images.astype(np.float32)[..., None] / 255.0), None)
    kinds = {"arrays": summary(scores(arrays), labels),
             "arrays, mirrored": summary(scores(np.ascontiguousarray(arrays[:, :, ::-1])), labels)}
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as temporary:
        root = args.photo_dir or Path(temporary)
        for name, style in STYLES.items():
            if args.renderings is not None and name not in args.renderings:
                continue
            folder = root / name.replace(" ", "_").replace(",", "")
            folder.mkdir(parents=True, exist_ok=True)
            paths = [write_photo(render_photo(item, style, rng), folder / f"{position:04d}_{label}", style)
                     for position, (item, label) in enumerate(zip(images, labels))]
            kinds[name] = summary(scores(*classify_files(paths, input_shape, **options)), labels)
        others = non_garment_photos()
        result = scores(*classify_files(_saved(others, root / "not_garments"), input_shape, **options))
        held_out = held_out_non_garments()
        held_out_result = scores(*classify_files(_saved(held_out, root / "held_out"), input_shape, **options))
    not_garments = _per_photo(others, result, flags(result))
    digits = np.array([name.startswith("digit") for name in held_out])
    held_out_flags = flags(held_out_result)
    return {"model": str(args.saved_model), "images": args.images, "count": int(len(labels)), "seed": args.seed,
            "preprocess": options, "thresholds": thresholds,
            "calibration": f"{len(calibration)} test arrays of the other half of the test set, 1% flagged",
            "test_half": {"count": int(len(test_labels)), **measured_half},
            "kinds": kinds, "not_garments": not_garments, "not_garments_summary": summary(result, None),
            "held_out_not_garments": _per_photo(held_out, held_out_result, held_out_flags),
            "held_out_summary": {name: {"images": int(chosen.sum()),
                                        **{f"flagged_{score}": float(flagged[chosen].mean())
                                           for score, flagged in held_out_flags.items()}}
                                 for name, chosen in (("photos", ~digits), ("digits", digits))},
            "seconds": time.perf_counter() - started}


def _saved(photos: Dict[str, np.ndarray], folder: Path) -> List[Path]:
    """Write each photo as a JPEG (quality 92) into ``folder``; their paths."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, photo in enumerate(photos.values()):
        paths.append(folder / f"{position:03d}.jpg")
        Image.fromarray(photo).save(paths[-1], quality=92)
    return paths


def _per_photo(photos: Dict[str, np.ndarray], result: Dict[str, np.ndarray],
               flags: Dict[str, np.ndarray]) -> Dict[str, Dict[str, object]]:
    """Each photo's prediction, scores and which scores flag it."""
    from fashion_mnist_vis.classes import CLASS_NAMES
    from fashion_mnist_vis.explain.input_checks import BUSY_BACKGROUND, INPUT_CHECKS

    names = ("energy", "nearest", "mahalanobis", *INPUT_CHECKS, BUSY_BACKGROUND)
    return {name: {"prediction": CLASS_NAMES[int(result["probabilities"][i].argmax())],
                   "score": float(result["probabilities"][i].max()),
                   **{score: float(result[score][i]) for score in names if score in result},
                   **{f"flagged_{score}": bool(flagged[i]) for score, flagged in flags.items()}}
            for i, name in enumerate(photos)}


def _training_index(model_path: Path, handle, data_dir: Optional[Path]):
    """The model's cached training index (built and cached if missing): its ``search`` and ``gaussians``."""
    from fashion_mnist_vis.data.datasets import DataSettings
    from fashion_mnist_vis.explain.examples import ExamplePlan, ExampleSettings

    plan = ExamplePlan.prepare(ExampleSettings(1, DataSettings(data_dir=data_dir)), model_path)
    return plan.finder(handle, notes=sys.stderr).index


_PRINTED_SCORES = ("energy", "nearest", "mahalanobis", "lit_share", "dimness", "busy_background")


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as a table for a reader."""
    scores = [name[len("flagged_"):] for name in figures["kinds"]["arrays"] if name.startswith("flagged_")]
    header = f"{'rendering':<22}{'accuracy':>9}{'+mirror avg':>12}{'footwear':>9}{'+mirror avg':>12}" \
        + "".join(f"{'flag ' + name:>15}" for name in scores)
    thresholds = ", ".join(f"{name} {value:.4g}" for name, value in figures["thresholds"].items())
    lines = [f"model {figures['model']}: {figures['count']} {figures['images']} images, seed {figures['seed']}; "
             f"thresholds from {figures['calibration']}: {thresholds}", header]
    for name, kind in figures["kinds"].items():
        lines.append(f"{name:<22}{100 * kind['accuracy']:8.1f}%{100 * kind['accuracy_mirror_averaged']:11.1f}%"
                     f"{100 * kind['footwear_accuracy']:8.1f}%{100 * kind['footwear_accuracy_mirror_averaged']:11.1f}%"
                     + "".join(f"{100 * kind['flagged_' + score]:14.1f}%" for score in scores))
    rows = [(f"the measured half of the test set ({figures['test_half']['count']})", figures["test_half"]),
            (f"not garments ({len(figures['not_garments'])})", figures["not_garments_summary"])]
    rows += [(f"held-out {name} ({item['images']})", item) for name, item in figures["held_out_summary"].items()]
    for title, item in rows:
        lines.append(f"{title:<64}" + "".join(f"{100 * item['flagged_' + score]:14.1f}%" for score in scores))
    if "as taken" in figures["kinds"]:
        arrays, taken = figures["kinds"]["arrays"], figures["kinds"]["as taken"]
        lines.append(f"round trip (as taken - arrays): {100 * (taken['accuracy'] - arrays['accuracy']):+.2f} points "
                     f"alone, {100 * (taken['accuracy_mirror_averaged'] - arrays['accuracy_mirror_averaged']):+.2f} "
                     "averaged with the mirror image")
    lines.append("per class (accuracy %): " + "  ".join(figures["kinds"]["arrays"]["per_class"]))
    for name in ("arrays", "product", "mirrored", "as taken", "as taken, mirrored"):
        if name not in figures["kinds"]:
            continue
        per_class = figures["kinds"][name]["per_class"]
        lines.append(f"  {name:<20}" + " ".join(f"{100 * value:5.1f}" for value in per_class.values()))
    for group in ("not_garments", "held_out_not_garments"):
        for name, item in figures[group].items():
            values = "  ".join(f"{score} {item[score]:.3f}" for score in _PRINTED_SCORES if score in item)
            flagged_by = [score for score in scores if item.get(f"flagged_{score}")]
            lines.append(f"  {name:<30} {item['prediction']} {100 * item['score']:.1f}%  {values}  "
                         f"flagged by: {', '.join(flagged_by) or 'none'}")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.machine import describe_machine
    from fashion_mnist_vis.atomic import write_json_atomic

    figures = measure(args)
    figures["machine"] = describe_machine()
    print("\n".join(format_lines(figures)))
    machine = figures["machine"]
    print(f"{figures['seconds']:.0f} s; machine: {machine.get('cpu')}, {machine.get('cores')} cores")
    if args.json is not None:
        write_json_atomic(args.json, figures)
    return 0


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.photos"))
