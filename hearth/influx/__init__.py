"""The one InfluxDB client (v1-compatible HTTP API): line protocol, writes, reads.

    client = InfluxClient.from_settings(settings)   # context manager; pooled HTTP session
    client.ensure_database()
    client.write_lines(lines) / client.write_points(points) -> WriteResult
    client.query("SELECT ...") -> list[Series]; client.usage_matrix(start, end) -> UsageMatrix
    lines_from_arrays(measurement, tags, fields, time_ns); BatchWriter(client)
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

__all__ = ["RAW_RP", "USAGE_RP", "BatchWriter", "DeadLetterFile", "InfluxClient",
           "LineProtocolError", "Point", "Series", "UsageMatrix", "WriteResult",
           "lines_from_arrays", "quote_ident", "quote_string", "to_ns"]
