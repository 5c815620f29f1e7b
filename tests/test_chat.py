"""The terminal chat, driven through stdin like a person typing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Terminal:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.screen = ""

    async def expect(self, text: str, timeout: float = 10.0) -> None:
        assert self.process.stdout is not None

        async def read() -> None:
            assert self.process.stdout is not None
            while text not in self.screen:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"chat ended before {text!r}:\n{self.screen}")
                self.screen += chunk.decode()

        await asyncio.wait_for(read(), timeout)
        self.screen = self.screen[self.screen.index(text) + len(text):]

    async def end(self) -> None:
        """Ctrl-D: the chat ends cleanly (exit 0); killed if it does not within 10 s."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            assert await asyncio.wait_for(self.process.wait(), 10) == 0
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()


async def start_chat(tmp_path: Path, *args: str, lang: str = "C.UTF-8") -> Terminal:
    """``lang`` is the terminal's ``LANG``; the machine's own locale settings are left out."""
    env = {name: value for name, value in os.environ.items() if name not in ("LC_ALL", "LC_MESSAGES")}
    env |= {"FLOW_TIME_SCALE": "0.01", "DATABASE_URL": f"sqlite:///{tmp_path}/chat.db",
            "TELEGRAM_BOT_TOKEN": "", "LANG": lang, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "back_care_guide", "chat", *args, cwd=tmp_path, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return Terminal(process)


async def test_chat_completes_a_session(tmp_path: Path) -> None:
    term = await start_chat(tmp_path)
    await term.expect("[1] I understand, let's start")
    await term.type("1")
    for _ in range(4):
        await term.expect("] None of these")
        await term.type("None of these")  # the label works as well as the number
    await term.expect("the worst imaginable")
    await term.type("3")  # the label 3 on the 0-10 scale, not the third button
    await term.expect("[1] Standard")
    await term.type("1")
    for release in ("return your leg", "return your leg"):
        await term.expect("[1] I'm in position")
        await term.type("1")
        await term.expect(release)
        await term.type("1")  # no pain
    await term.expect("[1] Yes, both knees")
    await term.type("2")  # skip to the twist
    for _ in range(2):
        await term.expect("[1] I'm in position")
        await term.type("1")
        await term.expect("back to the centre")
        await term.type("1")
    await term.expect("how much does your back hurt")
    await term.type("1")
    await term.expect("Well done")
    await term.end()
    assert term.process.stderr is not None
    assert b"Traceback" not in await term.process.stderr.read()


async def test_chat_ctrl_c_exits_cleanly(tmp_path: Path) -> None:
    term = await start_chat(tmp_path)
    await term.expect("[1] I understand, let's start")
    term.process.send_signal(2)  # SIGINT, as Ctrl-C sends
    assert await asyncio.wait_for(term.process.wait(), 10) == 0
    assert term.process.stderr is not None
    assert b"Traceback" not in await term.process.stderr.read()


async def test_chat_keys_prompt_bell_and_resume_after_ctrl_c(tmp_path: Path) -> None:
    term = await start_chat(tmp_path)
    await term.expect("[3] Check warning signs\n\n> ")  # an input prompt
    await term.type("1")
    for _ in range(4):
        await term.expect("] None of these")
        await term.type("None of these")
    await term.expect("[0] [1] [2] [3] [4] [5] [6] [7] [8] [9] [10]")  # the scale by its values
    await term.type("4")
    await term.expect("[3] Longer")
    await term.type("3")  # 30 s x 0.01
    await term.expect("[s] Stop")  # Stop and Warning sign keep their letters
    await term.expect("[w] Warning sign")
    await term.type("1")  # "I'm in position"
    await term.expect("[s] Stop")
    term.process.send_signal(2)  # Ctrl-C mid-hold
    assert await asyncio.wait_for(term.process.wait(), 10) == 0

    again = await start_chat(tmp_path)  # the same database: picks up where it was
    await again.expect("Welcome back")
    await again.expect("\a")  # the hold ended while away (it is re-armed): the bell rings
    await again.expect("Slowly return your leg")
    await again.end()


async def test_delete_removes_the_chart_file(tmp_path: Path) -> None:
    import io

    from back_care_guide.chat import TerminalTransport
    from back_care_guide.engine.events import SendPhoto

    transport = TerminalTransport(io.StringIO(), tmp_path)
    await transport.send_photo(1, SendPhoto(b"\x89PNG...", "chart"))
    assert (tmp_path / "progress.png").exists()
    await transport.forget(1)  # what the runtime calls when the user erases their data
    assert not (tmp_path / "progress.png").exists()


def test_the_terminal_language_comes_from_the_posix_locale() -> None:
    from back_care_guide.chat import system_language

    assert system_language({"LANG": "es_MX.UTF-8"}) == "es_MX.UTF-8"
    assert system_language({"LC_ALL": "de_AT.UTF-8", "LANG": "en_GB.UTF-8"}) == "de_AT.UTF-8"
    assert system_language({"LC_MESSAGES": "de_DE", "LANG": "es_ES"}) == "de_DE"
    assert system_language({"LANG": "C.UTF-8"}) is None
    assert system_language({"LANG": "POSIX"}) is None
    assert system_language({}) is None


async def test_chat_speaks_the_terminal_language_and_lang_replaces_it(tmp_path: Path) -> None:
    """LANG picks the language the first time; --lang is the person's choice and replaces it."""
    term = await start_chat(tmp_path, lang="es_MX.UTF-8")
    await term.expect("[1] Entendido, empecemos")
    await term.type("/language")
    await term.expect("[1] English\n  [2] Deutsch\n  [3] Español")
    await term.end()
    term = await start_chat(tmp_path, "--lang", "de", lang="es_MX.UTF-8")
    await term.expect("[1] Verstanden, los geht's")
    await term.end()
    term = await start_chat(tmp_path, lang="es_MX.UTF-8")  # their choice stays
    await term.expect("[1] Verstanden, los geht's")
    await term.end()


async def test_chat_refuses_a_language_it_does_not_speak(tmp_path: Path) -> None:
    term = await start_chat(tmp_path, "--lang", "fr")
    assert await asyncio.wait_for(term.process.wait(), 10) == 2
    assert term.process.stderr is not None
    assert "--lang fr: the bot speaks" in (await term.process.stderr.read()).decode()
