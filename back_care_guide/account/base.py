"""What every account feature is: its commands, its buttons, what it asks, and its outcome."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from back_care_guide.engine.events import Effect, Event, Toast
from back_care_guide.flow.loader import FlowBundle
from back_care_guide.flow.texts import Texts
from back_care_guide.store.base import Store, Transaction
from back_care_guide.store.records import Conversation, Profile

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: A change to the store, made in the unit of work of the event that asked for it.
Change = Callable[[Transaction], Awaitable[object]]

#: What the bot waits for the person to type (``conv.ctx["asking"]``), shared with the flow
#: engine because there is one such question at a time (the engine's "country"): for a
#: feature, its prefix, an underscore and what ("rm_time"), so the text goes back to it.
ASKING = "asking"

S = TypeVar("S", bound="DataclassInstance")


class Kept(Generic[S]):
    """A feature's own typed state, kept with the conversation between events.

    It is stored in the conversation's context under the feature's own key, which nothing
    else reads; ``kind`` (a dataclass whose fields all have defaults) says what it holds.
    """

    def __init__(self, prefix: str, kind: Callable[[], S]) -> None:
        self.key = f"account.{prefix}"
        self.kind = kind

    def get(self, conv: Conversation) -> S:
        data = conv.ctx.get(self.key)
        try:
            return self.kind(**data) if isinstance(data, dict) else self.kind()
        except TypeError:  # kept by another version of the feature: start afresh
            return self.kind()

    def put(self, conv: Conversation, state: S) -> None:
        data = asdict(state)
        if data == asdict(self.kind()):
            conv.ctx.pop(self.key, None)
        else:
            conv.ctx[self.key] = data


@dataclass
class Outcome:
    effects: list[Effect]
    then: Event | None = None  # an event for the flow engine to handle next (Start session)
    # Written with the conversation, in one transaction: decided here from what was read,
    # so the replies above already say how it went. The runtime holds the person's lock
    # from the reading to the writing, so what was read still holds.
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Account:
    """What the features share: the data, the store and the clock."""

    bundle: FlowBundle
    store: Store
    clock: Callable[[], float]


class Feature(ABC):
    """One account feature. It knows no transport: it takes the person's command, button
    press or typed answer and returns an :class:`Outcome`.

    Its buttons' ids start with :attr:`prefix` and an underscore (``rm_del_3``), and its
    buttons use prompt number 0: they never replace the flow's current question.
    """

    #: The commands it answers, without the slash.
    commands: ClassVar[frozenset[str]] = frozenset()
    #: The first part of its button ids and of what it asks; none if it has neither.
    prefix: ClassVar[str] = ""

    def __init__(self, account: Account) -> None:
        self.account = account

    @abstractmethod
    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        """One of :attr:`commands`; ``args`` is what follows it."""

    async def button(self, parts: list[str], conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        """A press of one of its buttons; ``parts`` is the id after the prefix, split at
        underscores. A forged or stale press changes nothing."""
        return moved_on(texts)

    async def answer(self, asked: str, text: str, conv: Conversation, profile: Profile,
                     texts: Texts) -> Outcome:
        """What the person typed when it had asked ``asked`` (triage found nothing in it)."""
        return Outcome([])

    def expect(self, conv: Conversation, what: str) -> None:
        """Note that the next typed text answers this feature's ``what``."""
        conv.ctx[ASKING] = f"{self.prefix}_{what}"


def moved_on(texts: Texts) -> Outcome:
    """The answer to a press of a button that no longer means anything."""
    return Outcome([Toast(texts.get("system.moved_on"))])
