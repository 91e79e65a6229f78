"""Device-fault inputs from a real InfluxDB (fixture): bulk history (source=backfill) judged on
its own step, frozen thermostats and standing registers at reading level, gas volume glitches,
and the `device_fault` verdicts they lead to."""

from datetime import UTC, datetime

import numpy as np
import pytest

from advisor.db import connection
from advisor.engine import assess
from advisor.inputs import InputLoader
from hearth.influx import InfluxClient
from hearth.registry import Registry

from .conftest import add_household

NS = 1_000_000_000
STEP_S = 600
N = 432  # 72 hours of bulk history every 10 minutes


def _write(settings, now: datetime) -> None:
    with Registry(settings.registry.target) as reg:
        conn = connection(reg)
        devices = []
        for n in range(1, 6):
            h = f"H00000{n}"
            add_household(conn, h, payment_type="credit")
            devices += [(d, h, kind, f"hearth/{h}/{d}/{kind}", room) for d, kind, room in (
                (f"E{n}", "electricity_meter", None), (f"G{n}", "gas_meter", None),
                (f"T{n}", "thermostat", "living_room"))]
        # The registry's live interval (60 s) is shorter than the bulk step: bulk history must
        # be judged on its own step, not called silent.
        conn.executemany("INSERT INTO devices (device_id, household_id, kind, protocol,"
                         " mqtt_topic, room, interval_s) VALUES (?, ?, ?, 'mqtt', ?, ?, 60)",
                         devices)
    end = int(now.timestamp()) // STEP_S * STEP_S * NS
    lines = []
    for k in range(N):
        t = end - (N - k) * STEP_S * NS
        jitter = (k * 7919) % 10 / 10  # a sensor's last digit moves between readings
        for n in range(1, 6):
            h = f"H00000{n}"
            temp, rh = round(19.0 + jitter, 1), round(55.0 + jitter * 3, 1)
            # T1 frozen for 4 readings (3 repeats over 30 min); T2 for 3 (2 repeats).
            if n == 1 and 100 <= k < 104:
                temp, rh = 19.5, 56.5
            if n == 2 and 100 <= k < 103:
                temp, rh = 19.5, 56.5
            # T5 in a condensing room: humidity pinned at 100 % and the temperature steady for
            # 4 hours: saturated, not frozen.
            if n == 5 and 96 <= k < 120:
                temp, rh = 19.0, 100.0
            # T3 loses 3 readings in a row (a 40 min gap); T4 loses 2 (a 30 min gap).
            if (n == 3 and 200 <= k < 203) or (n == 4 and 200 <= k < 202):
                pass
            else:
                lines.append(f"thermostat,household={h},device=T{n},room=living_room,"
                             f"source=backfill temp_c={temp},humidity_pct={rh},setpoint_c=19.0 {t}")
            # Electricity: 300 W on average, the register counting 0.05 kWh a reading. E2's
            # register stands still for one reading while it reports 150 W (should have counted
            # 0.025 kWh); E3's while it reports 100 W (0.0167 kWh: within two 0.01 kWh counts).
            energy = 1000.0 + 0.05 * k
            power = 300.0 + 10 * jitter
            if n in (2, 3) and k >= 150:
                energy -= 0.05
                if k in (150, 151):
                    power = 150.0 if n == 2 else 100.0
            lines.append(f"meter,household={h},device=E{n},fuel=electricity,source=backfill "
                         f"energy_kwh={energy:.3f},power_w={power} {t}")
            # Gas: G4's volume register glitches to 99999 m3 for one reading (energy sound).
            volume = 500.0 + 0.02 * k
            if n == 4 and k == 300:
                volume = 99_999.0
            lines.append(f"meter,household={h},device=G{n},fuel=gas,source=backfill "
                         f"volume_m3={volume:.3f},energy_kwh={(500.0 + 0.02 * k) * 11.22:.3f},"
                         f"flow_m3_per_h=0.12 {t}")
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        assert client.write_lines(lines).dead_lettered == 0


@pytest.fixture
def loaded(settings):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _write(settings, now)
    with Registry(settings.registry.target) as reg, InfluxClient.from_settings(settings) as client:
        inp = InputLoader(settings, reg, client).load(now)
    return settings, inp


def _by_device(inp, values) -> dict[str, float]:
    return {d: v for row in range(inp.n) for d, v in zip(inp.device_ids[row], values[row],
                                                         strict=True) if d}


def test_device_fault_inputs_from_bulk_history(loaded):
    _, inp = loaded
    step = _by_device(inp, inp.device_bulk_interval_s)
    assert set(step.values()) == {600.0}  # the bulk step, not the registry's 60 s
    gaps = _by_device(inp, inp.device_bulk_max_gap_s)
    assert gaps["T3"] == 2400.0 and gaps["T4"] == 1800.0 and gaps["T1"] == 600.0
    assert np.isnan(inp.device_age_s).all()  # no collector has heard these devices
    repeats = _by_device(inp, inp.device_repeats)
    span = _by_device(inp, inp.device_repeat_s)
    assert (repeats["T1"], span["T1"]) == (3, 1800.0) and repeats["T2"] == 2
    assert repeats["T5"] == 0 and _by_device(inp, inp.device_stuck_h)["T5"] == 0
    still = _by_device(inp, inp.device_still_kwh)
    assert still["E2"] == pytest.approx(150 * 600 / 3.6e6, rel=1e-3)
    assert still["E3"] == pytest.approx(100 * 600 / 3.6e6, rel=1e-3)
    assert still["E1"] == 0.0 and still["G1"] == 0.0
    assert np.nanmax(inp.gas_volume_m3[3]) == 99_999.0


def test_device_fault_verdicts(loaded):
    settings, inp = loaded
    fault = assess(inp, settings.advisor)["device_fault"]
    flagged = dict(zip(inp.households, fault.flagged, strict=True))
    assert flagged == {"H000001": True, "H000002": True, "H000003": True, "H000004": True,
                       "H000005": False}
    assert "stuck, repeating the same reading (T1)" in fault.reason_of(0)
    assert "stuck, repeating the same reading (E2)" in fault.reason_of(1)
    reason3 = fault.reason_of(2)
    assert "silent (T3)" in reason3 and "E3" not in reason3
    assert "went backwards" in fault.reason_of(3) and "silent" not in fault.reason_of(3)
