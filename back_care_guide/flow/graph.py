"""The flow as a graph of states, with every way the engine can move between them.

Used by the validator (reachability, dead ends) and the safety checker (path proofs).
A `call` into a sub-flow (warning-sign check, confirmations) is modelled with a
summary edge from the caller to the place the sub-flow returns to, so `$return`
never needs an edge of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from back_care_guide.flow.choices import choices_of
from back_care_guide.flow.model import REPORTED, RETURN, Flow, State
from back_care_guide.safety.triage_rules import LOCKING, TriageRules

if TYPE_CHECKING:
    from back_care_guide.flow.loader import FlowBundle


@dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    label: str  # what makes it happen: a choice id, "release", "/stop", ...
    # choice | call (a choice's) | return | timer | interrupt | report (a sign's button)
    # | typed (a sign in free text) | restart (/start with no outcome in force)
    # | gate (/start while one holds)
    kind: str = "choice"
    lifts: bool = False  # ends the safety outcome in force (a clearance, a corrected mis-tap)

    @property
    def restart(self) -> bool:
        """A fresh session (/start), not a move within the session."""
        return self.kind in ("restart", "gate")


def resume_point(flow: Flow, name: str) -> str | None:
    """Where a sub-flow called from ``name`` returns to (None: nowhere, the session is over)."""
    state = flow.states[name]
    if state.kind == "end":
        return None
    if state.kind == "hold":
        return state.resume
    return name


def main_states(flow: Flow) -> set[str]:
    """States reachable from the start by plain choices and timers, without calls."""
    seen = {flow.start}
    todo = deque([flow.start])
    while todo:
        state = flow.states[todo.popleft()]
        for dest in _plain_targets(state):
            if dest in flow.states and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    return seen


def subflow_states(flow: Flow) -> set[str]:
    """States that belong to a called sub-flow (a call from them keeps the original return)."""
    main = main_states(flow)
    entries = {c.call for s in flow.states.values() for c in s.choices if c.call}
    i = flow.interrupts
    entries |= {i.warning, i.confirm, i.info, i.pause, i.late_resume, i.mistap}
    seen: set[str] = set()
    todo = deque(e for e in entries if e in flow.states and e not in main)
    seen.update(todo)
    while todo:
        for dest in _plain_targets(flow.states[todo.popleft()]):
            if dest in flow.states and dest not in main and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    return seen


def _plain_targets(state: State) -> Iterator[str]:
    for choice in state.choices:
        if choice.to and choice.to != RETURN:
            yield choice.to
    if state.next:
        yield state.next


def outcome_states(triage: TriageRules) -> dict[str, str]:
    """Each tier's outcome state -> the tier (two tiers may share one state)."""
    found: dict[str, str] = {}
    for tier in LOCKING:
        found.setdefault(triage.tiers.rule(tier).outcome, tier.value)
    return found


def _report_targets(triage: TriageRules, sign: str) -> list[str]:
    """Where reporting ``sign`` leads; for ``$sign`` (any sign) every tier's outcome."""
    if sign == REPORTED:
        return list(outcome_states(triage))
    if sign in triage.signs:
        return [triage.tiers.rule(triage.tier_of(sign)).outcome]
    return []


def edges(bundle: FlowBundle) -> list[Edge]:
    """Every move the engine can make, including global interrupts and /start."""
    flow, triage = bundle.flow, bundle.triage
    result: list[Edge] = []
    i = flow.interrupts
    outcomes = list(outcome_states(triage))
    questions = [n for n, s in flow.states.items() if s.kind in ("screen", "rating")]
    for name, state in flow.states.items():
        back = resume_point(flow, name)
        for choice in choices_of(triage, state):
            lifts = bool({"clear", "withdraw"} & choice.set.keys())
            if choice.to == RETURN:  # back to the caller (summary edges), or nowhere: idle
                result.append(Edge(name, i.idle, f"{choice.id} (nothing to return to)", "return",
                                   lifts))
            elif choice.to:
                result.append(Edge(name, choice.to, choice.id, lifts=lifts))
            elif choice.call:
                result.append(Edge(name, choice.call, choice.id, "call"))
                if back:
                    result.append(Edge(name, back, f"{choice.id} (return)", "return"))
            elif choice.report:
                for dest in _report_targets(triage, choice.report):
                    result.append(Edge(name, dest, choice.id, "report"))
        if state.next and state.kind == "rating":
            result.append(Edge(name, state.next, "rated"))
            for dest in _report_targets(triage, triage.pain_scale.sign):
                result.append(Edge(name, dest, "severe pain rated", "report"))
        elif state.next and state.kind == "hold":
            result.append(Edge(name, state.next, "release", "timer"))
        # Global interrupts, available in every state: any sign typed, and the checks.
        for dest in outcomes:
            result.append(Edge(name, dest, "sign typed", "typed"))
        for label, target in (("warning sign", i.warning), ("hedged mention", i.confirm),
                              ("question about a sign", i.info)):
            result.append(Edge(name, target, label, "interrupt"))
            if back:
                result.append(Edge(name, back, f"{label} (return)", "return"))
        if state.kind != "end":
            result.append(Edge(name, i.stop, "/stop", "interrupt"))
        if state.kind == "hold":
            result.append(Edge(name, i.pause, "media during the hold", "interrupt"))
            result.append(Edge(name, i.late_resume, "resumed late", "interrupt"))
            result.append(Edge(name, state.resume or name, "resumed late (return)", "return"))
        if name in outcomes:  # right after a screening answer: "I tapped it by mistake"
            result.append(Edge(name, i.mistap, "tapped by mistake", "interrupt"))
        result.append(Edge(name, flow.start, "/start", "restart"))
        for target in (i.locked, i.wait, i.rest):
            result.append(Edge(name, target, "/start while an outcome holds", "gate"))
    # A corrected mis-tap goes back to the question that was answered: the net effect of
    # question -> outcome -> mis-tap check -> "no" -> question (a summary edge).
    for question in questions:
        result.append(Edge(question, question, "answer tapped by mistake, corrected", "return",
                           True))
    return result


def adjacency(bundle: FlowBundle, *, restarts: bool = True) -> dict[str, list[Edge]]:
    adj: dict[str, list[Edge]] = {name: [] for name in bundle.flow.states}
    for edge in edges(bundle):
        if (restarts or not edge.restart) and edge.dest in bundle.flow.states:
            adj[edge.source].append(edge)
    return adj


def find_path(
    adj: dict[str, list[Edge]], sources: list[str], goal: set[str]
) -> list[Edge] | None:
    """Shortest path (by edges) from any source to any goal state, or None."""
    parent: dict[str, Edge | None] = {s: None for s in sources}
    todo = deque(sources)
    while todo:
        here = todo.popleft()
        if here in goal:
            path: list[Edge] = []
            step = parent[here]
            while step is not None:
                path.append(step)
                step = parent[step.source]
            return path[::-1]
        for edge in adj[here]:
            if edge.dest not in parent:
                parent[edge.dest] = edge
                todo.append(edge.dest)
    return None


def describe(path: list[Edge]) -> str:
    if not path:
        return "(empty path)"
    parts = [path[0].source]
    parts += [f"--{e.label}--> {e.dest}" for e in path]
    return " ".join(parts)
