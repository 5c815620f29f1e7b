"""Progress: the summary numbers and the phone-sized PNG chart."""

from __future__ import annotations

import random
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from back_care_guide.flow.texts import Texts
from back_care_guide.progress import SessionRecord, Summary, summarize
from back_care_guide.progress.chart import ChartLabels, render_chart

NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 in November
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 11, 24, 17, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

LABELS = ChartLabels(
    pain_title="Pain before and after each session",
    pain_axis="Pain (0\u201310)",
    before="Before",
    after="After",
    weekly_title="Completed sessions per week",
    weekly_axis="Sessions",
    empty="No sessions yet",
    day=lambda day: Texts("en", {}).day(day, short=True),
)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def done(at: datetime, before: int | None = 5, after: int | None = 3) -> SessionRecord:
    return SessionRecord(started_at=at, outcome="completed", pain_before=before, pain_after=after)


def stopped(at: datetime, before: int | None = 6, after: int | None = None) -> SessionRecord:
    return SessionRecord(started_at=at, outcome="stopped_by_user", pain_before=before, pain_after=after)


def sample(count: int, seed: int = 1) -> list[SessionRecord]:
    """``count`` sessions spread over 30 days: mostly completed, some stopped early (before rating only)."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        at = NOW - timedelta(minutes=rng.randint(0, 29 * 24 * 60))
        before = rng.randint(2, 8)
        if rng.random() < 0.8:
            records.append(done(at, before, max(0, min(10, before - rng.randint(-1, 3)))))
        else:
            records.append(stopped(at, before))
    return records


# --- summary ---------------------------------------------------------------------------------------


def test_no_records_means_no_data() -> None:
    assert summarize([], NOW, BERLIN) == Summary(
        sessions_completed=0, sessions_total=0, average_change=None, current_streak_days=0, has_data=False)


def test_average_change_is_mean_of_after_minus_before_over_completed_sessions() -> None:
    records = [
        done(NOW - timedelta(days=1), 6, 3),  # -3
        done(NOW - timedelta(days=2), 4, 4),  # 0
        done(NOW - timedelta(days=3), 5, 6),  # +1
        done(NOW - timedelta(days=4), 7, None),  # after never given: not in the mean
        stopped(NOW - timedelta(days=5), 8, 2),  # not completed: not in the mean
    ]
    summary = summarize(records, NOW, BERLIN)
    assert summary.average_change == pytest.approx(-2 / 3)
    assert summary.sessions_completed == 4
    assert summary.sessions_total == 5
    assert summary.has_data


def test_average_change_is_none_without_a_completed_session_rated_twice() -> None:
    records = [done(NOW - timedelta(hours=2), 5, None), stopped(NOW - timedelta(hours=1), 5, 1)]
    assert summarize(records, NOW, BERLIN).average_change is None


def test_stopped_and_other_outcomes_are_not_completed() -> None:
    at = NOW - timedelta(hours=3)
    outcomes = ["stopped_by_user", "pain", "red_flag", "contraindicated", "chronic", "clinician"]
    records = [SessionRecord(at, outcome, 5, 4) for outcome in outcomes]
    summary = summarize(records, NOW, BERLIN)
    assert (summary.sessions_completed, summary.sessions_total) == (0, len(outcomes))
    assert summary.current_streak_days == 0
    assert summary.average_change is None
    assert summary.has_data


def test_streak_uses_local_calendar_days_across_utc_midnight() -> None:
    now = utc(2025, 11, 24, 1)  # Sunday Nov 23, 20:00 in New York
    records = [
        done(utc(2025, 11, 23, 1)),  # Nov 22, 20:00 local
        done(utc(2025, 11, 23, 23)),  # Nov 23, 18:00 local: today
    ]
    assert summarize(records, now, NEW_YORK).current_streak_days == 2
    # The same instants read in UTC fall on one day (Nov 23), and today there is Nov 24.
    assert summarize(records, now, UTC).current_streak_days == 1


def test_a_session_just_after_local_midnight_counts_for_the_new_day() -> None:
    now = utc(2025, 11, 24, 5, 30)  # Nov 24, 00:30 in New York
    records = [
        done(utc(2025, 11, 24, 4, 50)),  # Nov 23, 23:50 local
        done(utc(2025, 11, 24, 5, 10)),  # Nov 24, 00:10 local
    ]
    assert summarize(records, now, NEW_YORK).current_streak_days == 2
    assert summarize(records[:1], now, NEW_YORK).current_streak_days == 1  # from yesterday, none today


def test_streak_counts_back_from_yesterday_when_nothing_yet_today() -> None:
    records = [done(NOW - timedelta(days=d)) for d in (1, 2, 3, 5)]
    assert summarize(records, NOW, BERLIN).current_streak_days == 3  # the gap on day 4 ends it


def test_streak_is_zero_when_last_session_was_two_days_ago() -> None:
    records = [done(NOW - timedelta(days=d)) for d in (2, 3)]
    assert summarize(records, NOW, BERLIN).current_streak_days == 0


def test_stopped_sessions_break_the_streak_and_several_a_day_count_once() -> None:
    records = [
        done(NOW - timedelta(hours=1)), done(NOW - timedelta(hours=2)),  # today, twice
        stopped(NOW - timedelta(days=1)),  # yesterday: stopped only
        done(NOW - timedelta(days=2)),
    ]
    summary = summarize(records, NOW, BERLIN)
    assert summary.current_streak_days == 1
    assert summary.sessions_completed == 3


def test_records_older_than_the_window_are_ignored() -> None:
    today_start = datetime(2025, 11, 24, tzinfo=BERLIN)
    records = [
        done(today_start - timedelta(days=29), 9, 1),  # first day of the 30-day window: counts
        done(today_start - timedelta(days=29, minutes=1), 2, 9),  # a minute earlier: ignored
        done(NOW - timedelta(days=45), 2, 9),  # ignored
        stopped(NOW - timedelta(days=31)),  # ignored
    ]
    summary = summarize(records, NOW, BERLIN)
    assert (summary.sessions_completed, summary.sessions_total) == (1, 1)
    assert summary.average_change == -8
    assert summarize(records[2:], NOW, BERLIN).has_data is False
    assert summarize(records, NOW, BERLIN, days=60).sessions_total == 4


def test_streak_is_capped_by_the_window() -> None:
    records = [done(NOW - timedelta(days=d)) for d in range(40)]
    assert summarize(records, NOW, BERLIN).current_streak_days == 30
    assert summarize(records, NOW, BERLIN, days=7).current_streak_days == 7


def test_records_after_now_are_ignored() -> None:
    assert summarize([done(NOW + timedelta(minutes=5))], NOW, BERLIN).has_data is False


def test_record_rejects_naive_time_and_out_of_range_pain() -> None:
    with pytest.raises(ValueError, match="aware"):
        SessionRecord(datetime(2025, 11, 24, 12), "completed", 5, 3)
    with pytest.raises(ValueError, match="outside"):
        SessionRecord(NOW, "completed", 11, 3)


# --- chart ---------------------------------------------------------------------------------------------


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("count", [0, 1, 60])
def test_chart_is_a_plausible_portrait_png(count: int) -> None:
    started = time.perf_counter()
    png = render_chart(sample(count), NOW, BERLIN, LABELS)
    elapsed = time.perf_counter() - started
    print(f"render_chart with {count} records: {elapsed * 1000:.0f} ms, {len(png) / 1024:.0f} KB")
    assert png.startswith(PNG_MAGIC)
    assert 10_000 < len(png) < 150_000
    width, height = png_size(png)
    assert 800 <= width < height <= 1400  # portrait, phone-sized


def test_chart_handles_partial_ratings_and_busy_days() -> None:
    day = NOW.replace(hour=8)
    records = [
        stopped(day - timedelta(days=3), before=7),  # stopped early: before only
        done(day - timedelta(days=3, hours=-1), before=None, after=4),  # after only
        done(day - timedelta(days=2), before=None, after=None),  # no ratings at all
        *(done(day - timedelta(days=1, minutes=10 * i), 5 + i % 3, 2 + i % 4) for i in range(6)),
        done(day, 10, 0),
    ]
    png = render_chart(records, NOW, NEW_YORK, LABELS)
    assert png.startswith(PNG_MAGIC)


@pytest.mark.parametrize("days", [1, 3, 7, 8, 90])
def test_chart_renders_for_other_window_lengths(days: int) -> None:
    png = render_chart(sample(20), NOW, BERLIN, LABELS, days=days)
    assert png.startswith(PNG_MAGIC)


def test_chart_is_deterministic_and_thread_safe() -> None:
    records = sample(30, seed=7)
    first = render_chart(records, NOW, BERLIN, LABELS)
    assert render_chart(records, NOW, BERLIN, LABELS) == first
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: render_chart(records, NOW, BERLIN, LABELS), range(4)))
    assert all(result == first for result in results)


def test_chart_carries_no_software_or_time_metadata() -> None:
    png = render_chart(sample(5), NOW, BERLIN, LABELS)
    assert b"matplotlib" not in png.lower()
    assert b"tIME" not in png


def test_locale_text_is_drawn_literally() -> None:
    labels = ChartLabels(
        pain_title="Schmerz $vorher$ und nachher", pain_axis="Schmerz (0-10)", before="Vorher",
        after="Nachher", weekly_title="Übungen pro Woche", weekly_axis="Übungen", empty="Noch keine Daten",
        day=lambda day: Texts("de", {}).day(day, short=True),
    )
    assert labels.format_date(NOW.date()) == "24. Nov."
    assert LABELS.format_date(NOW.date()) == "Nov 24"
    assert render_chart(sample(10), NOW, BERLIN, labels).startswith(PNG_MAGIC)


def test_sample_chart_can_be_saved(tmp_path: Path) -> None:
    path = tmp_path / "progress.png"
    path.write_bytes(render_chart(sample(60), NOW, BERLIN, LABELS))
    assert path.stat().st_size > 10_000
