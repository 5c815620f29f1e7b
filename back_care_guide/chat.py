"""``python -m back_care_guide chat``: the same engine in a terminal.

Messages are printed as they come (timers run in real time, scaled by FLOW_TIME_SCALE);
the user types a choice's key, its label, a /command or free text at the ``>`` prompt.
Choices are numbered, except Stop and Warning sign, which always have the letters ``s``
and ``w`` (so a number never means "I'm in position" one moment and "Stop" the next), and
the pain scale, whose keys are its own values. The end of a hold rings the terminal bell.
Like Telegram, the chat picks up where it was after Ctrl-C or a restart. EOF and Ctrl-C
end the chat cleanly. It speaks the terminal's language (``LANG``) if the bot does, or the
one given with ``--lang``; /language changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from back_care_guide.components import Core, build_core, build_runtime
from back_care_guide.engine.events import (
    Button,
    Choose,
    Command,
    Event,
    Resume,
    Send,
    SendDocument,
    SendPhoto,
    Text,
)
from back_care_guide.export import FILENAME_PREFIX
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.pictures import picture_png
from back_care_guide.settings import Settings, data_dir

CHAT_USER = 1  # the terminal has one user
LETTERS = {"stop": "s", "warning": "w"}  # interrupt buttons keep their key on every step
PROMPT = "> "
BELL = "\a"
CHART = "progress.png"


def button_keys(buttons: tuple[Button, ...]) -> list[str]:
    """The key to type for each button: letters for Stop and Warning sign, the value on the
    pain scale, numbers for the rest."""
    keys: list[str] = []
    number = 0
    for button in buttons:
        if button.choice in LETTERS:
            keys.append(LETTERS[button.choice])
        elif button.choice[:1] == "r" and button.choice[1:].isdigit():
            keys.append(button.choice[1:])
        else:
            number += 1
            keys.append(str(number))
    return keys


class TerminalTransport:
    """Prints what the bot says and remembers the current buttons for typed answers."""

    def __init__(self, out: TextIO, photo_dir: Path) -> None:
        self.out = out
        self.photo_dir = photo_dir
        self.buttons: tuple[Button, ...] = ()
        self.keys: list[str] = []
        self.seq = 0
        self._refs = 0

    async def send(self, user_id: int, message: Send) -> int | None:
        self._refs += 1
        text = message.text
        if message.replaces is not None and text.startswith(message.replaces.text + "\n\n"):
            text = text[len(message.replaces.text) + 2:]  # an addition (halfway): print just it
        lines = [text]
        if message.picture is not None:
            lines.append(f"  (picture: {self._picture(message.picture)})")
        if message.buttons:
            self.buttons, self.seq = message.buttons, message.seq
            self.keys = button_keys(message.buttons)
            pairs = list(zip(self.keys, message.buttons, strict=True))
            if all(b.choice == f"r{k}" for k, b in pairs):  # the pain scale: one line
                lines.append("  " + " ".join(f"[{k}]" for k, _ in pairs))
            else:
                lines += [f"  [{k}] {b.label}" for k, b in pairs]
        self._write("\n".join(lines) + "\n", bell=message.wake)
        return self._refs

    async def send_photo(self, user_id: int, photo: SendPhoto) -> None:
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        path = self.photo_dir / CHART
        path.write_bytes(photo.png)
        self._write(f"{photo.caption}\n  (chart saved to {path})\n")

    async def send_document(self, user_id: int, document: SendDocument) -> None:
        """The person's /export, next to the chart; readable by its owner only (health data)."""
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        path = self.photo_dir / document.filename
        path.touch(mode=0o600)
        path.write_bytes(document.data)
        self._write(f"{document.caption}\n  (saved to {path})\n")

    def _picture(self, name: str) -> Path:
        """The position's drawing as a file next to the database (written once)."""
        path = self.photo_dir / "pictures" / f"{name}.png"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(picture_png(name))
        return path

    async def show_menu(self, user_id: int, language: str) -> None:
        """A terminal has no command menu: /help lists the commands."""

    async def forget(self, user_id: int) -> None:
        """The person erased their data: the chart file and their exports go too."""
        (self.photo_dir / CHART).unlink(missing_ok=True)
        for path in self.photo_dir.glob(f"{FILENAME_PREFIX}*.json"):
            path.unlink()

    def toast(self, text: str) -> None:
        self._write(f"({text})\n")

    def _write(self, text: str, *, bell: bool = False) -> None:
        self.out.write((BELL if bell else "") + text + "\n" + PROMPT)
        self.out.flush()

    def event_for(self, line: str) -> Event:
        """Turn a typed line into an event: a key or a label picks a button."""
        typed = line.strip()
        if typed.startswith("/") and len(typed) > 1:
            name, _, args = typed[1:].partition(" ")
            return Command(CHAT_USER, name.lower(), args.strip())
        for key, button in zip(self.keys, self.buttons, strict=True):
            if typed.casefold() in (key, button.label.casefold()):
                return Choose(CHAT_USER, self.seq, button.choice)
        return Text(CHAT_USER, line)


async def _read_lines(stream: TextIO) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
    return reader


def system_language(environ: Mapping[str, str]) -> str | None:
    """The language of the terminal's locale, as POSIX says to find it (``LC_ALL``, then
    ``LC_MESSAGES``, then ``LANG``): "es_MX.UTF-8" is es; "C" and "POSIX" are none."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return None if value in ("C", "POSIX") or value.startswith("C.") else value
    return None


async def chat(settings: Settings, core: Core | None = None, *, stdin: TextIO = sys.stdin,
               stdout: TextIO = sys.stdout, bundle: FlowBundle | None = None,
               language: str | None = None) -> None:
    """The terminal chat; ``language`` (``--lang``) replaces the person's language, and
    without it the terminal's locale is used until they choose one with /language."""
    core = core or build_core(settings, bundle)
    location = core.store.location
    stdout.write(f"Database: {location.shown}\n\n")  # where the chat is kept (the store is open: it is ours)
    # The chart and exports go next to a database file, else into the bot's data folder.
    transport = TerminalTransport(stdout, location.folder or data_dir())
    runtime = build_runtime(settings, core, transport)
    await runtime.start()
    try:
        chosen = language is not None
        resume = Resume(CHAT_USER, language if chosen else system_language(os.environ), chosen)
        for toast in await runtime.dispatch(resume):  # where they were, or /start
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


def run_chat(settings: Settings, bundle: FlowBundle | None = None, language: str | None = None) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(chat(settings, bundle=bundle, language=language))
    print()
    return 0
