"""What an officer works from: one row per home with open cases, and the few counts that say
what to do first today. Pure functions on the frames dashboard.data returns (no I/O), so the
order is tested without a browser.

The order is the one an officer should act in: a passed or nearest deadline first, then the
highest urgency, then a household recorded as vulnerable, then the home with most open cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SEVERITY_RANK = {"emergency": 0, "high": 1, "medium": 2, "low": 3}
NEW_WITHIN = pd.Timedelta(hours=24)


def _utc(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values), utc=True, errors="coerce")


def homes_queue(cases: pd.DataFrame, last_contact: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per household with an open case, in the order to act on them.

    cases: open cases (dashboard.data.open_cases). last_contact: ``household_id``,
    ``last_contact_at`` (UTC), optional. Returns household_id, patch, estate, vulnerable,
    open_cases, kinds (tuple, most urgent first), severity (the highest), earliest_due (UTC or
    NaT), owners (tuple of usernames; empty when nobody owns any of them), last_contact_at."""
    columns = ["household_id", "patch", "estate", "vulnerable", "open_cases", "kinds", "severity",
               "earliest_due", "owners", "last_contact_at"]
    if cases.empty:
        return pd.DataFrame(columns=columns)
    c = cases.assign(_rank=cases["severity"].map(SEVERITY_RANK).fillna(9),
                     _due=_utc(cases["due_by"]).to_numpy())
    c = c.sort_values(["household_id", "_rank", "_due"], na_position="last")
    g = c.groupby("household_id", sort=False)
    homes = pd.DataFrame({
        "patch": g["patch"].first(),
        "estate": g["estate"].first(),
        "vulnerable": g["vulnerable"].max().fillna(0).astype(bool),
        "open_cases": g.size(),
        "kinds": g["kind"].agg(lambda k: tuple(dict.fromkeys(k))),
        "_rank": g["_rank"].min(),
        "earliest_due": g["_due"].min(),
        "owners": g["officer"].agg(lambda o: tuple(sorted({x for x in o if isinstance(x, str)}))),
    })
    homes["severity"] = homes["_rank"].map({v: k for k, v in SEVERITY_RANK.items()})
    homes = homes.reset_index()
    if last_contact is not None and not last_contact.empty:
        lc = last_contact.assign(last_contact_at=_utc(last_contact["last_contact_at"]).to_numpy())
        homes = homes.merge(lc[["household_id", "last_contact_at"]], on="household_id", how="left")
    else:
        homes["last_contact_at"] = pd.NaT
    homes = homes.sort_values(["earliest_due", "_rank", "vulnerable", "open_cases", "household_id"],
                              ascending=[True, True, False, False, True], na_position="last")
    return homes[columns].reset_index(drop=True)


@dataclass(frozen=True)
class Todo:
    """One line of "Start here": what to do, how many, and the risk-queue view that lists them."""

    key: str
    label: str
    count: int
    case_ids: tuple[int, ...]


def start_here(cases: pd.DataFrame, now: pd.Timestamp, day_end: pd.Timestamp,
               username: str | None = None) -> list[Todo]:
    """Today's to-do, in the order to do it: deadlines passed; deadlines due by ``day_end``
    (the end of the officer's day, UTC); emergencies nobody owns; the cases assigned to
    ``username``; cases opened in the last 24 hours. A case may count under more than one."""
    if cases.empty:
        ids = np.array([], dtype=int)
        due = sev = officer = opened = pd.Series([], dtype=object)
    else:
        ids = cases["case_id"].astype(int).to_numpy()
        due = _utc(cases["due_by"].to_numpy())
        sev = cases["severity"].reset_index(drop=True)
        officer = cases["officer"].reset_index(drop=True)
        opened = _utc(cases["opened_at"].to_numpy())
    picks = [
        ("overdue", "Deadlines passed: act on these first", (due <= now).to_numpy(bool)),
        ("due_today", "Deadlines due by the end of today",
         ((due > now) & (due <= day_end)).to_numpy(bool)),
        ("emergency_unowned", "Emergencies nobody owns yet: assign them",
         ((sev == "emergency") & officer.isna()).to_numpy(bool)),
        ("mine", "Open cases assigned to you",
         (officer == username).to_numpy(bool) if username else np.zeros(len(ids), bool)),
        ("new", "New in the last 24 hours", (opened > now - NEW_WITHIN).to_numpy(bool)),
    ]
    return [Todo(key, label, int(mask.sum()), tuple(int(i) for i in ids[mask]))
            for key, label, mask in picks]
