"""Dead letters: points InfluxDB refused, kept with the server's reason so nothing is lost."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path

log = logging.getLogger("hearth.influx")


class DeadLetterFile:
    """Appends one JSON object per refused line: time, line, error, database, rp."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def add(self, lines: list[str], error: str, database: str, retention_policy: str | None
            ) -> None:
        if not lines:
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        text = "".join(json.dumps({"time": now, "line": line, "error": error,
                                   "database": database, "retention_policy": retention_policy},
                                  ensure_ascii=False) + "\n" for line in lines)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text)
        log.warning("InfluxDB refused %d point(s): %s; kept in %s", len(lines), error[:300],
                    self.path)

    def read(self) -> list[dict]:
        """All dead letters (for tests and `hearth` tooling)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
