"""Simulated homes: physics and behaviour of a portfolio (model), what devices report (views),
faults, ground truth, and the Modbus/MQTT/backfill edges that feed the collectors.

Quick use::

    from meters_sim.homes import Portfolio
    from meters_sim.model import Simulation
    from meters_sim.views import DeviceViews

    pf = Portfolio.from_rows(household_rows, seed=42)          # registry `households` rows
    sim = Simulation(pf, start="2026-01-05T00:00", step_s=60, seed=42)
    views = DeviceViews(device_rows, pf, seed=42)               # registry `devices` rows
    sim.advance(10); views.update(sim)
    views.values_for_unit(gateway_port, unit_id)                # {field: value} for a gateway
"""
