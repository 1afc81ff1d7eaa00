"""The ten Fashion-MNIST classes, defined once for the whole toolkit.

Label ``i`` (an integer in 0..9) names ``CLASS_NAMES[i]``; the order is the
official one from Zalando's dataset description.
"""

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

NUM_CLASSES = len(CLASS_NAMES)

IMAGE_SIZE = 28
"""Fashion-MNIST images are IMAGE_SIZE x IMAGE_SIZE greyscale pixels."""


def _squash(text: str) -> str:
    """Lower case, letters and digits only: 'T-shirt/top' -> 'tshirttop', 'Ankle boot' -> 'ankleboot'."""
    return "".join(char for char in text.lower() if char.isalnum())


CLASS_ALIASES = {"tshirt": 0, "top": 0}
"""Extra spellings (squashed, see :func:`match_class_name`) accepted for a class."""

_SPELLINGS = {
    **{_squash(name): index for index, name in enumerate(CLASS_NAMES)},
    **CLASS_ALIASES,
}


def match_class_name(text: str):
    """Return the label (0..9) that ``text`` names, or None.

    Case, spaces and punctuation are ignored and a plural ``s``/``es`` is
    allowed, so ``T-shirt_top``, ``tshirt``, ``ankle-boot``, ``Ankle boot``
    and ``Sneakers`` all match; so does the label itself, ``0`` to ``9``.
    """
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped) if int(stripped) < NUM_CLASSES else None
    squashed = _squash(stripped)
    for candidate in (squashed, squashed[:-1] if squashed.endswith("s") else None,
                      squashed[:-2] if squashed.endswith("es") else None):
        if candidate and candidate in _SPELLINGS:
            return _SPELLINGS[candidate]
    return None


def accepted_class_names() -> str:
    """One line listing the spellings :func:`match_class_name` accepts, for error messages."""
    names = ", ".join(
        "_".join(name.lower().replace("/", " ").replace("-", "").split()) for name in CLASS_NAMES
    )
    return (f"{names} (also {', '.join(CLASS_ALIASES)}; any case, punctuation or spaces, "
            f"plural allowed) or the label 0-{NUM_CLASSES - 1}")
