"""Fewer calls per session: an answered question is edited into the next one, where that is
what the person sees at the bottom of the chat, and never for safety messages. Keyboards
left on earlier messages still count when they mean Stop, the warning sign or a sign."""

from __future__ import annotations

from back_care_guide.engine.events import Choose, Priority
from tests.harness import ChatClient, Sent
from tests.test_flow import into_hold, through_screening


def edits(client: ChatClient) -> list[Sent]:
    return [m for m in client.messages if m.edit]


async def press_on(client: ChatClient, message: Sent, label: str) -> None:
    """Press a button of an earlier message, as Telegram would deliver it."""
    choice = next(b.choice for b in message.buttons if label.casefold() in b.label.casefold())
    client.toasts += await client.runtime.dispatch(Choose(client.user_id, message.seq, choice))


async def test_screening_is_one_message_edited_in_place(client: ChatClient) -> None:
    await through_screening(client)
    first_list = next(m for m in client.messages if "Safety check, 1 of 4" in m.text)
    later = [m for m in client.messages if m.ref == first_list.ref and m is not first_list]
    assert [m.text.split("\n")[0] for m in later] == [
        "Safety check, 2 of 4.", "Safety check, 3 of 4.", "Safety check, 4 of 4.",
        later[3].text.split("\n")[0], "You're clear to try the stretches."]
    assert "how much does your back hurt" in later[3].text
    assert all(m.edit for m in later)


async def test_a_typed_answer_gets_a_new_message(client: ChatClient) -> None:
    """The person's own message sits below the question: an edit up there would go unseen."""
    await client.start()
    await client.click("let's start")
    await client.send("none of these")
    assert "Safety check, 2 of 4" in client.texts[-1]
    assert not client.messages[-1].edit


async def test_safety_messages_are_never_edits(client: ChatClient) -> None:
    await client.start()
    await client.click("let's start")
    await client.click("None of these")
    await client.click("Sudden leg weakness")  # a sign on the second list
    urgent = [m for m in client.messages if m.priority is Priority.SAFETY]
    assert urgent and not any(m.edit for m in urgent)


async def test_the_hold_edits_its_photo_and_the_halfway_note_edits_the_hold(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    photo = next(m for m in client.messages if "Stretch 1" in m.text)
    hold, halfway = (m for m in client.messages if m.ref == photo.ref and m is not photo)
    assert hold.edit and hold.text.startswith("Hold for 20 seconds") and hold.silent
    assert halfway.edit and "Halfway there" in halfway.text and halfway.silent
    release = client.messages[-1]
    assert "Slowly return your leg" in release.text and not release.edit and release.wake


async def test_halfway_is_its_own_message_once_the_person_has_written(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.send("this feels good")
    await client.wait_for("slowly return your leg")
    halfway = next(m for m in client.messages if "Halfway there" in m.text)
    assert not halfway.edit and halfway.silent
    assert not halfway.text.startswith("Hold for")


async def test_the_warning_sign_on_an_old_hold_message_still_counts(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    hold = next(m for m in client.messages if m.text.startswith("Hold for"))
    await press_on(client, hold, "warning")
    assert "This question has moved on." not in client.toasts
    assert client.texts[-1].startswith("Quick warning-sign check")


async def test_sharp_pain_on_an_earlier_check_still_counts(client: ChatClient) -> None:
    await into_hold(client, "Standard")
    await client.wait_for("slowly return your leg")
    check = client.messages[-1]
    await client.click("No pain")  # on to the right knee
    await press_on(client, check, "sharp pain")
    assert client.messages[-1].priority is Priority.SAFETY
    assert "Stop the stretch now" in client.texts[-1]


async def test_a_sign_on_an_earlier_list_answered_by_typing_still_counts(client: ChatClient) -> None:
    await client.start()
    await client.click("let's start")
    first = client.last_prompt()
    await client.send("no")  # the list stays, with its buttons
    await press_on(client, first, "Leaking or accidents")
    assert any(m.priority is Priority.SAFETY and "Get emergency help now" in m.text
               for m in client.messages)


async def test_other_presses_on_earlier_messages_have_moved_on(client: ChatClient) -> None:
    await client.start()
    welcome = client.last_prompt()
    await client.click("let's start")
    count = len(client.messages)
    await press_on(client, welcome, "let's start")
    assert client.toasts[-1] == "This question has moved on."
    assert len(client.messages) == count
    assert not edits(client)
