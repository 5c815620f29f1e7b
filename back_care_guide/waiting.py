"""Waiting that an event can cut short, with a sleep that tests can replace."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def sleep_until_set(event: asyncio.Event, delay: float,
                          sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Sleep ``delay`` seconds, or less if ``event`` is set meanwhile."""
    if event.is_set():
        return
    sleeper = asyncio.ensure_future(sleep(delay))
    setter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({sleeper, setter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        setter.cancel()
        await asyncio.gather(sleeper, setter, return_exceptions=True)
