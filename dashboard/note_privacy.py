"""Personal data kept out of officers' free-text notes: phone numbers, email addresses and the
household's tenants' names are masked when a note is saved, and the officer is told what was
taken out (refer to tenants by their tenant id; contact details live in the registry only)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# UK numbers as people write them: 07700 900123, +44 7700 900123, 0044 7700 900123 (the
# international prefix as dialled from abroad), 0161 496 0000, (0161) 4960000.
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)44\s?\(?0?\)?\s?|\(?0)\d[\d\s()-]{7,12}\d(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MASK = {"phone number": "[phone number removed]", "email address": "[email removed]",
        "tenant's name": "[name removed]"}
PLURAL = {"phone number": "phone numbers", "email address": "email addresses",
          "tenant's name": "mentions of the tenants' names"}


@dataclass(frozen=True)
class Masked:
    text: str
    removed: dict[str, int]  # what -> how many

    def warning(self) -> str | None:
        if not self.removed:
            return None
        parts = [f"{n} {what if n == 1 else PLURAL[what]}" for what, n in self.removed.items()]
        return ("Taken out of the note before it was saved: " + ", ".join(parts) + ". Notes "
                "must not hold contact details or names: refer to the tenant by tenant id.")


def _name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    alts = []
    for name in names:
        if not name:
            continue
        alts.append(re.escape(name.strip()))
        alts += [rf"\b{re.escape(part)}\b" for part in name.split() if len(part) >= 3]
    if not alts:
        return None
    alts.sort(key=len, reverse=True)  # a full name before its parts
    return re.compile("|".join(alts), re.IGNORECASE)


def mask_note(text: str, tenant_names: Iterable[str] = ()) -> Masked:
    """``text`` with phone numbers, emails and the given names replaced by markers."""
    removed: dict[str, int] = {}
    for what, pattern in (("email address", _EMAIL), ("phone number", _PHONE),
                          ("tenant's name", _name_pattern(tenant_names))):
        if pattern is None:
            continue
        text, n = pattern.subn(MASK[what], text)
        if n:
            removed[what] = n
    return Masked(text, removed)
