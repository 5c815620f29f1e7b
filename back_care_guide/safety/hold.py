"""How long a safety outcome keeps the stretches away, in the person's own time zone.

An outcome that sticks is a :class:`~back_care_guide.store.records.SafetyHold` on the profile. The
tier's ``lock`` in ``flows/triage.yaml`` says when it ends: at the next local day, or only
when the person says a clinician has cleared them, which is accepted no earlier than
:func:`clearable_from`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from back_care_guide.reminders.parse import zone_for
from back_care_guide.safety.triage_rules import Tier, TriageRules
from back_care_guide.store.records import Profile, SafetyHold


def zone_of(profile: Profile) -> tzinfo:
    """The person's time zone, UTC until they set one."""
    if profile.timezone:
        try:
            return zone_for(profile.timezone)
        except ValueError:
            return UTC
    return UTC


def local_day(now: float, zone: tzinfo) -> date:
    return datetime.fromtimestamp(now, zone).date()


def new_hold(rules: TriageRules, sign: str, now: float, zone: tzinfo) -> SafetyHold:
    return SafetyHold(rules.tier_of(sign).value, sign, now, local_day(now, zone).isoformat())


def active(hold: SafetyHold | None, rules: TriageRules, now: float, zone: tzinfo) -> bool:
    """Whether the hold still keeps the stretches away at ``now``."""
    if hold is None:
        return False
    lock = rules.tiers.rule(Tier(hold.tier)).lock
    if lock.until == "day":
        return local_day(now, zone) <= date.fromisoformat(hold.day)
    return True  # until the person says they have been cleared


def clearable_from(hold: SafetyHold, rules: TriageRules, zone: tzinfo) -> float | None:
    """The earliest time "I've been cleared" is accepted (None: the hold ends by itself)."""
    lock = rules.tiers.rule(Tier(hold.tier)).lock
    if lock.until != "clearance":
        return None
    earliest = hold.since + lock.min_hours * 3600
    if lock.next_day:
        next_day = date.fromisoformat(hold.day) + timedelta(days=1)
        midnight = datetime.combine(next_day, time(0, 0), tzinfo=zone).timestamp()
        earliest = max(earliest, midnight)
    return earliest


def more_severe(new: Tier, hold: SafetyHold | None) -> bool:
    """Whether a new finding of ``new`` tier outranks (or equals) the hold in force."""
    return hold is None or list(Tier).index(new) <= list(Tier).index(Tier(hold.tier))


__all__ = ["active", "clearable_from", "local_day", "more_severe", "new_hold", "zone_of"]
