"""The dashboard in a real browser: `hearth dashboard` against a real InfluxDB and a simulated
portfolio, driven by Debian's headless Chromium over the DevTools protocol. Screenshots go to
artifacts/screenshots/ (and, with HEARTH_UPDATE_DOC_SCREENSHOTS=1, small copies to
docs/screenshots/ for the documentation)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.users import UserStore
from hearth.registry import Registry
from tests.conftest import make_settings
from tests.dashboard.cdp import Browser, find_chromium
from tests.dashboard.portfolio import PASSWORD, build
from tests.dashboard.served import dashboard_env, serve_dashboard

ROOT = Path(__file__).resolve().parents[2]
LOCKED_OUT = "officer9"
SHOTS = ROOT / "artifacts" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        message = ("Debian's chromium is not installed: run `apt-get install -y chromium` "
                   "(`make setup` does it) to run the browser test")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory, influx_server, mqtt_server):
    """A simulated portfolio (the registry's generator, three days of the simulator's readings
    through `hearth sim --backfill`, usage derived by `hearth collect derive-usage`, forecasts
    and cases as `hearth forecast` and the advisor record them), and `hearth dashboard`
    serving it on a free port."""
    var = tmp_path_factory.mktemp("browser")
    settings = make_settings(var, influx_server, mqtt_server)
    demo = build(settings, readings=False)
    with Registry(settings.registry.path) as reg:  # an account only the lockout journey uses
        UserStore(reg.conn).add(LOCKED_OUT, "officer", PASSWORD, [demo.patches[0]])
    env = dashboard_env(settings, var)
    for args in (["sim", "--backfill", "3", "--duration-s", "0"], ["collect", "derive-usage"]):
        done = subprocess.run([sys.executable, "-m", "hearth", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"hearth {' '.join(args)}: {done.stderr[-2000:]}"
    with serve_dashboard(var, env) as url:
        yield url, demo


@pytest.fixture
def browser(chromium, tmp_path):
    b = Browser(chromium, tmp_path / "profile")
    yield b
    b.close()


def _shot(browser: Browser, name: str) -> None:
    path = browser.screenshot(SHOTS / f"{name}.png")
    assert path.stat().st_size > 10_000  # a real rendered page, not a blank one
    if os.environ.get("HEARTH_UPDATE_DOC_SCREENSHOTS") == "1":
        from PIL import Image

        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        img = Image.open(path).convert("RGB")
        img = img.resize((1000, round(img.height * 1000 / img.width)), Image.LANCZOS)
        img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
            DOC_SHOTS / f"{name}.png", optimize=True)


def _charts_drawn(browser: Browser) -> int:
    return browser.eval("[...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                        ".filter(c => c.querySelector('.main-svg')).length")


def _no_errors(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text, text[:2000]


def _open_page(browser: Browser, title: str, *needles: str) -> str:
    """Follow the sidebar link (in-app navigation keeps the signed-in session)."""
    url_path = title.lower().replace(" and ", "_").replace(" ", "_")
    url_path = {"damp_mould": "damp_mould", "homes_to_act_on": "homes"}.get(url_path, url_path)
    if not browser.eval(f"(() => {{ const a = document.querySelector("
                        f"'[data-testid=\"stSidebarNav\"] a[href$=\"/{url_path}\"]'); "
                        "if (!a) return false; a.click(); return true; })()"):
        raise AssertionError(f"no sidebar link to {url_path}")
    text = browser.wait_for_text(title, *needles)
    _no_errors(text)
    return text


def test_officer_signs_in_works_the_queue_and_opens_a_home(served, browser):
    url, demo = served
    patch = demo.patches[0]
    browser.goto(url)
    browser.wait_for_text("Hearth: sign in", "Username", "Password")
    _shot(browser, "sign_in")
    browser.type_into("Username", "officer1")
    browser.type_into("Password", PASSWORD)
    browser.click_text("button", "Sign in")
    text = browser.wait_for_text("Overview", "Start here", "Open cases", "Devices reporting",
                                 "Forecast cost, next 30 days", "past the Awaab's Law deadline",
                                 "Open cases by kind and urgency")
    _no_errors(text)
    assert f"Officer · {patch}" in text
    _shot(browser, "overview")
    assert _charts_drawn(browser) == 1

    # Tables are drawn on a canvas: check the text around them, and the screenshot.
    n = len(demo.cases[patch])
    text = _open_page(browser, "Risk queue", "Act on a case", f"{n} of {n} open cases shown",
                      "▲ High · Damp and mould", "Awaab's Law clock:",
                      "Open this household")
    other_homes = set(demo.homes_by_patch[demo.patches[1]])
    assert not any(h in text for h in other_homes), "another patch's home is on the page"
    _shot(browser, "risk_queue")

    browser.click_text("button", "Open this household")
    # The queue opens on the earliest deadline: the overdue damp case, before the
    # emergency due in 20 hours.
    first = demo.case_homes[demo.cases[patch][2]]
    text = browser.wait_for_text("Household", f"Home {first}", "Forecast bill, next 30 days",
                                 "Cases", "Messages to the tenant", "Show contact details")
    _no_errors(text)
    assert "Show contact details" in text  # an officer of the patch may open them
    _shot(browser, "household")
    assert _charts_drawn(browser) >= 3

    for title, needle, name in (("Homes to act on", "homes with open cases", "homes"),
                                ("Damp and mould", "Awaab's Law", "damp_mould"),
                                ("Data health", "Silent devices", "data_health"),
                                ("Messages", "Opt-outs", "messages")):
        _open_page(browser, title, needle)
        _shot(browser, name)

    browser.click_text("button", "Sign out")
    browser.wait_for_text("Hearth: sign in")


def test_wrong_password_in_the_browser(served, browser):
    url, _ = served
    browser.goto(url)
    browser.wait_for_text("Hearth: sign in")
    browser.type_into("Username", "officer1")
    browser.type_into("Password", "wrong password entirely")
    browser.click_text("button", "Sign in")
    text = browser.wait_for_text("do not match an active account")
    assert "Open cases" not in text


def test_deep_link_signs_in_to_the_page_asked_for_and_survives_a_reload(served, browser):
    """A bookmarked page shows the sign-in form (not "Page not found"), lands on that page
    after sign-in, and a reload keeps the officer signed in (issue 15)."""
    url, _ = served
    browser.goto(f"{url}/risk_queue")
    text = browser.wait_for_text("Hearth: sign in", "Username")
    assert "Page not found" not in text
    browser.type_into("Username", "officer1")
    browser.type_into("Password", PASSWORD)
    browser.click_text("button", "Sign in")
    text = browser.wait_for_text("Risk queue", "Act on a case")
    _no_errors(text)
    assert "hearth_session=" in browser.eval("document.cookie")

    browser.goto(f"{url}/damp_mould")  # a full page load: a new Streamlit session
    text = browser.wait_for_text("Damp and mould", "Awaab's Law", "Sign out")
    assert "Hearth: sign in" not in text and "Page not found" not in text

    browser.click_text("button", "Sign out")
    browser.wait_for_text("Hearth: sign in")
    browser.goto(f"{url}/damp_mould")
    text = browser.wait_for_text("Hearth: sign in", "Username")
    assert "Awaab's Law" not in text


def _sign_in(browser: Browser, url: str, page: str = "") -> None:
    browser.goto(f"{url}/{page}")
    browser.wait_for_text("Hearth: sign in", "Username")
    browser.type_into("Username", "officer1")
    browser.type_into("Password", PASSWORD)
    browser.click_text("button", "Sign in")


def _focus(browser: Browser, selector: str) -> None:
    deadline = time.monotonic() + 40
    while not browser.eval(f"(() => {{ const el = document.querySelector({selector!r}); "
                           "if (!el) return false; el.scrollIntoView({block: 'center'}); "
                           "el.focus(); return document.activeElement === el; })()"):
        assert time.monotonic() < deadline, f"nothing to focus: {selector}"
        time.sleep(0.2)


def test_note_masked_on_save_and_markdown_shown_as_text(served, browser):
    """A note typed in the browser is saved without its phone number (the officer is told),
    and its markdown is shown as text in the case history: no image fetched, no link
    (issue 15)."""
    url, _ = served
    _sign_in(browser, url, "risk_queue")
    browser.wait_for_text("Risk queue", "Act on a case")
    box = 'textarea[aria-label="Add a note"]'
    _focus(browser, box)
    typed = ("Rang 0 7 7 0 0 9 0 0 1 2 3 re boiler ![x](http://127.0.0.1:9/x.png) **urgent** "
             "see www.127.0.0.1.nip.invalid")
    browser.send("Input.insertText", {"text": typed})
    browser.click_text("button", "Save note")
    text = browser.wait_for_text("Note saved.", "Taken out of the note before it was saved: "
                                 "1 phone number")
    assert browser.eval("(() => { const s = [...document.querySelectorAll('summary')]"
                        ".find(e => e.innerText.includes('History (')); "
                        "if (!s) return false; s.click(); return true; })()")
    text = browser.wait_for_text("Rang [phone number removed] re boiler")
    shown = browser.eval("[...document.querySelectorAll('li')].map(e => e.innerText)"
                         ".filter(t => t.includes('Rang [phone'))")
    assert len(shown) == 1 and shown[0].replace("\u2060", "").endswith(
        "note: Rang [phone number removed] re boiler ![x](http://127.0.0.1:9/x.png) **urgent** "
        "see www.127.0.0.1.nip.invalid"), shown
    assert "0 7 7 0" not in text
    assert browser.eval("document.querySelectorAll('img[src*=\"127.0.0.1:9\"]').length") == 0
    links = browser.eval("[...document.querySelectorAll('a[href*=\"127.0.0.1:9/\"], "
                         "a[href*=\"nip.invalid\"]')]"
                         ".map(a => a.parentElement.outerHTML.slice(0, 600))")
    assert links == [], links
    _shot(browser, "note_markdown_as_text")


def test_export_downloads_an_excel_ready_csv(served, browser, tmp_path):
    """The queue's export: UTF-8 with BOM, absolute ISO 8601 UTC times, human labels."""
    import csv
    import io
    import re

    url, demo = served
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.send("Browser.setDownloadBehavior", {"behavior": "allow",
                                                 "downloadPath": str(downloads)})
    _sign_in(browser, url, "risk_queue")
    browser.wait_for_text("Risk queue", "Act on a case", "Export these cases (CSV)")
    assert browser.eval("(() => { const b = [...document.querySelectorAll("
                        "'button, a')]"
                        ".find(e => e.innerText.includes('Export these cases (CSV)')); "
                        "if (!b) return false; b.click(); return true; })()")
    deadline = time.monotonic() + 20
    while not list(downloads.glob("*.csv")) and time.monotonic() < deadline:
        time.sleep(0.2)
    (path,) = downloads.glob("*.csv")
    raw = path.read_bytes()
    assert path.name == "hearth_risk_queue.csv" and raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(demo.cases[demo.patches[0]])
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    for r in rows:
        assert iso.match(r["Opened (UTC)"]) and (r["Due by (UTC)"] == "" or iso.match(
            r["Due by (UTC)"])), r
        assert "_" not in r["Kind"] and r["Kind"][0].isupper(), r["Kind"]  # a label, not an id
        assert "due in" not in r["Due by (UTC)"].lower()
    assert {"Damp and mould"} <= {r["Kind"] for r in rows}


def test_failed_sign_ins_lock_out_the_session_then_the_account(served, browser):
    """After five wrong passwords this browser's sign-in pauses; ten within the window pause
    the account in any new session, even with the right password (issue 15)."""
    url, _ = served

    def attempt(password: str) -> str:
        browser.type_into("Username", LOCKED_OUT)
        browser.type_into("Password", password)
        browser.click_text("button", "Sign in")
        return browser.wait_for_text("Hearth: sign in", "attempts")

    for _session in range(2):
        browser.goto(url)  # a new Streamlit session each time
        browser.wait_for_text("Hearth: sign in", "Username")
        for _ in range(5):
            attempt("not the password")
            time.sleep(0.5)
        text = attempt("not the password")  # the sixth: this session is paused
        assert "Too many failed attempts" in text, text
    _shot(browser, "sign_in_locked")
    browser.goto(url)
    browser.wait_for_text("Hearth: sign in", "Username")
    browser.type_into("Username", LOCKED_OUT)
    browser.type_into("Password", PASSWORD)
    browser.click_text("button", "Sign in")
    text = browser.wait_for_text("Sign-in is paused for 15 minutes")
    assert "Sign out" not in text
