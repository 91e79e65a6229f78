"""Scheduled batch reports: the weekly report (HTML, PDF, CSV) and the monthly open data.

Layout: `period` (the week's UK days as UTC instants), `inputs` (I/O: registry, InfluxDB,
var/ files into frames and arrays), `tables` (pure functions from inputs to the report's
tables), `charts`, `render` (HTML and CSV), `pdf` (headless Chromium), `weekly` (the run),
`opendata` (aggregation with suppression) and `opendata_export` (its I/O).
"""
