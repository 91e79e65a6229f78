"""Fixtures of the dashboard tests: one simulated portfolio (registry + real InfluxDB) per
module, and AppTest sessions signed in as a given user."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.runtime import settings_to_env
from tests.conftest import make_settings
from tests.dashboard.portfolio import PASSWORD, build

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory, influx_server, mqtt_server):
    var = tmp_path_factory.mktemp("dashboard")
    # Quiet hours off (start = end), so that a tip test gives the same result at any hour.
    settings = make_settings(var, influx_server, mqtt_server,
                             notifier={"quiet_start": "00:00", "quiet_end": "00:00"})
    demo = build(settings)
    env = settings_to_env(settings)
    with mock.patch.dict(os.environ, env):
        st.cache_data.clear()
        st.cache_resource.clear()
        yield settings, demo
    st.cache_data.clear()
    st.cache_resource.clear()


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def sign_in(username: str, password: str = PASSWORD) -> AppTest:
    """A fresh session, signed in through the sign-in form."""
    at = new_app().run()
    assert not at.exception, at.exception
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """All the text a person would read on the page (markdown, titles, alerts, captions,
    metrics, and the cells of every table)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning",
                 "info", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for df in at.dataframe:
        parts.append(df.value.to_string())
    return "\n".join(parts)
