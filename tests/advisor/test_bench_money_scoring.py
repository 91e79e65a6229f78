"""Scoring of the money risks in the ground-truth benchmark (bench_advisor_truth --money):
a money case stands for each risk it fired, and the advice time is the truth's own split."""

import json

import numpy as np

from benchmarks.bench_advisor_truth import money_advice_ns, money_flagged, score_money

DAY = 86_400 * 10**9


def test_money_case_counts_for_each_fired_risk_only():
    cases = [("H1", "money", json.dumps({"bill_shock.fired": True, "credit_runout.fired": False,
                                         "fuel_poverty.fired": True})),
             ("H2", "money", json.dumps({"credit_runout.fired": True})),
             ("H3", "cold_home", json.dumps({"bill_shock.fired": True}))]   # not a money case
    flagged = money_flagged(cases)
    assert flagged == {"bill_shock": {"H1"}, "credit_runout": {"H2"}}
    truth = {"households": [{"household_id": "H1", "bill_shock": True, "credit_runout": False},
                            {"household_id": "H2", "bill_shock": True, "credit_runout": True},
                            {"household_id": "H3", "bill_shock": False, "credit_runout": False},
                            {"household_id": "H4", "bill_shock": False, "credit_runout": True}]}
    rows = {r["risk"]: r for r in score_money(truth, flagged)}
    assert (rows["bill_shock"]["recall"], rows["bill_shock"]["precision"]) == (0.5, 1.0)
    assert (rows["credit_runout"]["recall"], rows["credit_runout"]["precision"]) == (0.5, 1.0)


def test_advice_time_is_the_truths_split():
    # meters_sim/truth_money.py splits at the UTC day of (end - 30 days).
    end = int(np.datetime64("2026-12-03T14:37", "ns").astype(np.int64))
    at = money_advice_ns(end)
    assert at == int(np.datetime64("2026-11-03", "ns").astype(np.int64))
    assert at % DAY == 0 and (end - at) // DAY == 30
