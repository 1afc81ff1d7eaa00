"""The one error type that users see.

Raise :class:`UserError` for anything caused by the user's input or
environment (a bad flag value, a missing file, no network). Scripts catch it
once in ``main()`` (see :mod:`fashion_mnist_vis.cli`), print its message as
one line on stderr and exit with status 2.
"""


class UserError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""
