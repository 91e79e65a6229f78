"""A small Chrome DevTools Protocol driver for Debian's headless Chromium (no browser download,
no extra package: the `websockets` client that Streamlit already depends on)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import requests
from websockets.sync.client import connect

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-quic", "--no-first-run",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                  "--hide-scrollbars", "--mute-audio", "--remote-debugging-address=127.0.0.1",
                  "--remote-debugging-port=0"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


class Browser:
    """One headless Chromium with one page, driven over the DevTools websocket."""

    def __init__(self, binary: str, profile_dir: Path, width: int = 1400, height: int = 1000):
        self.profile_dir = Path(profile_dir)
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile_dir}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        port = self._devtools_port()
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
        target = next(p for p in pages if p.get("type") == "page")
        self.ws = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10,
                          legacy=True, proxy=None)
        self._id = 0
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.send("Emulation.setTimezoneOverride", {"timezoneId": "Europe/London"})

    def _devtools_port(self, timeout_s: float = 30) -> int:
        marker = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self.proc.poll() is not None:
                raise RuntimeError("chromium exited at start: "
                                   + self.proc.stderr.read().decode(errors="replace")[-800:])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    def send(self, method: str, params: dict | None = None, timeout_s: float = 30) -> dict:
        self._id += 1
        mid = self._id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            msg = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"javascript failed: {res['exceptionDetails'].get('text')}: "
                               f"{expression[:120]}")
        return res.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def text(self) -> str:
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout_s: float = 40) -> str:
        """Wait until every needle is on the page and the page has stopped changing (Streamlit
        sends a page in pieces: the text must be the same on two looks 0.4 s apart)."""
        deadline = time.monotonic() + timeout_s
        text, previous = "", None
        while time.monotonic() < deadline:
            text = self.text()
            if all(n in text for n in needles) and text == previous:
                return text
            previous = text
            time.sleep(0.4)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"page never showed {missing} (or kept changing); it shows:\n"
                             f"{text[:1500]}")

    def type_into(self, aria_label: str, value: str, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        found = False
        while not found and time.monotonic() < deadline:
            found = self.eval(f"(() => {{ const el = document.querySelector("
                              f"'input[aria-label=\"{aria_label}\"]'); if (!el) return false; "
                              "el.focus(); el.select && el.select(); return true; })()")
            if not found:
                time.sleep(0.2)
        if not found:
            raise AssertionError(f"no input labelled {aria_label!r} on the page")
        self.send("Input.insertText", {"text": value})

    def click_text(self, selector: str, text: str) -> None:
        js = (f"(() => {{ const els = [...document.querySelectorAll({json.dumps(selector)})]; "
              f"const el = els.find(e => e.innerText.trim() === {json.dumps(text)}); "
              "if (!el) return false; el.scrollIntoView(); el.click(); return true; })()")
        if not self.eval(js):
            raise AssertionError(f"nothing to click with text {text!r} ({selector})")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict = {"format": "png"}
        # Charts draw after the text (plotly.js loads lazily, behind a skeleton): wait until
        # no skeleton is left and every plotly chart has its SVG.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.eval(
                "!document.querySelector('[data-testid=\"stSkeleton\"]') && "
                "[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                ".every(c => c.querySelector('.main-svg'))"):
            time.sleep(0.2)
        if full_page:
            # Streamlit scrolls inside its main section: grow the viewport to its height.
            height = int(self.eval(
                "Math.max(...[...document.querySelectorAll('section, [data-testid=\"stMain\"],"
                " [data-testid=\"stAppViewContainer\"], .main')].map(e => e.scrollHeight), "
                "document.body.scrollHeight)") or 1000)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1400, "height": min(max(height, 800), 6000),
                       "deviceScaleFactor": 1, "mobile": False})
            time.sleep(0.8)
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        if full_page:
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        return path

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 15)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait()
