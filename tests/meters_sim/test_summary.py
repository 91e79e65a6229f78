"""`hearth sim summary` against published national figures, on a seed never used for tuning.

Reference figures (docs/simulator.md, "Calibration", gives the full citations):
- Ofgem, typical domestic consumption values (TDCV), medium, in force from 1 July 2026:
  electricity 2,500 kWh a year (profile class 1), Economy 7 3,400 kWh, gas 9,500 kWh. The
  issue's target: the portfolio median within +-15 % of these.
- Electrically heated homes: Ofgem's Economy 7 TDCV range low-high 2,200-6,700 kWh a year
  (the 2020 review's low and high values; the 2026 review's medium is 3,400 kWh).
- Winter/summer: Elexon's profile class 1 (domestic unrestricted) average daily use is ~1.3-1.5
  times higher in winter than in summer; domestic gas demand several times higher (DESNZ
  Energy Trends, monthly domestic gas).
Seeds 1 and 2 were used for tuning; this test uses seed 97.
"""

from __future__ import annotations

import json

import pytest

from hearth.cli import build_parser
from meters_sim.summary import SummaryOptions, summary
from meters_sim.truth import load_label_modules

TDCV_ELECTRICITY_KWH, TDCV_GAS_KWH = 2500.0, 9500.0
ECONOMY7_RANGE_KWH = (2200.0, 6700.0)
UNTUNED_SEED = 97


@pytest.fixture(scope="module")
def result():
    return summary(SummaryOptions(households=240, seed=UNTUNED_SEED, days=24))


def _group(result, fuel, heating):
    (g,) = [g for g in result["groups"] if g["fuel"] == fuel and g["heating"] == heating]
    return g


def test_portfolio_medians_are_within_15_percent_of_ofgem_typical_values(result):
    elec = _group(result, "electricity", "all")
    gas = _group(result, "gas", "all")
    assert abs(elec["median_kwh"] / TDCV_ELECTRICITY_KWH - 1) <= 0.15, elec
    assert abs(gas["median_kwh"] / TDCV_GAS_KWH - 1) <= 0.15, gas
    # Gas-heated homes' electricity is profile class 1 use: the same band.
    assert abs(_group(result, "electricity", "gas")["median_kwh"] / TDCV_ELECTRICITY_KWH - 1) \
        <= 0.15


def test_electrically_heated_homes_sit_in_the_economy7_range_and_none_near_121_kwh_a_day(result):
    g = _group(result, "electricity", "electric")
    lo, hi = ECONOMY7_RANGE_KWH
    assert lo <= g["median_kwh"] <= hi, g
    assert g["median_kwh"] > _group(result, "electricity", "gas")["median_kwh"] * 1.4
    assert g["max_day_kwh"] < 100.0, g       # the old model reached 121 kWh a day


def test_spreads_and_seasons_are_those_of_real_homes(result):
    for g in result["groups"]:
        assert g["p10_kwh"] < g["median_kwh"] < g["p90_kwh"]
        # NEED's quartiles span roughly a factor of 2; p10-p90 about 3-4 for gas
        assert g["p90_kwh"] / g["p10_kwh"] < 6, g
    assert 1.1 <= _group(result, "electricity", "gas")["winter_summer_ratio"] <= 1.7
    assert 3.0 <= _group(result, "gas", "gas")["winter_summer_ratio"] <= 8.0
    assert _group(result, "electricity", "electric")["winter_summer_ratio"] > 1.5


def test_risk_share_covers_every_truth_label(result):
    shares = result["risk_share"]
    assert set(shares) == set(load_label_modules())
    assert {"cold_home", "damp_mould", "excess_heat", "excess_cold"} <= set(shares)
    assert all(0.0 <= v <= 1.0 for v in shares.values())
    # A portfolio an officer can carry: no risk in a third of the homes.
    assert max(shares.values()) < 0.33, shares
    assert result["period"]["days_simulated"] == 24


def test_the_command_prints_one_json_object(capsys):
    args = build_parser().parse_args(["sim", "summary", "--households", "20", "--seed", "5",
                                      "--days", "2"])
    assert args.func(args, None) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"groups", "risk_share"}
    assert {(g["fuel"], g["heating"]) for g in out["groups"]} >= {("electricity", "all"),
                                                                   ("gas", "all")}
    assert out["period"]["households"] == 20


def test_bad_options_get_a_clear_error():
    from hearth.errors import HearthError

    for argv, match in ((["--days", "0"], "--days"), (["--households", "0"], "--households"),
                        (["--start", "July"], "--start"), (["--step-s", "7"], "--step-s")):
        args = build_parser().parse_args(["sim", "summary", *argv])
        with pytest.raises(HearthError, match=match):
            args.func(args, None)
