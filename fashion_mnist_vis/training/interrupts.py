"""Ctrl-C during Keras's ``fit`` that is never lost.

Python turns SIGINT into a KeyboardInterrupt raised wherever the main thread
happens to be. When that is inside a weakref callback or a ``__del__`` (Keras
and TensorFlow run many while training), Python prints "Exception ignored in
..." and carries on: the Ctrl-C is lost and training runs to its end (seen in a
CI run of the interrupt-and-resume test). :func:`interrupt_latch` records every
SIGINT as well as raising it, and :class:`InterruptCheck`, a Keras callback,
raises KeyboardInterrupt at the next batch or epoch boundary if one was
recorded, so a swallowed Ctrl-C still stops training within one batch. Inside
the latch, the "Exception ignored in ..." report of such a swallowed Ctrl-C is
not printed (it would show a traceback to a user who just pressed Ctrl-C);
every other unraisable exception is reported as before.
"""

import contextlib
import signal
import sys
import threading
from typing import Iterator, List

import keras


class InterruptCheck(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at a batch or epoch boundary once ``received`` holds a signal."""

    def __init__(self, received: List[int]):
        super().__init__()
        self.received = received

    def _check(self, *_args, **_kwargs) -> None:
        if self.received:
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


@contextlib.contextmanager
def interrupt_latch() -> Iterator[List[int]]:
    """Within the block, SIGINT raises KeyboardInterrupt (as by default) and is also recorded in the list
    yielded (give it to :class:`InterruptCheck`). Outside the main thread, or where SIGINT is not
    Python's default handler (e.g. ignored by the caller), nothing changes and the list stays empty."""
    received: List[int] = []
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield received
        return

    def record_and_raise(signum, _frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook

    def quiet_recorded_interrupt(unraisable):
        if not (received and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            previous_hook(unraisable)

    previous = signal.signal(signal.SIGINT, record_and_raise)
    sys.unraisablehook = quiet_recorded_interrupt
    try:
        yield received
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, previous)
