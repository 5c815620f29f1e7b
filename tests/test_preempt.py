"""A red flag never waits for a person's earlier messages that are still queued to go out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from back_care_guide.engine.events import Priority, Send, Text, TimerFired
from tests.harness import ChatClient, RecordingTransport
from tests.test_flow import into_hold


@dataclass
class BusyTransport(RecordingTransport):
    """Non-safety messages wait for ``release`` (a send budget queued up by a burst)."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    busy: bool = False

    async def send(self, user_id: int, message: Send) -> int | None:
        if self.busy and message.priority is not Priority.SAFETY:
            await self.release.wait()
        return await super().send(user_id, message)


async def test_a_red_flag_overtakes_a_queued_halfway_note(client: ChatClient) -> None:
    transport = BusyTransport()
    client.runtime.transport = transport
    client.transport = transport
    await into_hold(client, "Longer")
    client.runtime._cancel(client.user_id)  # the test fires the timers itself
    conv, _ = await client.runtime._load(client.user_id)
    transport.busy = True
    halfway = asyncio.create_task(client.runtime.dispatch(
        TimerFired(client.user_id, "halfway", conv.ctx["epoch"])))
    await asyncio.sleep(0.05)  # the halfway note is queued, holding the person's turn
    assert not halfway.done()
    at = len(transport.sent)
    red_flag = client.runtime.dispatch(Text(client.user_id, "my leg went numb all the way down"))
    await asyncio.wait_for(red_flag, 1.0)  # not behind the queued note
    assert transport.sent[at].text.startswith("Get medical help now")
    transport.release.set()
    await asyncio.wait_for(halfway, 1.0)
    await asyncio.sleep(0.05)
    assert not any("Halfway" in m.text for m in transport.sent)  # the stale note never went
