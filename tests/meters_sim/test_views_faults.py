"""Device views: fields per register map, sensor noise, and faults reproducible by seed."""

from __future__ import annotations

import numpy as np
import pytest

from hearth.registermap import DEFAULT_MAPS_DIR, decode, encode, load_register_maps
from meters_sim.faults import FAULT_KINDS, FaultConfig, FaultSchedule
from meters_sim.model import Simulation, Trace
from meters_sim.views import KIND_FIELDS, DeviceViews
from tests.meters_sim.conftest import WINTER


def _sim(pf, seed=7):
    return Simulation(pf, np.datetime64(WINTER), seed=seed, spinup_days=0.5)


def test_values_for_unit_serve_every_register_map_field(portfolio_60, devices_60):
    maps = load_register_maps(DEFAULT_MAPS_DIR)
    sim = _sim(portfolio_60)
    views = DeviceViews(devices_60, portfolio_60, seed=7)
    sim.advance(30)
    views.update(sim)
    units = views.units()
    assert units, "the synthetic registry puts meters behind gateways"
    checked = 0
    for port, rows in units.items():
        for unit, device_id, map_name in rows:
            values = views.values_for_unit(port, unit)
            rmap = maps[map_name]
            assert {spec.field for spec in rmap.registers} <= set(values) | {"credit_gbp"}
            for spec in rmap.registers:
                if spec.field not in values:
                    continue          # credit_gbp of a credit meter: the register stays 0
                back = decode(encode(values[spec.field], spec), spec)
                assert back == pytest.approx(values[spec.field], abs=spec.scale * 0.51 + 1e-3)
            checked += 1
            assert views.values_for_device(device_id) == values
    assert checked > 20
    assert views.values_for_unit(65000, 1) is None


def test_readings_carry_the_design_tags_and_units(portfolio_60, devices_60):
    sim = _sim(portfolio_60)
    views = DeviceViews(devices_60, portfolio_60, seed=7)
    sim.advance(5)
    views.update(sim)
    readings = views.readings()
    assert len(readings) == len(devices_60)
    for r in readings:
        assert r.time_ns == sim.time_ns
        if r.measurement == "meter":
            assert set(r.tags) == {"household", "device", "fuel", "source"}
            assert r.tags["fuel"] in ("electricity", "gas")
        else:
            assert r.measurement == "thermostat" and set(r.tags) == {"household", "device", "room"}
            assert 0 <= r.fields["humidity_pct"] <= 100
            assert isinstance(r.fields["heating_on"], bool)
        kind = next(d["kind"] for d in devices_60 if d["device_id"] == r.tags["device"])
        assert set(r.fields) <= set(KIND_FIELDS[kind])


def test_thermostat_sees_the_room_through_a_sensor(portfolio_60, devices_60):
    sim = _sim(portfolio_60)
    views = DeviceViews(devices_60, portfolio_60, seed=7)
    tr = Trace.concat(list(sim.run(240)))
    sel = slice(None, None, 10)
    values, present = views.sample(tr.time_ns[sel], {k: getattr(tr, k)[sel] for k in Trace.HOME_FIELDS})
    th = views.by_kind["thermostat"]
    living = np.array([views.room[i] == "living_room" for i in th])
    true = tr.t_air_c[sel][:, views.home[th]]
    err = values["thermostat"]["temp_c"][:, living] - true[:, living]
    assert present["thermostat"].all()
    assert abs(err.mean()) < 0.1 and 0.05 < err.std() < 0.3
    # Bedrooms run cooler than the living room.
    bed = ~living
    if bed.any():
        assert (values["thermostat"]["temp_c"][:, bed] - true[:, bed]).mean() < -0.5


def test_fault_schedule_is_reproducible_and_has_every_kind():
    ids = [f"D{i}" for i in range(400)]
    cfg = FaultConfig(rate_per_device_day=1.0)
    a = FaultSchedule(ids, np.ones(400, bool), np.ones(400, bool), cfg, seed=3)
    b = FaultSchedule(ids, np.ones(400, bool), np.ones(400, bool), cfg, seed=3)
    day = 20_500
    np.testing.assert_array_equal(a.day(day), b.day(day))
    kinds = {FAULT_KINDS[k] for k in a.day(day)["kind"]}
    assert kinds == set(FAULT_KINDS)
    assert 300 < len(a.day(day)) < 500                # Poisson(1) per device
    c = FaultSchedule(ids, np.ones(400, bool), np.ones(400, bool), cfg, seed=4)
    assert not np.array_equal(a.day(day), c.day(day))
    # MQTT thermostats never get Modbus-only faults, nor counter resets.
    th = FaultSchedule(ids, np.zeros(400, bool), np.zeros(400, bool), cfg, seed=3)
    assert {FAULT_KINDS[k] for k in th.day(day)["kind"]} == {"silent", "stuck", "spike"}
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultConfig(weights={"gremlins": 1.0})


def test_faults_change_what_devices_report_not_the_home(portfolio_60, devices_60):
    sim = _sim(portfolio_60)
    tr = Trace.concat(list(sim.run(2 * 1440)))
    true = {k: getattr(tr, k) for k in Trace.HOME_FIELDS}
    clean = DeviceViews(devices_60, portfolio_60, seed=7)
    faulty = DeviceViews(devices_60, portfolio_60, seed=7, faults=FaultConfig(rate_per_device_day=1.5))
    v0, p0 = clean.sample(tr.time_ns, true)
    v1, p1 = faulty.sample(tr.time_ns, true)
    assert all(p.all() for p in p0.values())
    # Without faults every register only goes up.
    for kind, field in (("electricity_meter", "energy_kwh"), ("gas_meter", "volume_m3")):
        assert (np.diff(v0[kind][field], axis=0) >= -1e-9).all()
    # With faults: gaps, counter resets (drops to ~0) and spikes appear where scheduled.
    eps = faulty.schedule.episodes(int(tr.time_ns[0]), int(tr.time_ns[-1]))
    kinds = {FAULT_KINDS[k] for k in eps["kind"]}
    assert {"silent", "reset", "spike", "stuck"} <= kinds
    e = v1["electricity_meter"]["energy_kwh"]
    col = {int(d): c for c, d in enumerate(faulty.by_kind["electricity_meter"])}
    resets = [e_ for e_ in eps if FAULT_KINDS[e_["kind"]] == "reset" and int(e_["device"]) in col]
    assert resets
    for r in resets:
        c = col[int(r["device"])]
        k = int(np.searchsorted(tr.time_ns, r["start_ns"]))
        if 0 < k < len(tr.time_ns) - 1:
            assert e[k, c] < 1.0 <= e[k - 1, c]          # restarted from zero
            assert e[k + 1, c] >= e[k, c]                # and counts up again
    silent_share = 1 - np.mean([p.mean() for p in p1.values()])
    assert 0.005 < silent_share < 0.4
    # Same seed, same faults.
    again = DeviceViews(devices_60, portfolio_60, seed=7, faults=FaultConfig(rate_per_device_day=1.5))
    v2, p2 = again.sample(tr.time_ns, true)
    for kind in v1:
        np.testing.assert_array_equal(p1[kind], p2[kind])
        for field in v1[kind]:
            np.testing.assert_array_equal(v1[kind][field], v2[kind][field])


def test_unit_fault_state_for_the_gateway(portfolio_60, devices_60):
    sim = _sim(portfolio_60)
    views = DeviceViews(devices_60, portfolio_60, seed=7,
                        faults=FaultConfig(rate_per_device_day=6.0, slow_delay_s=2.5,
                                           weights={"exception": 1.0, "slow": 1.0, "silent": 1.0}))
    seen = set()
    for _ in range(24 * 6):
        sim.advance(10)
        views.update(sim)
        for port, rows in views.units().items():
            for unit, _device, _map in rows:
                f = views.unit_fault(port, unit)
                seen.add(f.kind)
                if f.kind == "slow":
                    assert f.delay_s == 2.5
                if f.kind == "silent":
                    assert views.values_for_unit(port, unit) is None
                if f.kind == "none":
                    assert views.values_for_unit(port, unit) is not None
    assert {"none", "silent", "exception", "slow"} <= seen


def test_devices_must_belong_to_simulated_homes(portfolio_60, devices_60):
    bad = [dict(devices_60[0], household_id="H999999")]
    with pytest.raises(ValueError, match="not simulated"):
        DeviceViews(bad, portfolio_60, seed=1)


def test_sim_readings_are_collector_readings(portfolio_60, devices_60):
    import dataclasses

    from collectors.base import Reading

    sim = _sim(portfolio_60)
    views = DeviceViews(devices_60, portfolio_60, seed=7)
    sim.advance(1)
    views.update(sim)
    for r in views.readings(protocol="mqtt"):
        reading = Reading(**dataclasses.asdict(r))
        assert reading.time_ns == sim.time_ns and reading.fields == r.fields


class _FixedSchedule(FaultSchedule):
    """Crafted episodes (device, kind, start ns, end ns, magnitude) instead of random ones."""

    def __init__(self, rows):
        super().__init__(["D0", "D1", "D2", "D3"], np.zeros(4, bool), np.ones(4, bool),
                         FaultConfig(rate_per_device_day=1.0), seed=0)
        self.rows = np.array(rows, dtype=self.dtype)

    def episodes(self, start_ns, end_ns):
        return self.rows


def test_injector_records_only_episodes_that_changed_a_reading():
    from meters_sim.faults import FaultInjector

    s = 1_000_000_000
    k = {name: FAULT_KINDS.index(name) for name in FAULT_KINDS}
    times = np.arange(10, dtype=np.int64) * 600 * s
    rows = [(0, k["stuck"], 1200 * s, 3000 * s, 0.0),     # D0 stuck while its values stand still
            (1, k["stuck"], 1200 * s, 3000 * s, 0.0),     # D1 stuck while its values move
            (2, k["silent"], 610 * s, 1190 * s, 0.0),     # D2 silent between two samples
            (2, k["spike"], 3000 * s, 3000 * s, 50.0),    # ... and a x50 spike on zero power
            (3, k["silent"], 1100 * s, 1300 * s, 0.0)]    # D3 loses the 1200 s reading
    power = np.zeros((10, 4))
    power[:, 0] = 120.0
    power[:, 1] = 100.0 + np.arange(10)
    values = {"power_w": power}
    inj = FaultInjector(_FixedSchedule(rows))
    present = inj.apply(times, values, np.arange(4), spike_fields={"power_w": ("mul", 0.0)})
    assert inj.changed == {(1, 1200 * s), (3, 1100 * s)}
    assert present[:, 2].all() and not present[2, 3] and present[:, :3].all()
    assert (values["power_w"][2:5, 1] == 101.0).all()   # D1 frozen on its last reading
