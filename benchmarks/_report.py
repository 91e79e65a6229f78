"""Benchmark helpers: describe the machine, write one section of docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores (nproc), {model}, {ram_gb:.0f} GB RAM,"
            f" Python {platform.python_version()}, {platform.system()} {platform.release()}")


def write_section(title: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section headed `## {title}` in docs/benchmarks.md."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\nFigures measured on the" \
        " machine named in each section; `make bench` (or `python -m benchmarks`) runs them all.\n"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\n{body.strip()}\n\nMeasured {stamp}.\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
