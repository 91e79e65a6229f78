"""The PDF of a report: the HTML printed by headless Chromium (what a person sees on screen is
what goes on paper)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from hearth.errors import HearthError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-extensions", "--no-pdf-header-footer")


def find_chromium(name: str = "chromium") -> str:
    """The browser's path, or a HearthError that says how to install it."""
    path = shutil.which(name)
    if path is None:
        raise HearthError(f"cannot make the PDF: headless Chromium ({name!r}) is not installed;"
                          " install the Debian package with `apt-get install -y chromium` (or"
                          " `make deps`), or set [reports] chromium to the browser's path")
    return path


def html_to_pdf(html_path: Path, pdf_path: Path, chromium: str = "chromium",
                timeout_s: float = 120.0) -> Path:
    """Print ``html_path`` to ``pdf_path`` (A4, as the page's @page rule says)."""
    exe = find_chromium(chromium)
    pdf_path = Path(pdf_path).resolve()
    pdf_path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="hearth-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}",
               Path(html_path).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise HearthError(f"Chromium took longer than {timeout_s:.0f} s to print "
                              f"{html_path}; raise [reports] pdf_timeout_s") from None
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = " ".join((proc.stderr or "").strip().splitlines()[-3:])
        raise HearthError(f"Chromium did not write {pdf_path} (exit {proc.returncode}): {tail}")
    return pdf_path
