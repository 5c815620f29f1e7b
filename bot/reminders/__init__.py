"""Daily stretch reminders: parsing, schedule math, storage and delivery."""

from bot.reminders.dispatcher import DispatchStats, FloodWait, ReminderDispatcher, SendResult
from bot.reminders.parse import is_valid_zone, parse_time, resolve_timezone, zone_for
from bot.reminders.schedule import ReminderRule, local_to_utc, next_fire, next_fire_after_today
from bot.reminders.store import MAX_REMINDERS_PER_USER, Due, Reminder, ReminderStore, TooManyReminders

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
