"""What goes into the engine (events) and what comes out (effects).

Transport adapters turn their input into events and carry out the effects; the engine
never sees Telegram or a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

# What the store keeps as it is: defined with the other records, named here too.
from back_care_guide.store.records import LogSession as LogSession
from back_care_guide.store.records import Prompt as Prompt
from back_care_guide.store.records import SafetyEvent
from back_care_guide.store.records import Timer as Timer


# ----------------------------------------------------------------- events
@dataclass(frozen=True, slots=True)
class Start:
    user_id: int
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Choose:
    """A button press. ``seq`` names the prompt the button belonged to."""

    user_id: int
    seq: int
    choice: str


@dataclass(frozen=True, slots=True)
class Text:
    """Typed text. ``kind`` says how it came: a message, a media caption or an edit.

    Captions and edits are read for safety like any text; if they hold nothing
    safety-relevant they do not move the conversation.
    """

    user_id: int
    text: str
    kind: Literal["message", "caption", "edited"] = "message"


@dataclass(frozen=True, slots=True)
class Media:
    """Something that is not text (a voice note, video, sticker, photo...), with its caption."""

    user_id: int
    kind: str  # voice | video_note | audio | sticker | photo | video | document | other
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Command:
    user_id: int
    name: str
    args: str = ""
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """The person is back after a restart of the bot's side (the terminal chat's start):
    pick up where they were, or start a session if there is none.

    ``language`` is what their system says (kept if they have none yet, like Telegram's
    ``language_code``); ``chosen``: they asked for it (``--lang``), so it replaces theirs.
    """

    user_id: int
    language: str | None = None
    chosen: bool = False


@dataclass(frozen=True, slots=True)
class TimerFired:
    user_id: int
    kind: str  # "halfway" | "release"
    epoch: int  # the hold run the timer belongs to; a stale epoch is ignored
    late_by: float = 0.0  # seconds past its due time


Event = Start | Choose | Text | Media | Command | Resume | TimerFired


# ----------------------------------------------------------------- effects
@dataclass(frozen=True, slots=True)
class Button:
    choice: str  # the choice id
    label: str


class Priority(IntEnum):
    """Which outgoing message goes first when the send budget is short (lower first)."""

    SAFETY = 0  # urgent care, a stop, a pain stop, the question that pauses a hold
    REPLY = 1  # a live conversation's next message
    TIDY = 2  # an edit that only tidies an answered question's keyboard
    BULK = 3  # reminders and other messages nobody is waiting for


@dataclass(frozen=True, slots=True)
class Send:
    """A new message. With buttons it becomes the user's current prompt, numbered ``seq``.

    With ``replaces`` it is the next step of a question just answered by a tap on
    ``replaces``, the chat's latest message: the transport edits that message into this one
    (one call instead of a new message plus an edit to tidy the old one), or sends it anew
    when the edit can't be made.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    seq: int = 0
    priority: Priority = Priority.REPLY
    silent: bool = False  # no notification (a hold's start and halfway: hands stay on the knee)
    wake: bool = False  # the end of a hold: the one message during it that should be noticed
    picture: str | None = None  # a drawing of the position (back_care_guide/pictures), the text its caption
    replaces: Prompt | None = None


@dataclass(frozen=True, slots=True)
class Toast:
    """A short notice tied to a button press (Telegram: the callback answer)."""

    text: str


@dataclass(frozen=True, slots=True)
class Schedule:
    timer: Timer


@dataclass(frozen=True, slots=True)
class CancelTimers:
    pass


@dataclass(frozen=True, slots=True)
class LogSafety:
    """A safety outcome was reported, corrected or cleared: keep it in the person's history."""

    event: SafetyEvent


@dataclass(frozen=True, slots=True)
class SendPhoto:
    png: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class SendDocument:
    """A file for the person to keep (their /export), with its caption."""

    filename: str
    data: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class EraseUser:
    """Erase everything stored about the user (their /delete), then carry on."""


@dataclass(frozen=True, slots=True)
class ShowMenu:
    """The person chose ``language``: where the transport has a command menu, show theirs in it."""

    language: str


Effect = (Send | SendPhoto | SendDocument | Toast | Schedule | CancelTimers | LogSession
          | LogSafety | EraseUser | ShowMenu)
