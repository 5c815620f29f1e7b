"""Unit tests of the triage decision (back_care_guide/safety/triage.py) and of how long an outcome
holds (back_care_guide/safety/hold.py), plus the engine applying them with a clock the test owns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from back_care_guide.account import Services
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety import hold as holds
from back_care_guide.safety.detection import UNREADABLE, Mention, Reading, Status
from back_care_guide.safety.triage import CHECK, NOTHING, Action, Assessment, Triage
from back_care_guide.safety.triage_rules import Tier, TriageRules
from back_care_guide.store.records import Profile, SafetyHold
from tests.harness import ChatClient, FakeClock, Sent, build_client, make_runtime, read, stored_state
from tests.test_screening import headline, press

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> float:
    """Epoch seconds of a local wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


@dataclass(frozen=True)
class FixedDetector:
    """A detector that reads every text the same way (for testing the decision alone)."""

    reading: Reading
    language: str = "en"

    @property
    def signs(self) -> frozenset[str]:
        return frozenset(m.sign for m in self.reading.mentions)

    def read(self, text: str) -> Reading:
        return self.reading


def reading(*mentions: tuple[str, Status]) -> Reading:
    return Reading(tuple(Mention(sign, status) for sign, status in mentions))


def decide(rules: TriageRules, *mentions: tuple[str, Status]) -> Assessment:
    return Triage(rules, {"en": FixedDetector(reading(*mentions))}).text("anything")


D, H, Q = Status.DEFINITE, Status.HEDGED, Status.QUESTION


@pytest.fixture(scope="module")
def rules(bundle: FlowBundle) -> TriageRules:
    return bundle.triage


# ----------------------------------------------------------------- Triage: one read per message
def test_the_same_message_is_read_once_whatever_language_code_came_with_it(
        rules: TriageRules) -> None:
    reads: list[str] = []

    class Counting(FixedDetector):
        def read(self, text: str) -> Reading:
            reads.append(text)
            return self.reading

    triage = Triage(rules, {"en": Counting(reading(("leg_numbness", D)))})
    first = triage.text("my leg went numb", "en-US")  # the update processor: is it urgent?
    again = triage.text("my leg went numb", None)  # the runtime: what does it mean?
    assert first == again and first.action is Action.REPORT
    assert reads == ["my leg went numb"]
    triage.text("something else")
    assert len(reads) == 2


# ----------------------------------------------------------------- Triage: ranking
def test_a_definite_red_flag_beats_a_hedged_more_severe_one(rules: TriageRules) -> None:
    found = decide(rules, ("bladder_bowel", H), ("leg_numbness", D))
    assert found == Assessment(Action.REPORT, "leg_numbness", Tier.URGENT)


def test_the_most_severe_definite_red_flag_wins(rules: TriageRules) -> None:
    found = decide(rules, ("leg_weakness", D), ("saddle_numbness", D), ("fever", D))
    assert (found.action, found.sign, found.tier) == (Action.REPORT, "saddle_numbness",
                                                      Tier.EMERGENCY)


def test_a_definite_red_flag_beats_a_definite_clinician_sign(rules: TriageRules) -> None:
    found = decide(rules, ("disc_problem", D), ("leg_weakness", D))
    assert (found.action, found.sign) == (Action.REPORT, "leg_weakness")
    assert found.then is None


def test_a_hedged_red_flag_beats_a_definite_clinician_sign_which_comes_then(
        rules: TriageRules) -> None:
    found = decide(rules, ("steroids", D), ("leg_numbness", H), ("sharp_pain", D))
    assert (found.action, found.sign, found.tier) == (Action.CONFIRM, "leg_numbness",
                                                      Tier.URGENT)
    assert found.then == Assessment(Action.REPORT, "steroids", Tier.CLINICIAN)


def test_then_keeps_the_most_severe_other_finding(rules: TriageRules) -> None:
    found = decide(rules, ("sharp_pain", D), ("both_legs", H))
    assert found.then == Assessment(Action.REPORT, "sharp_pain", Tier.STOP_TODAY)
    found = decide(rules, ("sharp_pain", D), ("both_legs", H), ("cancer_history", H))
    assert found.then is not None and found.then.sign == "cancer_history"


def test_a_hedged_confirmation_has_no_then_without_other_findings(rules: TriageRules) -> None:
    found = decide(rules, ("urinary_retention", H), ("bladder_bowel", Q))
    assert (found.action, found.sign, found.then) == (Action.CONFIRM, "urinary_retention", None)


def test_hedged_signs_outside_the_red_flags_are_reported_at_once(rules: TriageRules) -> None:
    assert decide(rules, ("osteoporosis", H)) == Assessment(
        Action.REPORT, "osteoporosis", Tier.CLINICIAN)
    assert decide(rules, ("sharp_pain", H)) == Assessment(
        Action.REPORT, "sharp_pain", Tier.STOP_TODAY)


def test_clinician_beats_stop_today(rules: TriageRules) -> None:
    found = decide(rules, ("sharp_pain", D), ("night_pain", D))
    assert (found.action, found.sign) == (Action.REPORT, "night_pain")


def test_a_question_gets_information(rules: TriageRules) -> None:
    found = decide(rules, ("saddle_numbness", Q))
    assert found == Assessment(Action.INFO, "saddle_numbness", Tier.EMERGENCY)
    assert not found.alarming


def test_a_report_beats_a_question(rules: TriageRules) -> None:
    found = decide(rules, ("saddle_numbness", Q), ("fever", D))
    assert (found.action, found.sign) == (Action.REPORT, "fever")
    found = decide(rules, ("saddle_numbness", Q), ("leg_weakness", H))
    assert (found.action, found.sign) == (Action.CONFIRM, "leg_weakness")


def test_a_failed_reading_runs_the_warning_sign_check(rules: TriageRules) -> None:
    found = Triage(rules, {"en": FixedDetector(UNREADABLE)}).text("???")
    assert found == CHECK
    assert found.alarming


def test_a_failed_reading_still_keeps_what_another_language_found(rules: TriageRules) -> None:
    triage = Triage(rules, {"en": FixedDetector(reading(("fever", D))),
                            "de": FixedDetector(UNREADABLE, "de")})
    found = triage.text("Fieber", "de")
    assert found.action is Action.CHECK
    assert found.then == Assessment(Action.REPORT, "fever", Tier.CLINICIAN)


def test_both_languages_are_read_and_the_strongest_status_counts(rules: TriageRules) -> None:
    triage = Triage(rules, {"en": FixedDetector(reading(("leg_weakness", H))),
                            "de": FixedDetector(reading(("leg_weakness", D)), "de")})
    assert triage.text("x", "de").action is Action.REPORT
    assert triage.text("x", "en").action is Action.CONFIRM  # only English is read
    assert triage.text("x", "fr").action is Action.CONFIRM  # unknown language: English


def test_unknown_rule_ids_are_ignored(rules: TriageRules) -> None:
    assert decide(rules, ("not_a_rule", D)) == NOTHING
    assert decide(rules) == NOTHING
    assert not NOTHING.alarming


@pytest.mark.parametrize(("value", "expected"), [
    (0, NOTHING), (3, NOTHING), (6, NOTHING),
    (7, Assessment(Action.REPORT, "severe_pain", Tier.CLINICIAN)),
    (9, Assessment(Action.REPORT, "severe_pain", Tier.CLINICIAN)),
    (10, Assessment(Action.REPORT, "severe_pain", Tier.CLINICIAN)),
])
def test_pain_rating_of_seven_or_more_is_severe_pain(rules: TriageRules, value: int,
                                                     expected: Assessment) -> None:
    assert Triage(rules, {}).rating(value) == expected


def test_a_button_reports_its_sign_in_its_tier(rules: TriageRules) -> None:
    triage = Triage(rules, {})
    for name, sign in rules.signs.items():
        assert triage.sign(name) == Assessment(Action.REPORT, name, sign.level)


def test_the_real_detector_ranks_the_same_way(triage: Triage) -> None:
    found = triage.text("my left leg has gone numb down to my foot, and I might have wet "
                        "myself a bit")
    assert (found.action, found.tier) == (Action.REPORT, Tier.URGENT)
    found = triage.text("my foot is a bit tingly maybe, and I've had back surgery")
    assert (found.action, found.sign) == (Action.CONFIRM, "leg_numbness")
    assert found.then is not None and found.then.sign == "back_surgery"
    assert triage.text("what is saddle numbness?").action is Action.INFO
    assert triage.text("lovely weather today").action is Action.NONE


# ----------------------------------------------------------------- hold.py
def test_zone_of_a_profile() -> None:
    assert holds.zone_of(Profile(1)) is UTC
    assert holds.zone_of(Profile(1, timezone="Europe/Berlin")) == BERLIN
    assert holds.zone_of(Profile(1, timezone="Not/AZone")) is UTC
    zone = holds.zone_of(Profile(1, timezone="UTC+05:30"))
    assert zone.utcoffset(None) == timedelta(hours=5, minutes=30)


def test_a_new_hold_records_the_local_day(rules: TriageRules) -> None:
    late_evening = at(NEW_YORK, 2025, 6, 1, 22, 30)  # already 2 June in UTC
    hold = holds.new_hold(rules, "sharp_pain", late_evening, NEW_YORK)
    assert hold == SafetyHold("stop_today", "sharp_pain", late_evening, "2025-06-01")
    assert holds.new_hold(rules, "sharp_pain", late_evening, UTC).day == "2025-06-02"


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata"), UTC])
def test_a_day_lock_ends_at_local_midnight(rules: TriageRules, zone: ZoneInfo) -> None:
    since = at(zone, 2025, 3, 29, 23, 30)
    hold = holds.new_hold(rules, "sharp_pain", since, zone)
    midnight = at(zone, 2025, 3, 30, 0, 0)
    assert holds.active(hold, rules, since, zone)
    assert holds.active(hold, rules, midnight - 1, zone)
    assert not holds.active(hold, rules, midnight, zone)
    assert not holds.active(hold, rules, midnight + 3 * 86400, zone)
    assert holds.clearable_from(hold, rules, zone) is None  # it ends by itself


def test_a_day_lock_follows_the_persons_zone_not_utc(rules: TriageRules) -> None:
    since = at(BERLIN, 2025, 7, 1, 23, 30)  # 21:30 UTC
    hold = holds.new_hold(rules, "sharp_pain", since, BERLIN)
    local_midnight = at(BERLIN, 2025, 7, 2, 0, 0)  # 22:00 UTC, still 1 July in UTC
    assert datetime.fromtimestamp(local_midnight, UTC).day == 1
    assert not holds.active(hold, rules, local_midnight, BERLIN)


@pytest.mark.parametrize("sign", ["bladder_bowel", "leg_weakness_severe", "leg_weakness",
                                  "leg_numbness"])
def test_red_flag_clearance_not_before_24_hours(rules: TriageRules, sign: str) -> None:
    since = at(BERLIN, 2025, 3, 29, 10, 0)  # the DST switch lies inside the 24 hours
    hold = holds.new_hold(rules, sign, since, BERLIN)
    assert holds.clearable_from(hold, rules, BERLIN) == since + 24 * HOUR
    for later in (0.0, HOUR, 23 * HOUR, 30 * 86400):
        assert holds.active(hold, rules, since + later, BERLIN)  # only a clearance ends it


@pytest.mark.parametrize(("local", "earliest"), [
    ((2025, 5, 4, 23, 50), (2025, 5, 5, 0, 0)),  # ten minutes later, but the next day
    ((2025, 5, 4, 0, 10), (2025, 5, 5, 0, 0)),  # almost 24 hours later
])
def test_clinician_clearance_not_on_the_same_local_day(rules: TriageRules,
                                                       local: tuple[int, int, int, int, int],
                                                       earliest: tuple[int, int, int, int, int]
                                                       ) -> None:
    for zone in (BERLIN, NEW_YORK):
        since = at(zone, *local)
        hold = holds.new_hold(rules, "disc_problem", since, zone)
        assert holds.clearable_from(hold, rules, zone) == at(zone, *earliest)
        assert holds.active(hold, rules, at(zone, *earliest) + 86400, zone)


def test_more_severe(rules: TriageRules) -> None:
    hold = SafetyHold("clinician", "fever", 0.0, "2025-01-01")
    assert holds.more_severe(Tier.EMERGENCY, hold)
    assert holds.more_severe(Tier.CLINICIAN, hold)  # the same tier renews it
    assert not holds.more_severe(Tier.STOP_TODAY, hold)
    assert holds.more_severe(Tier.STOP_TODAY, None)
    assert not holds.active(None, rules, 0.0, UTC)


# ----------------------------------------------------------------- the engine, with a clock
START = at(BERLIN, 2025, 3, 10, 9, 0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


async def set_zone(chat: ChatClient, zone: str) -> None:
    await chat.command("timezone")
    await chat.send(zone)
    assert f"Time zone set: {zone}" in "\n".join(chat.texts)


async def test_red_flag_gate_waits_24_hours_then_asks_the_sign_again(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    en = bundle.texts("en")
    await chat.start()
    await chat.send("my right leg is going numb all the way down to my toes")
    assert chat.saw(headline(bundle, Tier.URGENT))
    clock.advance(24 * HOUR - 60)
    await chat.start()
    assert en.get("locked.wait").split("{")[0] in chat.texts[-1]
    assert all(b.choice != "cleared" for b in chat.messages[-1].buttons)
    clock.advance(60)
    await chat.start()
    await press(chat, "cleared")
    assert en.get("locked.recheck") in chat.texts[-1]
    assert en.get("triage.question.leg_numbness") in chat.texts[-1]
    await press(chat, "no")
    assert chat.texts[-1].startswith("Hi, I'm Back Care Guide")
    events = await read(chat.runtime.store, lambda tx: tx.safety_events.for_user(chat.user_id))
    assert [e.kind for e in events] == ["reported", "cleared"]


async def test_a_stale_clearance_button_is_refused_before_24_hours(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    await chat.start()
    await chat.send("my right leg is going numb all the way down to my toes")
    clock.advance(25 * HOUR)
    await chat.start()
    gate = chat.last_prompt()
    await press(chat, "not_yet", gate)
    await press(chat, "leg_weakness", await _redflags_legs(chat))  # a new red flag
    clock.advance(HOUR)
    await chat.start()
    assert all(b.choice != "cleared" for b in chat.messages[-1].buttons)
    await chat.click("cleared", gate)  # the old gate's button: moved on
    assert "This question has moved on." in chat.toasts
    _, profile = await stored_state(chat.runtime.store, chat.user_id)
    assert profile is not None and profile.hold is not None
    assert profile.hold.sign == "leg_weakness"


async def _redflags_legs(chat: ChatClient) -> Sent:
    await chat.command("redflags")
    await press(chat, "none")
    return chat.last_prompt()


async def test_clinician_clearance_waits_for_the_next_local_day(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    await set_zone(chat, "Europe/Berlin")
    clock.now = at(BERLIN, 2025, 3, 10, 23, 0)  # 22:00 UTC
    await chat.start()
    await chat.send("I had a spinal fusion a few years ago")
    assert chat.saw(headline(bundle, Tier.CLINICIAN))
    clock.now = at(BERLIN, 2025, 3, 10, 23, 59)
    await chat.start()
    assert all(b.choice != "cleared" for b in chat.messages[-1].buttons)
    clock.now = at(BERLIN, 2025, 3, 11, 0, 1)  # still 10 March in UTC
    await chat.start()
    await press(chat, "cleared")
    await press(chat, "no")
    assert chat.texts[-1].startswith("Hi, I'm Back Care Guide")


async def test_stop_today_ends_at_local_midnight_and_survives_a_restart(
        bundle: FlowBundle, triage: Triage, tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "bot.db"
    chat = build_client(bundle, triage, db, clock)
    await chat.runtime.start()
    try:
        await set_zone(chat, "America/New_York")
        clock.now = at(NEW_YORK, 2025, 3, 10, 21, 0)  # 01:00 UTC on the 11th
        await chat.start()
        await chat.send("ow, a sharp stabbing pain in my lower back")
        assert chat.saw(headline(bundle, Tier.STOP_TODAY))
    finally:
        await chat.runtime.close()
    again = build_client(bundle, triage, db, clock)
    await again.runtime.start()
    try:
        clock.now = at(NEW_YORK, 2025, 3, 10, 23, 59)
        await again.start()
        assert bundle.texts("en").get("locked.rest") in again.texts[-1]
        clock.now = at(NEW_YORK, 2025, 3, 11, 0, 0)
        await again.start()
        assert again.texts[-1].startswith("Hi, I'm Back Care Guide")
    finally:
        await again.runtime.close()


def test_reminders_pause_while_a_hold_is_on_and_say_why_when_they_resume(
        bundle: FlowBundle) -> None:
    clock = FakeClock(at(BERLIN, 2025, 3, 10, 20, 0))
    services = Services(bundle, store=None, clock=clock)  # type: ignore[arg-type]
    profile = Profile(1, timezone="Europe/Berlin")
    profile.hold = holds.new_hold(bundle.triage, "sharp_pain", clock(), BERLIN)
    assert services.paused(profile)
    assert profile.paused_by == "stop_today"
    clock.now = at(BERLIN, 2025, 3, 11, 8, 0)
    assert not services.paused(profile)
    text = services.nudge(profile, 7).text
    assert bundle.texts("en").get("triage.resume.stop_today") in text
    assert profile.paused_by is None
    assert bundle.texts("en").get("triage.resume.stop_today") not in services.nudge(
        profile, 7).text  # said once


async def test_make_runtime_passes_its_clock_to_the_engine(
        bundle: FlowBundle, triage: Triage, tmp_path: Path) -> None:
    clock = FakeClock(START)
    runtime, _ = make_runtime(bundle, triage, tmp_path / "bot.db", clock=clock)
    try:
        assert runtime.engine.clock is clock
    finally:
        await runtime.store.close()


async def test_a_lasting_sign_answered_yes_after_clearance_moves_on(
        chat: ChatClient, bundle: FlowBundle, clock: FakeClock) -> None:
    await chat.start()
    await chat.send("I had bowel cancer five years ago")
    clock.advance(24 * HOUR)
    await chat.start()
    await press(chat, "cleared")
    asked = chat.last_prompt()
    assert "Have you ever had cancer?" in asked.text
    await press(chat, "yes")  # true: they had it, and a clinician has cleared them
    assert chat.last_prompt().text != asked.text.split("\n\n")[-1]
