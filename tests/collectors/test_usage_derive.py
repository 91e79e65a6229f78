"""usage_30m derivation against real InfluxDB: values, resets, gaps, spikes, idempotent and
incremental re-runs, and the `hearth collect derive-usage` / `status` commands."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from hearth.cli import build_parser
from hearth.influx import InfluxClient, Point

HALF_HOUR_NS = 1800 * 10**9
# Three days ago at midnight UTC: inside the raw retention policy.
DAY0_NS = (int(dt.datetime.now(dt.UTC).timestamp()) // 86400 - 3) * 86400 * 10**9


def meter_series(client, household: str, device: str, fuel: str, minutes: int, kw: float,
                 start_kwh: float, edit=None) -> np.ndarray:
    t = DAY0_NS + np.arange(minutes + 1, dtype=np.int64) * 60 * 10**9
    e = start_kwh + kw * np.arange(minutes + 1) / 60.0
    keep = np.ones(len(t), bool)
    if edit is not None:
        e, keep = edit(e.copy(), keep)
    pts = [Point("meter", {"household": household, "device": device, "fuel": fuel,
                           "source": "mqtt"}, {"energy_kwh": float(v)}, int(ts))
           for ts, v, k in zip(t, e, keep, strict=True) if k]
    client.write_points(pts, retention_policy="raw")
    return e


def usage(client, fuel: str) -> dict[tuple[str, int], float]:
    out = {}
    for s in client.query(f'SELECT "energy_kwh" FROM "usage"."usage_30m" WHERE "fuel" = \'{fuel}\''
                          ' GROUP BY "household"'):
        for t, v in zip(s.values["time"], s.values["energy_kwh"], strict=True):
            out[(s.tags["household"], int(t))] = float(v)
    return out


def run_cli(settings, *argv) -> int:
    args = build_parser().parse_args(["collect", *argv])
    return args.func(args, settings)


def test_derive_usage_end_to_end(settings, capsys):
    with InfluxClient.from_settings(settings) as db:
        db.ensure_database()
        # H1: steady 1 kW for 4 h. H2: reset at 100 min and a spike at 150 min.
        # H3 (gas): a gap of 3 h in the middle of 6 h. H4: two electricity meters (replaced).
        meter_series(db, "H1", "E1", "electricity", 240, 1.0, 500.0)

        def reset_and_spike(e, keep):
            e[101:] = e[101:] - e[101] + 1 / 60 * 2  # new register from 0, 1 kW
            e[150] = 99_999.0
            return e, keep

        meter_series(db, "H2", "E2", "electricity", 240, 2.0, 800.0, reset_and_spike)

        def gap(e, keep):
            keep[100:280] = False
            return e, keep

        meter_series(db, "H3", "G3", "gas", 360, 3.0, 10_000.0, gap)
        meter_series(db, "H4", "E4a", "electricity", 120, 0.5, 50.0)

        def second_meter(e, keep):
            keep[:120] = False
            return e - e[120], keep

        meter_series(db, "H4", "E4b", "electricity", 240, 0.5, 0.0, second_meter)
        until = dt.datetime.fromtimestamp(DAY0_NS / 1e9 + 6 * 3600, dt.UTC).isoformat()
        since = dt.datetime.fromtimestamp(DAY0_NS / 1e9, dt.UTC).isoformat()
        assert run_cli(settings, "derive-usage", "--since", since, "--until", until) == 0
        out = capsys.readouterr().out
        assert "usage_30m electricity" in out and "1 counter resets" in out
        assert "1 spikes dropped" in out
        el, gas = usage(db, "electricity"), usage(db, "gas")

        h1 = [el[("H1", DAY0_NS + k * HALF_HOUR_NS)] for k in range(8)]
        np.testing.assert_allclose(h1, 0.5, rtol=1e-9)
        assert ("H1", DAY0_NS + 8 * HALF_HOUR_NS) not in el  # after the last sample: unknown
        h2 = [el[("H2", DAY0_NS + k * HALF_HOUR_NS)] for k in range(8)]
        # 2 kW: 1 kWh per half hour across the reset (the new register counted its first
        # minute) and the spike.
        np.testing.assert_allclose(h2, 1.0, rtol=1e-9)
        # Gas: samples up to 99 min and from 280 min: half hours touching the gap are unknown.
        g = {k: gas.get(("H3", DAY0_NS + k * HALF_HOUR_NS)) for k in range(12)}
        np.testing.assert_allclose([g[0], g[1], g[2]], 1.5, rtol=1e-9)
        assert all(g[k] is None for k in range(3, 10))
        np.testing.assert_allclose([g[10], g[11]], 1.5, rtol=1e-9)
        # Two meters in one home: summed, no jump at the change of meter.
        h4 = [el[("H4", DAY0_NS + k * HALF_HOUR_NS)] for k in range(8)]
        np.testing.assert_allclose(h4, 0.25, rtol=1e-9)

        # Idempotent: the same run again writes the same points, no more.
        assert run_cli(settings, "derive-usage", "--since", since, "--until", until) == 0
        assert usage(db, "electricity") == el

        # Incremental: new data for H1, then a run without --since continues from the last
        # derived half hour (minus the margin) and fills the new half hours only.
        more = [Point("meter", {"household": "H1", "device": "E1", "fuel": "electricity",
                                "source": "mqtt"}, {"energy_kwh": 504.0 + m / 60.0},
                      DAY0_NS + (240 + m) * 60 * 10**9) for m in range(1, 61)]
        db.write_points(more, retention_policy="raw")
        later = dt.datetime.fromtimestamp(DAY0_NS / 1e9 + 8 * 3600, dt.UTC).isoformat()
        assert run_cli(settings, "derive-usage", "--until", later, "--fuel", "electricity") == 0
        el2 = usage(db, "electricity")
        assert el2[("H1", DAY0_NS + 8 * HALF_HOUR_NS)] == pytest.approx(0.5)
        assert el2[("H1", DAY0_NS + 9 * HALF_HOUR_NS)] == pytest.approx(0.5)
        assert {k: v for k, v in el2.items() if k in el} == pytest.approx(el)

        # usage_day: the first run wrote part of the day, the later one completed it without
        # losing the earlier slots; usage_matrix from it equals usage_30m's, NaN for NaN.
        [h1_day] = db.query('SELECT * FROM "usage"."usage_day" WHERE "household" = \'H1\'')
        assert len(h1_day) == 1 and int(h1_day.values["time"][0]) == DAY0_NS
        slots = [c for c in h1_day.columns if c.startswith("energy_kwh_")
                 and np.isfinite(h1_day.values[c][0])]
        assert slots == [f"energy_kwh_{k // 2:02d}{30 * (k % 2):02d}" for k in range(10)]
        lo = np.datetime64(DAY0_NS, "ns")
        for fuel in ("electricity", "gas"):
            day = db.usage_matrix(lo, lo + np.timedelta64(1, "D"), fuel=fuel)
            half = db.usage_matrix(lo, lo + np.timedelta64(1, "D"), fuel=fuel,
                                   source="usage_30m")
            assert day.households.tolist() == half.households.tolist()
            np.testing.assert_array_equal(day.energy_kwh, half.energy_kwh)
        assert np.isfinite(day.energy_kwh).sum() == len(gas)  # gas: H3 around its gap


def test_derive_usage_without_meter_data_says_so(settings, capsys):
    assert run_cli(settings, "derive-usage") == 0
    assert "no meter readings" in capsys.readouterr().out


def test_status_reports_backlog_and_dead_letters(settings, capsys):
    from collectors.service import open_spool

    spool = open_spool(settings)
    spool.dead_letter("mqtt", "invalid_json: nope", b"xx")
    spool.dead_letter("mqtt", "invalid_json: again", b"yy")
    spool.dead_letter("mqtt", "bad_ts: 'ts' ...", b"zz")
    spool.put_lines(["meter,household=H1 energy_kwh=1.0 1"], "raw")
    spool.close()
    spool.dead_letters.close()
    assert run_cli(settings, "status") == 0
    out = capsys.readouterr().out
    assert "1 readings" in out and "dead letters" in out
    assert "2  mqtt     invalid_json" in out and "1  mqtt     bad_ts" in out


def test_usage_from_the_simulators_backfill_adds_up_to_the_registers(tmp_path, influx_server,
                                                                     mqtt_server):
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, influx_server, mqtt_server,
                             sim={"truth_dir": str(tmp_path / "sim"),
                                  "emission_log_path": str(tmp_path / "sim" / "e.jsonl")})
    args = build_parser().parse_args(["sim", "--households", "12", "--backfill", "2",
                                      "--duration-s", "0"])
    assert args.func(args, settings) == 0
    assert run_cli(settings, "derive-usage") == 0
    with InfluxClient.from_settings(settings) as db:
        for fuel in ("electricity", "gas"):
            derived = {s.tags["household"]: float(s.values["sum"][0]) for s in db.query(
                f'SELECT sum("energy_kwh") FROM "usage"."usage_30m" WHERE "fuel" = \'{fuel}\''
                ' GROUP BY "household"')}
            spread = {s.tags["household"]: float(s.values["spread"][0]) for s in db.query(
                f'SELECT spread("energy_kwh") FROM "raw"."meter" WHERE "fuel" = \'{fuel}\''
                ' GROUP BY "household"')}
            assert derived and set(derived) == set(spread)
            for house, kwh in derived.items():  # registers only rise in a fault-free backfill
                assert kwh == pytest.approx(spread[house], abs=1e-6), (fuel, house)
