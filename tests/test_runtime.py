"""How the runtime carries out one press: acknowledged at once, the reply (a new message,
or the answered question edited into the next) counted in the send budget that reminders
give way to."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from back_care_guide.engine.events import Choose, Send
from tests.harness import ChatClient, RecordingTransport


@dataclass
class OrderedTransport(RecordingTransport):
    """Records the order of calls; a send can be made to wait for the acknowledgement."""

    calls: list[str] = field(default_factory=list)
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    hold_sends: bool = False

    async def send(self, user_id: int, message: Send) -> int | None:
        if self.hold_sends:  # fails (times out) if the press is only confirmed after the sends
            await asyncio.wait_for(self.acknowledged.wait(), 2.0)
        self.calls.append("send")
        return await super().send(user_id, message)


async def press(client: ChatClient, transport: OrderedTransport, label: str) -> list[list[str]]:
    """Press ``label`` on the last prompt; return what the acknowledgement was called with."""
    prompt = client.last_prompt()
    choice = next(b.choice for b in prompt.buttons if label.casefold() in b.label.casefold())
    seen: list[list[str]] = []

    async def acknowledge(toasts: list[str]) -> None:
        seen.append(toasts)
        transport.calls.append("ack")
        transport.acknowledged.set()

    await client.runtime.dispatch(Choose(client.user_id, prompt.seq, choice), acknowledge)
    return seen


async def test_a_press_is_acknowledged_while_the_reply_goes_out(client: ChatClient) -> None:
    transport = OrderedTransport()
    client.runtime.transport = transport
    client.transport = transport
    await client.start()
    transport.calls.clear()
    transport.hold_sends = True
    used = client.runtime.budget.used()
    assert await press(client, transport, "let's start") == [[]]
    assert transport.calls == ["ack", "send"]  # the welcome stays; the first list is new
    assert "Leaking urine" in client.texts[-1]
    assert client.runtime.budget.used() == used + 1  # reminders give way to it
    transport.acknowledged.clear()
    assert await press(client, transport, "none of these") == [[]]
    assert transport.calls[-2:] == ["ack", "send"]
    assert transport.sent[-1].edit  # the answered list turned into the next one


async def test_a_stale_press_is_acknowledged_with_its_toast_and_nothing_else(client: ChatClient) -> None:
    transport = OrderedTransport()
    client.runtime.transport = transport
    client.transport = transport
    await client.start()
    welcome = client.last_prompt()
    await client.click("let's start")
    transport.calls.clear()
    count = len(client.texts)
    seen: list[list[str]] = []

    async def acknowledge(toasts: list[str]) -> None:  # the welcome again: it has moved on
        seen.append(toasts)

    choice = next(b.choice for b in welcome.buttons if "let's start" in b.label.casefold())
    await client.runtime.dispatch(Choose(client.user_id, welcome.seq, choice), acknowledge)
    assert seen == [["This question has moved on."]]
    assert transport.calls == []
    assert len(client.texts) == count
