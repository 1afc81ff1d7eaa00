"""Which files the Projector server may send, and as what: the path checks and content types.

:func:`resolve_target` maps a request target to a file inside the served
folder or refuses it (:class:`Refused`, with the HTTP status to answer): no
directory listings, no hidden files, and no path that leaves the folder,
whether by ``..``, encoded slashes, backslashes, NUL bytes or symbolic links.
:func:`content_type_for` names a file's Content-Type. Both are plain functions
of strings and the file system, used by :mod:`fashion_mnist_vis.projector.server`.
"""

import mimetypes
import os
import urllib.parse
from http import HTTPStatus

#: Content types of the files the Projector export contains (and a few more),
#: fixed here rather than left to the platform's mime.types, which differs
#: between machines and lacks .bytes and .pbtxt.
CONTENT_TYPES = {
    ".json": "application/json",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".png": "image/png",
    ".bytes": "application/octet-stream",
    ".pbtxt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def content_type_for(file_name: str) -> str:
    """Return the Content-Type to send for ``file_name`` (by its suffix)."""
    suffix = os.path.splitext(file_name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(file_name)
    if guessed is None or encoding is not None:  # e.g. .gz: send the bytes as they are
        return "application/octet-stream"
    if guessed.startswith("text/"):
        return guessed + "; charset=utf-8"
    return guessed


class Refused(Exception):
    """A request target that must not be served; carries the status and an explanation."""

    def __init__(self, status: HTTPStatus, explain: str):
        super().__init__(explain)
        self.status = status
        self.explain = explain


def resolve_target(root: str, target: str) -> str:
    """Map a request target to the real path of a file inside ``root`` (a folder's real path).

    Raises :class:`Refused` (403 for targets that try to leave the folder
    or are malformed, 404 for anything missing, hidden, a directory, or a
    symlink that leads outside) so that no path outside ``root`` is ever
    opened.
    """
    path = urllib.parse.urlsplit(target).path if not target.startswith("/") else target
    path = path.split("?", 1)[0].split("#", 1)[0]
    if "\\" in path or "\x00" in path:
        raise Refused(HTTPStatus.FORBIDDEN, "Paths may not leave the served folder.")
    try:
        decoded = urllib.parse.unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise Refused(HTTPStatus.NOT_FOUND, "No such file.") from None
    if "\\" in decoded or "\x00" in decoded:
        raise Refused(HTTPStatus.FORBIDDEN, "Paths may not leave the served folder.")
    # Split on "/" after decoding, so %2f counts as a separator and a
    # leading "//" or "%2f" cannot turn the rest into an absolute path.
    parts = [part for part in decoded.split("/") if part]
    for part in parts:
        if part in (".", ".."):
            raise Refused(HTTPStatus.FORBIDDEN, "Paths may not leave the served folder.")
        if part.startswith("."):
            raise Refused(HTTPStatus.NOT_FOUND, "Hidden files are not served.")
        if os.sep in part or (os.altsep and os.altsep in part):
            raise Refused(HTTPStatus.FORBIDDEN, "Paths may not leave the served folder.")
        if os.path.splitdrive(part)[0]:  # "C:" on Windows
            raise Refused(HTTPStatus.FORBIDDEN, "Paths may not leave the served folder.")
    if not parts:
        raise Refused(HTTPStatus.NOT_FOUND, "Directory listings are disabled; ask for a file such as /config.json.")
    real_path = os.path.realpath(os.path.join(root, *parts))
    try:
        inside = os.path.commonpath([root, real_path]) == root
    except ValueError:  # different drives
        inside = False
    if not inside:
        raise Refused(HTTPStatus.NOT_FOUND, "No such file.")
    if os.path.isdir(real_path):
        raise Refused(HTTPStatus.NOT_FOUND, "Directory listings are disabled.")
    if not os.path.isfile(real_path):
        raise Refused(HTTPStatus.NOT_FOUND, "No such file.")
    return real_path
