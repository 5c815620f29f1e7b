"""Account features: reminders, time zone, progress, privacy, export, erasing, language.

Each is a :class:`Feature` of its own module; :class:`Services` finds the one an event is
for. Like the engine they know no transport: they take events and return an
:class:`Outcome`, with the changes to store written in the event's one transaction.
"""

from back_care_guide.account.base import Account, Change, Feature, Outcome
from back_care_guide.account.services import Services

__all__ = ["Account", "Change", "Feature", "Outcome", "Services"]
