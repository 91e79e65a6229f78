"""Personal data kept out of officers' free-text notes: phone numbers, email addresses and the
household's tenants' names are masked when a note is saved, and the officer is told what was
taken out (refer to tenants by their tenant id; contact details live in the registry only)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# UK numbers as people write them (Ofcom's National Telephone Numbering Plan: a national number
# is 0 then 9 or 10 digits, 01/02 geographic, 03 non-geographic, 07 mobile, 08 freephone and
# special, 09 premium; from abroad +44 or 0044 replaces the 0, sometimes written "(0)"), with
# any of space, hyphen, dot or brackets between the digits, including one digit at a time as
# "0 7 7 0 0 9 0 0 1 2 3". A candidate is counted before it is masked, so a date, an amount, a
# case number or a 12-digit meter serial is kept.
_PHONE = re.compile(
    r"(?<![\w+£.])"
    r"(?:(?P<intl>(?:\+|00)\s?44[\s.-]?(?:\(0\)[\s.-]?)?)|\(?(?=0))"
    r"(?P<digits>\d(?:[\s().-]{0,2}\d){7,10})"
    r"(?![\w£])")


def _is_uk_number(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match["digits"])
    if match["intl"] is not None:
        return 9 <= len(digits) <= 10 and digits[0] != "0"
    return 10 <= len(digits) <= 11 and digits[0] == "0" and digits[1] != "0"


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
        n = 0

        def _mask(match: re.Match[str], what: str = what) -> str:
            nonlocal n
            if what == "phone number" and not _is_uk_number(match):
                return match[0]
            n += 1
            return MASK[what]

        text = pattern.sub(_mask, text)
        if n:
            removed[what] = n
    return Masked(text, removed)
