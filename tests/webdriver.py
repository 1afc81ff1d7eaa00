"""A headless Chromium driven through chromedriver's W3C WebDriver HTTP API (no Selenium needed).

For pages that must be waited on in real time: apps that keep timers or web
workers busy never let Chromium's ``--virtual-time-budget`` screenshot see them
finished (Embedding Atlas stays at "Initializing database..." there). Every
host name but 127.0.0.1 fails to resolve at once, so a page can reach nothing
outside the machine.
"""

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from conftest import free_port, stop_process

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = next((path for path in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if path and Path(path).exists()), None)


class Browser:
    """One headless Chromium session (1400x900): open pages, run scripts, wait, take screenshots."""

    def __init__(self, driver_url: str, session: str):
        self.driver_url = driver_url
        self.session = session

    def _call(self, method: str, path: str, body=None, timeout: float = 120):
        request = urllib.request.Request(
            f"{self.driver_url}/session/{self.session}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())["value"]

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def run(self, script: str, *args):
        """The value of the JavaScript function body ``script`` (``arguments`` are ``args``)."""
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float = 90, interval: float = 0.5):
        """Run ``script`` until it returns something truthy; return that, or fail after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.run(script)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.run("return document.body ? document.body.innerText.slice(0, 800) : ''")
                raise AssertionError(f"waited {timeout} s for {script!r}; the page shows:\n{text}")
            time.sleep(interval)

    def screenshot(self, path: Path) -> Path:
        Path(path).write_bytes(base64.b64decode(self._call("GET", "/screenshot")))
        return Path(path)


@contextlib.contextmanager
def headless_chromium(work_dir: Path, extra_args=()):
    """A :class:`Browser` on a fresh profile in ``work_dir``; chromedriver and the browser end afterwards."""
    port = free_port()
    log = open(Path(work_dir) / "chromedriver.log", "w")
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdin=subprocess.DEVNULL, stdout=log,
                              stderr=subprocess.STDOUT)
    driver_url = f"http://127.0.0.1:{port}"
    session = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{driver_url}/status", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or driver.poll() is not None:
                    raise AssertionError(f"chromedriver did not start: {(Path(work_dir) / 'chromedriver.log').read_text()}")
                time.sleep(0.2)
        options = {"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--window-size=1400,900", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={Path(work_dir) / 'profile'}", *extra_args]}
        request = urllib.request.Request(
            f"{driver_url}/session", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                              "goog:chromeOptions": options}}}).encode())
        with urllib.request.urlopen(request, timeout=120) as response:
            session = json.loads(response.read())["value"]["sessionId"]
        yield Browser(driver_url, session)
    finally:
        if session is not None:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(urllib.request.Request(f"{driver_url}/session/{session}", method="DELETE"),
                                       timeout=30).close()
        stop_process(driver, timeout=10)
        log.close()
