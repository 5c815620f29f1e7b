"""The python-telegram-bot adapter."""

import os

# Opt in to PTB's upcoming behaviour (time periods as datetime.timedelta, e.g.
# RetryAfter.retry_after) instead of a deprecation warning on every flood-control error.
os.environ.setdefault("PTB_TIMEDELTA", "true")
