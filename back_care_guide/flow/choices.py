"""The choices a state offers, the same for the engine, the graph and the checker.

Most states list their choices in the flow file. A screen state asks one group of
``flows/triage.yaml``: its choices are a button per sign of the group (each reports
that sign) and "None of these" (on to the state's ``next``).
"""

from __future__ import annotations

from back_care_guide.flow.model import Choice, State
from back_care_guide.safety.triage_rules import TriageRules

NONE_OF_THESE = "none"  # the choice id of "None of these" in a screen state
NONE_LABEL = "triage.none"


def choices_of(triage: TriageRules, state: State) -> tuple[Choice, ...]:
    if state.kind != "screen":
        return state.choices
    assert state.group is not None and state.next is not None
    group = triage.groups.get(state.group)
    signs = group.signs if group is not None else ()
    return (
        *(Choice(id=sign, label=triage.signs[sign].label, report=sign)
          for sign in signs if sign in triage.signs),
        Choice(id=NONE_OF_THESE, label=NONE_LABEL, to=state.next),
    )


def question_of(triage: TriageRules, state: State) -> str | None:
    """The text key a state asks: its own ``ask``, or its screening group's question."""
    if state.kind == "screen" and state.group in triage.groups:
        return triage.groups[state.group].question
    return state.ask


__all__ = ["NONE_LABEL", "NONE_OF_THESE", "choices_of", "question_of"]
