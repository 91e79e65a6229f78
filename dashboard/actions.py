"""What an officer can do to a case, checked against their patches before the advisor's
CaseStore records it (CaseStore writes case_events and audit_log with who and when).

The check is here, on the server, not only in the page: a case outside the user's patches
raises OutOfScopeError whatever the browser sends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard import data
from dashboard.auth import registry
from dashboard.fmt import uk_time
from dashboard.note_privacy import mask_note
from dashboard.users import User, UserStore

DISMISS_REASONS = ("Already known and being handled", "Tenant has moved out",
                   "Reading fault, not a real risk", "Tenant declined help", "Duplicate case",
                   "Other (see note)")


class ActionError(ValueError):
    """The action cannot be done as asked (the message says why, for the officer)."""


def _case_store(reg):
    from advisor.cases import CaseStore

    return CaseStore(reg)


def _checked(user: User, case_id: int) -> dict:
    rec = data.case(int(case_id), user.scope())
    if rec["status"] not in ("open", "acknowledged"):
        raise ActionError(f"Case {case_id} is already {rec['status']}; it cannot be changed.")
    return rec


def assignable_users(patch: str) -> list[User]:
    """Active accounts that may own a case on ``patch``: its officers, and managers."""
    with registry() as reg:
        users = UserStore(reg.conn).all()
    return [u for u in users if not u.disabled and u.role != "admin"
            and (u.sees_all_patches or patch in u.patches)]


def acknowledge(user: User, case_id: int) -> None:
    _checked(user, case_id)
    with registry() as reg:
        _case_store(reg).acknowledge(int(case_id), user.username)
    data.clear_case_caches()


def assign(user: User, case_id: int, to_username: str) -> None:
    rec = _checked(user, case_id)
    if to_username not in {u.username for u in assignable_users(rec["patch"])}:
        raise ActionError(f"{to_username} does not look after patch {rec['patch']}; choose an "
                          "officer of that patch or a manager.")
    with registry() as reg:
        _case_store(reg).assign(int(case_id), user.username, to_username)
    data.clear_case_caches()


def add_note(user: User, case_id: int, text: str) -> str | None:
    """Save a note with phone numbers, emails and the tenants' names masked; returns a warning
    for the officer saying what was taken out, or None."""
    rec = data.case(int(case_id), user.scope())
    text = text.strip()
    if not text:
        raise ActionError("Write the note first.")
    with registry() as reg:
        masked = _masked(reg, rec, text)
        _case_store(reg).add_note(int(case_id), user.username, masked.text)
    data.clear_case_caches()
    return masked.warning()


def _masked(reg, rec: dict, text: str):
    """``text`` without phone numbers, emails or the names of the case's household's tenants."""
    names = [r[0] for r in reg.conn.execute(
        "SELECT full_name FROM tenants WHERE household_id = ?", (rec["household_id"],))]
    return mask_note(text, names)


def resolve(user: User, case_id: int, note: str) -> str | None:
    """Resolve with the note masked as a case note is (it is kept as the close reason and in
    the case's history); returns the warning saying what was taken out, or None."""
    rec = _checked(user, case_id)
    if not note.strip():
        raise ActionError("Say what was done to resolve the case.")
    with registry() as reg:
        masked = _masked(reg, rec, note.strip())
        _case_store(reg).resolve(int(case_id), user.username, masked.text)
    data.clear_case_caches()
    return masked.warning()


def dismiss(user: User, case_id: int, reason: str, note: str = "") -> str | None:
    """Dismiss with the reason and the note masked; returns the warning, or None."""
    rec = _checked(user, case_id)
    if reason not in DISMISS_REASONS:
        raise ActionError("Choose a reason for dismissing the case.")
    if reason.startswith("Other") and not note.strip():
        raise ActionError("Say why in the note when the reason is 'Other'.")
    with registry() as reg:
        masked = _masked(reg, rec, note.strip())
        full = reason + (f": {masked.text}" if masked.text else "")
        _case_store(reg).dismiss(int(case_id), user.username, full)
    data.clear_case_caches()
    return masked.warning()


AWAAB_STEPS = {"made_safe": "Emergency hazard made safe",
               "investigate": "Investigation concluded",
               "written_summary": "Written summary sent to the tenant",
               "safety_work": "Safety work begun"}


def record_stage(user: User, case_id: int, done: str) -> None:
    """Record an Awaab's Law step as done; the advisor starts the next step's clock."""
    rec = _checked(user, case_id)
    # Any case on the clock: damp and mould, and since phase 2 excess cold (cold_home) and
    # excess heat, or an emergency (advisor/cases.py sets `stage` when the clock starts).
    if not isinstance(rec.get("stage"), str):     # NULL reads as None or NaN
        raise ActionError(f"Case {case_id} is not on an Awaab's Law clock: there is no step"
                          " to record.")
    if done not in AWAAB_STEPS:
        raise ActionError("Choose which step was done.")
    with registry() as reg:
        _case_store(reg).record_stage(int(case_id), user.username, done)
    data.clear_case_caches()


# -- tips to tenants (the advisor's templates, consent rules and senders) -----------------------

def tip_preview(user: User, case_id: int) -> tuple[str | None, str]:
    """(text, None-or-why-not): the exact text the tenant would get for this case, or why no
    text can go (no consent, opted out, no mobile, no tip for this kind of case)."""
    import json

    from advisor.notify.tips import (
        TIP_KINDS,
        personalisation,
        render,
        template_text,
        tip_for_case,
    )

    rec = data.case(int(case_id), user.scope())
    if rec["kind"] not in TIP_KINDS:
        return None, f"There is no tenant tip for {rec['kind'].replace('_', ' ')} cases."
    why = _why_no_tip(int(case_id), rec["household_id"])
    if why:
        return None, why
    s = data.settings().notifier
    # A money case texts its most urgent risk's tip (advisor/grouping.py).
    kind, evidence = tip_for_case(rec["kind"], json.loads(rec["evidence_json"] or "{}"),
                                  s.tip_kinds)
    text = render(template_text(kind, s), personalisation(kind, evidence, s))
    return text, ""


def _why_no_tip(case_id: int, household_id: str) -> str:
    """Why this case's tip cannot go, in words ("" when it can): one tip per case, and the
    tenant's consent and number (the dispatcher's own checks)."""
    from advisor.db import connection
    from advisor.notify.dispatch import TipDispatcher

    with registry() as reg:
        dispatcher = TipDispatcher(connection(reg), data.settings().notifier, None)
        sent_at = dispatcher.tip_sent_at(case_id)
        reason = None if sent_at else dispatcher.why_not_contactable(household_id)
    if sent_at:
        return f"A tip for this case was sent on {uk_time(sent_at)}; Hearth sends one tip per case."
    return {None: "", "no_tenant": "No tenant is recorded for this home.",
            "opted_out": "The tenant opted out of texts: do not text them.",
            "no_consent": "The tenant has not agreed to texts; ask them on your next contact.",
            "no_mobile": "The tenant has no mobile number on record."}.get(reason, str(reason))


def tip_outlook(user: User, case_id: int) -> tuple[bool, str]:
    """Before the Send button: (allowed now, what would happen, in words), from the
    dispatcher's own rules run without sending (quiet hours, the rate limit, one at a time)."""
    from advisor.db import connection
    from advisor.notify import TipDispatcher
    from advisor.notify.policy import quiet_until

    data.case(int(case_id), user.scope())
    s = data.settings().notifier
    with registry() as reg:
        summary = TipDispatcher(connection(reg), s, None).send_case(int(case_id), dry_run=True)
    if summary.total_sent():
        return True, "It goes now."
    if summary.deferred.get("quiet_hours"):
        until = quiet_until(datetime.now(UTC), s.timezone, s.quiet_start, s.quiet_end)
        return True, (f"Quiet hours ({s.quiet_start}-{s.quiet_end}): it will be held and sent at "
                      f"{uk_time(until)}.")
    if summary.deferred:
        return False, "A text for this case is already queued to go shortly."
    reason = next(iter(summary.skipped), "")
    return False, {
        "rate_limited": f"Not now: this tenant had a text less than {s.min_interval_h:g} hours ago "
                        f"(Hearth sends at most one text every {s.min_interval_h:g} hours).",
        "another_tip_first": "Not now: another of this home's tips goes first.",
        "already_sent": "This case's tip went already (one per case).",
        "case_not_open": "The case is no longer open.",
    }.get(reason, f"Not allowed: {reason.replace('_', ' ')}.")


def send_tip(user: User, case_id: int) -> str:
    """Send this case's tip now through the advisor's dispatcher (consent, opt-out, quiet
    hours and the rate limit still apply). Returns what happened, in words."""
    from advisor.db import connection
    from advisor.notify import TipDispatcher, make_sender

    rec = _checked(user, case_id)
    settings = data.settings()
    with registry() as reg:
        conn = connection(reg)
        dispatcher = TipDispatcher(conn, settings.notifier, make_sender(settings))
        summary = dispatcher.send_case(int(case_id))
        if summary.total_sent() and dispatcher.sender.name == "outbox":
            outcome = ("Tip written to the outbox: not sent to the tenant (no GOV.UK Notify"
                       " key).")
        elif summary.total_sent():
            outcome = "Tip sent."
        elif summary.deferred:
            outcome = ("Tip queued: it goes after quiet hours." if "quiet_hours" in
                       summary.deferred else "Tip queued to be sent shortly.")
        elif summary.skipped:
            reason = next(iter(summary.skipped))
            outcome = {"rate_limited": "Not sent: this tenant had a text recently.",
                       "already_sent": "Not sent: this case's tip went already (one per case).",
                       "case_not_open": "Not sent: the case is no longer open.",
                       }.get(reason, f"Not sent: {reason.replace('_', ' ')}.")
        else:
            outcome = "Not sent: the provider refused it (see Messages)."
        reg.audit(user.username, "case.tip_requested", f"case:{int(case_id)}",
                  {"household_id": rec["household_id"], "kind": rec["kind"],
                   "outcome": outcome})
    data.clear_case_caches()
    return outcome
