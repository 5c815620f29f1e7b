"""``LOG_FORMAT=json``: one JSON object per line, for log collectors.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``event`` (the message),
``exception`` when there is one, and, when the line is about one update, ``update_kind`` and
``latency_ms`` (given as ``extra=`` where updates are handled). Other ``extra`` fields are
left out, so nothing reaches the log by accident. The secrets are masked before this runs:
the :class:`~back_care_guide.redact.Redactor` filter sits on the same handler.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
EXTRA_KEYS = ("update_kind", "latency_ms")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key in EXTRA_KEYS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str)
