"""A small, read-only HTTP server with CORS for the Embedding Projector export.

Why this exists: the standalone Embedding Projector runs at
https://projector.tensorflow.org, and when opened as
``https://projector.tensorflow.org/?config=http://localhost:8000/config.json``
the page's JavaScript (an origin other than ``localhost:8000``) fetches
``config.json``, the ``.bytes`` tensors and the ``.tsv`` metadata from the
user's own machine. Browsers only let that script read the answers if they
carry ``Access-Control-Allow-Origin``, which ``python -m http.server`` does
not send; so this server adds it to every response, errors included (a 404
without it shows up in the browser as an opaque "CORS error" that hides the
real cause).

Because whatever it serves is readable by any web page the user visits while
it runs, the server is deliberately narrow:

* it binds to 127.0.0.1 unless told otherwise, and warns when asked to listen
  on every interface;
* it serves regular files from one folder and nothing else: no directory
  listings (directories answer 404), no hidden files (names starting with
  ``.``, such as editor swap files or half-written temporary files), and no
  path that leaves the folder, whether by ``..``, encoded slashes,
  backslashes, NUL bytes or symbolic links (real paths are resolved and must
  lie inside the folder's real path; these checks live in
  :mod:`fashion_mnist_vis.projector.served_files`);
* it only reads (GET, HEAD and the OPTIONS preflight);
* request lines longer than 8 KiB, garbage and TLS handshakes (someone typing
  ``https://``) get an error and a closed connection, and each connection is
  handled on its own daemon thread, so one bad client cannot stall the rest.

The command that runs it is :mod:`fashion_mnist_vis.commands.serve`
(``python -m fashion_mnist_vis.serve`` serves ``tensorboard_assets`` under the
current folder; ``python tensorboard_assets/serve_assets.py`` serves the folder
that script lives in).
"""

import email.utils
import errno
import ipaddress
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.projector.lingering_close import drain
from fashion_mnist_vis.projector.served_files import Refused, content_type_for, resolve_target

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
PROJECTOR_URL = "https://projector.tensorflow.org/"


def projector_link(base_url: str) -> str:
    """The standalone Projector's address that loads ``config.json`` from ``base_url`` (ending in /)."""
    return f"{PROJECTOR_URL}?config={base_url}config.json"


#: Longest request line accepted (method, target and version), in bytes.
MAX_REQUEST_LINE = 8 * 1024
#: Seconds an idle keep-alive connection may wait for its next request.
IDLE_TIMEOUT_S = 30

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
DEFAULT_ALLOWED_HEADERS = "Accept, Accept-Language, Content-Language, Content-Type, Range, Cache-Control"
PREFLIGHT_MAX_AGE_S = 600

def _printable(text: str, limit: int = 200) -> str:
    """``text`` with control and non-ASCII characters escaped, cut to ``limit``."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(ch if 32 <= ord(ch) < 127 else f"\\x{ord(ch):02x}" for ch in escaped)
    if len(escaped) > limit:
        escaped = escaped[:limit] + f"...({len(text)} chars)"
    return escaped


class ProjectorRequestHandler(BaseHTTPRequestHandler):
    """Answers GET, HEAD and OPTIONS for files inside ``server.root``.

    All configuration lives on the server object (:class:`ProjectorServer`),
    so several servers with different folders can run in one process.
    """

    server: "ProjectorServer"
    server_version = "fashion-mnist-vis-serve"
    protocol_version = "HTTP/1.1"  # keep-alive: the Projector fetches several files
    # Answer even malformed requests with a status line and headers (the
    # stock default, HTTP/0.9, would send a bare body without CORS headers).
    default_request_version = "HTTP/1.0"
    timeout = IDLE_TIMEOUT_S
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n%(explain)s\n"

    # -- request parsing -------------------------------------------------

    def handle_one_request(self) -> None:
        """Refuse TLS handshakes quickly, then let the base class parse the request."""
        try:
            first_byte = self.rfile.peek(1)[:1]
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        if first_byte == b"\x16":  # TLS record type "handshake": https:// on a plain HTTP port
            self.close_connection = True
            self._log_line("TLS handshake refused: open http://, not https://")
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        """Apply this server's limits (8 KiB request line, explicit HTTP version) first."""
        raw_line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.command = None
        self.request_version = self.default_request_version
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline = raw_line[:60]
            self.send_error(
                HTTPStatus.REQUEST_URI_TOO_LONG,
                explain=f"The request line is longer than {MAX_REQUEST_LINE} bytes.",
            )
            return False
        if len(raw_line.split()) == 2:  # an HTTP/0.9 request: no headers, no CORS possible
            self.requestline = raw_line
            self.send_error(HTTPStatus.BAD_REQUEST, explain="Bad request syntax (no HTTP version).")
            return False
        return super().parse_request()

    # -- responses -------------------------------------------------------

    def version_string(self) -> str:
        """The Server header: this tool's name only (no Python version)."""
        return self.server_version

    def end_headers(self) -> None:
        """Add the CORS header (and any extra headers) to every response, errors included."""
        self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in getattr(self, "_extra_headers", ()):
            self.send_header(name, value)
        self._extra_headers = []
        super().end_headers()

    def send_error(self, code, message=None, explain=None, extra_headers=()) -> None:
        """Send an error response; ``extra_headers`` go out with it (e.g. Allow on 405)."""
        self._extra_headers = list(extra_headers)
        super().send_error(code, message, explain)

    def do_GET(self) -> None:
        """Send the file's headers and bytes."""
        self._send_file(with_body=True)

    def do_HEAD(self) -> None:
        """Send the file's headers only (same status and Content-Length as GET)."""
        self._send_file(with_body=False)

    def do_OPTIONS(self) -> None:
        """Answer a CORS preflight (or a plain OPTIONS) for any target.

        Browsers send a preflight before a cross-origin request that has
        non-simple headers; the Projector's fetches normally do not need one,
        but answering it properly costs nothing and keeps custom clients
        working. The answer does not depend on whether the file exists: the
        GET that follows reports that.
        """
        if not self._target_is_valid_form():
            return
        requested = self.headers.get("Access-Control-Request-Headers", "")
        allowed = requested.strip() if _is_header_list(requested) else DEFAULT_ALLOWED_HEADERS
        self.send_response(HTTPStatus.NO_CONTENT)
        self.send_header("Allow", ALLOWED_METHODS)
        self.send_header("Access-Control-Allow-Methods", ALLOWED_METHODS)
        self.send_header("Access-Control-Allow-Headers", allowed)
        self.send_header("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_S))
        self.send_header("Vary", "Access-Control-Request-Headers")
        # Chrome's Private Network Access checks: a public https page (the
        # Projector) reading from localhost asks for this extra permission.
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _method_not_allowed(self) -> None:
        self.send_error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            explain="This server is read-only: it answers GET, HEAD and OPTIONS.",
            extra_headers=[("Allow", ALLOWED_METHODS)],
        )

    do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    def _target_is_valid_form(self) -> bool:
        """True for ``/...`` targets, absolute URLs and ``OPTIONS *``; else answer 400."""
        if self.path.startswith("/") or (self.command == "OPTIONS" and self.path == "*"):
            return True
        if urllib.parse.urlsplit(self.path).scheme in ("http", "https"):
            return True
        self.send_error(HTTPStatus.BAD_REQUEST, explain="The request target must start with /.")
        return False

    def _send_file(self, with_body: bool) -> None:
        if not self._target_is_valid_form():
            return
        try:
            real_path = resolve_target(self.server.root, self.path)
        except Refused as refused:
            self.send_error(refused.status, explain=refused.explain)
            return
        try:
            handle = open(real_path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, explain="No such file.")
            return
        with handle:
            stat = os.fstat(handle.fileno())
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type_for(real_path))
            self.send_header("Content-Length", str(stat.st_size))
            self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            # Re-exports overwrite these files; make the browser ask again.
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if not with_body or stat.st_size == 0:
                return
            try:
                self.wfile.flush()
                self.connection.sendfile(handle, 0, stat.st_size)
            except OSError:  # the client went away mid-transfer
                self.close_connection = True

    # -- logging ---------------------------------------------------------

    def log_request(self, code="-", size="-") -> None:
        """One concise access-log line per response, e.g. ``127.0.0.1 "GET /config.json HTTP/1.1" 200``."""
        code = getattr(code, "value", code)
        self._log_line(f'"{_printable(getattr(self, "requestline", ""))}" {code}')

    def log_error(self, format, *args) -> None:  # noqa: A002 (base-class signature)
        """Silenced: the status in the access-log line already says what went wrong."""

    def log_message(self, format, *args) -> None:  # noqa: A002 (base-class signature)
        self._log_line(_printable(format % args))

    def _log_line(self, text: str) -> None:
        if self.server.quiet:
            return
        client = str(self.client_address[0]) if self.client_address else "-"
        if client.startswith("::ffff:"):  # IPv4 client of a dual-stack "::" server
            client = client[len("::ffff:"):]
        self.server.write_log(f"{time.strftime('%H:%M:%S')} {client} {text}")


def _is_header_list(value: str) -> bool:
    """True if ``value`` is a comma-separated list of header names (safe to echo back)."""
    names = [name.strip() for name in value.split(",")]
    if not value.strip() or len(value) > 1000:
        return False
    token_chars = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return all(name and set(name) <= token_chars for name in names)


class ProjectorServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` serving only the files under ``root``.

    Create it with :func:`make_server`. ``server_port`` is the bound port
    (useful after asking for port 0), ``root`` the folder's real path.
    """

    daemon_threads = True  # a hung client never keeps the process alive on exit
    request_queue_size = 64

    def __init__(self, root: str, host: str, port: int, quiet: bool = False,
                 handler: type = ProjectorRequestHandler):
        self.root = root
        self.quiet = quiet
        self._log_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), handler)

    def server_bind(self) -> None:
        """Bind without a reverse DNS lookup (HTTPServer's getfqdn can take seconds)."""
        if self.address_family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            try:  # "::" should accept IPv4 too, as "0.0.0.0" would
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except OSError:
                pass
        socketserver.TCPServer.server_bind(self)  # not HTTPServer's: it calls getfqdn
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def shutdown_request(self, request) -> None:
        """Close a connection gracefully: send FIN, drain what the client still sends, close."""
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        drain(request)
        self.close_request(request)

    def handle_error(self, request, client_address) -> None:
        """Log an unexpected handler error as one line instead of a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        self.write_log(f"{time.strftime('%H:%M:%S')} {client_address[0]} internal error: {error!r}")

    def write_log(self, line: str) -> None:
        """Write one line to stderr (whole lines only, even with many threads)."""
        with self._log_lock:
            try:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


def make_server(
    directory, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, quiet: bool = False,
    handler: type = ProjectorRequestHandler,
) -> ProjectorServer:
    """Create (but do not start) a threaded CORS server for ``directory``.

    ``port=0`` picks a free port; read the chosen one from ``server.server_port``.
    Start it with ``server.serve_forever()``; stop it with ``server.shutdown()``
    from another thread and then ``server.server_close()``.

    ``handler`` answers the requests: a :class:`ProjectorRequestHandler` subclass (the explorer's adds
    its JSON API).

    Raises UserError if the folder is missing or the address cannot be bound
    (port in use, no permission, unknown host).
    """
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        raise UserError(
            f"folder {directory!r} does not exist; run tensorboard_visualise.py first "
            "to export the embeddings there, or give the folder it exported to",
            settings=("directory",),
        )
    if not os.path.isdir(directory):
        raise UserError(f"{directory!r} is not a folder; give the folder tensorboard_visualise.py exported to",
                        settings=("directory",))
    root = os.path.realpath(directory)
    try:
        return ProjectorServer(root, host, port, quiet=quiet, handler=handler)
    except socket.gaierror as error:
        raise UserError(f"cannot listen on host {host!r}: {error.strerror or error}; check the host name",
                        settings=("host",)) from error
    except OverflowError as error:
        raise UserError(f"port {port} is not a valid port number (0-65535)") from error
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} is already in use on {host}; stop the other server or choose "
                f"another port, for example {port + 1 if port < 65535 else 8001}",
                settings=("port",),
            ) from error
        if error.errno == errno.EACCES:
            raise UserError(
                f"no permission to listen on port {port}; ports below 1024 need administrator "
                "rights, so choose another port", settings=("port",),
            ) from error
        if error.errno == errno.EADDRNOTAVAIL:
            raise UserError(f"address {host!r} is not available on this machine; check the host name",
                            settings=("host",)) from error
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error


def url_host(host: str) -> str:
    """The host name to put in URLs the user opens on this machine.

    ``localhost`` for 127.0.0.1 and for "every interface" addresses (the
    browser runs here); IPv6 literals get brackets.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "localhost"
    if address.is_unspecified or str(address) == "127.0.0.1":
        return "localhost"
    return f"[{address}]" if address.version == 6 else str(address)
