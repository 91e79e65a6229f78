"""The advisor's inputs from the half-hourly summaries (collectors/summaries.py) equal those
computed from raw readings (advisor/inputs_raw.py), on the real InfluxDB (fixture), for the
readings of the other input tests: several rooms, silent and stuck devices, prepayment credit,
bulk history (source=backfill) with gaps, frozen sensors and standing registers."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from advisor.frame import AdviceInputs
from advisor.inputs import InputLoader
from advisor.inputs_raw import RawInputLoader
from collectors.summaries import METER_30M, THERMOSTAT_30M, read_state
from hearth.influx import InfluxClient
from hearth.registry import Registry

from . import test_advisor_inputs, test_advisor_inputs_faults

ARRAY_FIELDS = [f for f in AdviceInputs.__dataclass_fields__
                if f not in ("households", "now", "step_h", "step_times", "reference")]


def _both(settings, now):
    with Registry(settings.registry.target) as reg, InfluxClient.from_settings(settings) as client:
        raw = RawInputLoader(settings, reg, client).load(now)
        summ = InputLoader(settings, reg, client).load(now)
    return raw, summ


def _assert_same(raw: AdviceInputs, summ: AdviceInputs) -> None:
    assert summ.households.tolist() == raw.households.tolist()
    compared = 0
    for name in ARRAY_FIELDS:
        a, b = getattr(raw, name), getattr(summ, name)
        if isinstance(a, dict):
            assert sorted(a) == sorted(b), name
            pairs = [(f"{name}[{k}]", a[k], b[k]) for k in a]
        else:
            assert (a is None) == (b is None), name
            pairs = [] if a is None else [(name, a, b)]
        for label, x, y in pairs:
            x, y = np.asarray(x), np.asarray(y)
            assert x.shape == y.shape, label
            if x.dtype == object:
                assert x.tolist() == y.tolist(), label
            else:
                np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-9, equal_nan=True,
                                           err_msg=label)
            compared += 1
    assert compared > 20


def test_summaries_give_the_raw_inputs(settings):
    now = test_advisor_inputs._now()
    test_advisor_inputs.populate(settings, now)
    raw, summ = _both(settings, now)
    _assert_same(raw, summ)
    # The data exercise what they should: a silent thermostat, a stuck one, credit.
    assert np.isnan(summ.temp_c[2, -10:]).all()
    assert summ.device_stuck_h.max() >= 1
    assert np.isfinite(summ.credit_gbp["electricity"]).any()


def test_summaries_give_the_raw_device_faults(settings):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    test_advisor_inputs_faults._write(settings, now)
    raw, summ = _both(settings, now)
    _assert_same(raw, summ)
    assert np.nanmax(summ.device_bulk_max_gap_s) == pytest.approx(2400)  # T3's 40 min gap
    assert np.nanmax(summ.device_bulk_interval_s) == pytest.approx(600)


def test_an_hourly_run_summarises_only_the_new_hour(settings):
    """The second run an hour later rewrites only the look-back and the new hour; its points
    are the same as a full rebuild's (idempotent)."""
    now = test_advisor_inputs._now()
    test_advisor_inputs.populate(settings, now)
    from collectors.summaries import derive_summaries

    with InfluxClient.from_settings(settings) as client:
        first = derive_summaries(client, until=now - timedelta(hours=1), lookback_s=3600)
        assert read_state(client) is not None
        again = derive_summaries(client, until=now, lookback_s=3600)
        span = {r.measurement: r.until - r.since for r in again}
        assert all(d <= timedelta(hours=2, minutes=30) for d in span.values()), span
        assert first[0].points_written > 10 * again[0].points_written

        def points(m):
            s = client.query(f'SELECT * FROM "{client.database}"."usage"."{m}"'
                             ' GROUP BY "device", "source"')
            # NaN (a field the point lacks) as None, so that equal lists compare equal.
            return {(x.tags["device"], x.tags["source"], c):
                    [None if isinstance(v, float) and v != v else v for v in x.values[c].tolist()]
                    for x in s for c in x.values}

        before = {m: points(m) for m in (THERMOSTAT_30M, METER_30M)}
        derive_summaries(client, since=now - timedelta(days=4), until=now)
        after = {m: points(m) for m in (THERMOSTAT_30M, METER_30M)}
        for m in before:
            for k in before[m]:
                assert after[m].get(k) == before[m][k], (m, k)
            assert sorted(after[m]) == sorted(before[m]), m
