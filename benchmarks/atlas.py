"""Time the channel atlas (``inspect_model``) step by step on a model and the training images.

Run from the repository root, on a quiet machine::

    python -m benchmarks.atlas --saved-model model.keras          # the 60,000 real training images
    python -m benchmarks.atlas --saved-model model.keras --json   # the figures as one JSON object

In one process, as ``inspect_model`` does it (see :mod:`fashion_mnist_vis.explain.atlas`):
loading the training images, opening the model (``--engine``, default keras as
the command's ``auto``), searching every image for each channel's strongest
responses (all convolutions in one forward pass per batch), the channels'
gradient ascent (per layer), the classes' (with the data prior and without)
and writing the pages and pictures. Prints one line per figure (or JSON) and
the machine; asserts nothing.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/atlas.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time the channel atlas of inspect_model step by step.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--dataset", choices=("fashion_mnist", "synthetic"), default="fashion_mnist")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the four IDX files")
    parser.add_argument("--images", type=int, default=None, help="a stratified subset of the training set")
    parser.add_argument("--engine", choices=("numpy", "keras"), default="keras", help="what runs the search")
    parser.add_argument("--steps", type=int, default=None, help="ascent steps (default: the command's)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark, in seconds unless named otherwise."""
    import dataclasses

    from benchmarks.in_process import timed
    from fashion_mnist_vis.data.datasets import DataSettings, load_splits
    from fashion_mnist_vis.explain.atlas import AtlasSettings, build_atlas
    from fashion_mnist_vis.models.model_handle import open_model
    from fashion_mnist_vis.visualize.atlas_pages import write_atlas

    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # before the images are loaded
    data = DataSettings(dataset=args.dataset, data_dir=args.data_dir, train_size=args.images, val_split=0.0)
    splits, load_seconds = timed(lambda: load_splits(data, 42))
    handle, open_seconds = timed(lambda: open_model(args.saved_model, args.engine, many_images=True))
    settings = AtlasSettings()
    if args.steps is not None:
        settings = dataclasses.replace(
            settings, channel_ascent=dataclasses.replace(settings.channel_ascent, steps=args.steps),
            class_ascent=dataclasses.replace(settings.class_ascent, steps=args.steps))
    layer_times: List[List[object]] = []

    def progress(message: str) -> None:  # the atlas says when each layer's ascent starts
        layer_times.append([message, time.perf_counter()])

    atlas, build_seconds = timed(lambda: build_atlas(handle, splits.x_train, splits.y_train, settings, progress))
    layer_times.append(["end", time.perf_counter()])
    per_layer = {message.rsplit(" ", 1)[-1]: round(following[1] - started, 3)
                 for (message, started), following in zip(layer_times, layer_times[1:])
                 if message.startswith("maximising the") and "channels" in message}
    with tempfile.TemporaryDirectory() as folder:
        _, write_seconds = timed(lambda: write_atlas(atlas, Path(folder), handle.describe(), splits.source))
        files = [path for path in Path(folder).rglob("*") if path.is_file()]
        size = sum(path.stat().st_size for path in files)
    return {
        "model": str(args.saved_model), "engine": handle.engine, "training_images": len(splits.y_train),
        "data_source": splits.source, "layers": len(atlas.layers),
        "channels": sum(layer.output_shape[-1] for layer in atlas.layers),
        "steps": settings.channel_ascent.steps, "load_training_images_s": load_seconds, "open_model_s": open_seconds,
        "search_s": atlas.seconds["search"], "channels_ascent_s": atlas.seconds["channels"],
        "channels_ascent_per_layer_s": per_layer, "classes_ascent_s": atlas.seconds["classes"],
        "build_atlas_s": build_seconds, "write_pages_s": write_seconds, "files": len(files), "bytes": size,
    }


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as lines for a reader."""
    count = figures["training_images"]
    lines = [
        f"model {figures['model']}, {figures['layers']} convolutions, {figures['channels']} channels, "
        f"{count} training images ({figures['data_source']}), {figures['steps']} ascent steps",
        f"load the training images            {figures['load_training_images_s']:8.2f} s",
        f"open the model ({figures['engine']})" + " " * max(1, 20 - len(figures["engine"]))
        + f"{figures['open_model_s']:8.2f} s",
        f"search for the strongest images     {figures['search_s']:8.2f} s  "
        f"({count / figures['search_s']:.0f} images/s)",
        f"maximise every channel              {figures['channels_ascent_s']:8.2f} s",
    ]
    lines += [f"  {name:<34}{seconds:8.2f} s" for name, seconds in figures["channels_ascent_per_layer_s"].items()]
    lines += [
        f"maximise the classes (2 x 10)       {figures['classes_ascent_s']:8.2f} s",
        f"write the pages and pictures        {figures['write_pages_s']:8.2f} s  "
        f"({figures['files']} files, {figures['bytes'] / 2 ** 20:.1f} MiB)",
        f"the whole atlas, model open         {figures['build_atlas_s'] + figures['write_pages_s']:8.2f} s",
    ]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.in_process import print_figures

    return print_figures(measure(args), format_lines, args.json)


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.atlas"))
