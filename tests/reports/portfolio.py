"""A small portfolio with known data in a real registry and the real test InfluxDB, for the
report, open data and tenant-rights tests. Every figure the tests expect follows from the
constants here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from advisor.reports.period import local_midnight_ns, same_week_last_year, week_ending
from hearth.influx import USAGE_RP, InfluxClient, lines_from_arrays, usage_lines
from hearth.registry import Registry

WEEK_END = date(2026, 1, 11)          # Sunday; the week is Mon 5 to Sun 11 January 2026
WEEK = week_ending(WEEK_END)
LAST_YEAR = same_week_last_year(WEEK)
HH_NS = 30 * 60 * 10**9
DAY_NS = 86_400 * 10**9
FORECAST_FIRST = np.datetime64("2026-01-12")
NAMES = {"T001a": "Alice Example", "T001b": "Bob Example", "T002a": "Carol Sample"}
MOBILES = {"T001a": "+447700900123", "T001b": "+447700900456", "T002a": "+447700900789"}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_week(day: int, hour: int = 12) -> datetime:
    """A time on day ``day`` (0 = Monday) of the report's week, UK time = UTC in January."""
    return datetime(2026, 1, 5, hour, tzinfo=UTC) + timedelta(days=day)


@dataclass
class Home:
    household_id: str
    patch: str
    estate: str
    area: str
    property_type: str
    payment_type: str
    has_gas: bool
    elec_kwh_hh: float            # this week, every half hour [kWh]
    elec_kwh_hh_last: float       # same week last year [kWh]
    gas_kwh_hh: float = 0.0
    gas_kwh_hh_last: float = 0.0
    forecast_elec_kwh_day: float = 8.0
    forecast_gas_kwh_day: float = 30.0
    credit_gbp: dict = field(default_factory=dict)


def homes() -> list[Home]:
    out = []
    for i in range(12):   # North: one block of 12 flats
        out.append(Home(f"H{i + 1:03d}", "North", "Alder Park", "Beech House", "flat",
                        "prepayment" if i % 3 == 0 else "credit", has_gas=i % 2 == 0,
                        elec_kwh_hh=0.1 * (1 + i % 3), elec_kwh_hh_last=0.12 * (1 + i % 3),
                        gas_kwh_hh=0.5 if i % 2 == 0 else 0.0,
                        gas_kwh_hh_last=0.6 if i % 2 == 0 else 0.0))
    for i in range(5):    # South: a street of 5 houses
        out.append(Home(f"H{101 + i}", "South", "Birch Row", "Rowan Close", "house",
                        "prepayment" if i < 2 else "credit", has_gas=True,
                        elec_kwh_hh=0.2, elec_kwh_hh_last=0.2, gas_kwh_hh=0.8,
                        gas_kwh_hh_last=0.8))
    # Prepayment balances at the week's end [GBP].
    out[0].credit_gbp = {"electricity": 10.0, "gas": 100.0}   # H001: electricity runs out soon
    out[3].credit_gbp = {"electricity": 200.0}                 # H004: plenty
    out[12].credit_gbp = {"electricity": 2.0, "gas": -1.0}     # H101: nearly empty / in debt
    out[13].credit_gbp = {"electricity": 50.0, "gas": 60.0}    # H102
    return out


TARIFFS = [  # (id, fuel, payment, unit GBP/kWh, standing GBP/day, from, to)
    ("E-C-2025", "electricity", "credit", 0.25, 0.50, "2024-01-01", "2026-01-19"),
    ("E-C-2026", "electricity", "credit", 0.30, 0.55, "2026-01-20", None),
    ("E-P-2025", "electricity", "prepayment", 0.24, 0.48, "2024-01-01", None),
    ("G-C-2025", "gas", "credit", 0.06, 0.30, "2024-01-01", None),
    ("G-P-2025", "gas", "prepayment", 0.058, 0.28, "2024-01-01", None),
]


def write_registry(path) -> list[Home]:
    hs = homes()
    with Registry(path) as reg, reg.transaction() as conn:
        conn.executemany(
            "INSERT INTO households (household_id, patch, estate, address_area, property_type,"
            " bedrooms, floor_area_m2, payment_type, has_gas, heating, epc_band,"
            " means_tested_benefits, vulnerable, vulnerability_notes, occupancy, occupants,"
            " tenancy_start) VALUES (?,?,?,?,?,2,60,?,?,?,'D',1,?,?,'home_all_day',2,'2020-01-01')",
            [(h.household_id, h.patch, h.estate, h.area, h.property_type, h.payment_type,
              int(h.has_gas), "gas" if h.has_gas else "electric", int(h.household_id == "H001"),
              "uses a wheelchair; oxygen concentrator" if h.household_id == "H001" else "")
             for h in hs])
        conn.executemany(
            "INSERT INTO tenants (tenant_id, household_id, full_name, mobile, sms_consent,"
            " sms_consent_at, sms_consent_source, share_with_supplier) VALUES (?,?,?,?,?,?,?,?)",
            [("T001a", "H001", NAMES["T001a"], MOBILES["T001a"], 1, "2024-05-01T10:00:00Z",
              "tenancy_signup", 1),
             ("T001b", "H001", NAMES["T001b"], MOBILES["T001b"], 0, None, None, 0),
             ("T002a", "H002", NAMES["T002a"], MOBILES["T002a"], 1, "2024-06-01T10:00:00Z",
              "web_form", 0)])
        conn.executemany("INSERT INTO consent_log (tenant_id, at, event, source, actor)"
                         " VALUES (?,?,?,?,?)",
                         [("T001a", "2024-05-01T10:00:00Z", "granted", "tenancy_signup", "import"),
                          ("T002a", "2024-06-01T10:00:00Z", "granted", "web_form", "import"),
                          ("T002a", iso(in_week(2)), "opted_out", "text_reply", "advisor")])
        conn.execute("UPDATE tenants SET opted_out_at = ? WHERE tenant_id = 'T002a'",
                     (iso(in_week(2)),))
        devs = []
        for h in hs:
            devs.append((f"{h.household_id}-EM1", h.household_id, "electricity_meter", None, 60))
            if h.has_gas:
                devs.append((f"{h.household_id}-GM1", h.household_id, "gas_meter", None, 1800))
            devs.append((f"{h.household_id}-TH1", h.household_id, "thermostat", "living_room", 300))
        conn.executemany(
            "INSERT INTO devices (device_id, household_id, kind, protocol, mqtt_topic, room,"
            " interval_s) VALUES (?, ?, ?, 'mqtt', 'hearth/' || ? || '/' || ? || '/' || ?, ?, ?)",
            [(d, hh, k, hh, d, k, room, iv) for d, hh, k, room, iv in devs])
        conn.executemany("INSERT INTO tariffs VALUES (?,?,?,?,?,?,?)", TARIFFS)
        _cases(conn)
    return hs


def _cases(conn) -> None:
    """Cases (0002 tables): opened, open, closed; Awaab's Law deadlines met and missed."""
    rows = [  # case_id, household, kind, severity, status, opened, closed, due_by, stage
        (1, "H001", "credit_runout", "high", "open", iso(in_week(1)), None, None, None),
        (2, "H002", "cold_home", "medium", "resolved", iso(in_week(-10)), iso(in_week(3)), None,
         None),
        # cold_home (HHSRS excess cold, Awaab's Law phase 2): investigation due Wed 7th, not
        # done (missed): phase 2 hazards count in the report like damp and mould.
        (3, "H003", "cold_home", "medium", "open", iso(in_week(-3)), None,
         "2026-01-07T23:59:59Z", "investigate"),
        (4, "H101", "bill_shock", "low", "dismissed", iso(in_week(0)), iso(in_week(4)), None, None),
        # damp_mould: investigation due Thu, done Wed (met); then safety work due Sun, not done.
        (5, "H005", "damp_mould", "high", "open", iso(in_week(-12)), None,
         "2026-01-11T23:59:59Z", "safety_work"),
        # damp_mould: investigation due Fri 9th, not done at all (missed).
        (6, "H102", "damp_mould", "high", "open", iso(in_week(-14)), None,
         "2026-01-09T23:59:59Z", "investigate"),
        # Emergency damp and mould (made safe within 24 hours, advisor/awaab.py): resolved the
        # same evening without the made_safe step recorded: missed, not met.
        (8, "H007", "damp_mould", "emergency", "resolved", iso(in_week(1, 10)),
         iso(in_week(1, 18)), "2026-01-07T10:00:00Z", "made_safe"),
        # Emergency made safe in 6 hours (met); the investigation it starts is due after the week.
        (9, "H008", "damp_mould", "emergency", "open", iso(in_week(2, 8)), None,
         "2026-01-22T23:59:59Z", "investigate"),
        # Outside the report: deadline next week.
        (7, "H006", "damp_mould", "high", "open", iso(in_week(4)), None,
         "2026-01-19T23:59:59Z", "investigate"),
    ]
    conn.executemany("INSERT INTO cases (case_id, household_id, kind, severity, score, reasons,"
                     " opened_at, updated_at, closed_at, due_by, stage, status) VALUES"
                     " (?,?,?,?,50,'test',?,?,?,?,?,?)",
                     [(c, h, k, sev, o, o, cl, due, st, status)
                      for c, h, k, sev, status, o, cl, due, st in rows])
    events = [  # case, at, actor, action, detail, the Awaab's Law deadline set (due_by, stage)
        (1, iso(in_week(1)), "advisor", "opened", "high: credit", None, None),
        (2, iso(in_week(-10)), "advisor", "opened", "medium: cold", None, None),
        (2, iso(in_week(3)), "jbloggs", "resolved", "heating fixed", None, None),
        (3, iso(in_week(-3)), "advisor", "opened",
         "medium: cold (due by 2026-01-07T23:59:59Z, investigate)", "2026-01-07T23:59:59Z",
         "investigate"),
        (4, iso(in_week(0)), "advisor", "opened", "low", None, None),
        (4, iso(in_week(4)), "jbloggs", "dismissed", "expected", None, None),
        (5, iso(in_week(-12)), "advisor", "opened",
         "high: damp (due by 2026-01-08T23:59:59Z, investigate)", "2026-01-08T23:59:59Z",
         "investigate"),
        (5, iso(in_week(2)), "jbloggs", "stage",
         "investigate done; next: safety_work due by 2026-01-11T23:59:59Z",
         "2026-01-11T23:59:59Z", "safety_work"),
        (5, iso(in_week(2, 15)), "jbloggs", "note", "Spoke to Alice Example on 07700 900123",
         None, None),
        (6, iso(in_week(-14)), "advisor", "opened",
         "high: damp (due by 2026-01-09T23:59:59Z, investigate)", "2026-01-09T23:59:59Z",
         "investigate"),
        (8, iso(in_week(1, 10)), "advisor", "opened",
         "emergency: damp (due by 2026-01-07T10:00:00Z, made_safe)", "2026-01-07T10:00:00Z",
         "made_safe"),
        (8, iso(in_week(1, 18)), "jbloggs", "resolved", "tenant says it is fine", None, None),
        (9, iso(in_week(2, 8)), "advisor", "opened",
         "emergency: damp (due by 2026-01-08T08:00:00Z, made_safe)", "2026-01-08T08:00:00Z",
         "made_safe"),
        (9, iso(in_week(2, 14)), "jbloggs", "stage",
         "made_safe done; next: investigate due by 2026-01-22T23:59:59Z",
         "2026-01-22T23:59:59Z", "investigate"),
        (7, iso(in_week(4)), "advisor", "opened",
         "high: damp (due by 2026-01-19T23:59:59Z, investigate)", "2026-01-19T23:59:59Z",
         "investigate"),
    ]
    conn.executemany("INSERT INTO case_events (case_id, at, actor, action, detail, due_by, stage)"
                     " VALUES (?,?,?,?,?,?,?)", events)
    sms = [  # household, case, template, sent_at, sender, status, skip_reason, body, created
        ("H001", 1, "credit_runout", iso(in_week(1, 13)), "outbox", "delivered", None,
         "Hi Alice Example, your credit is low. Reply STOP to stop.", iso(in_week(1, 13))),
        ("H001", 1, "credit_runout", iso(in_week(2, 13)), "outbox", "permanent-failure", None,
         "Hi Alice, top up soon.", iso(in_week(2, 13))),
        ("H002", 2, "cold_home", None, None, "skipped", "opted_out", None, iso(in_week(3))),
        ("H101", 4, "bill_shock", iso(in_week(-3)), "outbox", "delivered", None, "old",
         iso(in_week(-3))),
        # Not tips sent: a line only written to the outbox (reached no one), and the answer
        # to a STOP reply.
        ("H002", 2, "cold_home", iso(in_week(4, 10)), "outbox", "outbox", None, "tip",
         iso(in_week(4, 10))),
        ("H001", None, "stop_confirmation", iso(in_week(3, 10)), "notify", "sending", None,
         "no more texts", iso(in_week(3, 10))),
    ]
    conn.executemany("INSERT INTO sms_log (household_id, case_id, template, sent_at, sender,"
                     " status, skip_reason, body, created_at) VALUES (?,?,?,?,?,?,?,?,?)", sms)
    # A reply to a tip, in the tenant's own words (two-way SMS): personal data to erase.
    conn.execute("INSERT INTO sms_replies (reply_id, received_at, processed_at, household_id,"
                 " tenant_id, kind, action, content) VALUES (?, ?, ?, 'H001', 'T001a', 'other',"
                 " 'for_officer', 'This is Alice Example, please ring me')",
                 ("4c5e3d0a-8a51-4d0e-9a57-0c4c52f0e7a1", iso(in_week(3, 9)), iso(in_week(3, 9))))


def write_influx(settings, hs: list[Home]) -> None:
    with InfluxClient.from_settings(settings) as client:
        client.ensure_database()
        lines = []
        for period, attr in ((WEEK, ""), (LAST_YEAR, "_last")):
            times = period.start_ns + np.arange(period.days * 48, dtype=np.int64) * HH_NS
            for h in hs:
                for fuel in ("electricity", "gas"):
                    if fuel == "gas" and not h.has_gas:
                        continue
                    kwh = getattr(h, ("elec" if fuel == "electricity" else "gas") + "_kwh_hh" + attr)
                    t = times
                    if h.household_id == "H011" and not attr:
                        t = times[: 48 * 3]           # only three days this week
                    lines += usage_lines(h.household_id, fuel, np.full(t.size, kwh), t)
            # Weather: hourly; Beech House 5 C this week and 3 C last year; Rowan Close only now.
            hours = period.start_ns + np.arange(period.days * 24, dtype=np.int64) * 2 * HH_NS
            lines += lines_from_arrays("weather", {"area": "Beech House"},
                                       {"temp_c": np.full(hours.size, 5.0 if not attr else 3.0)},
                                       hours)
            if not attr:
                lines += lines_from_arrays("weather", {"area": "Rowan Close"},
                                           {"temp_c": np.full(hours.size, 7.0)}, hours)
        weather = [x for x in lines if x.startswith("weather")]
        client.write_lines([x for x in lines if not x.startswith("weather")], USAGE_RP)
        client.write_lines(weather[: len(weather) // 2])             # this week: raw RP
        client.write_lines(weather[len(weather) // 2:], USAGE_RP)     # last year kept long
        # Raw readings: every device twice a day; H012's devices stop on Tuesday; H010-TH1 never.
        # Sunday's last reading, minutes before the week's end, against each device's own
        # interval (silent after 3 intervals, at least 15 minutes): EM1 (60 s) and TH1 (300 s)
        # at 23:50, heard; GM1 (1800 s) at 22:40, 80 minutes before the end, heard; H011-EM1 at
        # 23:40, 20 minutes before the end: silent (a 6-hour rule would call it heard).
        raw = []
        end = local_midnight_ns(WEEK.last_day + timedelta(days=1))
        last_min = {"EM1": 10, "GM1": 80, "TH1": 10}
        for h in hs:
            for d in range(7):
                if h.household_id == "H012" and d > 1:
                    continue
                t = np.array([local_midnight_ns(WEEK.first_day + timedelta(days=d)) + 6 * 3600e9,
                              local_midnight_ns(WEEK.first_day + timedelta(days=d)) + 20 * 3600e9],
                             dtype=np.int64)

                def at(dev: str, t=t, d=d, h=h) -> np.ndarray:
                    if d < 6:
                        return t
                    mins = 20 if (h.household_id, dev) == ("H011", "EM1") else last_min[dev]
                    return np.append(t, end - mins * 60 * 10**9)

                for fuel, dev in (("electricity", "EM1"), ("gas", "GM1")):
                    if fuel == "gas" and not h.has_gas:
                        continue
                    n = len(at(dev))
                    fields = {"energy_kwh": 100.0 + d + 0.5 * np.arange(n)}
                    if fuel in h.credit_gbp:
                        fields["credit_gbp"] = np.full(n, h.credit_gbp[fuel] + (6 - d))
                    raw += lines_from_arrays("meter", {"household": h.household_id,
                                                       "device": f"{h.household_id}-{dev}",
                                                       "fuel": fuel, "source": "mqtt"}, fields,
                                             at(dev))
                if h.household_id != "H010":
                    raw += lines_from_arrays("thermostat", {"household": h.household_id,
                                                            "device": f"{h.household_id}-TH1",
                                                            "room": "living_room"},
                                             {"temp_c": 19.0 + np.arange(len(at("TH1")))},
                                             at("TH1"))
        client.write_lines(raw)
        # Daily forecasts for the 30 days after the week.
        days = (FORECAST_FIRST + np.arange(30)).astype("datetime64[ns]").astype(np.int64)
        fc = []
        for h in hs:
            fc += lines_from_arrays("forecast_daily", {"household": h.household_id,
                                                       "fuel": "electricity", "model": "hearth"},
                                    {"energy_kwh": np.full(30, h.forecast_elec_kwh_day)}, days)
            if h.has_gas:
                fc += lines_from_arrays("forecast_daily", {"household": h.household_id,
                                                           "fuel": "gas", "model": "hearth"},
                                        {"energy_kwh": np.full(30, h.forecast_gas_kwh_day)}, days)
        client.write_lines(fc, USAGE_RP)


def write_var_files(settings) -> None:
    """Dead letters (2 this week, 1 before) and scheduled job runs (1 failed this week)."""
    from hearth.schedule import RunStore

    dl = settings.collectors.dead_letter_dir
    dl.mkdir(parents=True, exist_ok=True)
    with open(dl / "influx.jsonl", "w") as fh:
        for t in (in_week(1), in_week(5), in_week(-2)):
            fh.write(json.dumps({"time": t.isoformat(), "line": "x", "error": "type"}) + "\n")
    store = RunStore(settings.schedule.state_path)
    run = store.start("forecast", in_week(2, 1), 3, in_week(2, 1))
    store.finish(run, "failed", in_week(2, 2), 30.0, "InfluxDB unreachable")
    ok = store.start("advise", in_week(3, 1), 1, in_week(3, 1))
    store.finish(ok, "succeeded", in_week(3, 1), 3.0)
    old = store.start("advise", in_week(-3, 1), 1, in_week(-3, 1))
    store.finish(old, "failed", in_week(-3, 1), 3.0, "old failure")


def build(settings) -> list[Home]:
    hs = write_registry(settings.registry.target)
    write_influx(settings, hs)
    write_var_files(settings)
    return hs
