"""Headless Chromium for tests: required in CI (a clear failure when missing), skipped with the
reason on a developer's machine without it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run"]


def require_chromium() -> str:
    path = shutil.which("chromium")
    if path:
        return path
    message = ("headless Chromium is not installed: `apt-get install -y chromium` (Debian "
               "package chromium; `make deps` installs it)")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def dump_dom(html: Path) -> str:
    exe = require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               html.resolve().as_uri()], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(html: Path, png: Path, width: int = 1100, height: int = 1600) -> Path:
    exe = require_chromium()
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={width},{height}", f"--screenshot={png}",
                               html.resolve().as_uri()], capture_output=True, text=True,
                              timeout=120)
    assert png.exists(), proc.stderr[-2000:]
    return png
