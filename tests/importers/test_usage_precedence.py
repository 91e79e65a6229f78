"""A household with both a live meter (registers over MQTT/Modbus -> `hearth collect
derive-usage`) and a provider's import for the same half hours: the import wins, whichever
runs first; half hours the provider lacks keep the meter's value; nothing is counted twice."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from collectors.usage import derive_usage
from hearth.influx import InfluxClient, Point
from importers.providers import MeterPoint
from importers.smart_meter import run_import
from tests.importers.conftest import DAY0, DAY0_S, add_home

HH = 1800
MPAN = "1200023305967"


def live_meter(db, household: str, hours: int, kw: float) -> None:
    """A cumulative register sampled every minute at a steady `kw` (source mqtt)."""
    t = DAY0_S + np.arange(hours * 60 + 1) * 60
    e = 1000.0 + kw * np.arange(hours * 60 + 1) / 60.0
    db.write_points([Point("meter", {"household": household, "device": "E1",
                                     "fuel": "electricity", "source": "mqtt"},
                           {"energy_kwh": float(v)}, int(ts) * 10**9)
                     for ts, v in zip(t, e, strict=True)], retention_policy="raw")


def usage_30m(db, household: str) -> dict[int, float]:
    out = {}
    for s in db.query('SELECT "energy_kwh" FROM "usage"."usage_30m" WHERE "household" ='
                      f" '{household}'"):
        out.update({int(t) // 10**9: float(v)
                    for t, v in zip(s.values["time"], s.values["energy_kwh"], strict=True)})
    return out


@pytest.mark.parametrize("order", ["derive_first", "import_first"])
def test_import_wins_over_the_meter_register(order, isettings, reg, octopus, secrets_env):
    add_home(reg, "P1", MeterPoint("P1", "electricity", "octopus", MPAN, "S"))
    # The provider has the first 4 half hours (0.9 kWh each); the meter ran 1 kW for 4 h.
    octopus.data[f"{MPAN}/S"] = {DAY0_S + i * HH: 0.9 for i in range(4)}
    until = DAY0 + dt.timedelta(hours=4)
    with InfluxClient.from_settings(isettings) as db:
        db.ensure_database()
        live_meter(db, "P1", 4, 1.0)
        steps = [lambda: derive_usage(db, since=DAY0, until=until),
                 lambda: run_import(isettings, ["octopus"], since=DAY0, until=until,
                                    environ=secrets_env)]
        if order == "import_first":
            steps.reverse()
        results = [step() for step in steps]
        derive_usage(db, since=DAY0, until=until)              # and again, as the schedule does
        got = usage_30m(db, "P1")
        assert got == pytest.approx({**{DAY0_S + i * HH: 0.9 for i in range(4)},
                                     **{DAY0_S + i * HH: 0.5 for i in range(4, 8)}})
        # One usage_30m series per household and fuel: sums cannot double count.
        series = db.query('SELECT count("energy_kwh") FROM "usage"."usage_30m" GROUP BY *')
        assert len(series) == 1
        m = db.usage_matrix(DAY0, until, households=["P1"])
        assert np.nansum(m.energy_kwh) == pytest.approx(4 * 0.9 + 4 * 0.5)
    derived = results[0] if order == "derive_first" else results[1]
    elec = next(r for r in derived if r.fuel == "electricity")
    if order == "import_first":
        assert elec.half_hours_imported == 4 and elec.half_hours_written == 4
        assert "4 half hours kept from imported smart-meter data" in elec.describe()
