"""Epoch budgets of train.py's --preset, and the one ``auto`` picks for this machine.

The recipe is the same for every preset (the cosine schedule stretches over
whatever budget is chosen); only the number of epochs changes. On the real
Fashion-MNIST (README, "The default recipe"), gap_cnn with photo augmentation
reached 94.3% validation accuracy (each image averaged with its mirror image)
after 15 epochs, 95.0% after 30, 95.1% after 40 and 95.2% after 50: 40 is
where more epochs stop paying for their time. Where training computes in 16
bits (a GPU, or a CPU with AMX or AVX512-BF16) 40 epochs take about 20
minutes on 2 cores with AMX; a 2-core CPU without bfloat16 units trains in
float32 at about half that speed or less, where 40 epochs would take well
over an hour, so ``auto`` gives it 15 (about 40 minutes), keeping the default
run well under an hour.
"""

from typing import Dict, Tuple

PRESET_EPOCHS: Dict[str, int] = {"long": 40, "full": 15, "quick": 5}
"""Epochs of each named preset: long (the most accurate), full (the earlier default), quick (a first look)."""

PRESETS = ("auto", *PRESET_EPOCHS)


def preset_epochs(preset: str, policy: str) -> Tuple[int, str]:
    """The epoch budget of ``preset`` when training computes under the Keras dtype ``policy``.

    Args:
        preset: one of :data:`PRESETS`.
        policy: the resolved precision, e.g. ``"mixed_bfloat16"`` or ``"float32"``.

    Returns:
        (epochs, why): e.g. ``(40, "auto: long, as training computes in mixed_bfloat16 here")``.

    Raises:
        ValueError: for a preset not in :data:`PRESETS`.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    if preset != "auto":
        return PRESET_EPOCHS[preset], preset
    if policy.startswith("mixed_"):
        return PRESET_EPOCHS["long"], f"auto: long, as training computes in {policy} here"
    return PRESET_EPOCHS["full"], f"auto: full, as training computes in {policy} here (--preset long: 40 epochs, nearly three times the time)"
