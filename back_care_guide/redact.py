"""Keeps secrets out of the log, whatever a library or an exception puts into a message.

The Bot API URL contains the token (``https://api.telegram.org/bot<id>:<secret>/getMe``), and
HTTP libraries like to quote URLs in their error text. The request class never copies URLs
into its errors; this filter is the last line of defence: installed on the root handlers at
start-up, it replaces every secret (and a token's secret part on its own, which covers the
``bot<token>`` URL form and percent-encoded forms too) in the message, its arguments, the
exception text and the stack, before any handler formats the record. Uncaught exceptions
printed by Python itself go through the same redaction.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from types import TracebackType

MASK = "[REDACTED]"
# Shorter strings would mask ordinary words; a secret this short isn't one.
MIN_SECRET = 6


def secret_parts(secrets: Iterable[str]) -> list[str]:
    """Each secret, and for a bot token (``<id>:<secret>``) its secret part alone too."""
    parts: set[str] = set()
    for secret in secrets:
        secret = secret.strip()
        if not secret:
            continue
        parts.add(secret)
        if ":" in secret:
            parts.add(secret.split(":", 1)[1])
    return sorted((p for p in parts if len(p) >= MIN_SECRET), key=len, reverse=True)


class Redactor(logging.Filter):
    """A logging filter that masks secrets in a record; it never drops a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        parts = secret_parts(secrets)
        self._pattern = re.compile("|".join(map(re.escape, parts))) if parts else None
        self._formatter = logging.Formatter()

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging would print msg and args raw
            message = f"{record.msg!r} % {record.args!r}"
            record.msg, record.args = self.redact(message), None
        else:
            redacted = self.redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install(secrets: Iterable[str]) -> Redactor:
    """Put a :class:`Redactor` on every root handler (replacing an earlier one) and redact
    the tracebacks Python prints for uncaught exceptions."""
    redactor = Redactor(secrets)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, Redactor)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    _install_excepthooks(redactor)
    return redactor


_current: Redactor | None = None


def _print_redacted(exc_type: type[BaseException], exc: BaseException | None,
                    tb: TracebackType | None) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(_current.redact(text) if _current is not None else text)


def _sys_hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    _print_redacted(exc_type, exc, tb)


def _thread_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)


def _install_excepthooks(redactor: Redactor) -> None:
    global _current
    _current = redactor
    sys.excepthook = _sys_hook
    threading.excepthook = _thread_hook
