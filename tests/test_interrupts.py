"""A Ctrl-C during Keras's fit is never lost (fashion_mnist_vis.training.interrupts)."""

import os
import signal
import sys
import time

import keras
import numpy as np
import pytest

from fashion_mnist_vis.training.interrupts import InterruptCheck, interrupt_latch


class SwallowedInterrupt(keras.callbacks.Callback):
    """Sends SIGINT at the end of batch ``at`` and swallows the KeyboardInterrupt, as Python does
    when the signal lands inside a weakref callback or a ``__del__``."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)
        if batch == self.at:
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)  # the handler runs here
            except KeyboardInterrupt:
                pass


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_swallowed_ctrl_c_still_stops_fit_at_the_same_batch(python_sigint):
    x, y = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)
    swallowed = SwallowedInterrupt(at=1)
    with interrupt_latch() as received:
        with pytest.raises(KeyboardInterrupt):
            tiny_model().fit(x, y, batch_size=1, epochs=3, verbose=0,
                             callbacks=[swallowed, InterruptCheck(received)])
    assert swallowed.batches == [0, 1]
    assert received == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_the_check_a_swallowed_ctrl_c_is_lost(python_sigint):
    """The failure the latch exists for: fit runs to its end."""
    x, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    swallowed = SwallowedInterrupt(at=1)
    with interrupt_latch():
        tiny_model().fit(x, y, batch_size=1, epochs=2, verbose=0, callbacks=[swallowed])
    assert swallowed.batches == [0, 1, 2, 3, 0, 1, 2, 3]


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupt_latch() as received:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
        assert received == []
    finally:
        signal.signal(signal.SIGINT, previous)


class InterruptedWhileCollected:
    """Sends SIGINT from its ``__del__``: the KeyboardInterrupt is raised inside the finaliser,
    where Python cannot propagate it and reports it as "Exception ignored in ..."."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, inside __del__


class FailsWhileCollected:
    def __del__(self):
        raise ValueError("a finaliser's own error")


@pytest.fixture
def unraisable_reports(monkeypatch):
    """The exceptions reported to sys.unraisablehook (outside the latch)."""
    reports = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reports.append(unraisable.exc_value))
    return reports


def test_a_ctrl_c_swallowed_by_a_finaliser_is_recorded_without_a_report(python_sigint, unraisable_reports):
    hook = sys.unraisablehook
    with interrupt_latch() as received:
        finalised = InterruptedWhileCollected()
        del finalised
    assert received == [signal.SIGINT]
    assert unraisable_reports == []
    assert sys.unraisablehook is hook


def test_other_exceptions_in_finalisers_are_still_reported(python_sigint, unraisable_reports):
    with interrupt_latch() as received:
        failing = FailsWhileCollected()
        del failing
    assert received == []
    assert [str(error) for error in unraisable_reports] == ["a finaliser's own error"]


def test_without_the_latch_a_finaliser_swallows_the_ctrl_c_and_reports_it(python_sigint, unraisable_reports):
    """What the latch hides: Python reports the interrupted finaliser (to stderr, outside pytest)."""
    finalised = InterruptedWhileCollected()
    del finalised
    assert [type(error) for error in unraisable_reports] == [KeyboardInterrupt]
