"""How records are written as column values, the same for every backend: a prompt's and a
safety hold's JSON, a reminder row, times as UTC datetimes, a rule's next fire."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from back_care_guide.reminders.schedule import ReminderRule, next_fire
from back_care_guide.store.records import Prompt, Reminder, SafetyHold

# Every table that holds something about a user; /delete empties them all.
USER_TABLES = ("conversations", "timers", "sessions", "profiles", "reminders", "safety_events")


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def next_occurrence(rule: ReminderRule, now: float) -> float:
    return next_fire(rule, utc(now)).timestamp()


def reminder_from_row(row: tuple[Any, ...]) -> Reminder:
    rid, user_id, local_time, weekdays_only, zone, next_fire_utc, snoozed_until, active, created_at = row
    rule = ReminderRule(time.fromisoformat(local_time), bool(weekdays_only), zone)
    return Reminder(int(rid), int(user_id), rule, float(next_fire_utc),
                    None if snoozed_until is None else float(snoozed_until), bool(active),
                    float(created_at))


def prompt_to_json(prompt: Prompt | None) -> str | None:
    if prompt is None:
        return None
    return json.dumps({"ref": prompt.ref, "text": prompt.text, "seq": prompt.seq,
                       "picture": prompt.picture, "latest": prompt.latest})


def prompt_from_json(raw: str | None) -> Prompt | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return Prompt(int(data["ref"]), str(data["text"]), int(data["seq"]),
                  bool(data.get("picture", False)), bool(data.get("latest", False)))


def hold_to_json(hold: SafetyHold | None) -> str | None:
    if hold is None:
        return None
    return json.dumps({"tier": hold.tier, "sign": hold.sign, "since": hold.since, "day": hold.day})


def hold_from_json(raw: str | None) -> SafetyHold | None:
    if raw is None:
        return None
    data: dict[str, Any] = json.loads(raw)
    return SafetyHold(str(data["tier"]), str(data["sign"]), float(data["since"]), str(data["day"]))
