"""The numbers behind a progress message: sessions done, pain change, streak."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from back_care_guide.progress.model import SessionRecord, recent


@dataclass(frozen=True)
class Summary:
    sessions_completed: int
    sessions_total: int
    # Mean of (after - before) over completed sessions rated both times; negative = less pain.
    average_change: float | None
    # Consecutive local days, ending today (or yesterday if nothing yet today), with a completed session.
    current_streak_days: int
    has_data: bool


def summarize(records: Iterable[SessionRecord], now: datetime, zone: tzinfo, days: int = 30) -> Summary:
    """Summarize the records of the last ``days`` local calendar days (today included)."""
    window = recent(records, now, zone, days)
    completed = [r for r in window if r.completed]
    changes = [r.pain_after - r.pain_before for r in completed
               if r.pain_before is not None and r.pain_after is not None]
    average = sum(changes) / len(changes) if changes else None

    done_days = {r.local_date(zone) for r in completed}
    day = now.astimezone(zone).date()
    if day not in done_days:
        day -= timedelta(days=1)
    streak = 0
    while day in done_days:
        streak += 1
        day -= timedelta(days=1)

    return Summary(
        sessions_completed=len(completed),
        sessions_total=len(window),
        average_change=average,
        current_streak_days=streak,
        has_data=bool(window),
    )
