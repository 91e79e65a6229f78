"""Collectors: the only way readings get in. Readers emit readings to a sink; they never
know about InfluxDB."""
