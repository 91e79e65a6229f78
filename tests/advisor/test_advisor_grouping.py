"""One situation, one case: a prepayment home with a bill shock, fuel poverty and credit
running out gets one `money` case with three reasons; hazards stay one case each; open money
cases from before are merged by the migration."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import numpy as np

from advisor.cases import CaseStore
from advisor.grouping import fired, group_money, sub_evidence
from advisor.rules.base import HIGH, LOW, MEDIUM, RuleResult
from hearth.registry.migrate import MIGRATIONS_DIR, migrate
from hearth.settings.rooms import AdvisorSettings

from .conftest import add_household

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
HOUSEHOLDS = np.array(["H000001", "H000002"])


def result(kind, flagged, severity, value):
    return RuleResult(kind, np.array(flagged, bool), np.array(severity), np.full(2, 40.0),
                      {"value": np.array(value, float)},
                      lambda d, k=kind: f"{k} {d['value']:.0f}")


def three_risks():
    return {"bill_shock": result("bill_shock", [1, 0], [MEDIUM, 0], [210, 0]),
            "fuel_poverty": result("fuel_poverty", [1, 1], [LOW, LOW], [1, 1]),
            "credit_runout": result("credit_runout", [1, 0], [HIGH, 0], [2, 0]),
            "cold_home": result("cold_home", [1, 0], [MEDIUM, 0], [30, 0]),
            "damp_mould": result("damp_mould", [1, 0], [LOW, 0], [80, 0])}


def test_money_risks_fold_into_one_result_hazards_do_not():
    out = group_money(three_risks())
    assert set(out) == {"money", "cold_home", "damp_mould"}
    money = out["money"]
    assert money.flagged.tolist() == [True, True]
    assert money.severity.tolist() == [HIGH, LOW]
    assert money.reason_of(0) == ("Credit: credit_runout 2 | Bill: bill_shock 210"
                                  " | Fuel poverty: fuel_poverty 1")
    assert money.reason_of(1) == "Fuel poverty: fuel_poverty 1"
    e = money.numbers_of(0)
    assert fired(e) == ["credit_runout", "bill_shock", "fuel_poverty"]
    assert sub_evidence(e, "bill_shock") == {"fired": True, "severity": MEDIUM, "value": 210}


def test_one_case_per_home_for_its_money_risks(conn):
    for h in HOUSEHOLDS:
        add_household(conn, h)
    store = CaseStore(conn, AdvisorSettings())
    summary = store.sync(three_risks(), HOUSEHOLDS, T0)
    assert summary.opened == {"money": 2, "cold_home": 1, "damp_mould": 1}
    kinds = sorted((c["household_id"], c["kind"]) for c in store.open_cases())
    assert kinds == [("H000001", "cold_home"), ("H000001", "damp_mould"),
                     ("H000001", "money"), ("H000002", "money")]


def test_migration_merges_open_money_cases(tmp_path):
    """Cases opened before the migration (three for one home) become one money case; its
    tip history comes along, the old cases close as merged."""
    conn = sqlite3.connect(tmp_path / "reg.sqlite3", isolation_level=None)
    older = tmp_path / "older"
    older.mkdir()
    for f in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if int(f.name[:4]) <= 5:
            (older / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    migrate(conn, older)
    rows = [("credit_runout", "high", 70, "Credit runs out in 1.5 days", '{"days_left": 1.5}'),
            ("bill_shock", "medium", 55, "Forecast £210", '{"p50_gbp": 210}'),
            ("fuel_poverty", "low", 30, "EPC E and benefits", '{}')]
    for kind, sev, score, reason, ev in rows:
        conn.execute("INSERT INTO cases (household_id, kind, severity, score, reasons,"
                     " evidence_json, opened_at, updated_at) VALUES ('H1', ?, ?, ?, ?, ?,"
                     " '2026-11-0' || ?, '2026-11-10T00:00:00Z')",
                     (kind, sev, score, reason, ev, str(len(kind) % 9 + 1) + "T00:00:00Z"))
    conn.execute("INSERT INTO sms_log (household_id, case_id, template, status) VALUES"
                 " ('H1', 1, 'credit_runout', 'delivered')")
    migrate(conn, MIGRATIONS_DIR)
    money = conn.execute("SELECT case_id, severity, score, reasons, evidence_json, status"
                         " FROM cases WHERE kind = 'money'").fetchall()
    assert len(money) == 1
    case_id, severity, score, reasons, evidence, status = money[0]
    assert (severity, score, status) == ("high", 70, "open")
    assert reasons == ("Credit: Credit runs out in 1.5 days | Bill: Forecast £210"
                       " | Fuel poverty: EPC E and benefits")
    e = json.loads(evidence)
    assert fired(e) == ["credit_runout", "bill_shock", "fuel_poverty"]
    assert sub_evidence(e, "credit_runout")["days_left"] == 1.5
    assert conn.execute("SELECT case_id FROM sms_log").fetchone()[0] == case_id
    old = conn.execute("SELECT status, close_reason FROM cases WHERE kind != 'money'").fetchall()
    assert old == [("resolved", f"merged into money case {case_id}")] * 3
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_money_case_texts_its_most_urgent_risk_configured_for_tips():
    from advisor.notify.tips import DEFAULT_TEMPLATES, personalisation, render, tip_for_case
    from hearth.settings.rooms import NotifierSettings

    e = {"credit_runout.fired": True, "credit_runout.fuel": "gas",
         "credit_runout.credit_gbp": 2.5, "credit_runout.days_left": 1.2,
         "bill_shock.fired": True, "bill_shock.p50_gbp": 210.0,
         "bill_shock.recent_gbp": 100.0, "bill_shock.own_fired": True}
    kind, sub = tip_for_case("money", e, ["credit_runout", "bill_shock"])
    assert kind == "credit_runout" and sub["credit_gbp"] == 2.5
    s = NotifierSettings()
    assert "£2.50 credit left" in render(DEFAULT_TEMPLATES[kind], personalisation(kind, sub, s))
    # Credit tips switched off: the bill tip, with the bill's own numbers.
    kind, sub = tip_for_case("money", e, ["bill_shock"])
    assert kind == "bill_shock"
    body = render(DEFAULT_TEMPLATES[kind], personalisation(kind, sub, s))
    assert "more than the £100 your home usually uses" in body
    assert tip_for_case("cold_home", {"cold_h": 3}, []) == ("cold_home", {"cold_h": 3})
