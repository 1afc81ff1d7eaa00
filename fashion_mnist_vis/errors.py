"""The one error type that users see.

Raise :class:`UserError` for anything caused by the user's input or
environment (a bad flag value, a missing file, no network). Scripts catch it
once in ``main()`` (see :mod:`fashion_mnist_vis.commands.cli`), print its message as
one line on stderr and exit with status 2.

Library code names no command-line flags: its message says what to change in
words ("try a lower learning rate") and lists the settings it means in
``settings``; the command that caught the error adds its own flags for them
(:func:`fashion_mnist_vis.commands.cli.error_line`).
"""

from typing import Sequence


class UserError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do.

    Args:
        message: one sentence (or a few joined by semicolons), no flag names.
        settings: the settings the message asks the user to change, by the
            name the library gives them (a ``TrainConfig`` field, a function's
            parameter): ``"learning_rate"``, or ``"name=value"`` when one value
            is the remedy (``"dataset=synthetic"``). Commands turn them into flags.
    """

    def __init__(self, message: str, *, settings: Sequence[str] = ()):
        super().__init__(message)
        self.settings = tuple(settings)


def one_line(error: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none), for a UserError."""
    return " ".join(str(error).split()) or type(error).__name__


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "..." when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
