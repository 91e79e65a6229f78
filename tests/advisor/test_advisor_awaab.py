"""Awaab's Law deadlines in working days: weekends, England and Wales bank holidays including
substitute days (Christmas, Boxing Day, New Year) and Easter, and the 24-hour emergency clock."""

from datetime import UTC, date, datetime

import pytest

from advisor.awaab import add_working_days, clock, is_working_day, working_deadline


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("start", "n", "expected"), [
    (date(2026, 11, 23), 1, date(2026, 11, 24)),   # Monday -> Tuesday
    (date(2026, 11, 27), 1, date(2026, 11, 30)),   # Friday -> Monday (weekend skipped)
    (date(2026, 11, 28), 1, date(2026, 11, 30)),   # Saturday -> Monday
    (date(2026, 11, 23), 10, date(2026, 12, 7)),   # two full weeks
    (date(2026, 11, 23), 0, date(2026, 11, 23)),
])
def test_weekends(start, n, expected):
    assert add_working_days(start, n) == expected


def test_christmas_2026_boxing_day_substitute_monday():
    # 25 Dec 2026 is a Friday, 26 Dec a Saturday: Boxing Day is observed on Monday 28 Dec.
    assert not is_working_day(date(2026, 12, 25))
    assert not is_working_day(date(2026, 12, 28))
    assert is_working_day(date(2026, 12, 29))
    # Thursday 24 Dec + 1 working day -> Tuesday 29 Dec.
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    # 10 working days from Friday 18 Dec: 21,22,23,24, 29,30,31, (1 Jan holiday) 4,5,6 Jan.
    assert add_working_days(date(2026, 12, 18), 10) == date(2027, 1, 6)


def test_christmas_2021_both_substitute_days():
    # 25 and 26 Dec 2021 fell on a weekend: substitute days Monday 27 and Tuesday 28 Dec.
    assert not is_working_day(date(2021, 12, 27))
    assert not is_working_day(date(2021, 12, 28))
    assert add_working_days(date(2021, 12, 24), 1) == date(2021, 12, 29)


def test_easter_2026_good_friday_and_easter_monday():
    # Good Friday 3 Apr, Easter Monday 6 Apr 2026.
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    # Written summary: 3 working days after an investigation concluded Wednesday 1 Apr.
    assert add_working_days(date(2026, 4, 1), 3) == date(2026, 4, 8)


def test_easter_2027_in_march():
    # Good Friday 26 Mar, Easter Monday 29 Mar 2027.
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)


def test_deadline_is_end_of_uk_local_day_in_utc():
    # Winter (GMT): end of day 23:59:59Z. Summer (BST): 22:59:59Z.
    assert working_deadline(utc(2026, 11, 23, 10), 1) == utc(2026, 11, 24, 23, 59, 59)
    assert working_deadline(utc(2026, 6, 1, 10), 1) == utc(2026, 6, 2, 22, 59, 59)
    # 23:30 UTC on Sunday 31 May is 00:30 BST on Monday 1 June: the UK day counts.
    assert working_deadline(utc(2026, 5, 31, 23, 30), 1) == utc(2026, 6, 2, 22, 59, 59)


def test_significant_hazard_clock():
    c = clock(utc(2026, 12, 18, 9), emergency=False)
    assert set(c) == {"investigate", "written_summary", "safety_work"}
    assert c["investigate"] == utc(2027, 1, 6, 23, 59, 59)
    assert c["written_summary"] == utc(2027, 1, 11, 23, 59, 59)  # 3 working days later
    assert c["safety_work"] == utc(2027, 1, 13, 23, 59, 59)      # 5 working days later


def test_summary_counts_from_the_investigation_conclusion():
    c = clock(utc(2026, 3, 30, 9), emergency=False, investigated_at=utc(2026, 4, 2, 15))
    # Concluded Thursday 2 Apr: Good Friday and Easter Monday are not working days.
    assert c["written_summary"] == utc(2026, 4, 9, 22, 59, 59)
    assert c["safety_work"] == utc(2026, 4, 13, 22, 59, 59)


def test_emergency_is_24_hours_including_holidays():
    c = clock(utc(2026, 12, 24, 18), emergency=True)
    assert c["made_safe"] == utc(2026, 12, 25, 18)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        working_deadline(datetime(2026, 1, 5), 1)
