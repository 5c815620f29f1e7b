"""The logging filter that keeps the bot token (and the webhook secret) out of every log line."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from telegram.error import NetworkError

from back_care_guide.components import setup_logging
from back_care_guide.redact import MASK, Redactor, secret_parts
from back_care_guide.telegram.request import AiohttpRequest
from tests.logging_tools import isolated_logging

TOKEN = "123456789:AAE-test-token-for-the-standin_0123"
SECRET_PART = TOKEN.split(":", 1)[1]


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with a handler of its own (as the root's would be) and the filter on it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor([TOKEN, "webhook-secret-value"]))
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def clean(text: str) -> bool:
    return TOKEN not in text and SECRET_PART not in text


def test_secret_parts_include_the_tokens_secret_alone() -> None:
    assert secret_parts([TOKEN, "", "  ", "short"]) == [TOKEN, SECRET_PART]


def test_message_and_args(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("GET https://api.telegram.org/bot%s/getMe failed", TOKEN)
    logger.info(f"plain https://api.telegram.org/bot{TOKEN}/getUpdates")
    logger.warning("a mapping: %(url)s", {"url": f"/bot{TOKEN}/sendMessage"})
    logger.info("only the secret part: %s", SECRET_PART)
    logger.info("percent-encoded: %s", TOKEN.replace(":", "%3A"))
    logger.info("the webhook secret webhook-secret-value too")
    logger.info("nothing secret here: %d updates", 3)
    text = stream.getvalue()
    assert clean(text), text
    assert "webhook-secret-value" not in text
    assert text.count(MASK) == 6
    assert "https://api.telegram.org/bot[REDACTED]/getMe failed" in text
    assert "nothing secret here: 3 updates" in text


def test_exception_text_and_chained_tracebacks(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        try:
            raise aiohttp.InvalidURL(f"https://api.telegram.org/bot{TOKEN}/getMe")
        except aiohttp.ClientError as err:
            raise RuntimeError(f"wrapped: {err}") from err
    except RuntimeError:
        logger.exception("polling failed")
    logger.error("with stack", stack_info=True, extra={"note": TOKEN})
    text = stream.getvalue()
    assert clean(text), text
    assert "Traceback" in text and "RuntimeError: wrapped: https://api.telegram.org/bot[REDACTED]" in text


def test_a_broken_format_string_is_redacted_too(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("%s %s", TOKEN)  # one argument short: logging would print msg and args raw
    text = stream.getvalue()
    assert clean(text) and MASK in text, text


def test_setup_logging_installs_it_on_the_root_handlers(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with isolated_logging(monkeypatch) as root:
        setup_logging("DEBUG", [TOKEN])
        setup_logging("DEBUG", [TOKEN])  # again: still one filter
        assert len(root.handlers) == 1
        assert [type(f) for f in root.handlers[0].filters] == [Redactor]
        logging.getLogger("telegram.ext.Updater").error("url https://x/bot%s/getUpdates", TOKEN)
        try:
            raise NetworkError(f"https://x/bot{TOKEN}/getMe")
        except NetworkError:
            sys.excepthook(*sys.exc_info())
            thread_error = threading.ExceptHookArgs([*sys.exc_info(), None])
            threading.excepthook(thread_error)
    err = capsys.readouterr().err
    assert "getUpdates" in err and "NetworkError" in err and "Exception in thread" in err
    assert clean(err), err


async def test_request_errors_never_quote_the_url(tmp_path: Path) -> None:
    """A redirect loop, a dropped connection and a refused one: the NetworkError says what
    happened without the URL, and carries no original exception whose text has it."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", loop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    request = AiohttpRequest(connections=2)
    await request.initialize()
    try:
        url = f"http://127.0.0.1:{port}/bot{TOKEN}/getMe"
        with pytest.raises(NetworkError) as caught:
            await request.do_request(url, "POST")
        assert "redirect" in caught.value.message and "302" in caught.value.message
        await runner.cleanup()
        messages = []
        for _ in range(2):  # the pooled connection is gone, then nothing listens
            with pytest.raises(NetworkError) as caught:
                await request.do_request(url, "POST")
            messages.append(caught.value.message)
            assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert messages[-1] == "aiohttp.ClientConnectorError (ECONNREFUSED)", messages
        assert all(clean(message) and "127.0.0.1" not in message for message in messages)
    finally:
        await request.shutdown()
        await runner.cleanup()
