"""One advisor run: inputs -> rules -> cases -> tips, and the summary a person reads."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from advisor.cases import CaseStore, SyncSummary
from advisor.notify.dispatch import TipSummary
from advisor.rules import KINDS, SEVERITIES, RuleResult

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    households: int
    flagged: dict[str, Counter]                 # kind -> severity -> count
    cases: SyncSummary
    tips: TipSummary | None
    timings_s: dict[str, float] = field(default_factory=dict)
    dry_run: bool = False

    def table(self) -> str:
        """The summary table printed by `hearth advise`."""
        sev = SEVERITIES[1:]
        head = (f"{'risk':<20}" + "".join(f"{s:>10}" for s in sev)
                + f"{'new':>7}{'worse':>7}{'better':>7}{'closed':>8}")
        lines = [f"Assessed {self.households} households"
                 + (" (dry run: nothing written, nothing sent)" if self.dry_run else ""), "",
                 head, "-" * len(head)]
        c = self.cases
        for kind in KINDS:
            counts = self.flagged.get(kind, Counter())
            lines.append(f"{kind:<20}" + "".join(f"{counts.get(s, 0):>10}" for s in sev)
                         + f"{c.opened[kind]:>7}{c.worsened[kind]:>7}{c.improved[kind]:>7}"
                         f"{c.closed[kind]:>8}")
        # The money risks above open one case per home (advisor/grouping.py): that row. Its
        # flags are not added to the total (they are the rows above, by home).
        counts = self.flagged.get("money", Counter())
        lines.append(f"{'= money case':<20}" + "".join(f"{counts.get(s, 0):>10}" for s in sev)
                     + f"{c.opened['money']:>7}{c.worsened['money']:>7}"
                     f"{c.improved['money']:>7}{c.closed['money']:>8}")
        total = {s: sum(self.flagged.get(k, Counter()).get(s, 0) for k in KINDS) for s in sev}
        lines.append("-" * len(head))
        lines.append(f"{'total':<20}" + "".join(f"{total[s]:>10}" for s in sev)
                     + f"{sum(c.opened.values()):>7}{sum(c.worsened.values()):>7}"
                     f"{sum(c.improved.values()):>7}{sum(c.closed.values()):>8}")
        if sum(c.kept_closed.values()) or sum(c.reopened.values()):
            lines.append(f"Resolved cases kept closed (no worse, quiet period running):"
                         f" {sum(c.kept_closed.values())}; opened again with a reason:"
                         f" {sum(c.reopened.values())}")
        lines.append("")
        if self.tips is None:
            lines.append("Tips: not run")
        else:
            t = self.tips
            sent = ", ".join(f"{k} {v}" for k, v in sorted(t.sent.items())) or "none"
            lines.append(f"Tips sent: {t.total_sent()} ({sent})")
            for title, counter in (("deferred", t.deferred), ("skipped", t.skipped),
                                   ("failed", t.failed)):
                if counter:
                    why = ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))
                    lines.append(f"Tips {title}: {sum(counter.values())} ({why})")
        if self.timings_s:
            lines.append("Time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.timings_s.items()))
        return "\n".join(lines)


def flagged_counts(results: dict[str, RuleResult]) -> dict[str, Counter]:
    """Flags per risk and severity, and per home for the money case."""
    from advisor.grouping import MONEY, group_money

    out = {}
    grouped = group_money(results)
    items = list(results.items()) + ([(MONEY, grouped[MONEY])] if MONEY in grouped else [])
    for kind, r in items:
        codes = np.bincount(r.severity[r.flagged].astype(np.int64), minlength=len(SEVERITIES))
        out[kind] = Counter({SEVERITIES[i]: int(n) for i, n in enumerate(codes) if i and n})
    return out


def run_advice(settings, now: datetime | None = None, dry_run: bool = False,
               patch: str | None = None, send_tips: bool = True, shard=None) -> RunReport:
    """Read the inputs, assess every household, update the cases and send the tips."""
    from advisor.db import utc_now
    from advisor.engine import assess
    from advisor.inputs import InputLoader
    from advisor.notify import TipDispatcher, make_sender
    from hearth.influx import InfluxClient
    from hearth.registry import Registry

    now = now or utc_now()
    timings: dict[str, float] = {}
    with Registry(settings.registry.target) as reg, InfluxClient.from_settings(settings) as client:
        t0 = time.perf_counter()
        inputs = InputLoader(settings, reg, client).load(now, patch, shard=shard)
        timings["inputs"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = assess(inputs, settings.advisor)
        timings["rules"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store = CaseStore(reg, settings.advisor)
        sync = store.sync(results, inputs.households, now, dry_run=dry_run)
        timings["cases"] = time.perf_counter() - t0
        tips = None
        if send_tips:
            t0 = time.perf_counter()
            sender = make_sender(settings)
            # A shard texts only its own households: N workers never race for one tip.
            mine = set(inputs.households.tolist()) if shard is not None else None
            tips = TipDispatcher(store.conn, settings.notifier, sender, now,
                                 households=mine).run(dry_run)
            timings["tips"] = time.perf_counter() - t0
    return RunReport(inputs.n, flagged_counts(results), sync, tips, timings, dry_run)
