"""Simulated homes: meters, thermostats, Modbus gateways and MQTT publishers."""
