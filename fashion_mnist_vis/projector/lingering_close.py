"""Closing a connection without cutting off the answer ("lingering close").

If a server closes a socket while the client's request bytes are still
unread, the kernel answers with a TCP reset, and a client that has not yet
read the response sees "connection reset" instead of it. So after answering,
:class:`~fashion_mnist_vis.projector.server.ProjectorServer` sends FIN and
:func:`drain` reads and discards what the client still sends, for at most
:data:`LINGER_S` seconds and :data:`LINGER_MAX_BYTES` bytes, before closing
(Apache's ``lingering_close`` does the same).
"""

import select
import socket
import time

#: After answering, unread request bytes are drained for at most this long
#: (and this much) before the socket is closed.
LINGER_S = 1.0
LINGER_MAX_BYTES = 1 << 20


def drain(connection: socket.socket) -> None:
    """Read and discard what the client still sends, briefly (see :data:`LINGER_S`).

    Returns when the client closes its side, when nothing arrives before the
    deadline, after :data:`LINGER_MAX_BYTES` bytes, or on any socket error.
    """
    deadline = time.monotonic() + LINGER_S
    received = 0
    try:
        while received < LINGER_MAX_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            readable, _, _ = select.select([connection], [], [], remaining)
            if not readable:
                return
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += len(chunk)
    except (OSError, ValueError):
        return
