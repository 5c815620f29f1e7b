"""Each replica sends at most its share of the bot's Telegram budget (back_care_guide/telegram/share.py)."""

from __future__ import annotations

from pathlib import Path

from back_care_guide.flow.loader import FlowBundle
from back_care_guide.safety.triage import Triage
from back_care_guide.store.coordination import SingleProcess
from back_care_guide.telegram.sending import SendQueue, SendScheduler
from back_care_guide.telegram.share import BudgetShare
from tests.harness import make_runtime


class Replicas(SingleProcess):
    """A coordination whose heartbeat says how many replicas are alive, or fails."""

    def __init__(self) -> None:
        self.alive: int | None = 1

    async def heartbeat(self, now: float) -> int:
        if self.alive is None:
            raise ConnectionError("database down")
        return self.alive


async def test_each_replica_takes_its_share_and_keeps_it_when_the_database_fails(
        bundle: FlowBundle, triage: Triage, tmp_path: Path) -> None:
    runtime, _ = make_runtime(bundle, triage, tmp_path / "bot.db")
    scheduler = SendScheduler(30.0)
    replicas = Replicas()
    share = BudgetShare(replicas, scheduler, runtime, max_rate=30.0, reminder_rate=25.0)
    await share.beat()
    assert scheduler.queue.overall_rate == 30.0 and runtime.budget.reminder_rate == 25.0
    replicas.alive = 3
    await share.beat()
    assert scheduler.queue.overall_rate == 10.0 and runtime.budget.reminder_rate == 25.0 / 3
    replicas.alive = None  # no heartbeat: the last share stays (sending never stops)
    await share.beat()
    assert scheduler.queue.overall_rate == 10.0
    replicas.alive = 2
    await share.beat()
    assert scheduler.queue.overall_rate == 15.0
    await runtime.close()


def test_a_lower_rate_gives_up_tokens_above_its_burst() -> None:
    queue = SendQueue(30.0)
    queue._chat(1, 0.0)  # the overall bucket exists once a chat has been seen
    queue.set_overall_rate(3.0, 0.0)
    assert queue._global is not None
    assert queue._global.rate == 3.0 and queue._global.tokens <= queue._global.burst == 1.0
    assert queue.tidy_backlog is not None and queue.tidy_backlog < 30.0


def test_pacing_that_is_off_stays_off() -> None:
    queue = SendQueue(0.0)
    queue.set_overall_rate(10.0, 0.0)
    assert queue.overall_rate == 0.0
