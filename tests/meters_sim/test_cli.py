"""`hearth sim` end to end on the real InfluxDB and Mosquitto: generate, backfill, run live."""

from __future__ import annotations

import json

import pytest

from hearth.cli import build_parser
from hearth.errors import HearthError
from hearth.influx import InfluxClient
from hearth.registry import Registry
from meters_sim.mqtt_publisher import EmissionLog


def _run(settings, *argv):
    args = build_parser().parse_args(["sim", *argv])
    return args.func(args, settings)


def test_sim_generates_backfills_and_runs_live(sim_settings, capsys):
    rc = _run(sim_settings, "--households", "12", "--seed", "3", "--backfill", "0.25",
              "--duration-s", "2.5", "--speed", "600", "--no-modbus")
    assert rc == 0
    out = capsys.readouterr().out
    assert "backfill: 0.25 days" in out and "MQTT publishing" in out
    with Registry(sim_settings.registry.target) as reg:
        assert len(reg.households()) == 12
        devices = reg.devices()
    with InfluxClient.from_settings(sim_settings) as client:
        meters = client.query('SELECT count("energy_kwh") FROM "meter" GROUP BY "device"')
        weather = client.query('SELECT count("temp_c") FROM "weather"')
    n_meters = sum(d.kind != "thermostat" for d in devices)
    assert len(meters) == n_meters
    assert {int(s.values["count"][0]) for s in meters} == {12}      # 6 h of half hours
    assert int(weather[0].values["count"][0]) > 0
    truth = json.loads((sim_settings.sim.truth_dir / "truth_backfill.json").read_text())
    assert len(truth["households"]) == 12
    assert (sim_settings.sim.truth_dir / "truth_live.json").exists()
    log = EmissionLog.load(sim_settings.sim.emission_log_path)
    mqtt_ids = {d.device_id for d in devices if d.protocol == "mqtt"}
    assert log.good_count > 0 and set(log.readings) <= mqtt_ids
    # Live sim time continues from the end of the backfill.
    first = min(t for readings in log.readings.values() for t, _ in readings)
    assert first > truth["period"]["end_ns"]


def test_sim_needs_homes_or_households(sim_settings):
    with pytest.raises(HearthError, match="holds no households"):
        _run(sim_settings, "--duration-s", "0")


def test_sim_refuses_bad_options(sim_settings):
    with pytest.raises(HearthError, match="--speed"):
        _run(sim_settings, "--households", "3", "--speed", "-1")
    with pytest.raises(HearthError, match="--fault-rate"):
        _run(sim_settings, "--households", "3", "--fault-rate", "-2")


def test_a_later_run_continues_the_meters_of_the_backfill(sim_settings):
    assert _run(sim_settings, "--households", "10", "--seed", "4", "--backfill", "0.2",
                "--duration-s", "0") == 0
    assert (sim_settings.sim.truth_dir / "state.npz").exists()
    with InfluxClient.from_settings(sim_settings) as client:
        last = client.query('SELECT last("energy_kwh") FROM "meter" GROUP BY "device"')
    backfilled = {s.tags["device"]: float(s.values["last"][0]) for s in last}
    end_ns = json.loads((sim_settings.sim.truth_dir / "truth_backfill.json").read_text())[
        "period"]["end_ns"]
    # A second `hearth sim` (as the demo runs it) resumes the homes: registers keep rising.
    assert _run(sim_settings, "--duration-s", "1.5", "--speed", "600", "--no-modbus",
                "--seed", "4") == 0
    log = EmissionLog.load(sim_settings.sim.emission_log_path)
    checked = 0
    for device, readings in log.readings.items():
        if device in backfilled and "energy_kwh" in readings[0][1]:
            assert readings[0][0] > end_ns
            assert readings[0][1]["energy_kwh"] >= backfilled[device] - 1e-6
            assert readings[0][1]["energy_kwh"] - backfilled[device] < 50
            checked += 1
    assert checked > 0


def test_sim_serves_the_registry_meters_over_modbus(sim_settings):
    """`hearth sim` opens the registry's gateways; a Modbus client reads live meters there."""
    import threading
    import time

    from pymodbus.client import ModbusTcpClient

    from hearth.registermap import DEFAULT_MAPS_DIR, decode, load_register_maps
    from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio
    from hearth.stack import free_port

    port = free_port()
    with Registry(sim_settings.registry.target) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(
            households=8, seed=5, gateway_base_port=port, units_per_gateway=200)))
        meters = reg.devices(protocol="modbus")
    # 8 homes are one block of flats and one street (the stock-mix quota): a gateway each,
    # on consecutive ports from the base port.
    ports = {d.gateway_port for d in meters}
    assert meters and ports == set(range(port, port + len(ports)))
    meters = [d for d in meters if d.gateway_port == port]
    maps = load_register_maps(DEFAULT_MAPS_DIR)
    got: dict[str, float] = {}

    def poll():
        deadline = time.monotonic() + 15
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
        while time.monotonic() < deadline and not got:
            if client.connect():
                dev = meters[0]
                spec = maps[dev.register_map].registers[0]
                read = (client.read_holding_registers if spec.type == "holding"
                        else client.read_input_registers)
                resp = read(spec.address, count=spec.count, device_id=dev.unit_id)
                if not resp.isError():
                    got[spec.field] = decode(resp.registers, spec)
            time.sleep(0.2)
        client.close()

    thread = threading.Thread(target=poll)
    thread.start()
    assert _run(sim_settings, "--seed", "5", "--duration-s", "3", "--speed", "60",
                "--no-mqtt") == 0
    thread.join()
    assert got and next(iter(got.values())) > 0


def test_sim_can_run_one_patch(sim_settings):
    from hearth.registry.generate import GenerateOptions, generate_portfolio, write_portfolio

    with Registry(sim_settings.registry.target) as reg:
        write_portfolio(reg, generate_portfolio(GenerateOptions(households=400, seed=6)))
        patches = reg.patches()
        first = {h.household_id for h in reg.households(patch=patches[0])}
    assert len(patches) >= 2
    assert _run(sim_settings, "--seed", "6", "--patch", patches[0], "--duration-s", "1",
                "--speed", "600", "--no-modbus") == 0
    slug = patches[0].lower().replace(" ", "_")
    truth = json.loads((sim_settings.sim.truth_dir / f"truth_live-{slug}.json").read_text())
    assert {h["household_id"] for h in truth["households"]} == first
    with pytest.raises(HearthError, match="unknown patch"):
        _run(sim_settings, "--patch", "Atlantis", "--duration-s", "0")
