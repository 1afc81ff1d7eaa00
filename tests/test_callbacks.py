"""Training callbacks: the end-of-epoch ETA line."""

import time

from fashion_mnist_vis.training.callbacks import eta_line, format_duration


def test_durations_read_as_seconds_minutes_or_hours():
    assert format_duration(47.4) == "47 s"
    assert format_duration(564) == "9 min 24 s"
    assert format_duration(3900) == "1 h 05 min"


def test_eta_leaves_out_the_first_epoch_once_there_are_others():
    now = time.mktime((2026, 11, 30, 13, 0, 0, 0, 0, -1))
    # epochs 2 and 3 took 40 s and 50 s: 12 epochs left at 45 s = 9 min, until 13:09
    line = eta_line(3, 15, [90.0, 40.0, 50.0], now)
    assert line == "Epoch 3/15 took 50 s; about 9 min 00 s left, until 13:09 (sooner if early stopping ends it)"
    assert "about 2 min 00 s left" in eta_line(1, 3, [60.0], now)  # one epoch so far: it is all there is
