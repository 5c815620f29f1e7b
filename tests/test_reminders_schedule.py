"""Parsing and schedule math for reminders (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from back_care_guide.reminders.parse import is_valid_zone, parse_time, resolve_timezone, zone_for
from back_care_guide.reminders.schedule import ReminderRule, local_to_utc, next_fire, next_fire_after_today

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# ------------------------------------------------------------------ parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:00", time(8, 0)),
        ("8:00", time(8, 0)),
        ("20:30", time(20, 30)),
        ("8.30", time(8, 30)),
        (" 7:05 ", time(7, 5)),
        ("0:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("7pm", time(19, 0)),  # the ways people write times
        ("7 pm", time(19, 0)),
        ("7:30 pm", time(19, 30)),
        ("8:00 PM", time(20, 0)),
        ("7.30 a.m.", time(7, 30)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("19h", time(19, 0)),
        ("19.30", time(19, 30)),
    ],
)
def test_parse_time_accepts(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text", ["25:99", "24:00", "23:60", "tomorrow-ish", "", "   ", "8", "8:5", "08:00:00", "-1:00",
             "13pm", "0am", "19:30 pm", "25h"]
)
def test_parse_time_rejects(text: str) -> None:
    assert parse_time(text) is None


# ------------------------------------------------------------------ resolve_timezone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("america/new york", "America/New_York"),
        ("Berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Ho Chi Minh", "Asia/Ho_Chi_Minh"),
        ("port-au-prince", "America/Port-au-Prince"),
        ("Buenos Aires", "America/Argentina/Buenos_Aires"),  # canonical over the legacy link
        ("US/Eastern", "US/Eastern"),  # a legacy alias, typed exactly
        ("Eastern", None),  # ...but never guessed from a legacy alias' last part
        ("Singapore", "Asia/Singapore"),  # the city, not the legacy top-level "Singapore"
        ("japan", "Japan"),  # a legacy key typed in full
        ("UTC", "UTC"),
        ("gmt", "UTC"),
        ("UTC+0", "UTC"),
        ("UTC+2", "UTC+02:00"),
        ("GMT-5", "UTC-05:00"),
        ("+05:30", "UTC+05:30"),
        ("utc+5:45", "UTC+05:45"),
        ("UTC+14", "UTC+14:00"),
        ("UTC-12:00", "UTC-12:00"),
        ("UTC+14:30", None),
        ("GMT-15", None),
        ("UTC+5:75", None),
        ("Narnia", None),
        ("Europe/Narnia", None),
        ("", None),
        ("tomorrow-ish", None),
    ],
)
def test_resolve_timezone(text: str, expected: str | None) -> None:
    assert resolve_timezone(text) == expected


def test_every_resolved_key_is_usable() -> None:
    for text in ("Berlin", "UTC+05:30", "UTC-03:00", "US/Eastern", "UTC"):
        key = resolve_timezone(text)
        assert key is not None
        assert is_valid_zone(key)


def test_zone_for() -> None:
    assert zone_for("Europe/Berlin") == BERLIN
    fixed = zone_for("UTC+05:30")
    assert fixed.utcoffset(None) == timedelta(hours=5, minutes=30)
    assert zone_for("UTC-05:00").utcoffset(None) == timedelta(hours=-5)
    for bad in ("Europe/Narnia", "UTC+15:00", "UTC+00:00", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            zone_for(bad)
        assert not is_valid_zone(bad)


# ------------------------------------------------------------------ rule


def test_rule_validates() -> None:
    with pytest.raises(ValueError):
        ReminderRule(time(8, 0), False, "Europe/Narnia")
    with pytest.raises(ValueError):
        ReminderRule(time(8, 0, 30), False, "UTC")
    with pytest.raises(ValueError):
        ReminderRule(time(8, 0, tzinfo=UTC), False, "UTC")
    assert ReminderRule(time(8, 5), True, "UTC").hhmm == "08:05"


# ------------------------------------------------------------------ next_fire


def _local(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


def test_next_fire_is_strictly_after() -> None:
    rule = ReminderRule(time(8, 0), False, "Europe/Berlin")
    at_eight = _local(BERLIN, 2026, 3, 2, 8, 0)
    assert next_fire(rule, at_eight - timedelta(seconds=1)) == at_eight.astimezone(UTC)
    assert next_fire(rule, at_eight) == _local(BERLIN, 2026, 3, 3, 8, 0).astimezone(UTC)
    assert next_fire(rule, at_eight).tzinfo is UTC


def test_next_fire_rejects_naive() -> None:
    rule = ReminderRule(time(8, 0), False, "UTC")
    with pytest.raises(ValueError):
        next_fire(rule, datetime(2026, 1, 1))


def test_weekdays_only_uses_the_users_zone() -> None:
    # Auckland is UTC+13 in March: Monday 08:00 there is Sunday 19:00 UTC.
    auckland = ZoneInfo("Pacific/Auckland")
    rule = ReminderRule(time(8, 0), True, "Pacific/Auckland")
    friday_noon = _local(auckland, 2026, 3, 6, 12, 0)
    fire = next_fire(rule, friday_noon)
    assert fire.astimezone(auckland) == _local(auckland, 2026, 3, 9, 8, 0)  # Monday local
    assert fire.weekday() == 6  # ...which is a Sunday in UTC
    # walk two weeks: only Monday..Friday local dates fire
    seen, t = [], friday_noon
    for _ in range(10):
        t = next_fire(rule, t)
        seen.append(t.astimezone(auckland).weekday())
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]


def test_every_day_fires_on_weekends() -> None:
    rule = ReminderRule(time(8, 0), False, "Europe/Berlin")
    t, days = _local(BERLIN, 2026, 3, 6, 12, 0), []
    for _ in range(7):
        t = next_fire(rule, t)
        days.append(t.astimezone(BERLIN).weekday())
    assert days == [5, 6, 0, 1, 2, 3, 4]


def _walk(rule: ReminderRule, start: datetime, count: int) -> list[datetime]:
    out, t = [], start
    for _ in range(count):
        t = next_fire(rule, t)
        out.append(t)
    return out


def test_spring_forward_berlin_eight_stays_eight() -> None:
    rule = ReminderRule(time(8, 0), False, "Europe/Berlin")
    fires = _walk(rule, _local(BERLIN, 2026, 3, 27, 12, 0), 4)
    assert [f.astimezone(BERLIN).time() for f in fires] == [time(8, 0)] * 4
    # the UTC instant moves by an hour across the change (CET +1 → CEST +2)
    assert [f.astimezone(BERLIN).day for f in fires] == [28, 29, 30, 31]
    assert [f.hour for f in fires] == [7, 6, 6, 6]  # 08:00 on the 29th is already CEST


def test_spring_forward_berlin_missing_time_fires_once_shifted() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    rule = ReminderRule(time(2, 30), False, "Europe/Berlin")
    fires = _walk(rule, _local(BERLIN, 2026, 3, 28, 12, 0), 3)
    assert fires[0] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert fires[0].astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)
    assert fires[1].astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 30, 2, 30)
    assert len({f.astimezone(BERLIN).date() for f in fires}) == 3  # one per local day
    # nothing else between the 28th's and the 30th's fire
    assert next_fire(rule, _local(BERLIN, 2026, 3, 29, 0, 0)) == fires[0]


def test_fall_back_new_york_ambiguous_time_fires_once_first() -> None:
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    rule = ReminderRule(time(1, 30), False, "America/New_York")
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert second.astimezone(NEW_YORK).time() == time(1, 30)
    assert next_fire(rule, _local(NEW_YORK, 2026, 10, 31, 12, 0)) == first
    after = next_fire(rule, first)
    assert after == _local(NEW_YORK, 2026, 11, 2, 1, 30).astimezone(UTC)
    assert after != second
    # from between the two 01:30s, the second one is still not used
    assert next_fire(rule, first + timedelta(minutes=10)) == after


def test_fall_back_new_york_eight_stays_eight() -> None:
    rule = ReminderRule(time(8, 0), True, "America/New_York")
    fires = _walk(rule, _local(NEW_YORK, 2026, 10, 29, 12, 0), 3)  # Thu → Fri, Mon, Tue
    assert [f.astimezone(NEW_YORK).time() for f in fires] == [time(8, 0)] * 3
    assert [f.hour for f in fires] == [12, 13, 13]


def test_fixed_offset_has_no_dst() -> None:
    rule = ReminderRule(time(8, 0), False, "UTC+02:00")
    fires = _walk(rule, datetime(2026, 3, 27, 12, 0, tzinfo=UTC), 4)
    assert {f.hour for f in fires} == {6}


def test_local_to_utc_rules() -> None:
    assert local_to_utc(date(2026, 3, 29), time(2, 30), BERLIN) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_to_utc(date(2026, 11, 1), time(1, 30), NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    assert local_to_utc(date(2026, 1, 1), time(8, 0), plus_two) == datetime(2026, 1, 1, 6, tzinfo=UTC)


def test_next_fire_after_today() -> None:
    rule = ReminderRule(time(8, 0), True, "Europe/Berlin")
    before = _local(BERLIN, 2026, 3, 6, 7, 0)  # Friday, before today's fire
    assert next_fire_after_today(rule, before).astimezone(BERLIN) == _local(BERLIN, 2026, 3, 9, 8, 0)
    daily = ReminderRule(time(8, 0), False, "Europe/Berlin")
    late_evening = _local(BERLIN, 2026, 3, 6, 23, 30)
    assert next_fire_after_today(daily, late_evening).astimezone(BERLIN) == _local(BERLIN, 2026, 3, 7, 8, 0)


@pytest.mark.parametrize(("text", "language", "zone"), [
    ("Londres", "es", "Europe/London"),
    ("nueva york", "es", "America/New_York"),
    ("Ciudad de Mexico", "es", "America/Mexico_City"),
    ("Wien", "de", "Europe/Vienna"),
    ("Kalkutta", "de", "Asia/Kolkata"),
    ("London", "es", "Europe/London"),  # the zone's own (English) name works in any language
])
def test_a_city_in_the_person_s_language(text: str, language: str, zone: str) -> None:
    assert resolve_timezone(text, language) == zone


def test_a_city_s_name_in_one_language_is_no_name_in_another() -> None:
    assert resolve_timezone("Londres") is None
    assert resolve_timezone("Wien", "es") is None
    assert resolve_timezone("Londres", "xx") is None  # a language nobody knows: no names
