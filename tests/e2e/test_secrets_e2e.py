"""The bot token never reaches the log, whatever the HTTP layer goes through.

The real bot process (``python -m back_care_guide run``, LOG_LEVEL=DEBUG) against the stand-in with a
redirect loop in front of the Bot API (the fault that used to put the token in hundreds of
log lines): the whole of stdout and stderr is searched for the token and its secret part.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import TOKEN, BotProcess, Person
from tests.standin import BotApiStandin

SECRET_PART = TOKEN.split(":", 1)[1]
WEBHOOK_SECRET = "webhook-secret-for-the-e2e-test"


def assert_clean(log: str) -> None:
    assert log.strip(), "the bot wrote nothing at all"
    for secret in (TOKEN, SECRET_PART, WEBHOOK_SECRET):
        assert secret not in log, f"{secret!r} in the log:\n{log}"


async def test_redirect_loop_while_running(api: BotApiStandin, tmp_path: Path) -> None:
    bot = BotProcess(api, tmp_path / "bot.db", {"LOG_LEVEL": "DEBUG"})
    await bot.start()
    try:
        person = Person(api, 1001)
        await person.command("start")
        await person.expect("Shall we start?")
        api.redirect_loop(["getUpdates", "sendMessage", "answerCallbackQuery", "editMessageText"])
        await person.click("let's start")  # the press and its reply both hit the loop
        await api.wait_until(lambda: api.calls.get("getupdates", 0) > 0 and
                             api.injected_redirect_count >= 5, timeout=10)
        await asyncio.sleep(2.0)  # PTB keeps polling (with back-off) and logging the failures
        assert "redirect" in bot.log.lower(), bot.log
        api.clear_faults()
        await person.command("start")  # and it recovers once the loop is gone
        await person.expect("Shall we start?", timeout=20)
    finally:
        code = await bot.stop()
    assert_clean(bot.log)
    assert code == 0, bot.log


async def test_redirect_loop_at_start_up(api: BotApiStandin, tmp_path: Path) -> None:
    api.redirect_loop()  # getMe itself loops: the bot can't start and says why
    bot = BotProcess(api, tmp_path / "bot.db", {"LOG_LEVEL": "DEBUG"})
    await bot.start(ready=False)
    assert bot.process is not None
    code = await asyncio.wait_for(bot.process.wait(), 30)
    assert code != 0
    assert "redirect" in bot.log.lower() and api.injected_redirect_count > 0, bot.log
    assert_clean(bot.log)


async def test_redirect_loop_in_webhook_mode(api: BotApiStandin, tmp_path: Path,
                                             unused_tcp_port: int) -> None:
    bot = BotProcess(api, tmp_path / "bot.db", {
        "LOG_LEVEL": "DEBUG", "WEBHOOK_URL": f"http://127.0.0.1:{unused_tcp_port}/telegram",
        "WEBHOOK_SECRET": WEBHOOK_SECRET, "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(unused_tcp_port)})
    await bot.start()
    try:
        person = Person(api, 1001)
        api.redirect_loop(["sendMessage"])
        await person.command("start")
        await api.wait_until(lambda: api.injected_redirect_count > 0, timeout=10)
        await asyncio.sleep(1.0)
        api.clear_faults()
        await person.command("start")
        await person.expect("Shall we start?", timeout=20)
    finally:
        code = await bot.stop()
    assert_clean(bot.log)
    assert code == 0, bot.log
