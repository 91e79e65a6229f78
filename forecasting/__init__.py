"""Forecasting: a vectorised forecaster of every household's half-hourly and daily energy use.

The numeric core (``forecasting.core``) works on ``(households, steps)`` arrays with no Python
loop over households; the I/O (InfluxDB, CSV, the var/ cache) lives at the edges.
"""
