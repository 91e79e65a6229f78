"""The one InfluxDB client (v1-compatible HTTP API): line protocol, writes, reads.

    client = InfluxClient.from_settings(settings)   # context manager; pooled HTTP session
    client.ensure_database()
    client.write_lines(lines) / client.write_points(points) -> WriteResult
    client.query("SELECT ...") -> list[Series]; client.usage_matrix(start, end) -> UsageMatrix
    lines_from_arrays(measurement, tags, fields, time_ns); BatchWriter(client)
    usage_lines(household, fuel, energy_kwh, time_ns)  # usage_30m + its usage_day rollup
"""

from hearth.influx.batch import BatchWriter
from hearth.influx.client import (
           RAW_RP,
           USAGE_RP,
           InfluxClient,
           WriteResult,
           quote_ident,
           quote_string,
)
from hearth.influx.deadletter import DeadLetterFile
from hearth.influx.lineproto import LineProtocolError, Point, lines_from_arrays
from hearth.influx.reader import Series, UsageMatrix, to_ns
from hearth.influx.usage import (
           IMPORT_30M,
           SLOT_FIELDS,
           USAGE_30M,
           USAGE_DAY,
           usage_day_lines,
           usage_lines,
)

__all__ = ["IMPORT_30M", "RAW_RP", "SLOT_FIELDS", "USAGE_30M", "USAGE_DAY", "USAGE_RP", "BatchWriter",
           "DeadLetterFile", "InfluxClient", "LineProtocolError", "Point", "Series",
           "UsageMatrix", "WriteResult", "lines_from_arrays", "quote_ident", "quote_string",
           "to_ns", "usage_day_lines", "usage_lines"]
