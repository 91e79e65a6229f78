"""Plotly figures for the pages. Every axis has its unit, times are UK local, and each series
differs by line style or marker as well as colour (colour is never the only signal)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.fmt import KIND_LABEL

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "hexagon"]
FUEL_COLOUR = {"electricity": "#0072B2", "gas": "#D55E00"}
UK_TZ = "Europe/London"
COLD_C, DAMP_PCT = 18.0, 70.0


def _alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# Passed to st.plotly_chart: no toolbar (officers do not need zoom tools), no plotly logo.
CHART_CONFIG = {"displayModeBar": False, "displaylogo": False}


def _uk(times: pd.Series) -> pd.Series:
    return pd.to_datetime(times, utc=True).dt.tz_convert(UK_TZ).dt.tz_localize(None)


def _layout(fig: go.Figure, height: int = 360) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
                      hovermode="x unified",
                      template="plotly_white", font={"size": 14})
    return fig


def consumption(usage: pd.DataFrame, forecast: pd.DataFrame, fuel: str,
                step: str = "daily") -> go.Figure:
    """History (solid) and forecast p50 (dashed) with the p10-p90 band [kWh per day or per
    half hour]."""
    unit = "kWh per day" if step == "daily" else "kWh per half hour"
    colour = FUEL_COLOUR.get(fuel, PALETTE[0])
    fig = go.Figure()
    f = forecast[(forecast["fuel"] == fuel) & (forecast["step"] == step)]
    if not f.empty:
        t = _uk(f["time"])
        fig.add_trace(go.Scatter(x=t, y=f["energy_kwh_p90"], mode="lines", line={"width": 0},
                                 name="Likely high (p90)", showlegend=False,
                                 hovertemplate="p90 %{y:.2f} kWh<extra></extra>"))
        fig.add_trace(go.Scatter(x=t, y=f["energy_kwh_p10"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=_alpha(colour, 0.18),
                                 name="Likely range (p10 to p90)",
                                 hovertemplate="p10 %{y:.2f} kWh<extra></extra>"))
        fig.add_trace(go.Scatter(x=t, y=f["energy_kwh"],
                                 mode="lines+markers" if step == "daily" else "lines",
                                 line={"color": colour, "dash": "dash"},
                                 marker={"symbol": "circle-open"}, name="Forecast (p50)",
                                 hovertemplate="forecast %{y:.2f} kWh<extra></extra>"))
    u = usage[usage["fuel"] == fuel]
    if not u.empty:
        fig.add_trace(go.Scatter(x=_uk(u["time"]), y=u["energy_kwh"],
                                 mode="lines+markers" if step == "daily" else "lines",
                                 line={"color": colour}, marker={"symbol": "circle", "size": 5},
                                 name="Used",
                                 hovertemplate="used %{y:.2f} kWh<extra></extra>"))
    fig.update_yaxes(title_text=f"{fuel.capitalize()} [{unit}]", rangemode="tozero")
    fig.update_xaxes(title_text="Date (UK time)" if step == "daily" else "Date and time (UK)")
    fig.update_layout(title=f"{fuel.capitalize()}: used and forecast")
    return _layout(fig)


def indoor(df: pd.DataFrame) -> go.Figure:
    """Temperature [C] against 18 C and relative humidity [%] against 70 %, per room."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("Indoor temperature", "Relative humidity"))
    for i, (room, g) in enumerate(df.groupby("room")):
        name = str(room).replace("_", " ").capitalize()
        style = {"color": PALETTE[i % len(PALETTE)], "dash": DASHES[i % len(DASHES)]}
        t = _uk(g["time"])
        fig.add_trace(go.Scatter(x=t, y=g["temp_c"], mode="lines", line=style, name=name,
                                 legendgroup=name,
                                 hovertemplate=f"{name} %{{y:.1f}} °C<extra></extra>"), 1, 1)
        fig.add_trace(go.Scatter(x=t, y=g["humidity_pct"], mode="lines", line=style, name=name,
                                 legendgroup=name, showlegend=False,
                                 hovertemplate=f"{name} %{{y:.0f}} %<extra></extra>"), 2, 1)
    fig.add_hline(y=COLD_C, row=1, col=1, line={"color": "#000", "dash": "dot"},
                  annotation_text="18 °C: colder is a health risk (UKHSA)",
                  annotation_position="bottom right", annotation_bgcolor="rgba(255,255,255,0.85)")
    fig.add_hline(y=DAMP_PCT, row=2, col=1, line={"color": "#000", "dash": "dot"},
                  annotation_text="70 %: damp and mould risk above this",
                  annotation_position="top right", annotation_bgcolor="rgba(255,255,255,0.85)")
    fig.update_yaxes(title_text="Temperature [°C]", row=1, col=1)
    fig.update_yaxes(title_text="Humidity [%]", range=[0, 100], row=2, col=1)
    fig.update_xaxes(title_text="Date and time (UK)", row=2, col=1)
    return _layout(fig, height=520)


def credit(df: pd.DataFrame) -> go.Figure:
    """Prepayment balance [GBP] per fuel, hourly."""
    fig = go.Figure()
    for i, (fuel, g) in enumerate(df.groupby("fuel")):
        fig.add_trace(go.Scatter(x=_uk(g["time"]), y=g["credit_gbp"], mode="lines",
                                 line={"color": FUEL_COLOUR.get(fuel, PALETTE[i]),
                                       "dash": DASHES[i % len(DASHES)]},
                                 name=f"{str(fuel).capitalize()} credit",
                                 hovertemplate="£%{y:.2f}<extra></extra>"))
    fig.add_hline(y=0, line={"color": "#000", "dash": "dot"},
                  annotation_text="£0: supply stops (emergency credit aside)")
    fig.update_yaxes(title_text="Credit on the meter [£]")
    fig.update_xaxes(title_text="Date and time (UK)")
    fig.update_layout(title="Prepayment credit")
    return _layout(fig, height=300)


def case_trend(df: pd.DataFrame) -> go.Figure:
    """Open cases at the end of each week, by kind."""
    fig = go.Figure()
    for i, (kind, g) in enumerate(df.groupby("kind")):
        fig.add_trace(go.Scatter(x=_uk(g["week_start"]), y=g["open_cases"], mode="lines+markers",
                                 name=KIND_LABEL.get(kind, kind),
                                 line={"color": PALETTE[i % len(PALETTE)],
                                       "dash": DASHES[i % len(DASHES)]},
                                 marker={"symbol": SYMBOLS[i % len(SYMBOLS)], "size": 8},
                                 hovertemplate="%{y:d} open<extra>" + KIND_LABEL.get(kind, kind)
                                 + "</extra>"))
    top = int(df["open_cases"].max()) if len(df) else 0
    fig.update_yaxes(title_text="Open at end of week [cases]", rangemode="tozero",
                     tickformat="d", dtick=max(1, -(-top // 6)))
    fig.update_xaxes(title_text="Week starting (Monday, UK)")
    fig.update_layout(title="Open cases by week")
    return _layout(fig, height=380)
