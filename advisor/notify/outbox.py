"""The local sender: each tip becomes one JSON line in the outbox file (settings.notifier.
outbox_path). The outbox is the only file outside the registry that holds a phone number."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from advisor.db import iso, utc_now
from advisor.notify.base import SendResult, Tip


class OutboxSender:
    name = "outbox"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, tip: Tip) -> SendResult:
        provider_id = str(uuid.uuid4())
        line = {"id": provider_id, "at": iso(utc_now()), "household_id": tip.household_id,
                "case_id": tip.case_id, "template": tip.kind, "template_id": tip.template_id,
                "reference": tip.reference, "phone_number": tip.phone_number, "body": tip.body}
        self._append(line)
        # Written to a file is not delivered to anyone: no Notify key, no text.
        return SendResult(provider_id, "outbox")

    def status(self, provider_id: str) -> str:
        return "outbox"

    def cancel(self, provider_id: str, reason: str) -> None:
        """Append a cancellation of an earlier line, so whoever reads the outbox skips it."""
        self._append({"id": provider_id, "at": iso(utc_now()), "cancelled": True,
                      "reason": reason})

    def _append(self, line: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
