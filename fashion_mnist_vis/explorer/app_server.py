"""The explorer's HTTP server: the static page from ``static/`` and a small JSON API.

Built on the project's hardened server (:mod:`fashion_mnist_vis.projector.server`: 127.0.0.1 by
default, request-line limits, TLS and garbage refused, one daemon thread per connection, path
checks for the static files). The API:

* ``GET /api/info``: the model, the classes and the explanation methods (JSON).
* ``POST /api/classify?method=KEY&contrast=N``: the body is an image file (PNG, JPEG, ...) or a
  ``data:image/...;base64,`` URL, at most :data:`MAX_UPLOAD_BYTES`; the answer is
  :meth:`~fashion_mnist_vis.explorer.session.Explorer.classify_upload`'s JSON.
* ``GET /api/channel?layer=NAME&channel=C``: the training images that excite a channel most.
* ``GET /api/random`` and ``GET /api/random?mistake=1``: a random test image (a misclassified one).

Errors are JSON too, ``{"error": "one line"}`` with a 4xx status, so the page can show them.
Unlike the Projector's server it sends no CORS header: other web sites may not read its answers.
"""

import base64
import binascii
import json
import re
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.projector.server import ProjectorRequestHandler, make_server

STATIC_FOLDER = Path(__file__).resolve().parent / "static"
#: Largest accepted upload, in bytes (a phone photo is 2-8 MB; the pixel cap is load_image's).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class ExplorerRequestHandler(ProjectorRequestHandler):
    """The Projector server's handler plus the explorer's API (``server.explorer`` computes)."""

    server_version = "fashion-mnist-vis-explore"

    def end_headers(self) -> None:
        """Extra headers only: no ``Access-Control-Allow-Origin`` (the page is same-origin)."""
        for name, value in getattr(self, "_extra_headers", ()):
            self.send_header(name, value)
        self._extra_headers = []
        BaseHTTPRequestHandler.end_headers(self)

    def do_GET(self) -> None:
        route, query = self._route()
        if route == "/api/info":
            self._answer(lambda: self.server.explorer.info())
        elif route == "/api/channel":
            layer, channel = query.get("layer", [""])[0], query.get("channel", [""])[0]

            def channel_examples():
                if not re.fullmatch(r"-?[0-9]+", channel):  # a negative number gets the range message below
                    raise UserError(f"channel {channel!r} is not a channel number")
                return self.server.explorer.channel_examples(layer, int(channel))

            self._answer(channel_examples)
        elif route == "/api/random":
            mistake = query.get("mistake", ["0"])[0] not in ("", "0", "false")
            self._answer(lambda: self.server.explorer.random_test_image(mistake))
        else:
            if route == "/":
                self.path = "/index.html"
            super().do_GET()

    def do_POST(self) -> None:
        route, query = self._route()
        if route != "/api/classify":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no API at {route}; POST images to /api/classify"})
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send_json(HTTPStatus.LENGTH_REQUIRED, {"error": "send the image with a Content-Length"})
            return
        if int(length) > MAX_UPLOAD_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {
                "error": f"the upload is {int(length) / 1e6:.1f} MB; the explorer takes images up to "
                         f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MiB"})
            return
        body = self.rfile.read(int(length))

        def classify():
            method = query.get("method", [None])[0] or None
            contrast = query.get("contrast", [""])[0]
            if contrast and not contrast.lstrip("-").isdigit():
                raise UserError(f"contrast class {contrast!r} is not a class index")
            return self.server.explorer.classify_upload(decode_upload(body), method,
                                                        int(contrast) if contrast else None)

        self._answer(classify)

    def _route(self):
        split = urllib.parse.urlsplit(self.path)
        return split.path, urllib.parse.parse_qs(split.query)

    def _answer(self, compute) -> None:
        """Send ``compute()`` as JSON, or a UserError's line as ``{"error": ...}`` with status 400."""
        try:
            record = compute()
        except UserError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._send_json(HTTPStatus.OK, record)

    def _send_json(self, status: HTTPStatus, record) -> None:
        body = json.dumps(record).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def decode_upload(body: bytes) -> bytes:
    """The image file in a request body: the bytes themselves, or those of a base64 ``data:`` URL.

    Raises:
        UserError: for a ``data:`` URL that is not base64.
    """
    if not body.startswith(b"data:"):
        return body
    header, _, payload = body.partition(b",")
    if not header.endswith(b";base64"):
        raise UserError("a data: URL upload must be base64-encoded (data:image/png;base64,...)")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UserError("the data: URL upload is not valid base64") from None


def make_explorer_server(explorer, host: str, port: int, quiet: bool = False):
    """The explorer's server (not started) for ``explorer`` (a
    :class:`~fashion_mnist_vis.explorer.session.Explorer`); ``port=0`` picks a free port.

    Raises:
        UserError: if the address cannot be bound (port in use, unknown host, ...).
    """
    server = make_server(STATIC_FOLDER, host, port, quiet=quiet, handler=ExplorerRequestHandler)
    server.explorer = explorer
    return server
