"""Sharded daily work: `hearth collect derive-usage`, `hearth forecast` and `hearth advise` run as
3 worker processes (`--shard 1/3`, `2/3`, `3/3`, started together) give the same usage points,
forecasts and cases as one process, with no household done twice and none left out.

Real InfluxDB, a simulated portfolio (`hearth registry generate`, `hearth sim --backfill`),
the real `hearth` command line. Each stage runs once unsharded, its output is kept and removed,
then the three workers run concurrently and their output is compared point by point."""

from __future__ import annotations

import math
import shutil
import sqlite3
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hearth.influx import InfluxClient
from hearth.shards import Shard, households_in, registry_patches
from tests.conftest import INFLUX_PASSWORD, MQTT_PASSWORD, make_settings
from tests.e2e_support import HearthRunner, write_settings_toml

HOUSEHOLDS, SEED, PATCH_SIZE, BACKFILL_DAYS, PATCHES = 40, 11, 10, 8, 8
SHARDS = [Shard(i, 3) for i in (1, 2, 3)]


class Portfolio:
    def __init__(self, root: Path, settings, runner: HearthRunner):
        self.root, self.settings, self.runner = root, settings, runner

    def run(self, *args: str, timeout_s: float = 300.0, **env: str):
        r = self.runner
        if env:
            r = HearthRunner(dict(r.env, **env), r.cwd)
        out = r.run(*args, timeout_s=timeout_s)
        assert out.returncode == 0, f"hearth {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
        return out

    def workers(self, *args: str, timeout_s: float = 300.0, **env: str) -> list[str]:
        """The same command as 3 concurrent processes, one per shard; their outputs."""
        e = dict(self.runner.env, **env)
        procs = [subprocess.Popen(self.runner.command(*args, "--shard", str(s)), env=e,
                                  cwd=self.runner.cwd, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for s in SHARDS]
        outs = []
        for s, p in zip(SHARDS, procs, strict=True):
            out, err = p.communicate(timeout=timeout_s)
            assert p.returncode == 0, f"shard {s}: hearth {' '.join(args)}:\n{out}\n{err}"
            outs.append(out)
        return outs

    def client(self) -> InfluxClient:
        return InfluxClient.from_settings(self.settings)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory, influx_server, mqtt_server):
    root = tmp_path_factory.mktemp("shards")
    var_dir = root / "var"
    var_dir.mkdir()
    run_id = uuid.uuid4().hex[:8]
    settings = make_settings(
        var_dir, influx_server, mqtt_server,
        sim={"step_s": 300, "mqtt_client_id": f"shards-sim-{run_id}",
             "emission_log_path": str(var_dir / "sim" / "emissions.jsonl"),
             "truth_dir": str(var_dir / "sim")},
        notifier={"quiet_start": "00:00", "quiet_end": "00:00"})
    config = write_settings_toml(settings, root / "hearth.toml")
    p = Portfolio(root, settings, HearthRunner.create(config, root, INFLUX_PASSWORD,
                                                      MQTT_PASSWORD))
    p.run("registry", "generate", "--households", str(HOUSEHOLDS), "--seed", str(SEED),
          "--patch-size", str(PATCH_SIZE))
    # The generator makes patches of whole estates (two for 40 homes); a portfolio of many
    # small patches is what shards split, so the homes are dealt into PATCHES patches.
    with sqlite3.connect(settings.registry.path) as conn:
        ids = [r[0] for r in conn.execute("SELECT household_id FROM households ORDER BY 1")]
        conn.executemany("UPDATE households SET patch = ? WHERE household_id = ?",
                         [(f"Patch {i % PATCHES + 1}", h) for i, h in enumerate(ids)])
    p.run("sim", "--backfill", str(BACKFILL_DAYS), "--duration-s", "0", timeout_s=600)
    return p


def _points(client, measurement: str, fields: str, group: str) -> dict[tuple, tuple]:
    out = {}
    q = (f'SELECT {fields} FROM "{client.database}"."usage"."{measurement}" GROUP BY {group}')
    for s in client.query(q):
        key = tuple(sorted(s.tags.items()))
        cols = [c for c in s.columns if c != "time"]
        for i, t in enumerate(s.values["time"]):
            out[(key, int(t))] = tuple(_plain(s.values[c][i]) for c in cols)
    return out


def _plain(v):
    """NaN (a field a point lacks) as None, so that equal points compare equal."""
    return None if isinstance(v, float) and math.isnan(v) else v


def _drop(client, *measurements: str) -> None:
    for m in measurements:
        client.execute(f'DROP MEASUREMENT "{m}"')


def test_every_shard_has_patches_and_no_household_is_in_two(portfolio):
    patch_of = registry_patches(portfolio.settings.registry.target)
    parts = [households_in(s, patch_of, patch_of) for s in SHARDS]
    assert all(parts), "the fixture's portfolio gives every shard a patch"
    assert sorted(h for part in parts for h in part) == sorted(patch_of)
    for part in parts:  # a patch is never split
        patches = {patch_of[h] for h in part}
        assert all(patch_of[h] in patches for h in part)
        assert not patches & {patch_of[h] for other in parts if other is not part for h in other}


def test_derive_usage_forecast_and_advise_sharded_equal_one_worker(portfolio):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    since = (now - timedelta(days=BACKFILL_DAYS + 1)).strftime("%Y-%m-%dT%H:%MZ")
    until = now.strftime("%Y-%m-%dT%H:%MZ")
    with portfolio.client() as db:
        # ---- usage_30m and usage_day ----------------------------------------------------
        portfolio.run("collect", "derive-usage", "--since", since, "--until", until)
        one_30m = _points(db, "usage_30m", '"energy_kwh"', '"household", "fuel"')
        one_day = _points(db, "usage_day", "*", '"household", "fuel"')
        assert len(one_30m) > HOUSEHOLDS * 48 * (BACKFILL_DAYS - 1)
        _drop(db, "usage_30m", "usage_day")
        outs = portfolio.workers("collect", "derive-usage", "--since", since, "--until", until)
        assert all(o.startswith("shard ") for o in outs)
        assert _points(db, "usage_30m", '"energy_kwh"', '"household", "fuel"') == one_30m
        assert _points(db, "usage_day", "*", '"household", "fuel"') == one_day

        # ---- forecasts ------------------------------------------------------------------
        origin = until
        portfolio.run("forecast", "--now", origin)
        one_fc = _points(db, "forecast", '"energy_kwh", "energy_kwh_mean"',
                         '"household", "fuel"')
        one_daily = _points(db, "forecast_daily", '"energy_kwh", "trust"', '"household", "fuel"')
        one_band = _points(db, "forecast", '"energy_kwh_p10", "energy_kwh_p90"',
                           '"household", "fuel"')
        assert one_fc and one_daily
        _drop(db, "forecast", "forecast_daily", "forecast_run")
        portfolio.workers("forecast", "--now", origin)
        many_fc = _points(db, "forecast", '"energy_kwh", "energy_kwh_mean"',
                          '"household", "fuel"')
        assert many_fc.keys() == one_fc.keys(), "every household forecast once, none twice"
        assert _close(many_fc, one_fc, 1e-9)
        assert _points(db, "forecast_daily", '"energy_kwh", "trust"',
                       '"household", "fuel"').keys() == one_daily.keys()
        # Each household's p10/p90 band comes from its own errors and fixed priors, never
        # from the other households fitted with it, so a shard gives the same bands.
        many_band = _points(db, "forecast", '"energy_kwh_p10", "energy_kwh_p90"',
                            '"household", "fuel"')
        assert many_band.keys() == one_band.keys()
        assert _close(many_band, one_band, 1e-9)
        from forecasting.service import latest_runs

        runs = latest_runs(db)
        n_hh = len({k[0] for k in one_fc})
        assert sum(r["households"] for r in runs.values()) == n_hh  # 3 run rows, added up

    # ---- cases and tips -------------------------------------------------------------------
    reg = Path(portfolio.settings.registry.path)
    reg_b = reg.with_name("registry_sharded.sqlite3")
    shutil.copy(reg, reg_b)
    outbox_b = reg.with_name("outbox_sharded.jsonl")
    at = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ")
    portfolio.run("advise", "--now", at)
    portfolio.workers("advise", "--now", at, HEARTH__REGISTRY__PATH=str(reg_b),
                      HEARTH__NOTIFIER__OUTBOX_PATH=str(outbox_b))
    one_cases, many_cases = _cases(reg), _cases(reg_b)
    assert one_cases, "the portfolio has cases to compare"
    assert many_cases == one_cases
    assert _sms(reg_b) == _sms(reg), "the same tips, each sent once"


def _close(a: dict, b: dict, tol: float) -> bool:
    """Same keys and values equal within `tol` (the same arithmetic on the same rows)."""
    if a.keys() != b.keys():
        return False
    bad = [k for k in a if any(abs(x - y) > tol for x, y in zip(a[k], b[k], strict=True))]
    assert not bad, f"{len(bad)} forecasts differ, e.g. {bad[:2]}: {a[bad[0]]} vs {b[bad[0]]}"
    return True


def _cases(path: Path) -> Counter:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT household_id, kind, severity, status, reasons FROM cases"
                            " ORDER BY household_id, kind").fetchall()
    return Counter(rows)


def _sms(path: Path) -> Counter:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT m.household_id, m.template, m.status, m.skip_reason, m.body"
                            " FROM sms_log m").fetchall()
    return Counter(rows)
