"""Physical and behavioural parameters of the simulated homes, with their sources.

Every figure here is documented in docs/simulator.md (table "Parameters"). Values are typical
of English social housing; where a source gives a range the middle is used and households are
spread around it by seed.
"""

from __future__ import annotations

# --- Gas -----------------------------------------------------------------------------------
# Gas (Calculation of Thermal Energy) Regulations: kWh = m3 x volume correction x CV / 3.6.
GAS_VOLUME_CORRECTION = 1.02264
GAS_CALORIFIC_VALUE_MJ_PER_M3 = 39.5
KWH_PER_M3 = GAS_VOLUME_CORRECTION * GAS_CALORIFIC_VALUE_MJ_PER_M3 / 3.6  # ~11.22 kWh/m3
BOILER_EFFICIENCY = 0.85  # SAP 10.2 Table 4b: condensing combi in practice (seasonal)

# --- Weather (UK, Central England Temperature 1991-2020 normals, Met Office) ---------------
OUTDOOR_MEAN_C = 10.2          # annual mean
OUTDOOR_SEASONAL_AMPLITUDE_C = 6.4  # Jan ~3.9 C, Jul ~16.9 C monthly means
OUTDOOR_COLDEST_DAY_OF_YEAR = 20    # the annual minimum falls in late January
DIURNAL_AMPLITUDE_WINTER_C = 2.0    # half the daily range (Dec ~4 C range)
DIURNAL_AMPLITUDE_SUMMER_C = 4.5    # half the daily range (Jul ~9 C range)
DIURNAL_PEAK_HOUR = 15.0            # local solar time of the daily maximum
FRONT_SD_C = 2.8                    # weather fronts: AR(1) anomaly, stationary sd
FRONT_TIMESCALE_H = 60.0            # AR(1) decorrelation time of synoptic anomalies
AREA_OFFSET_SD_C = 0.6              # spread between areas (urban heat island, altitude)
HDD_BASE_C = 15.5                   # UK convention for heating degree days
OUTDOOR_RH_WINTER = 0.86            # Met Office: mean RH ~85-90 % in winter
OUTDOOR_RH_SUMMER = 0.72

# --- Building fabric ------------------------------------------------------------------------
# Heat loss parameter HLP = heat transfer coefficient / floor area [W/(m2 K)] by EPC band.
# SAP 10.2 defines HLP; the spread by band follows BRE's EPC-to-HTC analysis and the BEIS
# SMETER trials (median measured HTC ~ 200-250 W/K for ~85 m2 homes, EPC D).
HLP_BY_EPC_W_PER_M2K = {"A": 1.0, "B": 1.3, "C": 1.9, "D": 2.6, "E": 3.2, "F": 3.8, "G": 4.5}
# Exposed surface relative to a house: flats have party floors/ceilings (fewer exposed faces).
EXPOSURE_BY_PROPERTY = {"flat": 0.80, "maisonette": 0.90, "house": 1.00, "bungalow": 1.15}
# Internal surface temperature factor f_Rsi = (T_si - T_out) / (T_in - T_out) of the coldest
# surface (window reveal, corner, thermal bridge). BRE IP 1/06 and BS 5250: f_Rsi >= 0.75 to
# avoid surface condensation and mould in dwellings; older, uninsulated fabric falls to ~0.5.
# Party walls and floors: conductance to neighbouring dwellings kept at ~18 C, per m2 of floor
# (U ~ 0.5 W/(m2 K) party floor/ceiling, ~0.5-1 party walls). Keeps an unheated flat well above
# the outdoor temperature, as measured in blocks.
NEIGHBOUR_W_PER_M2K = {"flat": 0.9, "maisonette": 0.7, "house": 0.3, "bungalow": 0.15}
NEIGHBOUR_TEMP_C = 18.0
F_RSI_BY_EPC = {"A": 0.88, "B": 0.85, "C": 0.80, "D": 0.75, "E": 0.70, "F": 0.64, "G": 0.58}
CEILING_HEIGHT_M = 2.4
# Heat capacities: SAP "thermal mass parameter" medium = 250 kJ/(m2 K) of floor area for the
# fabric node; air plus furnishings ~ 6 x the air's own 1.2 kJ/(m3 K) for the air node.
FABRIC_CAPACITY_J_PER_M2K = 250e3
AIR_CAPACITY_J_PER_M3K = 1.2e3 * 6.0
AIR_FABRIC_COUPLING_W_PER_M2K = 8.0 * 2.5  # h_conv+rad ~8 W/(m2 K) x internal area ~2.5 x floor
DIRECT_AIR_LOSS_SHARE = 0.35  # windows + ventilation share of the heat loss, straight from air
# Emitter/heater capacity: design heat loss at -3 C outdoor, 21 C inside, x1.4 oversizing.
HEATER_OVERSIZE = 1.4
DESIGN_DELTA_T_K = 24.0
CONTROL_BAND_K = 1.0  # modulating boiler / TRVs: full output 0.5 K below the setpoint, none 0.5 K above
# Solar gains through glazing per m2 of floor per unit sin(solar elevation), cloud included:
# ~1.2 kWh/day in December and ~8 kWh/day in June for a 60 m2 flat (SAP 10.2 Appendix U order).
SOLAR_GAIN_W_PER_M2_FLOOR = 15.0

# --- Occupants and appliances ----------------------------------------------------------------
OCCUPANT_GAIN_W = 80.0   # CIBSE Guide A: seated adult ~ 70-90 W sensible
# Ofgem typical domestic consumption values (TDCV, medium, from 1 July 2026): electricity
# 2,500 kWh (profile class 1), Economy 7 3,400 kWh, gas 9,500 kWh a year. The calibration
# targets (docs/simulator.md, "Calibration"); `hearth sim summary` measures against them.
TDCV_ELECTRICITY_KWH = 2500.0
TDCV_ECONOMY7_KWH = 3400.0
TDCV_GAS_KWH = 9500.0
KETTLE_W, KETTLE_MIN = 2800.0, 3.0
# Mean draw over a meal's cooking time (rings and oven cycle on their thermostats): electric
# cooking ~1-1.5 kWh a day, gas hobs ~1 kWh a day (estimates of this model, chosen so cooking
# is a small share of gas use and about a tenth of electricity). Gas-cooking homes still use
# an electric oven, microwave or toaster for part of their meals.
COOK_ELECTRIC_W, COOK_GAS_W = 1400.0, 1200.0
COOK_ELECTRIC_IN_GAS_HOME_W = 500.0
ELECTRONICS_W, LIGHTING_W = 110.0, 240.0   # when someone is up and in (x1.6 evenings); when dark
# A gas boiler's pump and fan while it fires (SAP 10.2 Table 4f: ~130-175 kWh a year).
BOILER_AUX_W = 90.0
TAPS_GAS_W = 120.0    # washing up and hand washing from a combi, while in and awake (x sqrt(n/2))
HOT_WATER_SEASON_AMPLITUDE = 0.12   # hot water energy +-12 % over the year (mains temperature)
ELECTRIC_SHOWER_W, SHOWER_MIN = 8500.0, 8.0
COMBI_SHOWER_GAS_W = 17000.0  # 8 l/min heated by 30 K = 16.7 kW, over the boiler's efficiency
WASHER_W, WASHER_MIN = 500.0, 90.0
IMMERSION_W = 3000.0

# Electric heating costs ~3.6x gas per kWh (price cap July 2026: 26.11 vs 7.33 p/kWh), so
# (a) households heating with electricity keep their homes ~0.5 C cooler (an assumption of
# this model, not a surveyed figure), and (b) an EPC band, which rates running COST per m2
# (SAP 10.2 energy cost factor), sits worse for the same fabric: the fabric of an electric
# home of band X is taken as that of a gas home 2 bands better (an estimate: storage-heated
# flats with gas-home fabric rate about 10-20 SAP points, 1-2 bands, lower; 2 since issue 13
# on the tuning seeds 1 and 2: with 1.5 their electric-heated homes used 6,000-6,300 kWh).
ELECTRIC_HEATING_COMFORT_OFFSET_C = -0.5
ELECTRIC_EPC_FABRIC_SHIFT_BANDS = 2.0
# Electric heaters (storage or panel) are sized like radiators but rarely exceed ~3 kW in a
# social home (two to four 1-1.5 kW heaters).
ELECTRIC_HEATER_OVERSIZE = 1.4
ELECTRIC_HEATER_MAX_W = 3000.0

# --- Summer overheating (CIBSE TM59 context; Good Homes Alliance overheating guide) ---------
# Solar gain by aspect and position: south/west-facing glazing takes ~1.6x the average, north
# ~0.5x; a top-floor flat gains through its roof too and has no cool home above it.
SOUTH_FACING_SHARE = 0.30
SOLAR_FACTOR_SOUTH, SOLAR_FACTOR_OTHER = 1.6, 0.85
TOP_FLOOR_SHARE = 0.25                # of flats and maisonettes (blocks of ~4 storeys)
TOP_FLOOR_SOLAR_FACTOR = 1.5
TOP_FLOOR_NEIGHBOUR_FACTOR = 0.6
# Windows opened for cooling once the room is above 23 C (fully at 25 C) while it is cooler
# outside: +3 ach while someone is up and in, +2.5 ach at night or when out (windows left
# open, trickle vents); homes with the poor-ventilation habit open them far less (noise,
# security, windows that do not open: x0.3).
WINDOW_COOLING_FROM_C, WINDOW_COOLING_RAMP_K = 23.0, 2.0
WINDOW_COOLING_ACH_AWAKE, WINDOW_COOLING_ACH_ASLEEP = 3.0, 2.5
WINDOW_COOLING_POOR_VENTILATION = 0.3
# How far each household opens up (security, noise, ground floor, habit): uniform 0.2-1.
WINDOW_HABIT_RANGE = (0.2, 1.0)
# Heatwave: one a summer, 4-7 days with the daily mean held at 21.5-23.5 C (maxima ~26-28 C
# with the summer diurnal range), starting between mid-June and mid-August (Met Office
# heatwave definition: 3+ consecutive days with maxima at or above 25-28 C, by county; the
# 2018, 2020 and 2022 heatwaves lasted about a week).
HEATWAVE_DAYS = (4.0, 7.0)
HEATWAVE_MEAN_C = (21.5, 23.5)
HEATWAVE_START_DOY = (165, 225)

# --- Moisture (BS 5250:2021 Annex, and BRE Digest 369) -----------------------------------------
MOISTURE_PERSON_AWAKE_G_PER_H = 55.0
MOISTURE_PERSON_ASLEEP_G_PER_H = 40.0
MOISTURE_COOKING_G_PER_H = 1500.0      # ~ 1 kg per main meal with gas, less with electric
MOISTURE_SHOWER_G = 250.0              # per shower
MOISTURE_LAUNDRY_G = 2000.0            # one 4-5 kg load dried indoors (up to ~2 litres)
DRYING_TIMESCALE_H = 8.0               # e-folding time of drying on radiators/airers
MOISTURE_BUFFER_FACTOR = 3.0           # hygroscopic buffering: effective volume x this
CONDENSATION_RATE_M3_PER_H_PER_M2 = 0.5  # uptake on cold surfaces above their dew point
COLD_SURFACE_SHARE = 0.1                 # cold surface area as a share of floor area
EXTRACT_BOOST_ACH = 2.0                  # extract fan / window while cooking or showering

# --- Prepayment ----------------------------------------------------------------------------
# Defaults when the registry has no tariff: Ofgem price cap 1 Oct - 31 Dec 2025, GB averages
# (prepayment and direct debit are within ~1p). [GBP/kWh], [GBP/day].
DEFAULT_TARIFFS = {
    "electricity": {"unit_rate_gbp_per_kwh": 0.2635, "standing_charge_gbp_per_day": 0.5368},
    "gas": {"unit_rate_gbp_per_kwh": 0.0629, "standing_charge_gbp_per_day": 0.3403},
}
EMERGENCY_CREDIT_GBP = 10.0   # typical supplier emergency credit (GBP 5-15)
# Friendly-credit hours: the supply is not cut off between these local hours (nor at weekends);
# suppliers set their own within Ofgem's rules. A meter already off stays off until topped up.
FRIENDLY_START_HOUR, FRIENDLY_END_HOUR = 16.0, 10.0
RATION_CREDIT_GBP = 1.5        # below this balance prepayment homes cut their heating

# --- Voltage (ESQCR 2002: 230 V +10 % / -6 %; measured UK mean ~ 242 V) ------------------------
VOLTAGE_MEAN_V = 242.0
VOLTAGE_SD_V = 1.5
