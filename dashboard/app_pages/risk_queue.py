"""Risk queue: open cases, most urgent first, with reasons, due dates and owners; filter and
search; act on a case (acknowledge, assign, note, resolve, dismiss, text a tip); export CSV."""

import pandas as pd
import streamlit as st

from dashboard import actions, data
from dashboard.auth import audit
from dashboard.fmt import (
    STAGE_LABEL,
    STATUS_LABEL,
    due_words,
    kind_label,
    md_text,
    severity_label,
    uk_time,
)
from dashboard.ui import open_household, require_user, scope_picker
from hearth.csv_export import iso_utc, spreadsheet_csv


def earlier_case(case_id: int) -> None:
    """The closed case a reopened case came from: what it said, how it was closed, its
    history (issue 15: the officer sees what was done last time)."""
    try:
        old = data.case(case_id, scope)
    except data.OutOfScopeError:
        st.warning(f"Case {case_id} is not on your patches.")
        return
    with st.container(border=True):
        st.markdown(f"**Case {case_id}** · {kind_label(old['kind'])} ·"
                    f" {severity_label(old['severity'])} ·"
                    f" {STATUS_LABEL.get(old['status'], old['status'])}")
        st.markdown(md_text(old["reasons"]))
        lines = [f"**Opened:** {uk_time(old['opened_at'])}"]
        if isinstance(old["closed_at"], str):
            lines.append(f"**Closed:** {uk_time(old['closed_at'])}: "
                         f"{md_text(old['close_reason'] or '')}")
        st.markdown("  \n".join(lines))
        for e in data.case_events((case_id,)).itertuples():
            st.markdown(f"- {uk_time(e.at)} · **{md_text(e.actor)}** · {e.action.replace('_', ' ')}"
                        + (f": {md_text(e.detail)}" if e.detail else ""))


user = require_user()
st.title("Risk queue")
st.caption("Open cases, most urgent first: emergencies, then overdue and soonest due, then the "
           "highest risk score. Pick a case below the table to act on it.")
scope = scope_picker(user, "queue_patches", data.all_patches())
cases = data.open_cases(scope)

f1, f2, f3, f4 = st.columns([2, 2, 1.4, 2])
kinds = f1.multiselect("Kind", sorted(cases["kind"].unique()), format_func=kind_label,
                       placeholder="All kinds")
sevs = f2.multiselect("Urgency", ["emergency", "high", "medium", "low"],
                      format_func=severity_label, placeholder="Any urgency")
owner = f3.selectbox("Owner", ["Anyone", "Mine", "Unassigned"])
search = f4.text_input("Search", placeholder="Home id, estate or words in the reason")

view = cases
preset = st.session_state.get("queue_preset")  # from "Start here" on the Overview
if preset:
    label, preset_ids = preset
    note, clear = st.columns([5, 1.2])
    note.info(f"Showing: {label} ({len(preset_ids)} case{'s' if len(preset_ids) != 1 else ''}).")
    if clear.button("Show every case", key="queue_preset_clear"):
        st.session_state.pop("queue_preset", None)
        st.rerun()
    view = view[view["case_id"].astype(int).isin(preset_ids)]
if kinds:
    view = view[view["kind"].isin(kinds)]
if sevs:
    view = view[view["severity"].isin(sevs)]
if owner == "Mine":
    view = view[view["officer"] == user.username]
elif owner == "Unassigned":
    view = view[view["officer"].isna()]
if search.strip():
    s = search.strip().lower()
    view = view[view["household_id"].str.lower().str.contains(s, regex=False)
                | view["estate"].str.lower().str.contains(s, regex=False)
                | view["reasons"].str.lower().str.contains(s, regex=False)]


def case_table(due, opened, due_title: str = "Due", opened_title: str = "Opened") -> pd.DataFrame:
    """The cases shown, with times written by ``due`` and ``opened`` (words on screen,
    absolute UTC times in the export: "due in 5 hours" is wrong by tomorrow)."""
    return pd.DataFrame({
        "Case": view["case_id"].astype(int),
        "Urgency": view["severity"].map(severity_label),
        "Kind": view["kind"].map(kind_label),
        due_title: [due(d) for d in view["due_by"]],
        "Home": view["household_id"],
        "Status": view["status"].map(STATUS_LABEL),
        "Owner": view["officer"].fillna("Unassigned"),
        "Why": view["reasons"],
        "Estate": view["estate"],
        "Patch": view["patch"],
        opened_title: [opened(t) for t in view["opened_at"]],
    })


table = case_table(due_words, uk_time)
st.write(f"**{len(view):,}** of {len(cases):,} open cases shown.")
st.dataframe(table, hide_index=True, width="stretch", height=min(36 * (len(table) + 1) + 3, 420),
             column_config={"Why": st.column_config.TextColumn(width="large"),
                            "Due": st.column_config.TextColumn(width="medium"),
                            "Case": st.column_config.NumberColumn(format="%d")})


def _export() -> None:
    audit(user.username, "exported_cases_csv", "cases", {"rows": len(view), "scope": scope})


export = case_table(iso_utc, iso_utc, "Due by (UTC)", "Opened (UTC)")
st.download_button("Export these cases (CSV)", spreadsheet_csv(export),
                   file_name="hearth_risk_queue.csv", mime="text/csv", on_click=_export)

if view.empty:
    st.stop()

with st.expander("Act on several cases at once", expanded="bulk_done" in st.session_state):
    bulk_labels = {int(r.case_id): f"Case {int(r.case_id)} · {r.household_id} · "
                   f"{kind_label(r.kind)} · {severity_label(r.severity)}" for r in view.itertuples()}
    chosen = st.multiselect("Cases", list(bulk_labels), format_func=bulk_labels.get,
                            key="bulk_cases", placeholder="Pick cases from the table above")
    if st.checkbox("Pick every case shown", key="bulk_all"):
        chosen = list(bulk_labels)
    b_ack, b_to, b_assign = st.columns([1.4, 2, 1.2])
    patches = sorted(view.loc[view["case_id"].astype(int).isin(chosen), "patch"].unique())
    # Only people who may see every chosen case's patch can be given them all.
    people = [u.username for u in actions.assignable_users(patches[0])
              if all(u.sees_all_patches or p in u.patches for p in patches)] if patches else []
    to = b_to.selectbox("Assign the picked cases to", people, key="bulk_to", disabled=not people)

    def run_bulk(action, *args, verb: str) -> None:
        done, refused = 0, []
        for cid in chosen:
            try:
                action(user, int(cid), *args)
                done += 1
            except (actions.ActionError, data.OutOfScopeError) as exc:
                refused.append(f"case {cid}: {exc}")
        msg = f"{done} case{'s' if done != 1 else ''} {verb}."
        if refused:
            msg += " Not done: " + "; ".join(refused)
        st.session_state["bulk_done"] = msg
        st.rerun()

    if b_ack.button("✔ Acknowledge these", key="bulk_ack", disabled=not chosen):
        run_bulk(actions.acknowledge, verb="acknowledged")
    if b_assign.button("Assign these", key="bulk_assign", disabled=not (chosen and to)):
        run_bulk(actions.assign, to, verb=f"assigned to {to}")
    bulk_msg = st.session_state.pop("bulk_done", None)
    if bulk_msg:
        (st.warning if "Not done" in bulk_msg else st.success)(bulk_msg)

st.divider()
st.subheader("Act on a case")
labels = {int(r.case_id): f"Case {int(r.case_id)} · {r.household_id} · {kind_label(r.kind)} · "
          f"{severity_label(r.severity)}" for r in view.itertuples()}
picked = st.selectbox("Case", list(labels), format_func=labels.get, key="queue_case")
case = data.case(picked, scope)

left, right = st.columns([3, 2])
with left:
    st.markdown(f"### {severity_label(case['severity'])} · {kind_label(case['kind'])} · "
                f"home {case['household_id']}")
    st.markdown(md_text(case["reasons"]))
    facts = [f"**Status:** {STATUS_LABEL.get(case['status'], case['status'])}",
             f"**Owner:** {case['officer'] or 'Unassigned'}",
             f"**Opened:** {uk_time(case['opened_at'])}",
             f"**Risk score:** {case['score']:.0f} out of 100"]
    if case["due_by"]:
        facts.append(f"**Awaab's Law clock:** {due_words(case['due_by'])}")
    if case["stage"]:
        facts.append(f"**Stage:** {STAGE_LABEL.get(case['stage'], case['stage'])}")
    if case["vulnerable"]:
        facts.append("**Household:** ⚠ recorded as vulnerable")
    st.markdown("  \n".join(facts))
    earlier_id = case.get("reopened_from")
    if earlier_id is not None and not pd.isna(earlier_id):
        earlier_id = int(earlier_id)
        st.info(f"Reopened: {md_text(case['reopen_reason'] or 'the situation came back')}."
                f" Earlier case: {earlier_id}.")
        if st.toggle(f"Open earlier case {earlier_id}", key=f"earlier_{int(case['case_id'])}"):
            earlier_case(earlier_id)
    if st.button("Open this household", key="open_home"):
        open_household(case["household_id"])
    events = data.case_events((int(case["case_id"]),))
    with st.expander(f"History ({len(events)} event{'s' if len(events) != 1 else ''})"):
        for e in events.itertuples():
            st.markdown(f"- {uk_time(e.at)} · **{md_text(e.actor)}** · {e.action.replace('_', ' ')}"
                        + (f": {md_text(e.detail)}" if e.detail else ""))

with right:
    msg = st.session_state.pop("queue_done", None)
    if msg:
        (st.success if not (msg.startswith(("Not sent", "Tip queued"))
                            or "Taken out of the note" in msg) else st.warning)(msg)

    def run(action, *args, done: str) -> None:
        try:
            warning = action(user, int(case["case_id"]), *args)
        except (actions.ActionError, data.OutOfScopeError) as exc:
            st.error(str(exc) if isinstance(exc, actions.ActionError) else
                     "This case is not on your patches.")
            return
        # A resolve or dismiss note is masked like a case note: say what was taken out.
        st.session_state["queue_done"] = done if not warning else f"{done} {warning}"
        st.rerun()

    if case["status"] == "open" and st.button("✔ Acknowledge", key="ack", type="primary",
                                              help="Say you have seen it and are on it"):
        run(actions.acknowledge, done=f"Case {case['case_id']} acknowledged.")
    t_note, t_assign, t_tip, t_resolve, t_dismiss = st.tabs(
        ["Add a note", "Assign", "✉ Text a tip", "Resolve", "Dismiss"])
    with t_note, st.form("note_form", clear_on_submit=True):
        note = st.text_area("Add a note", placeholder="What you did or found (names, numbers and "
                            "emails are taken out)")
        if st.form_submit_button("Save note"):
            try:
                warning = actions.add_note(user, int(case["case_id"]), note)
            except (actions.ActionError, data.OutOfScopeError) as exc:
                st.error(str(exc) if isinstance(exc, actions.ActionError) else
                         "This case is not on your patches.")
            else:
                st.session_state["queue_done"] = "Note saved." if warning is None else (
                    f"Note saved. {warning}")
                st.rerun()
    with t_assign:
        people = actions.assignable_users(case["patch"])
        with st.form("assign_form"):
            to = st.selectbox("Assign to", [u.username for u in people],
                              format_func=lambda n: next(f"{u.display_name} ({u.role})"
                                                         for u in people if u.username == n))
            if st.form_submit_button("Assign"):
                run(actions.assign, to, done=f"Case {case['case_id']} assigned to {to}.")
    with t_tip:
        text, why_not = actions.tip_preview(user, int(case["case_id"]))
        if text is None:
            st.info(why_not)
        else:
            st.caption("The tenant will get exactly this text:")
            st.markdown(f"> {md_text(text)}")
            allowed, outlook = actions.tip_outlook(user, int(case["case_id"]))
            (st.info if allowed else st.warning)(outlook)
            if st.button("Send this text", key="send_tip", disabled=not allowed):
                try:
                    outcome = actions.send_tip(user, int(case["case_id"]))
                except actions.ActionError as exc:
                    st.error(str(exc))
                else:
                    st.session_state["queue_done"] = outcome
                    st.rerun()
    with t_resolve, st.form("resolve_form"):
        how = st.text_input("Resolve: what was done", placeholder="e.g. Emergency credit added")
        if st.form_submit_button("Resolve case"):
            run(actions.resolve, how, done=f"Case {case['case_id']} resolved.")
    with t_dismiss, st.form("dismiss_form"):
        reason = st.selectbox("Dismiss: reason", actions.DISMISS_REASONS)
        why = st.text_input("Note (needed for 'Other')")
        if st.form_submit_button("Dismiss case"):
            run(actions.dismiss, reason, why, done=f"Case {case['case_id']} dismissed.")
    # Every case on an Awaab's Law clock (damp and mould, excess cold, excess heat, any
    # emergency): record the step done here, so the next step's clock starts.
    if isinstance(case["stage"], str):
        with st.form("queue_awaab_step"):
            step = st.selectbox("Awaab's Law: step done", list(actions.AWAAB_STEPS),
                                format_func=actions.AWAAB_STEPS.get)
            if st.form_submit_button("Record step"):
                run(actions.record_stage, step, done=f"Case {case['case_id']}:"
                    f" {actions.AWAAB_STEPS[step]} recorded; the next deadline is set.")

