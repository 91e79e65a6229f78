"""Small physical relations, vectorised: moist air and the two-node thermal model of a home."""

from __future__ import annotations

import numpy as np

from meters_sim import params as pm


def saturation_vapour_pressure_hpa(temp_c: np.ndarray) -> np.ndarray:
    """Magnus formula over water (WMO CIMO guide, Sonntag 1990 constants) [hPa]."""
    return 6.112 * np.exp(17.62 * temp_c / (243.12 + temp_c))


def saturation_vapour_density_g_per_m3(temp_c: np.ndarray) -> np.ndarray:
    """Mass of water vapour a cubic metre of air holds at saturation [g/m3]."""
    return 216.7 * saturation_vapour_pressure_hpa(temp_c) / (temp_c + 273.15)


def dew_point_c(temp_c: np.ndarray, rh_pct: np.ndarray) -> np.ndarray:
    """Dew point [C] of air at `temp_c` [C] and relative humidity `rh_pct` [%]."""
    e = saturation_vapour_pressure_hpa(temp_c) * np.clip(rh_pct, 0.1, 100.0) / 100.0
    g = np.log(e / 6.112)
    return 243.12 * g / (17.62 - g)


def gas_kwh_from_m3(volume_m3: np.ndarray) -> np.ndarray:
    """kWh = m3 x 1.02264 x CV [MJ/m3] / 3.6 (Gas (Calculation of Thermal Energy) Regs)."""
    return np.asarray(volume_m3) * pm.KWH_PER_M3


def two_node_step(t_air_c, t_fab_c, t_out_c, q_air_w, q_fab_w, c_air, c_fab, h_ao, h_af, h_fo,
                  h_fn, t_neighbour_c, dt_s: float):
    """One implicit-Euler step of the 2R2C model (air node + fabric node), stable at any step.

    c_air, c_fab [J/K]; h_ao air->outside, h_af air<->fabric, h_fo fabric->outside, h_fn
    fabric->neighbouring dwellings at `t_neighbour_c` (party walls and floors) [W/K];
    heat inputs [W]. Returns (air, fabric) temperatures [C] at the end of the step."""
    ka, kf = c_air / dt_s, c_fab / dt_s
    a11 = ka + h_ao + h_af
    a22 = kf + h_fo + h_af + h_fn
    ra = ka * t_air_c + q_air_w + h_ao * t_out_c
    rf = kf * t_fab_c + q_fab_w + h_fo * t_out_c + h_fn * t_neighbour_c
    det = a11 * a22 - h_af * h_af
    return (ra * a22 + h_af * rf) / det, (a11 * rf + h_af * ra) / det
