"""Daily stretch reminders: parsing, schedule math, storage and delivery."""

from back_care_guide.reminders.dispatcher import DispatchStats, FloodWait, ReminderDispatcher, SendResult
from back_care_guide.reminders.parse import is_valid_zone, parse_time, resolve_timezone, zone_for
from back_care_guide.reminders.schedule import ReminderRule, local_to_utc, next_fire, next_fire_after_today
from back_care_guide.reminders.store import (
    MAX_REMINDERS_PER_USER,
    Due,
    Reminder,
    ReminderStore,
    TooManyReminders,
)

__all__ = [
    "MAX_REMINDERS_PER_USER",
    "DispatchStats",
    "Due",
    "FloodWait",
    "Reminder",
    "ReminderDispatcher",
    "ReminderRule",
    "ReminderStore",
    "SendResult",
    "TooManyReminders",
    "is_valid_zone",
    "local_to_utc",
    "next_fire",
    "next_fire_after_today",
    "parse_time",
    "resolve_timezone",
    "zone_for",
]
