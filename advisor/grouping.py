"""One situation, one case: the money risks of a home (prepayment credit running out, a bill
shock, fuel poverty) are one `money` case with a reason per risk that fired, not three cases
an officer must open one by one. Hazards stay one case each: each has its own Awaab's Law
clock.

`group_money(results)` replaces the three rule results by one `money` RuleResult: flagged
when any is, the highest severity and score, the reasons of the risks that fired (in order
of urgency), and their numbers prefixed by the risk (`credit_runout.days_left`) with
`<risk>.fired` saying which fired. The rules' own results stay as they are for the counts
and the benchmark.
"""

from __future__ import annotations

import numpy as np

from advisor.rules.base import RuleResult

MONEY = "money"
# Most urgent first: it leads the reasons and chooses the tip.
MONEY_KINDS = ("credit_runout", "bill_shock", "fuel_poverty")
LABELS = {"credit_runout": "Credit", "bill_shock": "Bill", "fuel_poverty": "Fuel poverty"}


def group_money(results: dict[str, RuleResult]) -> dict[str, RuleResult]:
    """The results with the money risks folded into one `money` result (if any is present)."""
    parts = {k: results[k] for k in MONEY_KINDS if k in results}
    if not parts:
        return dict(results)
    out = {k: r for k, r in results.items() if k not in MONEY_KINDS}
    first = next(iter(parts.values()))
    n = len(first.flagged)
    flagged = np.zeros(n, dtype=bool)
    severity = np.zeros(n, dtype=np.int8)
    score = np.zeros(n)
    numbers: dict[str, np.ndarray] = {}
    for kind, r in parts.items():
        flagged |= r.flagged
        severity = np.maximum(severity, r.severity)
        score = np.maximum(score, r.score)
        numbers[f"{kind}.fired"] = r.flagged.copy()
        numbers[f"{kind}.severity"] = r.severity.astype(np.int64)
        for name, values in r.numbers.items():
            numbers[f"{kind}.{name}"] = np.asarray(values)
    reasons = {kind: r.reason for kind, r in parts.items()}

    def reason(nums: dict) -> str:
        texts = []
        for kind, fmt in reasons.items():
            if nums.get(f"{kind}.fired"):
                sub = {k.split(".", 1)[1]: v for k, v in nums.items()
                       if k.startswith(kind + ".")}
                texts.append(f"{LABELS[kind]}: {fmt(sub)}")
        return " | ".join(texts)

    out[MONEY] = RuleResult(MONEY, flagged, severity, score, numbers, reason)
    return out


def sub_evidence(evidence: dict, kind: str) -> dict:
    """The numbers of one risk inside a money case's evidence, without the prefix."""
    prefix = kind + "."
    return {k[len(prefix):]: v for k, v in evidence.items() if k.startswith(prefix)}


def fired(evidence: dict) -> list[str]:
    """The money risks that fired in a money case's evidence, most urgent first."""
    return [k for k in MONEY_KINDS if evidence.get(f"{k}.fired")]
