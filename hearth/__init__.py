"""Hearth: the shared package every room uses (settings, InfluxDB client, registry, CLI)."""

__version__ = "0.1.0"
