"""``python -m bot chat``: the same engine in a terminal.

Messages are printed as they come (timers run in real time, scaled by FLOW_TIME_SCALE);
choices are numbered and the user types a number, a choice's label, a /command or free
text. EOF and Ctrl-C end the chat cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TextIO

from bot.components import Core, build_core, build_runtime
from bot.engine.events import Button, Choose, ClosePrompt, Command, Event, Send, SendPhoto, Text
from bot.settings import Settings
from bot.store.sqlite import sqlite_path

CHAT_USER = 1  # the terminal has one user


class TerminalTransport:
    """Prints what the bot says and remembers the current buttons for numbered answers."""

    def __init__(self, out: TextIO, photo_dir: Path) -> None:
        self.out = out
        self.photo_dir = photo_dir
        self.buttons: tuple[Button, ...] = ()
        self.seq = 0
        self._refs = 0

    async def send(self, user_id: int, message: Send) -> int | None:
        self._refs += 1
        lines = [message.text]
        if message.buttons:
            self.buttons, self.seq = message.buttons, message.seq
            lines += [f"  [{i}] {b.label}" for i, b in enumerate(message.buttons, 1)]
        self._write("\n".join(lines) + "\n")
        return self._refs

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        path = self.photo_dir / "progress.png"
        path.write_bytes(photo.png)
        self._write(f"{photo.caption}\n  (chart saved to {path})\n")

    async def close_prompt(self, user_id: int, close: ClosePrompt) -> None:
        if close.prompt.seq == self.seq:
            self.buttons = ()

    def toast(self, text: str) -> None:
        self._write(f"({text})\n")

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def event_for(self, line: str) -> Event:
        """Turn a typed line into an event: a number or label picks a button."""
        typed = line.strip()
        if typed.startswith("/") and len(typed) > 1:
            name, _, args = typed[1:].partition(" ")
            return Command(CHAT_USER, name.lower(), args.strip())
        for button in self.buttons:  # a label first: on a 0-10 scale "3" means the label 3
            if typed.casefold() == button.label.casefold():
                return Choose(CHAT_USER, self.seq, button.choice)
        for i, button in enumerate(self.buttons, 1):
            if typed == str(i):
                return Choose(CHAT_USER, self.seq, button.choice)
        return Text(CHAT_USER, line)


async def _read_lines(stream: TextIO) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
    return reader


async def chat(settings: Settings, core: Core | None = None, *, stdin: TextIO = sys.stdin,
               stdout: TextIO = sys.stdout) -> None:
    core = core or build_core(settings)
    transport = TerminalTransport(stdout, sqlite_path(settings.database_url).parent)
    runtime = build_runtime(settings, core, transport)
    await runtime.start()
    try:
        for toast in await runtime.dispatch(Command(CHAT_USER, "start")):
            transport.toast(toast)
        reader = await _read_lines(stdin)
        while raw := await reader.readline():
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            for toast in await runtime.dispatch(transport.event_for(line)):
                transport.toast(toast)
    finally:
        await runtime.close()


def run_chat(settings: Settings) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(chat(settings))
    print()
    return 0
