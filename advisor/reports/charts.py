"""Charts for the report as PNG images embedded in the HTML (base64), so the file stands alone.
Each has a title, labelled axes with units, and a legend where there is more than one series.
PNG metadata carries no software version or date, so the same data gives the same bytes."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

COLOURS = {"this": "#1d70b8", "last": "#b1b4b6", "new": "#f47738", "open_at_end": "#1d70b8",
           "closed": "#00703c"}


def _subplots():
    """pyplot's subplots on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9})
    return plt.subplots


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def daily_consumption_chart(daily: pd.DataFrame, scope: str) -> str:
    """Bars per UK day: this week against the same week last year, one panel per fuel."""
    subplots = _subplots()
    fuels = [f for f in ("electricity", "gas") if f in set(daily["fuel"])]
    fig, axes = subplots(1, len(fuels), figsize=(8, 3), squeeze=False)
    for ax, fuel in zip(axes[0], fuels, strict=True):
        d = daily[daily["fuel"] == fuel]
        x = np.arange(len(d))
        labels = [pd.Timestamp(v).strftime("%a %d") for v in d["date"]]
        ax.bar(x - 0.2, d["energy_kwh"], 0.4, label="this week", color=COLOURS["this"])
        ax.bar(x + 0.2, d["energy_kwh_last_year"], 0.4, label="same week last year",
               color=COLOURS["last"])
        ax.set_xticks(x, labels)
        ax.set_title(f"{fuel.capitalize()} use per day, {scope}")
        ax.set_xlabel("Day (UK time)")
        ax.set_ylabel("Energy [kWh]")
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return _png(fig)


def cases_chart(cases: pd.DataFrame, scope: str) -> str:
    """Horizontal bars per case kind: new this week, open at the end, closed this week."""
    subplots = _subplots()
    fig, ax = subplots(figsize=(8, 3.2))
    y = np.arange(len(cases))
    for i, (col, label) in enumerate((("new", "new this week"), ("open_at_end", "open at week end"),
                                      ("closed", "closed this week"))):
        ax.barh(y + (i - 1) * 0.27, cases[col], 0.27, label=label, color=COLOURS[col])
    ax.set_yticks(y, [k.replace("_", " ") for k in cases["kind"]])
    ax.invert_yaxis()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Cases [count]")
    ax.set_ylabel("Kind of case")
    ax.set_title(f"Cases by kind, {scope}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def reporting_chart(homes: pd.DataFrame) -> str:
    """Per patch: share of devices that reported this week and share silent at its end."""
    subplots = _subplots()
    fig, ax = subplots(figsize=(8, max(2.5, 0.3 * len(homes) + 1)))
    y = np.arange(len(homes))
    devices = homes["devices"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        silent = np.where(devices > 0, 100.0 * homes["devices_silent"] / devices, 0.0)
    ax.barh(y - 0.2, homes["devices_reporting_pct"].fillna(0), 0.4, color=COLOURS["this"],
            label="reported this week")
    ax.barh(y + 0.2, silent, 0.4, color="#d4351c", label="silent at week end")
    ax.set_yticks(y, homes["patch"])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Devices [% of the patch's devices]")
    ax.set_ylabel("Patch")
    ax.set_title("Devices reporting and silent, by patch")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _png(fig)
