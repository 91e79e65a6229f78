"""Messages: tips texted to tenants, their delivery status, and opt-outs."""

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.fmt import SMS_STATUS_LABEL, kind_label, skip_reason_label, uk_time
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
c2.metric("✔ Delivered", f"{int(counts.get('delivered', 0)):,}")
failed = int(sum(counts.get(s, 0) for s in ("permanent-failure", "temporary-failure",
                                             "technical-failure")))
c3.metric("✖ Failed", f"{failed:,}")
c4.metric("– Not sent", f"{int(counts.get('skipped', 0)):,}",
          help="Held back: no consent, opted out, quiet hours or a duplicate")

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
