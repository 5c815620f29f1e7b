"""The per-chat update processor: one chat in order, and a busy chat never blocks the others."""

from __future__ import annotations

import asyncio

from telegram import Update

from back_care_guide.telegram.processor import PerChatUpdateProcessor


def message(update_id: int, chat_id: int) -> Update:
    update = Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "text": "hi",
        "chat": {"id": chat_id, "type": "private", "first_name": "A"}}}, None)
    assert update is not None
    return update


async def test_one_chat_in_order_and_a_flooding_chat_takes_one_slot() -> None:
    processor = PerChatUpdateProcessor(2)  # two slots
    release = asyncio.Event()
    order: list[tuple[int, int]] = []

    async def handle(chat_id: int, n: int) -> None:
        order.append((chat_id, n))
        if chat_id == 1:
            await release.wait()

    flood = [asyncio.create_task(processor.process_update(message(n, 1), handle(1, n)))
             for n in range(10)]  # chat 1 floods, and its first update blocks
    await asyncio.sleep(0.01)
    other = asyncio.create_task(processor.process_update(message(100, 2), handle(2, 100)))
    await asyncio.wait_for(other, 1.0)  # not stuck behind chat 1's queue
    assert order == [(1, 0), (2, 100)]
    release.set()
    await asyncio.wait_for(asyncio.gather(*flood), 1.0)
    assert [n for chat, n in order if chat == 1] == list(range(10))


async def test_at_most_the_configured_number_run_at_once() -> None:
    processor = PerChatUpdateProcessor(3)
    running = peak = 0

    async def handle() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(processor.process_update(message(n, n), handle()) for n in range(1, 11)))
    assert peak == 3
