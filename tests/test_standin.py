"""The Bot API stand-in is as strict as Telegram, proven with a real PTB ``telegram.Bot``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter
from telegram.helpers import escape_markdown

from tests.standin import SECRET_HEADER, BotApiStandin, TestUser, WaitTimeout

ANN = 1001


def png_bytes(width: int = 2, height: int = 3) -> bytes:
    """A valid tiny PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data)] for text, data in buttons])


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns when int-valued periods such as RetryAfter.retry_after are read; opting in
    # to timedelta values keeps "warnings as errors" from masking the real exception.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandin]:
    async with BotApiStandin(webhook_retry_delay=0.02) as standin:
        yield standin
        assert standin.internal_errors == []


@pytest.fixture
async def bot(api: BotApiStandin) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as client:
        yield client


@pytest.fixture
def ann(api: BotApiStandin) -> TestUser:
    return api.user(ANN, first_name="Ann", language_code="en")


async def test_get_me_and_routing(api: BotApiStandin, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "back_care_test_bot" and me.id == 123456
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{api.base_url}{api.token}/sendTelepathy") as response:
            assert response.status == 404
        assert api.unimplemented_calls == ["sendTelepathy"]


async def test_query_string_and_json_bodies_are_accepted(api: BotApiStandin, ann: TestUser) -> None:
    url = f"{api.base_url}{api.token}"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/sendMessage", params={"chat_id": str(ANN), "text": "q"}) as response:
            assert (await response.json())["result"]["text"] == "q"
        body = {"chat_id": ANN, "text": "j", "reply_markup": markup}
        async with http.post(f"{url}/SENDMESSAGE", json=body) as response:
            reply = await response.json()
    assert reply["ok"] and reply["result"]["reply_markup"] == markup
    assert [m.text for m in ann.messages] == ["q", "j"]


async def test_send_message_round_trips_reply_markup(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes", callback_data="yes"),
                InlineKeyboardButton("Docs", url="https://e.org"),
            ]
        ]
    )
    first = await bot.send_message(ANN, "Ready?", reply_markup=markup, disable_notification=True)
    second = await bot.send_message(ANN, "Again", reply_parameters=None)
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][0].callback_data == "yes"
    assert first.reply_markup.inline_keyboard[0][1].url == "https://e.org"
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.id == ANN and first.from_user is not None and first.from_user.is_bot
    assert ann.messages[0].button_labels() == ["Yes", "Docs"]
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "nobody")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ANN, "")


async def test_html_must_be_escaped(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    for bad in ("pain < 3 of 10", "Tom & Jerry", "<foo>x</foo>", "<b>bold</i>", "<b>open"):
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(ANN, bad, parse_mode=ParseMode.HTML)
    assert ann.messages == []
    sent = await bot.send_message(
        ANN, '<b>pain &lt; 3 &amp; ok</b> <a href="https://e.org/x?a=1&amp;b=2">more</a>', parse_mode="HTML"
    )
    assert sent.text == "pain < 3 & ok more"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 13), ("text_link", 14, 4)]
    assert sent.entities[1].url == "https://e.org/x?a=1&b=2"


async def test_markdown_v2_reserved_characters(bot: Bot, ann: TestUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(ANN, "Take a break.", parse_mode=ParseMode.MARKDOWN_V2)
    text = "*Breathe* " + escape_markdown("slowly (4-7-8).", version=2)
    sent = await bot.send_message(ANN, text, parse_mode=ParseMode.MARKDOWN_V2)
    assert sent.text == "Breathe slowly (4-7-8)."
    assert sent.entities[0].type == "bold"


async def test_text_length_is_checked_after_parsing(bot: Bot, ann: TestUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ANN, "x" * 4097)
    sent = await bot.send_message(ANN, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert sent.text is not None and len(sent.text) == 4096


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, ann: TestUser) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ANN, "x", reply_markup=keyboard(("Too long", "é" * 33)))
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ANN, "x", reply_markup=keyboard(("Too long", "a" * 65)))
    await bot.send_message(ANN, "x", reply_markup=keyboard(("Fits", "é" * 32)))
    assert len(ann.messages) == 1


async def test_edit_message_text_not_modified(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    sent = await bot.send_message(ANN, "Step 1", reply_markup=keyboard(("Next", "next")))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Step 1", ANN, sent.message_id, reply_markup=keyboard(("Next", "next")))
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Step 2", ANN, 999)
    edited = await bot.edit_message_text("Step 1", ANN, sent.message_id)  # dropping the keyboard is a change
    assert isinstance(edited, object) and ann.messages[0].reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(ANN, sent.message_id, reply_markup=None)
    stored = api.message(ANN, sent.message_id)
    assert len(stored.history) == 1 and stored.history[0]["reply_markup"]["inline_keyboard"]


async def test_every_third_send_is_rate_limited_without_side_effects(
    api: BotApiStandin, bot: Bot, ann: TestUser
) -> None:
    api.fail_every("sendMessage", 3, retry_after=7)
    await bot.send_message(ANN, "one")
    await bot.send_message(ANN, "two")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "three")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    fourth = await bot.send_message(ANN, "four")
    assert [m.text for m in ann.messages] == ["one", "two", "four"]
    assert fourth.message_id == 3 and api.injected_429_count == 1


async def test_blocked_user_is_forbidden(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    sent = await bot.send_message(ANN, "hello")
    ann.block()
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ANN, "still there?")
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.edit_message_text("edited", ANN, sent.message_id)
    with pytest.raises(AssertionError, match=r"(?i)blocked"):
        await ann.send("hi")
    ann.unblock()
    await bot.send_message(ANN, "welcome back")
    api.add_user(2002, "Never started", started=False)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(2002, "hi")


async def test_get_updates_offsets_and_long_poll_timeout(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    await ann.command("start")
    await ann.send("my back hurts")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [1, 2]
    start = updates[0].message
    assert start is not None and start.text == "/start"
    assert [(e.type, e.offset, e.length) for e in start.entities] == [("bot_command", 0, 6)]
    assert len(await bot.get_updates()) == 2  # not confirmed yet
    assert await bot.get_updates(offset=3) == ()
    assert api.pending_update_count == 0 and api.confirmed_offset == 3
    began = time.monotonic()
    assert await bot.get_updates(offset=3, timeout=1) == ()
    assert 0.9 <= time.monotonic() - began < 3


async def test_long_poll_wakes_on_update(bot: Bot, ann: TestUser) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    await ann.send("now")
    began = time.monotonic()
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - began < 1 and updates[0].message is not None


async def test_second_poller_conflicts(api: BotApiStandin, bot: Bot) -> None:
    async with Bot(api.token, base_url=api.base_url) as other:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await api.wait_until(lambda: api.core.updates.polls >= 1, timeout=2)
        await asyncio.sleep(0.05)
        assert await other.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await asyncio.wait_for(first, 2)


async def test_callback_query_press_and_answer(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    sent = await bot.send_message(
        ANN, "Pain level?", reply_markup=keyboard(("Low", "pain:1"), ("High", "pain:9"))
    )
    with pytest.raises(AssertionError, match=r"(?i)available.*'Low'"):
        await ann.click("Medium")
    press = await ann.click("High")
    (update,) = await bot.get_updates()
    assert isinstance(update, Update) and update.callback_query is not None
    query = update.callback_query
    assert query.data == "pain:9" and query.from_user.id == ANN and query.chat_instance
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.id == press.id
    assert await bot.answer_callback_query(query.id, text="Noted")
    assert ann.toasts[0].answer_text == "Noted"
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    await bot.edit_message_reply_markup(ANN, sent.message_id, reply_markup=None)
    with pytest.raises(AssertionError, match=r"(?i)no button"):
        await ann.click("High")
    stale = await ann.click_stale(sent.message_id, "pain:9")
    (update,) = await bot.get_updates(offset=update.update_id + 1)
    assert update.callback_query is not None and update.callback_query.id == stale.id


async def test_webhook_delivery_with_secret(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER)
        if secret != "s3cret":
            return web.Response(status=403)
        received.append((secret, await request.json()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        with pytest.raises(BadRequest, match=r"(?i)bad webhook"):
            await bot.set_webhook("https://example.com/hook")
        assert await bot.set_webhook(
            url, secret_token="s3cret", allowed_updates=["message", "callback_query"]
        )
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        await ann.send("via webhook")
        attempts = await api.wait_webhook_attempts(1, timeout=3)
        assert attempts[0].status == 200 and received[0][1]["message"]["text"] == "via webhook"  # type: ignore[index]
        assert await api.post_update(url, {"update_id": 99}, secret="wrong") == 403
        assert await bot.set_webhook(url, secret_token="rotated")
        await ann.send("rejected")
        attempts = await api.wait_webhook_attempts(3, timeout=3)
        assert [a.status for a in attempts] == [403, 403, 403]
        info = await bot.get_webhook_info()
        assert info.url == url and info.last_error_message == "Wrong response from the webhook: 403 Forbidden"
        assert await bot.delete_webhook(drop_pending_updates=True)
    finally:
        await runner.cleanup()


async def test_flood_control_per_chat(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    api.enable_flood_control()  # 1 msg/s per chat, bursts of 3, 30 msg/s overall
    for n in range(3):
        await bot.send_message(ANN, f"burst {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(ANN, "one too many")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert api.flood_429_count == 1 and len(ann.messages) == 3
    api.add_user(2002, "Bob")
    await bot.send_message(2002, "other chats are unaffected")


async def test_send_photo_upload_is_checked(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    sent = await bot.send_photo(ANN, png_bytes(40, 30), caption="<b>Posture</b>", parse_mode="HTML")
    assert sent.photo[-1].width == 40 and sent.photo[-1].height == 30
    assert sent.caption == "Posture"
    assert api.core.files[sent.photo[-1].file_id] == png_bytes(40, 30)
    again = await bot.send_photo(ANN, sent.photo[-1].file_id)
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ANN, b"GIF89a not really")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(ANN, png_bytes(), caption="x" * 1025)
    assert [e.kind for e in api.events(ANN)] == ["photo", "photo"]


async def test_commands_are_validated(bot: Bot) -> None:
    assert await bot.set_my_commands([("start", "Begin"), ("pain_check", "Check in")], language_code="en")
    commands = await bot.get_my_commands(language_code="en")
    assert [c.command for c in commands] == ["start", "pain_check"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start", "Begin")])
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_DESCRIPTION_INVALID"):
        await bot.set_my_commands([("start", "")])
    assert await bot.delete_my_commands(language_code="en")
    assert await bot.get_my_commands(language_code="en") == ()


async def test_server_errors_and_latency(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    api.fail_next(2, status=502)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(ANN, "lost")
    api.fail_next(1, status=500)
    with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
        await bot.send_message(ANN, "lost")
    api.set_latency(0.2, methods=["sendChatAction"])
    began = time.monotonic()
    assert await bot.send_chat_action(ANN, "typing")
    assert time.monotonic() - began >= 0.2
    assert ann.messages == [] and [e.kind for e in api.events(ANN)] == ["chat_action"]


async def test_user_helper_with_a_tiny_bot(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    async def echo_bot() -> None:
        offset = 0
        while True:
            for update in await bot.get_updates(offset=offset, timeout=1):
                offset = update.update_id + 1
                if update.message is not None and update.message.text == "/start":
                    await bot.send_chat_action(ANN, "typing")
                    await bot.send_message(
                        ANN, "Hi! How is your back?", reply_markup=keyboard(("Fine", "fine"))
                    )
                elif update.callback_query is not None:
                    await bot.answer_callback_query(update.callback_query.id, text="Glad to hear")
                    await bot.edit_message_text("Great, see you tomorrow", ANN, 2)

    task = asyncio.create_task(echo_bot())
    try:
        await ann.command("start")
        greeting = await ann.wait_for_text("How is your back", timeout=3)
        assert greeting.button_labels() == ["Fine"] and ann.last_text == "Hi! How is your back?"
        press = await ann.click("Fine")
        await ann.wait_for_answer(press, timeout=3)
        await ann.wait_for_text("see you tomorrow", timeout=3)
        await api.wait_quiet(quiet_for=0.1, timeout=3)
        transcript = ann.transcript()
        assert [m.text for m in transcript.messages] == ["/start", "Great, see you tomorrow"]
        assert "toast: Glad to hear" in transcript.render()
        assert [e.kind for e in transcript.events] == ["chat_action", "message", "callback_answer", "edit"]
        with pytest.raises(WaitTimeout, match=r"(?i)has 1 of 5 messages"):
            await ann.wait_for_messages(5, timeout=0.1)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_group_channel_and_raw_updates(api: BotApiStandin, bot: Bot, ann: TestUser) -> None:
    api.add_group(-100123, "Back club", supergroup=True)
    api.add_channel(-100999, "News", username="backnews")
    api.send_text(-100123, "/tip@back_care_test_bot", from_id=ANN)
    api.send_channel_post(-100999, "post")
    api.send_sticker(ANN)
    api.send_location(ANN, 52.5, 13.4)
    api.send_voice(ANN, 4)
    api.push_update({"message_reaction_count": {"weird": True}})  # opt-in type: filtered out
    api.push_update({"future_update_kind": {"garbage": [1, None, {"x": "y"}]}})
    updates = await bot.get_updates()
    assert [u.effective_chat.id if u.effective_chat else None for u in updates] == [
        -100123, -100999, ANN, ANN, ANN, None,
    ]  # fmt: skip
    assert updates[0].message is not None and updates[0].message.entities[0].length == 23
    assert (await bot.get_chat("@backnews")).title == "News"
    posted = await bot.send_message("@backnews", "hello channel")
    assert posted.sender_chat is not None and posted.sender_chat.id == -100999
    assert json.loads(json.dumps(api.stats()))["chats"] == 3


@pytest.mark.parametrize(
    ("mode", "source", "expected"),
    [
        ("HTML", "a < b", 'Unsupported start tag "" at byte offset 2'),
        ("HTML", "ü <br>", 'Unsupported start tag "br" at byte offset 3'),
        ("HTML", "<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("HTML", "<i>open", 'Can\'t find end tag corresponding to start tag "i"'),
        ("HTML", '<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("MarkdownV2", "*bold", "Can't find end of Bold entity at byte offset 0"),
        ("MarkdownV2", "1-2", "Character '-' is reserved"),
        ("Markdown", "_open", "Can't find end of the entity starting at byte offset 0"),
    ],
)
def test_parse_errors_match_telegram(mode: str, source: str, expected: str) -> None:
    from tests.standin.errors import ApiError
    from tests.standin.formatting import format_text

    with pytest.raises(ApiError) as caught:
        format_text(source, mode, None, lambda _: None)
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert expected in caught.value.description


def test_entity_offsets_are_utf16() -> None:
    from tests.standin.formatting import format_text

    html = '😀 <b>bold</b> <pre><code class="language-py">x</code></pre> <tg-spoiler>s</tg-spoiler>'
    parsed = format_text(html, "HTML", None, lambda _: None)
    assert parsed.text == "😀 bold x s"
    assert parsed.entities_json() == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "pre", "offset": 8, "length": 1, "language": "py"},
        {"type": "spoiler", "offset": 10, "length": 1},
    ]
    v2 = format_text(r"__u__ ~s~ ||p|| [l](https://e.org/\)) `c\`` \.", "MarkdownV2", None, lambda _: None)
    assert v2.text == "u s p l c` ."
    assert [e["type"] for e in v2.entities_json()] == [
        "underline",
        "strikethrough",
        "spoiler",
        "text_link",
        "code",
    ]


async def test_standalone_process_and_control_rpc() -> None:
    from tests.standin import RemoteError, spawn_standin

    async with spawn_standin() as remote:
        await remote.call("add_user", user_id=7, first_name="Remote")
        await remote.call("send_command", chat_id=7, command="start")
        async with Bot("123456:TEST-token", base_url=remote.base_url) as client:
            (update,) = await client.get_updates()
            assert update.message is not None and update.message.text == "/start"
            await client.send_message(7, "hello", reply_markup=keyboard(("Go", "go")))
        (message,) = await remote.call("wait_for_messages", chat_id=7, count=1, timeout=2)
        assert message["text"] == "hello" and message["buttons"] == ["Go"]
        assert isinstance(await remote.call("click", chat_id=7, label="Go"), str)
        with pytest.raises(RemoteError, match="no button"):
            await remote.call("click", chat_id=7, label="Missing")
        assert (await remote.call("stats"))["calls"]["sendmessage"] == 1
