"""Headless Chromium for the page tests (not a conftest: test modules import it)."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

_PROBE = ('<script>window.addEventListener("load", function () {'
          'var out = []; for (var i = 0; i < document.images.length; i++) {'
          'var image = document.images[i]; out.push(image.getAttribute("src") + "=" + image.naturalWidth); }'
          'document.body.setAttribute("data-widths", out.join("|")); });</script>')


def chromium_flags(profile: Path, height: int = 3000) -> List[str]:
    """Chromium, headless and quiet, with its own profile folder, in a 1200-pixel-wide window."""
    return [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--window-size=1200,{height}"]


def loaded_image_widths(page: Path, profile: Path) -> Dict[str, int]:
    """Each image of the page at ``page`` (its src as written) -> its natural width once Chromium loaded
    the page (0: it did not load). A copy of the page with a probe script is written beside it (so its
    relative links resolve) and removed afterwards."""
    checked = page.with_name(f"check_{page.name}")
    checked.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    try:
        dom = subprocess.run([*chromium_flags(profile), "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()],
                             capture_output=True, text=True, timeout=120)
    finally:
        checked.unlink()
    widths = re.search(r'data-widths="([^"]*)"', dom.stdout)
    assert widths, f"the probe did not run: {dom.stdout[-500:]} {dom.stderr[-500:]}"
    return {source: int(width) for source, width in (item.rsplit("=", 1) for item in widths.group(1).split("|"))}
