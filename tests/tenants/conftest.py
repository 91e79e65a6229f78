"""Fixtures of the tenant portal tests: one simulated portfolio (the registry's generator, the
advisor's cases and texts, readings and forecasts in the real test InfluxDB), with two tenants
given known mobiles, and AppTest sessions of the portal."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.runtime import settings_to_env as dashboard_env
from hearth.influx import InfluxClient, usage_lines
from hearth.registry import Registry
from tenants.runtime import settings_to_env
from tests.conftest import make_settings
from tests.dashboard.portfolio import build

APP = Path(__file__).resolve().parents[2] / "tenants" / "app.py"
# Numbers from Ofcom's range for drama (07700 900000 to 900999): never a real person's.
MOBILE_A, MOBILE_B, UNKNOWN = "+447700900501", "+447700900502", "+447700900999"


@dataclass
class Homes:
    a: str            # prepayment, open damp case, texts, a year of history
    b: str            # another household (the one tests try to reach from a)
    tenant_a: str
    tenant_b: str


@pytest.fixture(scope="module")
def portal(tmp_path_factory, influx_server, mqtt_server):
    var = tmp_path_factory.mktemp("tenants")
    settings = make_settings(var, influx_server, mqtt_server,
                             notifier={"quiet_start": "00:00", "quiet_end": "00:00"},
                             tenants={"photo_dir": str(var / "tenant_photos")})
    demo = build(settings, households=250)
    p0, p1 = demo.patches[:2]
    a, b = demo.detailed[0], demo.homes_by_patch[p1][-1]
    assert demo.case_homes and a in demo.homes_by_patch[p0]
    with Registry(settings.registry.target) as reg:
        ta = reg.tenants_of(a)[0].tenant_id
        tb = reg.tenants_of(b)[0].tenant_id
        with reg.transaction() as conn:
            # Other tenants lose the shared test number so that each mobile is one person's.
            conn.execute("UPDATE tenants SET mobile = NULL, sms_consent = 0 WHERE mobile IN"
                         " (?, ?, ?, '+447700900123')", (MOBILE_A, MOBILE_B, UNKNOWN))
            conn.execute("UPDATE tenants SET mobile = ? WHERE tenant_id = ?", (MOBILE_A, ta))
            conn.execute("UPDATE tenants SET mobile = ?, sms_consent = 0 WHERE tenant_id = ?",
                         (MOBILE_B, tb))
    _history(settings, a, b)
    # The officers' dashboard too (its tenant requests page decides the portal's proposals).
    env = {**settings_to_env(settings), **dashboard_env(settings)}
    with mock.patch.dict(os.environ, env):
        st.cache_data.clear()
        st.cache_resource.clear()
        yield settings, Homes(a, b, ta, tb), demo
    st.cache_data.clear()
    st.cache_resource.clear()


def _history(settings, a: str, b: str) -> None:
    """The same week 52 weeks ago for home a (electricity), so that the comparison has a
    year-ago week; three recent weeks for home b and nothing a year ago."""
    now = datetime.now(UTC)
    with InfluxClient.from_settings(settings) as client:
        for home, back_days in ((a, 52 * 7 + 7), (b, 21)):
            start = int((now - timedelta(days=back_days)).timestamp()) // 1800 * 1800
            steps = np.arange(start, start + (7 if home == a else 21) * 86400, 1800)
            steps = steps[steps < now.timestamp() - 1800]
            client.write_lines(usage_lines(home, "electricity", np.full(len(steps), 0.25),
                                           steps * 10**9), retention_policy="usage")


def outbox_codes(settings) -> list[dict]:
    path = settings.notifier.outbox_path
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines()
            if '"sign_in_code"' in line]


def last_code(settings, mobile: str) -> str:
    lines = [x for x in outbox_codes(settings) if x["phone_number"] == mobile]
    assert lines, "no sign-in code in the outbox"
    return lines[-1]["body"][:6]     # the text begins with the code


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def sign_in(settings, mobile: str) -> AppTest:
    """A fresh session signed in through the form (the rate-limit window starts afresh: the
    tests sign in more often than a tenant would in an hour)."""
    with Registry(settings.registry.target) as reg, reg.transaction() as conn:
        conn.execute("DELETE FROM tenant_signin_attempts")
    at = new_app().run()
    assert not at.exception, at.exception
    at.text_input(key="signin_mobile").input(mobile)
    at.button[0].click().run()
    assert not at.exception, at.exception
    at.text_input(key="signin_code").input(last_code(settings, mobile))
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning",
                 "info", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)
