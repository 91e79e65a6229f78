"""Importers: data brought into Hearth from outside services rather than from devices.

- `hearth import weather` (importers/weather.py): hourly outdoor temperature per patch.
- `hearth import smart-meter` (importers/smart_meter.py): half-hourly consumption that SMETS2
  (and enrolled SMETS1) meters send through the DCC, from a consumer-access provider's API:
  n3rgy, Glowmarkt (Bright) or Octopus Energy; one module per provider, all with one small
  interface (importers/providers.py), HTTP with retries in importers/http.py.
"""
