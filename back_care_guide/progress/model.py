"""One finished (or abandoned) stretching session, as the progress views see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

COMPLETED = "completed"
OUTCOMES = frozenset({
    COMPLETED, "stopped_by_user", "pain", "red_flag", "contraindicated", "chronic", "clinician",
})

PAIN_MIN = 0
PAIN_MAX = 10


@dataclass(frozen=True)
class SessionRecord:
    started_at: datetime  # timezone-aware, UTC
    outcome: str  # one of OUTCOMES
    pain_before: int | None
    pain_after: int | None

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ValueError("started_at must be timezone-aware")
        for rating in (self.pain_before, self.pain_after):
            if rating is not None and not PAIN_MIN <= rating <= PAIN_MAX:
                raise ValueError(f"pain rating {rating} outside {PAIN_MIN}-{PAIN_MAX}")

    @property
    def completed(self) -> bool:
        return self.outcome == COMPLETED

    def local_date(self, zone: tzinfo) -> date:
        return self.started_at.astimezone(zone).date()


def window_start(now: datetime, zone: tzinfo, days: int) -> date:
    """First local calendar day of the window: ``days`` days ending with today (local)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return now.astimezone(zone).date() - timedelta(days=days - 1)


def recent(records: Iterable[SessionRecord], now: datetime, zone: tzinfo, days: int) -> list[SessionRecord]:
    """Records of the last ``days`` local calendar days (today included), oldest first.

    Records after ``now`` are left out, so a clock that ran ahead cannot inflate today.
    """
    first = window_start(now, zone, days)
    kept = [r for r in records if r.started_at <= now and r.local_date(zone) >= first]
    kept.sort(key=lambda r: r.started_at)
    return kept
