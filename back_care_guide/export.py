"""/export: a copy of everything the bot keeps about one person, as a JSON document.

The person's own data, read as it is now: their profile (with the safety hold in force),
every logged session with its pain ratings, their reminders and their safety history.
Dates are ISO 8601 with the offset, in the person's time zone (UTC until they set one;
a reminder's next time in the reminder's own zone), so they read naturally and still
compare exactly. ``version`` changes when a field changes meaning or goes away; a field
added to the document keeps it.

The document is health data: it goes to the person and nowhere else (never into a log).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from back_care_guide.safety import hold as holds
from back_care_guide.safety.triage_rules import TriageRules
from back_care_guide.store.base import Store
from back_care_guide.store.records import Profile, Reminder, SafetyHold

FORMAT = "back-care-guide-export"
VERSION = 1
FILENAME_PREFIX = "back-care-guide-export-"


@dataclass(frozen=True, slots=True)
class ExportedHold:
    """The safety outcome that keeps the stretches away, as it stands at the export."""

    tier: str
    sign: str
    since: str
    day: str  # the person's local date when it began
    in_force: bool  # False once it has run out (a stop-today hold the day after)


@dataclass(frozen=True, slots=True)
class ExportedProfile:
    user_id: int
    language: str | None
    country: str | None
    timezone: str | None
    settings: dict[str, Any]
    cleared: dict[str, str]  # lasting condition -> when the person said a clinician cleared it
    safety_hold: ExportedHold | None


@dataclass(frozen=True, slots=True)
class ExportedSession:
    started_at: str
    ended_at: str
    outcome: str
    pain_before: int | None
    pain_after: int | None


@dataclass(frozen=True, slots=True)
class ExportedReminder:
    time: str  # HH:MM, local to ``zone``
    zone: str
    days: str  # "daily" | "weekdays" (Monday to Friday)
    next_fire: str  # the snooze when one is set, else the next regular time
    active: bool  # False while the person can't be reached
    created_at: str


@dataclass(frozen=True, slots=True)
class ExportedSafetyEvent:
    at: str
    kind: str  # reported | corrected | cleared
    tier: str
    sign: str
    via: str  # button | text | rating | check


@dataclass(frozen=True, slots=True)
class Export:
    exported_at: str
    profile: ExportedProfile
    sessions: tuple[ExportedSession, ...]
    reminders: tuple[ExportedReminder, ...]
    safety_events: tuple[ExportedSafetyEvent, ...]

    @property
    def filename(self) -> str:
        """``back-care-guide-export-YYYY-MM-DD.json``, the person's local date."""
        return f"{FILENAME_PREFIX}{self.exported_at[:10]}.json"

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)}
        return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


async def build_export(profile: Profile, store: Store, rules: TriageRules, now: float) -> Export:
    """Everything kept about ``profile``'s person; ``profile`` is the live one (it may be
    newer in memory than in the store), the histories come from the store."""
    zone = holds.zone_of(profile)
    uid = profile.user_id
    async with store.transaction() as tx:  # one moment's histories
        sessions = await tx.sessions.since(uid, 0.0)
        reminders = await tx.reminders.list(uid)
        safety_events = await tx.safety_events.for_user(uid)
    return Export(
        exported_at=_iso(now, zone),
        profile=ExportedProfile(
            uid, profile.language, profile.country, profile.timezone, dict(profile.extra),
            {sign: _iso(at, zone) for sign, at in profile.cleared.items()},
            _hold(profile.hold, rules, now, zone)),
        sessions=tuple(ExportedSession(_iso(s.started_at, zone), _iso(s.ended_at, zone),
                                     s.outcome, s.pain_before, s.pain_after)
                       for s in sessions),
        reminders=tuple(_reminder(r, zone) for r in reminders),
        safety_events=tuple(ExportedSafetyEvent(_iso(e.at, zone), e.kind, e.tier, e.sign, e.via)
                            for e in safety_events),
    )


def _hold(hold: SafetyHold | None, rules: TriageRules, now: float, zone: tzinfo) -> ExportedHold | None:
    if hold is None:
        return None
    return ExportedHold(hold.tier, hold.sign, _iso(hold.since, zone), hold.day,
                      holds.active(hold, rules, now, zone))


def _reminder(reminder: Reminder, zone: tzinfo) -> ExportedReminder:
    rule = reminder.rule
    return ExportedReminder(rule.hhmm, rule.zone, "weekdays" if rule.weekdays_only else "daily",
                          _iso(reminder.due_at, rule.tz), reminder.active,
                          _iso(reminder.created_at, zone))


def _iso(epoch: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(epoch, zone).isoformat(timespec="seconds")


__all__ = ["FILENAME_PREFIX", "FORMAT", "VERSION", "Export", "build_export"]
