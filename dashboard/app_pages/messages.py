"""Messages: tips texted to tenants and their delivery status, tenants' replies (STOP, HELP
and messages for an officer), numbers that fail, and opt-outs."""

import pandas as pd
import streamlit as st

from dashboard import data, message_actions
from dashboard.fmt import (
    REPLY_ACTION_LABEL,
    REPLY_KIND_LABEL,
    SMS_STATUS_LABEL,
    kind_label,
    skip_reason_label,
    uk_time,
)
from dashboard.ui import as_of_caption, require_user, scope_picker

user = require_user()
st.title("Messages")
as_of_caption()
scope = scope_picker(user, "messages_patches", data.all_patches())
days = st.select_slider("Period", [7, 30, 90, 365], value=30,
                        format_func=lambda d: f"last {d} days")
msgs = data.messages(scope, days)

counts = msgs["status"].value_counts()
c1, c2, c3, c4 = st.columns(4)
c1.metric("Tips considered", f"{len(msgs):,}")
c2.metric("✔ Delivered", f"{int(counts.get('delivered', 0)):,}",
          help="GOV.UK Notify's delivery receipt says the phone received it")
failed = int(sum(counts.get(s, 0) for s in ("permanent-failure", "temporary-failure",
                                             "technical-failure")))
c3.metric("✖ Failed", f"{failed:,}")
not_sent = int(sum(counts.get(s, 0) for s in ("skipped", "cancelled", "outbox")))
c4.metric("– Not sent", f"{not_sent:,}",
          help="Held back (no consent, opted out, quiet hours, a duplicate), cancelled when"
               " consent was withdrawn, or only written to the outbox (no GOV.UK Notify key)")
if int(counts.get("outbox", 0)):
    st.warning(f"{int(counts.get('outbox', 0)):,} text(s) were only written to the outbox file:"
               " no GOV.UK Notify key is set, so no tenant received them.")

if msgs.empty:
    st.info(f"No texts in the last {days} days.")
else:
    st.dataframe(pd.DataFrame({
        "Sent": [uk_time(t) for t in msgs["sent_at"]], "Home": msgs["household_id"],
        "Patch": msgs["patch"], "Tip": msgs["template"].map(kind_label),
        "Status": msgs["status"].map(lambda s: SMS_STATUS_LABEL.get(s, s)),
        "Why not sent": msgs["skip_reason"].map(skip_reason_label),
        "Case": msgs["case_id"].map(lambda c: "" if pd.isna(c) else str(int(c))),
        "Text": msgs["body"].fillna("")}), hide_index=True, width="stretch")

st.subheader("Replies from tenants")
replies = data.replies(scope, days)
if replies.empty:
    st.write(f"No replies in the last {days} days.")
else:
    waiting = replies[(replies["action"].isin(["for_officer", "unknown_number",
                                               "help_failed", "opted_out_confirmation_failed"]))
                      & replies["handled_at"].isna()]
    st.write(f"{len(replies):,} repl(ies); {len(waiting):,} waiting for an officer. STOP and"
             " HELP are answered by Hearth at once; other messages need a person.")
    st.dataframe(pd.DataFrame({
        "Received": [uk_time(t) for t in replies["received_at"]],
        "Home": replies["household_id"].fillna("unknown number"),
        "Patch": replies["patch"].fillna(""),
        "Asked": replies["kind"].map(lambda k: REPLY_KIND_LABEL.get(k, k)),
        "Hearth did": replies["action"].map(lambda a: REPLY_ACTION_LABEL.get(a, a)),
        "Text": replies["content"].fillna(""),
        "Dealt with": [f"{uk_time(t)} by {b}" if isinstance(t, str) else ""
                       for t, b in zip(replies["handled_at"], replies["handled_by"],
                                       strict=True)]}), hide_index=True, width="stretch")
    if not waiting.empty:
        options = {r.reply_id: f"{uk_time(r.received_at)} · {r.household_id or 'unknown number'}"
                   f" · {(r.content or '')[:40]}" for r in waiting.itertuples()}
        with st.form("reply_handled"):
            chosen = st.selectbox("Reply", list(options), format_func=options.get)
            if st.form_submit_button("Mark as dealt with"):
                message_actions.mark_reply_handled(user, chosen)
                st.rerun()

st.subheader("Numbers that fail")
tasks = data.number_tasks(scope)
if tasks.empty:
    st.write("No tenant's number is failing.")
else:
    st.write(f"{len(tasks):,} tenant number(s) cannot be reached (GOV.UK Notify: permanent"
             " failure). Hearth sends them no texts. Ask the tenant for a working number and"
             " correct it in the registry: texts resume by themselves.")
    st.dataframe(pd.DataFrame({"Home": tasks["household_id"], "Patch": tasks["patch"],
                               "Tenant": tasks["tenant_id"],
                               "Failing since": [uk_time(t) for t in tasks["opened_at"]]}),
                 hide_index=True, width="stretch")
    with st.form("number_checked"):
        labels = {int(r.task_id): f"{r.household_id} · tenant {r.tenant_id}"
                  for r in tasks.itertuples()}
        chosen = st.selectbox("Task", list(labels), format_func=labels.get)
        if st.form_submit_button("Number checked with the tenant: try it again"):
            message_actions.close_number_task(user, chosen)
            st.rerun()

st.subheader("Opt-outs")
outs = data.opt_outs(scope)
if outs.empty:
    st.write("No tenant in these patches has opted out of texts.")
else:
    st.write(f"{len(outs):,} tenant(s) have opted out; they get no texts from Hearth.")
    st.dataframe(pd.DataFrame({"Home": outs["household_id"], "Patch": outs["patch"],
                               "Tenant": outs["tenant_id"],
                               "Opted out": [uk_time(t) for t in outs["opted_out_at"]]}),
                 hide_index=True, width="stretch")
