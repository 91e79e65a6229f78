"""The tenant portal in a real browser: Debian's Chromium driven by Playwright (the system
browser through executable_path; nothing downloaded) against the portal served by Streamlit on a
free port, the real registry and InfluxDB. The journey of the issue at 320 px wide: sign in with
the code read from the outbox, report damp, see the case and its Awaab's Law deadline, share a
link, open it in a second browser context, stop it, see it refused. Every page is checked with
axe-core (axe-playwright-python): no violation of serious or critical impact."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from hearth.stack import free_port
from tenants.cli import streamlit_command
from tenants.runtime import settings_to_env
from tests.tenants.conftest import MOBILE_B, last_code

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 320, "height": 640}
SHOTS = ROOT / "artifacts" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")


@pytest.fixture(scope="module")
def served(portal):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium")
    settings = portal[0]
    port = free_port()
    env = {**os.environ, **settings_to_env(settings), "PYTHONPATH": str(ROOT)}
    log = open(Path(settings.paths.var_dir) / "portal.log", "wb")  # noqa: SIM115 - the child's
    proc = subprocess.Popen(streamlit_command(port, "127.0.0.1"), cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        text = (Path(settings.paths.var_dir) / "portal.log").read_text()
        pytest.fail(f"the portal did not start: {text[-2000:]}")
    yield url, portal
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking"])
        yield b
        b.close()


def _ready(page) -> None:
    """Wait until Streamlit has finished the run (no 'running' indicator, no skeleton)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
                           " && document.querySelector('h1')", timeout=30_000)
    # The portal's own style (tenants/ui.py: 17 px type, captions in #505a5f) has arrived.
    page.wait_for_function("() => getComputedStyle(document.documentElement).fontSize"
                           " === '17px'", timeout=30_000)
    time.sleep(0.5)


def _axe(page, name: str) -> None:
    results = axe_api.Axe().run(page)
    bad = [(v["id"], v["impact"], [(n["html"][:80], n.get("failureSummary", "")[-160:])
                                    for n in v["nodes"][:3]])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"tenant-{name}.png"), full_page=True)
    assert not bad, f"{name}: {bad}"
    # 320 px: nothing wider than the screen (WCAG 1.4.10 reflow).
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, f"{name}: page is {width} px wide at 320 px"


def _nav(page, title: str) -> None:
    """Follow the portal's menu, as a phone user does: at 320 px it sits in the collapsed
    sidebar behind the menu button."""
    menu = page.get_by_test_id("stExpandSidebarButton")
    if menu.count() and menu.first.is_visible():
        menu.first.click()
        time.sleep(0.6)                      # the sidebar slides in
    page.get_by_role("link", name=title).first.click()
    time.sleep(0.6)
    if page.locator("[data-testid='stSidebar'][data-collapsed='false']").count():
        page.locator("[data-testid='stSidebarCollapseButton'] button,"
                     " button[data-testid='stSidebarCollapseButton']").first.click(force=True)
        time.sleep(0.6)
    page.wait_for_function(f"() => document.querySelector('h1')?.innerText.includes({title!r})",
                           timeout=30_000)
    _ready(page)


def test_journey_at_320_px_with_axe(served, browser):
    url, (settings, _, _) = served
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    page.goto(url)
    _ready(page)
    _axe(page, "signin")
    page.get_by_label("Your mobile number").fill("07700 900502")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_label("The 6-digit code from the text").wait_for()
    _ready(page)
    page.get_by_label("The 6-digit code from the text").fill(last_code(settings, MOBILE_B))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function("() => document.querySelector('h1')?.innerText.includes('Your energy')",
                           timeout=30_000)
    _ready(page)
    _axe(page, "energy")

    _nav(page, "Report a problem")
    _axe(page, "report")
    page.get_by_text("Damp or mould", exact=True).click()
    page.get_by_label(re.compile("Tell us about it")).fill("Mould behind the bed, since October.")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_text("Thank you").wait_for(timeout=30_000)
    page.get_by_text("By law your landlord must investigate by").wait_for(timeout=30_000)

    _nav(page, "Problems and texts")
    _axe(page, "cases")
    body = page.inner_text("body")
    assert "Mould behind the bed" in body and "Awaab's Law" in body

    for title in ("Your details", "Download your data"):
        _nav(page, title)
        _axe(page, title.split()[-1].lower())

    _nav(page, "Sharing")
    _axe(page, "sharing")
    page.get_by_label("Who is it for?").fill("Support worker")
    page.get_by_text("Problems and repairs (cases)").click()
    page.get_by_role("button", name="Make the link").click()
    page.get_by_text("Copy it now").wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"\?share=")).first.wait_for(timeout=30_000)
    _ready(page)
    link = re.search(r"https?://\S+\?share=[\w-]+", page.inner_text("body")).group(0)

    other = browser.new_context(viewport=PHONE).new_page()   # someone else's browser
    other.goto(link.replace(settings.tenants.public_url, url))
    _ready(other)
    assert "Shared with you" in other.inner_text("h1")
    assert "Mould behind the bed" in other.inner_text("body")
    _axe(other, "shared")

    page.get_by_role("button", name="Stop this link").first.click()
    page.get_by_text("stopped").first.wait_for(timeout=30_000)
    other.reload()
    _ready(other)
    assert "This link does not work" in other.inner_text("h1")
    _axe(other, "refused")
    ctx.close()
