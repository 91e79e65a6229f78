"""`hearth sim --backfill DAYS --end ISO`: a past period (a summer scored in December), backfill
only, and never older than the raw readings' retention (InfluxDB would drop those points)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from hearth.errors import HearthError
from meters_sim.cli import backfill_end_ns

NOW_NS = int(datetime(2026, 12, 3, 17, 0, tzinfo=UTC).timestamp()) * 10**9


def _args(end, backfill=14.0, duration_s=0.0):
    return argparse.Namespace(end=end, backfill=backfill, duration_s=duration_s)


def test_no_end_is_now():
    assert backfill_end_ns(_args(None), 90, NOW_NS) is None


def test_a_summer_date_is_its_utc_midnight():
    got = backfill_end_ns(_args("2026-08-15"), 400, NOW_NS)
    assert got == int(datetime(2026, 8, 15, tzinfo=UTC).timestamp()) * 10**9
    z = backfill_end_ns(_args("2026-08-15T12:30Z"), 400, NOW_NS)
    assert z == got + int(12.5 * 3600) * 10**9


@pytest.mark.parametrize("args, words", [
    (_args("15/08/2026"), "give an ISO date"),
    (_args("2027-01-01"), "in the future"),
    (_args("2026-08-15", backfill=0), "backfill only"),
    (_args("2026-08-15", duration_s=None), "backfill only"),
    (_args("2026-08-15"), "raw_retention_days (90)"),     # August is > 90 days before December
])
def test_bad_ends_are_refused_with_a_reason(args, words):
    with pytest.raises(HearthError, match=words.replace("(", r"\(").replace(")", r"\)")):
        backfill_end_ns(args, 90, NOW_NS)
