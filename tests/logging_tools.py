"""For tests that call ``setup_logging``: put the logging set-up back afterwards."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from back_care_guide import redact

QUIETED = ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access", "transitions")


@contextmanager
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The root logger with no handlers (not even pytest's capture), for ``setup_logging``
    to configure; handlers, levels, the exception hooks and the redactor come back after."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    levels = {name: logging.getLogger(name).level for name in QUIETED}
    try:
        yield root
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        redact._current = None
