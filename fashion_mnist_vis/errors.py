"""The one error type that users see.

Raise :class:`UserError` for anything caused by the user's input or
environment (a bad flag value, a missing file, no network). Scripts catch it
once in ``main()`` (see :mod:`fashion_mnist_vis.commands.cli`), print its message as
one line on stderr and exit with status 2.
"""


class UserError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


def one_line(error: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none), for a UserError."""
    return " ".join(str(error).split()) or type(error).__name__


def shorten(text: str, limit: int = 200) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "..." when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
