"""Cross-file and graph rules for ``python -m bot check``.

Each rule returns :class:`FlowError` objects that point at the file and line to fix.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from bot.flow.graph import Edge, adjacency, describe, find_path, main_states
from bot.flow.model import RETURN, SetKey
from bot.flow.source import FlowError
from bot.flow.texts import ENGINE_KEYS, PLACEHOLDERS, placeholders
from bot.safety.detection import CLINICIAN_SIGNS, EMERGENCY_SIGNS, STOP_SIGNS

if TYPE_CHECKING:
    from bot.flow.loader import FlowBundle

SIGNS = EMERGENCY_SIGNS + STOP_SIGNS + CLINICIAN_SIGNS


def validate(bundle: FlowBundle) -> list[FlowError]:
    errors: list[FlowError] = []
    for rule in (check_references, check_texts, check_holds, check_reachable, check_dead_ends,
                 check_safety):
        errors.extend(rule(bundle))
    return errors


def check_references(bundle: FlowBundle) -> Iterator[FlowError]:
    flow, src = bundle.flow, bundle.flow_source
    states = flow.states
    if flow.start not in states:
        yield src.error(("start",), f"unknown state {flow.start!r}")
    for key, target in flow.interrupts.model_dump().items():
        if target not in states:
            yield src.error(("interrupts", key), f"unknown state {target!r}")
    for ex_name, exercise in flow.exercises.items():
        if flow.default_hold not in exercise.holds:
            yield src.error(("exercises", ex_name, "holds"), f"no {flow.default_hold!r} hold")
    for name, state in states.items():
        for i, choice in enumerate(state.choices):
            path = ("states", name, "choices", i)
            if choice.to and choice.to != RETURN and choice.to not in states:
                yield src.error((*path, "to"), f"transition to unknown state {choice.to!r}")
            if choice.call and choice.call not in states:
                yield src.error((*path, "call"), f"call to unknown state {choice.call!r}")
            if choice.page and choice.page not in flow.pages:
                yield src.error((*path, "page"), f"unknown page {choice.page!r}")
            yield from _check_set(bundle, path, choice.set)
        ids = [c.id for c in state.choices]
        if len(ids) != len(set(ids)):
            yield src.error(("states", name, "choices"), "choice ids must be unique in a state")
        for field in ("next", "resume"):
            target = getattr(state, field)
            if target is not None and target not in states:
                yield src.error(("states", name, field), f"unknown state {target!r}")
        if state.exercise is not None and state.exercise not in flow.exercises:
            yield src.error(("states", name, "exercise"), f"unknown exercise {state.exercise!r}")


def _check_set(bundle: FlowBundle, path: tuple[str | int, ...], values: Mapping[SetKey, str]
               ) -> Iterator[FlowError]:
    src = bundle.flow_source
    sign = values.get("sign")
    if sign is not None and sign not in SIGNS:
        yield src.error((*path, "set", "sign"), f"unknown sign {sign!r}")
    hold = values.get("hold")
    if hold is not None:
        for ex_name, exercise in bundle.flow.exercises.items():
            if hold not in exercise.holds:
                yield src.error((*path, "set", "hold"), f"exercise {ex_name!r} has no {hold!r} hold")


def _referenced_keys(bundle: FlowBundle) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    flow = bundle.flow
    for page, keys in flow.pages.items():
        for i, key in enumerate(keys):
            yield key, ("pages", page, i)
    for name, state in flow.states.items():
        for i, key in enumerate(state.say):
            yield key, ("states", name, "say", i)
        if state.ask:
            yield state.ask, ("states", name, "ask")
        if state.halfway:
            yield state.halfway, ("states", name, "halfway")
        for i, choice in enumerate(state.choices):
            yield choice.label, ("states", name, "choices", i, "label")
            if "condition" in choice.set:
                yield f"condition.{choice.set['condition']}", ("states", name, "choices", i, "set")


def check_texts(bundle: FlowBundle) -> Iterator[FlowError]:
    for language, loaded in bundle.locales.items():
        texts = loaded.texts
        for key, path in _referenced_keys(bundle):
            if key not in texts:
                yield bundle.flow_source.error(path, f"text {key!r} is missing from locale {language!r}")
        required = [*ENGINE_KEYS, *(f"sign.{s}" for s in SIGNS)]
        for key in required:
            if key not in texts:
                yield FlowError(loaded.source.file, loaded.source.line(("texts",)),
                                f"text {key!r} (used by the bot itself) is missing")
        for key, text in texts.entries.items():
            unknown = placeholders(text) - PLACEHOLDERS
            if unknown:
                yield loaded.source.error(("texts", *key.split(".")),
                                          f"unknown placeholder {sorted(unknown)[0]!r}")


def check_holds(bundle: FlowBundle) -> Iterator[FlowError]:
    """Every hold length a flow offers lies inside the range it declares for the exercise."""
    for ex_name, exercise in bundle.flow.exercises.items():
        low, high = exercise.range
        for length, seconds in exercise.holds.items():
            if not low <= seconds <= high:
                yield bundle.flow_source.error(
                    ("exercises", ex_name, "holds", length),
                    f"hold of {seconds} s is outside the declared range {low}-{high} s")


def check_reachable(bundle: FlowBundle) -> Iterator[FlowError]:
    flow = bundle.flow
    if flow.start not in flow.states:
        return
    adj = adjacency(flow)
    seen = {flow.start}
    todo = deque([flow.start])
    while todo:
        for edge in adj[todo.popleft()]:
            if edge.dest not in seen:
                seen.add(edge.dest)
                todo.append(edge.dest)
    for name in flow.states:
        if name not in seen:
            yield bundle.flow_source.error(("states", name), "state is unreachable from the start")


def check_dead_ends(bundle: FlowBundle) -> Iterator[FlowError]:
    for name, state in bundle.flow.states.items():
        if state.kind == "step" and not state.choices:
            yield bundle.flow_source.error(("states", name),
                                           "non-final state with no way out (no choices)")


def check_safety(bundle: FlowBundle) -> Iterator[FlowError]:
    """The four safety proofs from flows/safety.yaml, each with a counter-example path."""
    flow, safety, src = bundle.flow, bundle.safety, bundle.flow_source
    states = flow.states
    urgent = safety.urgent_state
    if urgent not in states:
        yield bundle.safety_source.error(("urgent_state",), f"unknown state {urgent!r}")
        return
    for name in safety.screening:
        if name not in states:
            yield bundle.safety_source.error(("screening",), f"unknown state {name!r}")
            return
    exercises = {n for n, s in states.items() if safety.exercise_tag in s.tags}

    # 1. From every state, an emergency report reaches the urgent-care state.
    if flow.interrupts.emergency != urgent:
        yield src.error(("interrupts", "emergency"),
                        f"an emergency report must lead to {urgent!r}, not {flow.interrupts.emergency!r}")
    for key in ("warning", "unsure"):
        entry = getattr(flow.interrupts, key)
        if entry in states and find_path(_choice_adjacency(bundle), [entry], {urgent}) is None:
            yield src.error(("interrupts", key),
                            f"the {key} check starting at {entry!r} can never reach {urgent!r}")
    for name in safety.screening[:3]:
        state = states[name]
        if not any(c.to == urgent for c in state.choices):
            yield src.error(("states", name), f"a 'yes' to this red-flag question must go to {urgent!r}")

    # 2. No path from the start reaches an exercise without the whole screening.
    bad = _unscreened_path(bundle, exercises)
    if bad is not None:
        yield src.error(("states", bad[-1].dest),
                        "exercise reachable without the whole screening: " + describe(bad))

    # 3. Every hold lies inside the article's range for its exercise.
    for ex_name, exercise in flow.exercises.items():
        article = safety.hold_ranges.get(ex_name)
        if article is None:
            yield src.error(("exercises", ex_name), "no article hold range in safety.yaml")
            continue
        for length, seconds in exercise.holds.items():
            if not article[0] <= seconds <= article[1]:
                yield src.error(("exercises", ex_name, "holds", length),
                                f"hold of {seconds} s is outside the article's range "
                                f"{article[0]}-{article[1]} s")

    # 4. No path from urgent care or a no-exercise end leads to an exercise (same session).
    in_session = adjacency(flow, restarts=False)
    sources = [urgent] + [n for n, s in states.items() if safety.no_exercise_tag in s.tags]
    for source in sources:
        path = find_path(in_session, [source], exercises)
        if path is not None:
            yield src.error(("states", source), "leads to an exercise: " + describe(path))


def _choice_adjacency(bundle: FlowBundle) -> dict[str, list[Edge]]:
    """Adjacency by the flow's own choices only (no global interrupts)."""
    adj = adjacency(bundle.flow)
    return {n: [e for e in es if e.kind in ("choice", "timer")] for n, es in adj.items()}


def _unscreened_path(bundle: FlowBundle, exercises: set[str]) -> list[Edge] | None:
    """Search (state, screening questions passed) pairs for an exercise reached too early."""
    flow, screening = bundle.flow, bundle.safety.screening
    full = (1 << len(screening)) - 1
    bit = {name: 1 << i for i, name in enumerate(screening)}
    adj = adjacency(flow)
    start = (flow.start, 0)
    parent: dict[tuple[str, int], tuple[tuple[str, int], Edge] | None] = {start: None}
    todo = deque([start])
    while todo:
        node = todo.popleft()
        name, mask = node
        if name in exercises and mask != full:
            path: list[Edge] = []
            step = parent[node]
            while step is not None:
                node, edge = step
                path.append(edge)
                step = parent[node]
            return path[::-1]
        for edge in adj[name]:
            # Passing a screening question means answering it with one of its own choices.
            passed = mask | bit.get(name, 0) if edge.kind == "choice" else mask
            if edge.restart:
                passed = 0
            nxt = (edge.dest, passed)
            if nxt not in parent:
                parent[nxt] = (node, edge)
                todo.append(nxt)
    return None


__all__ = ["main_states", "validate"]
