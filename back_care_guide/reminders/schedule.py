"""Schedule math for daily reminders at a local wall-clock time.

A reminder is "HH:MM every day" or "HH:MM Monday to Friday" in the user's zone. The wall
time is kept across daylight-saving changes (08:00 stays 08:00 local, so its UTC instant
moves by an hour). On the two change days a day's wall time maps to exactly one instant:

* **Non-existent** local time (spring forward, e.g. 02:30 on 2026-03-29 in Europe/Berlin,
  where clocks jump 02:00 → 03:00): the time is shifted forward by the length of the gap,
  so it fires once at 03:30 CEST (= 01:30 UTC). This is PEP 495's reading of ``fold=0``
  (the offset from before the transition applies).
* **Ambiguous** local time (fall back, e.g. 01:30 on 2026-11-01 in America/New_York, which
  happens at 05:30 UTC and again at 06:30 UTC): it fires once, at the first occurrence
  (``fold=0``, EDT, 05:30 UTC). The second 01:30 is never used.

"Weekdays only" means Monday to Friday of the *scheduled local date* in the user's zone.
Fixed-offset zones (``"UTC+05:30"``) have no daylight saving, so none of this applies there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from back_care_guide.reminders.parse import zone_for

__all__ = ["ReminderRule", "local_to_utc", "next_fire", "next_fire_after_today"]

# Look one day back (a shifted wall time can land on the next local date) and far enough
# ahead to always contain a weekday.
_DAYS_BACK = 1
_DAYS_AHEAD = 8


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """When a reminder fires: ``local_time`` (whole minutes, naive) in ``zone``.

    ``zone`` is a key accepted by :func:`back_care_guide.reminders.parse.zone_for`; an unknown key,
    seconds, or a time carrying a tzinfo raise ``ValueError``.
    """

    local_time: time
    weekdays_only: bool
    zone: str

    def __post_init__(self) -> None:
        t = self.local_time
        if t.tzinfo is not None or t.second or t.microsecond:
            raise ValueError("local_time must be a naive time in whole minutes")
        zone_for(self.zone)  # raises ValueError for an unknown zone

    @property
    def tz(self) -> tzinfo:
        return zone_for(self.zone)

    @property
    def hhmm(self) -> str:
        return self.local_time.strftime("%H:%M")

    def runs_on(self, day: date) -> bool:
        return not self.weekdays_only or day.weekday() < 5


def local_to_utc(day: date, at: time, tz: tzinfo) -> datetime:
    """The single UTC instant for wall time ``at`` on local ``day`` (see the module rules).

    ``fold=0`` gives both rules: in a gap the pre-transition offset applies (shift forward
    by the gap); in an overlap the first occurrence is chosen.
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def next_fire(rule: ReminderRule, after: datetime) -> datetime:
    """The first firing instant strictly after ``after`` (aware), as an aware UTC datetime."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    tz = rule.tz
    today = after.astimezone(tz).date()
    best: datetime | None = None
    for delta in range(-_DAYS_BACK, _DAYS_AHEAD + 1):
        day = today + timedelta(days=delta)
        if not rule.runs_on(day):
            continue
        instant = local_to_utc(day, rule.local_time, tz)
        if instant > after and (best is None or instant < best):
            best = instant
    assert best is not None  # the window always holds a future weekday
    return best


def next_fire_after_today(rule: ReminderRule, now: datetime) -> datetime:
    """The first occurrence scheduled for a local date after ``now``'s local date.

    Used by "skip today": whatever is left of today (in the rule's zone) is skipped.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    tz = rule.tz
    today = now.astimezone(tz).date()
    for delta in range(1, _DAYS_AHEAD + 1):
        day = today + timedelta(days=delta)
        if rule.runs_on(day):
            instant = local_to_utc(day, rule.local_time, tz)
            # Never go backwards: a later date's instant can only precede ``now`` in
            # pathological zone data (a skipped calendar day).
            if instant > now:
                return instant
    raise AssertionError("no occurrence within a week")  # pragma: no cover
