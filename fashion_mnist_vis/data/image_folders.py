"""Labelled photos on disk: ``DIR/<class>/*`` folders turned into model inputs and labels.

Each sub-folder of ``DIR`` is one class, named as
:func:`~fashion_mnist_vis.classes.match_class_name` accepts (``tshirt``,
``t_shirt_top``, ``Ankle boot``, ``sneakers``, ``7``, ...). Every image in it
is read with :func:`~fashion_mnist_vis.data.images.load_image` and prepared with
:func:`~fashion_mnist_vis.data.preprocess.preprocess`, the same steps classify
uses, so a model is scored on exactly what it would see.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES, accepted_class_names, match_class_name
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.images import image_files_in, load_image
from fashion_mnist_vis.data.preprocess import preprocess


@dataclass(frozen=True)
class LabelledImages:
    """Images from class folders, ready for a model.

    Attributes:
        inputs: float32 (N, height, width, channels) in [0, 1], the model inputs.
        labels: int64 (N,) in 0..9.
        paths: the N image files, in the same order.
        class_folders: folder name -> label, for every class folder found.
        notes: lines for the user about what was passed over (empty folders, loose files).
    """

    inputs: np.ndarray
    labels: np.ndarray
    paths: List[Path]
    class_folders: Dict[str, int]
    notes: List[str] = field(default_factory=list)


def find_class_folders(root: Path) -> Dict[Path, int]:
    """Map each visible sub-folder of ``root`` to the label its name gives.

    Raises:
        UserError: if ``root`` is missing or not a folder, has no sub-folders,
            or some sub-folder names no class (the message lists them and the
            accepted names).
    """
    root = Path(root)
    if not root.exists():
        raise UserError(f"image folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise UserError(f"{str(root)!r} is not a folder; give a folder of images laid out as DIR/<class>/*",
                        settings=("images",))
    folders = sorted((child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")),
                     key=lambda child: child.name)
    if not folders:
        raise UserError(
            f"image folder {str(root)!r} holds no class folders; put each image in a folder named "
            f"after its class, e.g. {str(root / 'sneaker' / 'photo.jpg')!r}"
        )
    labels = {folder: match_class_name(folder.name) for folder in folders}
    unknown = [folder.name for folder, label in labels.items() if label is None]
    if unknown:
        raise UserError(
            f"unknown class folder{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)} in {str(root)!r}; accepted names: {accepted_class_names()}"
        )
    return labels


def load_labelled_folder(
    root: Path,
    input_shape: Sequence,
    invert: str = "auto",
    crop: bool = True,
    flatten: bool = True,
) -> LabelledImages:
    """Read and preprocess every image under ``root``'s class folders.

    Args:
        root: the folder holding one sub-folder per class.
        input_shape: the model's input shape, ``(height, width, channels)``
            or Keras's ``(None, height, width, channels)``.
        invert, crop, flatten: passed to :func:`~fashion_mnist_vis.data.preprocess.preprocess`.

    Raises:
        UserError: as :func:`find_class_folders`; if no class folder holds an
            image; or if an image cannot be read (naming the file).
    """
    root = Path(root)
    class_folders = find_class_folders(root)
    notes = []
    loose = [child.name for child in image_files_in(root)]
    if loose:
        notes.append(f"skipped {len(loose)} image(s) directly in {root} (images must be in class folders)")
    inputs, labels, paths = [], [], []
    for folder, label in class_folders.items():
        files = image_files_in(folder)
        if not files:
            notes.append(f"class folder {folder} ({CLASS_NAMES[label]}) holds no images")
        for path in files:
            prepared = preprocess(load_image(path), input_shape, invert=invert, crop=crop, flatten=flatten)
            inputs.append(prepared.model_input)
            labels.append(label)
            paths.append(path)
    if not paths:
        raise UserError(f"the class folders in {str(root)!r} hold no image files")
    return LabelledImages(
        inputs=np.stack(inputs).astype(np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        paths=paths,
        class_folders={folder.name: label for folder, label in class_folders.items()},
        notes=notes,
    )


def class_counts(labels: np.ndarray) -> List[Tuple[str, int]]:
    """(class name, count) for each class present in ``labels``, in label order."""
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    return [(CLASS_NAMES[index], int(count)) for index, count in enumerate(counts) if count]
