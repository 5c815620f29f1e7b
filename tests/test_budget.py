"""The shared send budget: conversation messages never wait, reminders take what is left."""

from __future__ import annotations

import asyncio

import pytest

from back_care_guide.engine.budget import SendBudget


class FakeTime:
    """Monotonic seconds that only move when someone sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the budget must never spin"
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def budget(rate: float, clock: FakeTime) -> SendBudget:
    return SendBudget(rate, clock=clock, sleep=clock.sleep)


async def test_reminders_alone_get_the_whole_rate() -> None:
    clock = FakeTime()
    b = budget(5, clock)
    for _ in range(5):
        await b.reserve()
    assert clock.sleeps == []
    await b.reserve()  # the sixth within one second waits for the first to leave the window
    assert clock.sleeps == [pytest.approx(1.0)]


async def test_conversation_messages_leave_less_room_for_reminders() -> None:
    clock = FakeTime()
    b = budget(5, clock)
    b.note(3)  # a busy second of conversations
    await b.reserve()
    await b.reserve()
    assert clock.sleeps == []
    await b.reserve()
    assert clock.now == pytest.approx(101.0)
    assert b.used() == 1  # the first second's five have left the window; the third reminder is in


async def test_conversations_over_the_rate_hold_reminders_back_without_waiting_themselves() -> None:
    clock = FakeTime()
    b = budget(2, clock)
    b.note(10)  # notes never wait, even over the rate
    assert b.used() == 10
    clock.now += 0.5
    b.note(10)
    await b.reserve()  # waits until the first ten have left the window, then the next ten
    assert clock.now == pytest.approx(101.5)
    assert b.used() == 1


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        SendBudget(0)


async def test_room_given_back_is_used_again_at_once() -> None:
    """A reminder another replica had claimed first is not sent: its room goes to the next."""
    clock = FakeTime()
    b = budget(2, clock)
    await b.reserve()
    await b.reserve()
    b.give_back()
    await b.reserve()
    assert clock.sleeps == [] and b.used() == 2
