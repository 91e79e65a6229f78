"""The notifier interface: a sender takes one rendered tip to one number and says what happened.

Senders never log the phone number. `SendError` says whether trying again later may work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Tip:
    """One SMS tip: the number is only here, on its way to the sender."""

    household_id: str
    case_id: int | None
    kind: str
    template_id: str | None
    personalisation: dict[str, str]
    body: str
    reference: str
    phone_number: str

    def __repr__(self) -> str:  # never print the number
        return f"Tip({self.household_id}, {self.kind}, case={self.case_id})"


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    status: str  # a sms_log status: sending, delivered, ...


class SendError(Exception):
    """A send that failed. retry: True when the same tip may be sent later (429, 5xx, network);
    fatal: True when no other tip can succeed either (403: the API key is wrong)."""

    def __init__(self, message: str, status: str, retry: bool = False, fatal: bool = False):
        super().__init__(message)
        self.status = status
        self.retry = retry
        self.fatal = fatal


class Notifier(Protocol):
    name: str

    def send(self, tip: Tip) -> SendResult: ...

    def status(self, provider_id: str) -> str: ...
