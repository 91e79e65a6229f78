"""Data health: silent devices, dead letters and their reasons, collector status."""

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.fmt import duration_words, uk_time
from dashboard.ui import as_of_caption, guarded, require_user, scope_picker

user = require_user()
st.title("Data health")
as_of_caption()
scope = scope_picker(user, "health_patches", data.all_patches())

st.subheader("Collectors")
status = data.collector_metrics()
if "error" in status:
    st.error(status["error"])
else:
    rows = status["rows"]
    if rows:
        st.dataframe(pd.DataFrame({"Figure": [r[0] for r in rows],
                                   "Value": [f"{r[1]:,.0f}" for r in rows]}),
                     hide_index=True, width="stretch")
    st.caption(f"The collectors answer. Figures since they started, read {uk_time(status['at'])}.")

st.subheader("Silent devices")
devs = guarded("Device status", data.device_status, scope)
if devs is not None:
    silent = devs[devs["silent"]].sort_values("last_seen", na_position="first")
    c1, c2 = st.columns(2)
    c1.metric("Devices", f"{len(devs):,}")
    c2.metric("Silent", f"{len(silent):,}",
              help="No reading for longer than 3 of its reading intervals (at least 15 minutes)")
    if silent.empty:
        st.success("✔ Every device has reported recently.")
    else:
        now = pd.Timestamp.now(tz="UTC")
        st.dataframe(pd.DataFrame({
            "Device": silent["device_id"], "Kind": silent["kind"].str.replace("_", " "),
            "Home": silent["household_id"], "Patch": silent["patch"],
            "Via": silent["protocol"],
            "Last reading": [uk_time(t) if pd.notna(t) else "none in 30 days"
                             for t in silent["last_seen"]],
            "Silent for": [duration_words(now - t) if pd.notna(t) else "over 30 days"
                           for t in silent["last_seen"]],
            "What to do": ["Check the block's gateway and meter power"
                           if p == "modbus" else "Check the home's Wi-Fi; visit if still silent"
                           for p in silent["protocol"]]}),
            hide_index=True, width="stretch")

st.subheader("Dead letters")
st.caption("Readings the service refused, kept with the reason so that nothing is lost. IT can "
           "replay them once the cause is fixed.")
dl = data.dead_letters()
if dl.empty:
    st.success("✔ No dead letters.")
else:
    by = (dl.groupby(["source", "code"]).agg(count=("reason", "size"), latest=("time", "max"),
                                            example=("reason", "first"))
          .sort_values("count", ascending=False).reset_index())
    st.dataframe(pd.DataFrame({"From": by["source"], "Reason": by["code"].str.replace("_", " "),
                               "Count": by["count"],
                               "Latest": [uk_time(t) for t in by["latest"]],
                               "Example": by["example"]}),
                 hide_index=True, width="stretch")
    with st.expander(f"Newest {min(len(dl), 200)} dead letters"):
        st.dataframe(pd.DataFrame({"When": [uk_time(t) for t in dl["time"][:200]],
                                   "File": dl["file"][:200], "Reason": dl["reason"][:200],
                                   "Refused item": dl["item"][:200]}),
                     hide_index=True, width="stretch")
