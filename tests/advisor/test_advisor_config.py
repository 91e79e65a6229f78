"""config/hearth.toml's [advisor] and [notifier] sections match the settings' defaults, and
every tip template renders with the placeholders its tip provides."""

import tomllib

import pytest

from advisor.notify.tips import DEFAULT_TEMPLATES, personalisation, render, template_text
from hearth.settings import ROOT_DIR, load_settings
from hearth.settings.rooms import AdvisorSettings, NotifierSettings

CONFIG = ROOT_DIR / "config" / "hearth.toml"


def test_config_lists_every_key_with_its_default():
    raw = tomllib.loads(CONFIG.read_text())
    for name, cls in (("advisor", AdvisorSettings), ("notifier", NotifierSettings)):
        section = raw[name]
        defaults = cls()
        for key in cls.model_fields:
            if key == "template_ids":
                continue
            assert key in section, f"[{name}] {key} missing from config/hearth.toml"
            value = getattr(defaults, key)
            if key == "templates":
                assert section[key] == DEFAULT_TEMPLATES
            elif key.endswith("_path"):
                assert str(value).endswith(section[key])
            else:
                assert section[key] == value, (name, key)


def test_config_loads(tmp_path):
    s = load_settings(CONFIG, environ={"HEARTH_HOME": str(tmp_path)}, create_secrets=False)
    assert s.advisor.cold_home_temp_c == 18.0 and s.notifier.quiet_start == "20:00"


EVIDENCE = {
    "credit_runout": {"fuel": "gas", "credit_gbp": 3.2, "days_left": 1.4},
    "self_disconnection": {"off_h": 5.0, "no_use_cold_h": 0.0},
    "cold_home": {"bar_c": 18.0, "cold_h": 41.0, "window_h": 72.0},
    "self_rationing": {"cold_h": 30.0},
    "damp_mould": {"max_rh_pct": 93.4},
    "bill_shock": {"p50_gbp": 212.4, "recent_gbp": 120.0, "own_fired": True},
    "fuel_poverty": {},
    "excess_heat": {"living_max_c": 30.4, "bedroom_max_c": None},
}


@pytest.mark.parametrize("kind", sorted(DEFAULT_TEMPLATES))
def test_each_tip_renders_with_its_numbers(kind):
    s = NotifierSettings()
    body = render(template_text(kind, s), personalisation(kind, EVIDENCE[kind], s))
    assert "((" not in body and "?" not in body
    assert body.startswith("Hearth energy service:")
    expected = {"credit_runout": "£3.20 credit left, enough for about 1 day.",
                "self_disconnection": "no energy used for 5 hours",
                "cold_home": "below 18 C for 41 of the last 72 hours",
                "damp_mould": "up to 93%", "bill_shock": "about £212",
                "excess_heat": "up to 30 C"}.get(kind, "")
    assert expected in body


def test_credit_tip_on_emergency_credit_never_says_negative_credit_left():
    s = NotifierSettings()
    evidence = {**EVIDENCE["credit_runout"], "credit_gbp": -0.08}
    body = render(template_text("credit_runout", s), personalisation("credit_runout", evidence, s))
    assert "£-" not in body
    assert "used £0.08 of its emergency credit" in body
