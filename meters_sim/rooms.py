"""Room temperatures from the home's air node (the living room) [K offsets], by season.

In the heating season the living room is the heated room and the others run cooler
(bedrooms about a degree). In a free-running summer home the order turns round at night:
bedrooms, upstairs or in a flat's sunnier side and with windows kept shut for security or
noise, run warmer than the living room, and national monitoring finds overheating more often in
bedrooms at night than in living rooms by day (Lomas et al. 2021, Building and Environment 201,
summer 2018, 750 English homes: 19 % of bedrooms and 15 % of living rooms overheated; Beizaee,
Lomas and Firth 2013, Building and Environment 65, cool summer 2007: 21 % of bedrooms over
26 C for more than 5 % of night hours). The +1 K summer bedroom offset is this model's
assumption, chosen so that the simulated summer prevalence sits in that published range
(docs/simulator.md, "Summer overheating").
"""

from __future__ import annotations

import numpy as np

# Heating season (the heating on for the season): offsets from the air node [K].
ROOM_OFFSET_C = {"living_room": 0.0, "lounge": 0.0, "kitchen": 0.5, "bedroom": -1.0,
                 "hall": -0.8, "hallway": -0.8, "bathroom": -0.3}
# Free-running (heating off for the season): bedrooms warmer than the living room.
FREE_RUNNING_OFFSET_C = {**ROOM_OFFSET_C, "bedroom": 1.0}


def room_key(room: object) -> str:
    return str(room or "living_room").lower().replace(" ", "_")


def room_offsets_c(rooms, season_on: np.ndarray) -> np.ndarray:
    """Offsets [K] (S, R) for rooms (R,) given whether each room's home has its heating on for
    the season, season_on (S, R) bool."""
    keys = [room_key(r) for r in rooms]
    winter = np.array([ROOM_OFFSET_C.get(k, 0.0) for k in keys])
    summer = np.array([FREE_RUNNING_OFFSET_C.get(k, 0.0) for k in keys])
    return np.where(np.asarray(season_on, dtype=bool), winter, summer)


def bedroom_temp_c(t_air_c: np.ndarray, season_on: np.ndarray) -> np.ndarray:
    """The bedroom's temperature [C] (S, H) from the air node's and the season switch."""
    return t_air_c + np.where(np.asarray(season_on, dtype=bool), ROOM_OFFSET_C["bedroom"],
                              FREE_RUNNING_OFFSET_C["bedroom"])
