"""`hearth sim`: simulated homes from the registry, optional backfill, then live Modbus
gateways and MQTT publishers at `--speed` x real time."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("meters_sim")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulate the registry's homes: backfill history, then run"
                       " live Modbus gateways and MQTT publishers",
                       description="Simulated meters and thermostats for the registry's homes"
                       " (docs/simulator.md). Generates N homes in the registry when it is empty.")
    p.add_argument("--households", type=int, default=None, metavar="N",
                   help="generate N homes when the registry is empty (else use the registry's)")
    p.add_argument("--speed", type=float, default=None, metavar="X",
                   help="simulated seconds per real second (default [sim] speed)")
    p.add_argument("--seed", type=int, default=None, help="default [sim] seed")
    p.add_argument("--backfill", type=float, default=0.0, metavar="DAYS",
                   help="first write DAYS of history into InfluxDB, ending now")
    p.add_argument("--duration-s", type=float, default=None, metavar="SECONDS",
                   help="stop the live run after SECONDS real seconds (0: backfill only;"
                   " default: until Ctrl-C)")
    p.add_argument("--fault-rate", type=float, default=None, metavar="R",
                   help="device fault episodes per device per day (default [sim] fault_rate)")
    p.add_argument("--patch", action="append", default=None, metavar="PATCH",
                   help="simulate only the homes of this officer patch (repeatable): split a"
                   " large portfolio over several processes")
    p.add_argument("--end", default=None, metavar="ISO",
                   help="end the backfill at this UTC time instead of now (e.g. 2026-08-15 for"
                   " a summer); backfill only: needs --backfill and --duration-s 0, and an end"
                   " within [influxdb] raw_retention_days of now")
    p.add_argument("--no-modbus", action="store_true", help="do not start the Modbus gateways")
    p.add_argument("--no-mqtt", action="store_true", help="do not publish over MQTT")
    p.set_defaults(func=handler)
    from meters_sim.summary_cli import add_summary

    add_summary(p)


def _rows(objs) -> list[dict]:
    import dataclasses

    out = []
    for o in objs:
        if isinstance(o, dict):
            out.append(dict(o))
        elif dataclasses.is_dataclass(o):
            out.append({f.name: getattr(o, f.name) for f in dataclasses.fields(o)})
        else:
            out.append(dict(vars(o)))
    return out


def benefits_of(homes):
    """(homes,) bool array: the registry rows' means_tested_benefits, in their order."""
    import numpy as np

    return np.array([bool(int(h.get("means_tested_benefits") or 0)) for h in homes], dtype=bool)


def load_registry(settings, households: int | None, seed: int,
                  patches: list[str] | None = None):
    """(household rows, device rows, tariff rows) from the registry, generating `households`
    homes first when it is empty; only the homes of `patches` when given."""
    from hearth.errors import HearthError
    from hearth.registry import Registry

    with Registry(settings.registry.target) as reg:
        homes = reg.households()
        if not homes:
            if not households:
                raise HearthError(f"the registry {settings.registry.target} holds no households:"
                                  " pass --households N to generate N, or run"
                                  " `hearth registry generate --households N`")
            from hearth.registry.generate import (
                GenerateOptions,
                generate_portfolio,
                write_portfolio,
            )

            opts = GenerateOptions(households=households, seed=seed)
            opts.validate()
            write_portfolio(reg, generate_portfolio(opts))
            log.info("registry: generated %d households (seed %d)", households, seed)
            homes = reg.households()
        elif households and households != len(homes):
            log.warning("the registry already holds %d households; simulating those (--households"
                        " %d applies only to an empty registry)", len(homes), households)
        if patches:
            known = set(reg.patches())
            unknown = sorted(set(patches) - known)
            if unknown:
                raise HearthError(f"unknown patch {', '.join(unknown)}; the registry has:"
                                  f" {', '.join(sorted(known))}")
            homes = [h for h in homes if h.patch in set(patches)]
        ids = {h.household_id for h in homes}
        devices = [d for d in reg.devices() if d.household_id in ids]
        return _rows(homes), _rows(devices), _rows(reg.tariffs())


def handler(args: argparse.Namespace, settings) -> int:
    import asyncio
    import json
    import re
    import signal
    import time
    from pathlib import Path

    import numpy as np

    from hearth.errors import HearthError
    from meters_sim.faults import FaultConfig
    from meters_sim.homes import Portfolio
    from meters_sim.model import Simulation
    from meters_sim.truth import TruthAccumulator
    from meters_sim.views import DeviceViews

    s = settings.sim
    seed = s.seed if args.seed is None else args.seed
    speed = s.speed if args.speed is None else args.speed
    fault_rate = s.fault_rate if args.fault_rate is None else args.fault_rate
    if speed <= 0:
        raise HearthError(f"--speed {speed}: give a positive factor (60 = a minute per second)")
    if fault_rate < 0:
        raise HearthError(f"--fault-rate {fault_rate}: give episodes per device per day, >= 0")
    if args.backfill < 0:
        raise HearthError(f"--backfill {args.backfill}: give a number of days >= 0")
    if args.households is not None and args.households < 1:
        raise HearthError(f"--households {args.households}: give at least 1")

    end_override_ns = backfill_end_ns(args, settings.influxdb.raw_retention_days, time.time_ns())

    homes, devices, tariffs = load_registry(settings, args.households, seed, args.patch)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tariffs = [{**t, "valid_from": str(t["valid_from"]),
                "valid_to": None if t.get("valid_to") is None else str(t["valid_to"])}
               for t in tariffs]
    try:
        pf = Portfolio.from_rows(homes, seed, tariffs, tariff_date=today)
        faults = FaultConfig(rate_per_device_day=fault_rate, slow_delay_s=s.slow_delay_s,
                             malformed_rate=s.malformed_rate)
        views = DeviceViews(devices, pf, seed, faults)
    except ValueError as exc:
        raise HearthError(f"cannot simulate the registry's homes: {exc}") from None

    now_ns = time.time_ns()
    truth_dir = Path(s.truth_dir)
    truth_dir.mkdir(parents=True, exist_ok=True)
    # Processes simulating different patches keep their files (and MQTT client ids) apart.
    part = "" if not args.patch else "-" + "-".join(
        re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_").lower() for p in sorted(set(args.patch)))
    state_path = truth_dir / f"state{part}.npz"
    fault_path = truth_dir / f"fault_state{part}.json"
    truth_backfill = truth_dir / f"truth_backfill{part}.json"
    truth_live = truth_dir / f"truth_live{part}.json"
    emission_path = Path(s.emission_log_path)
    emission_path = emission_path.with_name(f"{emission_path.stem}{part}{emission_path.suffix}")

    def checkpoint() -> None:
        sim.save_state(state_path)
        fault_path.write_text(json.dumps(views.fault_state()))
    if args.backfill > 0:
        from hearth.influx import InfluxClient
        from meters_sim.backfill import backfill

        interval_ns = s.backfill_interval_s * 1_000_000_000
        end_ns = end_override_ns if end_override_ns is not None else now_ns
        end_ns -= end_ns % interval_ns
        start_ns = end_ns - int(args.backfill * 86400) * 1_000_000_000
        sim = Simulation(pf, np.datetime64(start_ns, "ns"), s.step_s, seed)
        truth = TruthAccumulator(pf, step_s=s.step_s)
        # The money truth's lower bars for households on means-tested benefits (registry
        # column; meters_sim/truth_money.py), in the portfolio's row order.
        truth.extra["means_tested_benefits"] = benefits_of(homes)
        with InfluxClient.from_settings(settings) as client:
            client.ensure_database()
            res = backfill(client, sim, views, args.backfill, s.backfill_interval_s, truth)
        _write_truth(truth_backfill, truth.labels(views.schedule, views.injector.changed))
        checkpoint()
        print(f"backfill: {args.backfill:g} days, {res.points['meter']} meter,"
              f" {res.points['thermostat']} thermostat and {res.points['weather']} weather points"
              f" in {res.seconds:.1f} s; truth in {truth_backfill}")
    else:
        sim = _resume(pf, state_path, fault_path, views, seed, s.step_s, now_ns)
        if sim is None:
            start = s.start or np.datetime64(now_ns, "ns")
            sim = Simulation(pf, np.datetime64(str(start).replace("Z", ""), "ns"), s.step_s, seed)

    if args.duration_s is not None and args.duration_s <= 0:
        return 0

    truth = TruthAccumulator(pf, step_s=s.step_s)
    truth.extra["means_tested_benefits"] = benefits_of(homes)

    async def live() -> None:
        from meters_sim.live import LiveRunner

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        gateways = None
        if not args.no_modbus and (views.protocol == "modbus").any():
            gateways = await _start_gateways(devices, views, s.bind_host)
        publisher = None
        if not args.no_mqtt and (views.protocol == "mqtt").any():
            from meters_sim.mqtt_publisher import EmissionLog, MqttPublisher

            publisher = MqttPublisher.from_settings(
                settings, EmissionLog(emission_path), client_id=s.mqtt_client_id + part,
                device_ids=views.device_id[views.protocol == "mqtt"])  # only these homes' hubs
            await asyncio.to_thread(publisher.start)
        from meters_sim.weather_feed import WeatherFeed

        feed = WeatherFeed(settings)
        runner = LiveRunner(sim, views, speed, publisher, gateways, truth, s.interval_s,
                            checkpoint=checkpoint, max_lead_s=s.max_lead_s,
                            weather_sink=feed.put)
        print(f"sim: {pf.n} homes, {len(views.device_id)} devices, live at {speed:g}x from"
              f" {np.datetime64(sim.time_ns, 'ns').astype('datetime64[s]')} UTC"
              + (f"; {len(list(gateways))} Modbus gateways" if gateways else "")
              + ("; MQTT publishing" if publisher else ""), flush=True)
        try:
            stats = await runner.run(stop, args.duration_s)
        finally:
            if publisher is not None:
                await asyncio.to_thread(publisher.stop)
                publisher.log.close()
            if gateways is not None:
                await gateways.stop()
            await asyncio.to_thread(feed.close)
        print(f"sim: stopped after {stats.steps} steps; {stats.published} MQTT readings published")

    asyncio.run(live())
    _write_truth(truth_live, truth.labels(views.schedule, views.injector.changed))
    return 0


async def _start_gateways(devices, views, bind_host: str):
    from hearth.errors import HearthError
    from hearth.registermap import DEFAULT_MAPS_DIR, load_register_maps

    try:
        from meters_sim.modbus_gateway import gateways_for_devices
    except ModuleNotFoundError:
        log.warning("the Modbus gateway module is not in this build: Modbus meters stay silent")
        return None
    maps = load_register_maps(DEFAULT_MAPS_DIR)
    try:
        # Values, faults and the meters' clock (sim time) are asked of the views per request.
        group = gateways_for_devices(devices, views.values_for_device, maps, bind_host=bind_host,
                                     fault_of=views.fault_for_device, clock=views.clock_s)
    except ValueError as exc:
        raise HearthError(f"cannot serve the registry's Modbus meters: {exc}") from None
    try:
        await group.start()
    except OSError as exc:
        raise HearthError(f"cannot open a Modbus gateway port on {bind_host} ({exc}); another"
                          " `hearth sim` may be running") from exc
    return group


def backfill_end_ns(args: argparse.Namespace, raw_retention_days: float,
                    now_ns: int) -> int | None:
    """The backfill's end [ns since 1970, UTC] from `--end`, or None (now). A past period (a
    summer scored in December) is backfill only, and must fit the raw readings' retention:
    InfluxDB drops points older than it, which would lose the readings without a trace."""
    if getattr(args, "end", None) is None:
        return None
    from datetime import UTC, datetime

    from hearth.errors import HearthError

    try:
        end = datetime.fromisoformat(args.end.replace("Z", "+00:00"))
    except ValueError:
        raise HearthError(f"--end {args.end}: give an ISO date or time, e.g. 2026-08-15 or"
                          " 2026-08-15T12:00Z") from None
    end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    end_ns = int(end.timestamp()) * 1_000_000_000
    if args.backfill <= 0 or args.duration_s != 0:
        raise HearthError("--end: backfill only; give --backfill DAYS and --duration-s 0")
    if end_ns > now_ns:
        raise HearthError(f"--end {args.end}: in the future; give a time before now")
    oldest_ns = now_ns - int(raw_retention_days * 86400) * 1_000_000_000
    start_ns = end_ns - int(args.backfill * 86400) * 1_000_000_000
    if start_ns < oldest_ns:
        raise HearthError(f"--end {args.end} with --backfill {args.backfill:g}: the period"
                          f" starts more than [influxdb] raw_retention_days"
                          f" ({raw_retention_days:g}) before now, and InfluxDB would drop"
                          " those readings; raise raw_retention_days (e.g."
                          " HEARTH__INFLUXDB__RAW_RETENTION_DAYS=400) for a new database")
    return end_ns


def _resume(pf, state_path, fault_path, views, seed: int, step_s: int, now_ns: int):
    """Continue the homes of the last run (registers, credit, temperatures), caught up to now;
    None when there is no saved state for these homes, seed and step."""
    import json

    import numpy as np

    from meters_sim.model import Simulation

    sim = Simulation.resume(pf, state_path, seed, step_s)
    if sim is None:
        return None
    if fault_path.exists():
        views.restore_fault_state(json.loads(fault_path.read_text()))
    gap_s = (now_ns - sim.time_ns) / 1e9
    saved = np.datetime64(sim.time_ns, "ns").astype("datetime64[s]")
    if gap_s > 0:
        log.info("sim: continuing the homes saved at %s UTC; catching up %.1f hours", saved,
                 gap_s / 3600)
        sim.advance_to(now_ns)
    else:
        # A faster-than-real-time run left sim time ahead of the clock: carry on from there so
        # every device's timestamps keep increasing.
        log.info("sim: continuing the homes saved at %s UTC (ahead of the clock)", saved)
    return sim


def _write_truth(path, labels: dict) -> None:
    import json as _json

    path.write_text(_json.dumps(labels, indent=1))
