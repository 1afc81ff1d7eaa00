import pytest

from fashion_mnist_vis.training.presets import PRESETS, preset_epochs


@pytest.mark.parametrize("policy, epochs", [("mixed_bfloat16", 40), ("mixed_float16", 40), ("float32", 15)])
def test_auto_trains_longer_only_where_training_computes_in_16_bits(policy, epochs):
    chosen, why = preset_epochs("auto", policy)
    assert chosen == epochs and policy in why


@pytest.mark.parametrize("preset, epochs", [("long", 40), ("full", 15), ("quick", 5)])
def test_named_presets_do_not_depend_on_the_machine(preset, epochs):
    assert preset_epochs(preset, "float32") == preset_epochs(preset, "mixed_bfloat16") == (epochs, preset)


def test_an_unknown_preset_is_refused():
    assert PRESETS[0] == "auto"
    with pytest.raises(ValueError, match="unknown preset 'longest'"):
        preset_epochs("longest", "float32")
