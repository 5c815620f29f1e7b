"""Forged or replayed button presses change nothing that isn't the presser's own."""

from __future__ import annotations

from back_care_guide.engine.events import Choose
from tests.harness import ChatClient, ReminderCalls, stored_state

OTHER = 4242


async def reminder_of(client: ChatClient, user_id: int) -> int:
    assert client.runtime.services is not None
    items = await ReminderCalls(client.runtime.store).list(user_id)
    return items[0].id


async def test_another_persons_reminder_cannot_be_changed(client: ChatClient) -> None:
    other = ChatClient(client.runtime, client.transport, OTHER)
    await other.command("timezone")
    await other.send("UTC")
    await other.command("remind", "08:00")
    rid = await reminder_of(client, OTHER)
    reminders = ReminderCalls(client.runtime.store)
    before = await reminders.get(rid)
    for verb in ("snooze", "skip", "del", "chg", "start"):
        toasts = await client.runtime.dispatch(Choose(client.user_id, 0, f"rm_{verb}_{rid}"))
        assert toasts == ["That reminder no longer exists."], verb
    assert await reminders.get(rid) == before
    assert not client.messages  # nothing was said to the forger either


async def test_erasing_needs_its_own_confirmation_question(client: ChatClient) -> None:
    await client.start()
    toasts = await client.runtime.dispatch(Choose(client.user_id, 0, "del_yes"))
    assert toasts == ["This question has moved on."]
    conv, _ = await stored_state(client.runtime.store, client.user_id)
    assert conv is not None  # nothing was erased
    await client.command("delete")
    await client.click("Yes, delete everything")
    assert "erased" in client.texts[-1]
    assert client.transport.forgotten == [client.user_id]  # the transport forgets them too
    replay = await client.runtime.dispatch(Choose(client.user_id, 0, "del_yes"))
    assert replay == ["This question has moved on."]


async def test_prompt_numbers_never_restart_after_erasing(client: ChatClient) -> None:
    await client.start()
    old = client.last_prompt()
    await client.command("delete")
    await client.click("Yes, delete everything")
    await client.start()
    new = client.last_prompt()
    assert new.seq > old.seq
    toasts = await client.runtime.dispatch(Choose(client.user_id, old.seq, "agree"))
    assert toasts == ["This question has moved on."]  # an old button can't answer the new one
