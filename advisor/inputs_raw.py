"""The advisor's inputs read from raw readings, as before the half-hourly summaries
(collectors/summaries.py). Kept only as the reference the summaries loader is tested against
(tests/advisor/test_advisor_inputs_summaries.py); the service itself reads summaries.

Each statistic is a scan of the window's raw readings inside InfluxDB (DIFFERENCE, SPREAD,
ELAPSED subqueries): about 65 ms of CPU per home and run, which is why it is not the default.
"""

from __future__ import annotations

import numpy as np

from advisor.inputs import InputLoader


class RawInputLoader(InputLoader):
    """`InputLoader` whose recent series and device statistics come from raw readings."""

    refresh_summaries = False

    def _read_summaries(self, window_start_ns: int, end_ns: int, households=None) -> None:
        self._summ = {}

    def _thermostats(self, inp, index, grid, step_s) -> None:
        q = (f'SELECT MEAN("temp_c") AS temp_c, MIN("temp_c") AS min_temp_c,'
             f' MAX("temp_c") AS max_temp_c,'
             f' MEAN("humidity_pct") AS humidity_pct, MAX("humidity_pct") AS max_humidity_pct,'
             f' MEAN("setpoint_c") AS setpoint_c, LAST("heating_on") AS heating_on'
             f' FROM {self.raw}."thermostat" WHERE {self._window(grid, step_s)}'
             f' GROUP BY time({step_s}s), "household", "room" fill(none)')
        self._fill_thermostats(inp, index, grid, self.client.query(q))

    def _meters(self, inp, index, grid, step_s) -> None:
        # MAX, not LAST, of the register: a glitch up and back within a bucket still shows.
        q = (f'SELECT MAX("energy_kwh") AS counter_kwh, MAX("volume_m3") AS volume_m3,'
             f' MIN("credit_gbp") AS credit_gbp,'
             f' MIN("voltage_v") AS voltage_v, MAX("power_w") AS power_w,'
             f' LAST("supply_on") AS supply_on'
             f' FROM {self.raw}."meter" WHERE {self._window(grid, step_s)}'
             f' GROUP BY time({step_s}s), "household", "fuel" fill(none)')
        self._fill_meters(inp, index, grid, self.client.query(q))

    def _device_stats(self, window_start_ns: int, end_ns: int):
        start = window_start_ns
        window = f"time >= {window_start_ns} AND time < {end_ns}"
        last: dict[str, int] = {}
        bulk_last: dict[str, int] = {}
        gap: dict[str, float] = {}
        bulk_gap: dict[str, float] = {}
        bulk_step: dict[str, float] = {}
        stuck: dict[str, float] = {}
        # History loaded in bulk (source=backfill) comes at its own step, not the device's
        # reporting interval: its gaps are judged against that step (the median spacing of the
        # device's bulk readings), the collectors' readings against the registry's interval.
        # Every statistic below is a scan of the window's raw readings inside InfluxDB, which
        # runs one query's scan on one core: the ten independent queries go two at a time.
        sources = (("meter", "energy_kwh"), ("thermostat", "temp_c"))
        own = []
        for measurement, field in sources:
            # The last reading per device and source (no source tag reads as live).
            own.append(f'SELECT LAST("{field}") FROM {self.raw}."{measurement}" WHERE'
                       f' time >= {start} AND time < {end_ns} GROUP BY "device", "source"')
            # Longest gap between two readings inside the window (a silence that has ended),
            # and the usual spacing, per device and source.
            own.append(f'SELECT MAX("gap_s") AS gap_s, MEDIAN("gap_s") AS step_s FROM (SELECT'
                       f' ELAPSED("{field}", 1s) AS gap_s FROM {self.raw}."{measurement}" WHERE'
                       f' {window} GROUP BY "device", "source") GROUP BY "device", "source"')
        stuck_qs, repeat_qs = self._stuck_queries(window), self._repeat_queries(window)
        answers = self._query_all(own + [q for q, _ in stuck_qs] + [q for q, _ in repeat_qs])
        own_answers = answers[:len(own)]
        stuck_answers = answers[len(own):len(own) + len(stuck_qs)]
        repeat_answers = answers[len(own) + len(stuck_qs):]
        for i in range(len(sources)):
            for s in own_answers[2 * i]:
                if not len(s):
                    continue
                dev, t = s.tags.get("device", ""), int(s.values["time"][-1])
                into = bulk_last if s.tags.get("source") == "backfill" else last
                into[dev] = max(into.get(dev, 0), t)
            for s in own_answers[2 * i + 1]:
                if not len(s) or not np.isfinite(s.values["gap_s"][-1]):
                    continue
                dev, g = s.tags.get("device", ""), float(s.values["gap_s"][-1])
                if s.tags.get("source") == "backfill":
                    bulk_gap[dev] = max(bulk_gap.get(dev, 0.0), g)
                    bulk_step[dev] = float(s.values["step_s"][-1])
                else:
                    gap[dev] = max(gap.get(dev, 0.0), g)
        for dev, hours in self._stuck_hours(stuck_qs, stuck_answers).items():
            stuck[dev] = hours
        frozen = self._repeats(repeat_qs, repeat_answers)
        return last, bulk_last, gap, bulk_gap, bulk_step, stuck, frozen

    def _credit_query(self, first_ns: int, end_ns: int) -> str:
        return (f'SELECT MIN("credit_gbp") AS credit_gbp FROM {self.raw}."meter" WHERE'
                f' time >= {first_ns} AND time < {end_ns} GROUP BY time(1d), "household",'
                f' "fuel" fill(none)')
