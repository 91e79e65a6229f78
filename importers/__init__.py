"""Importers: data brought into Hearth from outside services rather than from devices.

`hearth import smart-meter` (importers/smart_meter.py) fetches half-hourly consumption that
SMETS2 (and some SMETS1) smart meters send through the DCC, from a consumer-access provider's
API: n3rgy, Glowmarkt (Bright) or Octopus Energy. One module per provider, all with one small
interface (importers/providers.py); HTTP with retries in importers/http.py.
"""
