"""Cross-file and graph rules for ``python -m back_care_guide check``.

Each rule returns :class:`~back_care_guide.data.DataError` objects that point at the file and line to fix.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from back_care_guide.data import DataError
from back_care_guide.flow.code_keys import keys_in_code
from back_care_guide.flow.graph import Edge, adjacency, describe, find_path, outcome_states
from back_care_guide.flow.loader import DEFAULT_LANGUAGE
from back_care_guide.flow.model import DYNAMIC_TEXTS, REPORTED, RETURN, SetKey
from back_care_guide.flow.texts import MAX_TEXT_CHARS, PLACEHOLDERS, Texts, placeholders, plural_forms
from back_care_guide.pictures.poses import POSES
from back_care_guide.safety.gate import gate, measure
from back_care_guide.safety.triage_check import check_triage

if TYPE_CHECKING:
    from back_care_guide.data import Source
    from back_care_guide.flow.loader import FlowBundle, LoadedLocale


def validate(bundle: FlowBundle) -> list[DataError]:
    errors: list[DataError] = []
    for rule in (check_references, check_texts, check_holds, check_reachable, check_dead_ends,
                 check_triage, check_safety, check_languages):
        errors.extend(rule(bundle))
    return errors


def check_references(bundle: FlowBundle) -> Iterator[DataError]:
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
            if choice.report and choice.report != REPORTED and choice.report not in bundle.triage.signs:
                yield src.error((*path, "report"), f"unknown sign {choice.report!r} (flows/triage.yaml)")
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
        if state.picture is not None and state.picture not in POSES:
            yield src.error(("states", name, "picture"),
                            f"unknown picture {state.picture!r} (known: {', '.join(POSES)})")
        if state.group is not None and state.group not in bundle.triage.groups:
            yield src.error(("states", name, "group"),
                            f"unknown screening group {state.group!r} (flows/triage.yaml)")
        for i, key in enumerate((*state.say, state.ask or "")):
            if key.startswith("$") and key not in DYNAMIC_TEXTS:
                yield src.error(("states", name, "say", i),
                                f"unknown text {key!r} (known: {', '.join(sorted(DYNAMIC_TEXTS))})")


def _check_set(bundle: FlowBundle, path: tuple[str | int, ...], values: Mapping[SetKey, str]
               ) -> Iterator[DataError]:
    src = bundle.flow_source
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
            if key not in DYNAMIC_TEXTS:
                yield key, ("states", name, "say", i)
        if state.ask and state.ask not in DYNAMIC_TEXTS:
            yield state.ask, ("states", name, "ask")
        if state.halfway:
            yield state.halfway, ("states", name, "halfway")
        for i, choice in enumerate(state.choices):
            yield choice.label, ("states", name, "choices", i, "label")


def check_texts(bundle: FlowBundle) -> Iterator[DataError]:
    """Locales against what uses them, both ways, and against English.

    * every key the flow, the rules or the code uses is in every locale (the code's keys are
      read from the code: :mod:`back_care_guide.flow.code_keys`), and every English key is
      used by one of them;
    * every other locale has exactly the English keys, each with the same placeholders;
    * every placeholder is one the bot fills, and no text is over :data:`MAX_TEXT_CHARS`.
    """
    english = bundle.locales[DEFAULT_LANGUAGE]
    english_keys = english.texts.keys()
    code = keys_in_code({key.split(".", 1)[0] for key in english_keys})
    for key, path in _referenced_keys(bundle):
        for language, loaded in bundle.locales.items():
            if key not in loaded.texts:
                yield bundle.flow_source.error(path, f"text {key!r} is missing from locale {language!r}")
    numbers = bundle.numbers.source
    for i, default in enumerate(bundle.numbers.defaults()):
        for language, loaded in bundle.locales.items():
            if default.where not in loaded.texts and numbers is not None:
                yield numbers.error(("defaults", i, "where"),
                                    f"text {default.where!r} is missing from locale {language!r}")
    for used in code:
        if not any(used.covers(key) for key in english_keys):
            what = "no text starts with" if used.is_prefix else "no text"
            yield DataError(used.file, used.line, used.key,
                            f"{what} {used.key!r} in {english.source.file.name} (the code uses it)")
    in_data = _strings_in(bundle) | {default.where for default in bundle.numbers.defaults()}
    for key in sorted(english_keys):
        if key not in in_data and not any(used.covers(key) for used in code):
            yield english.source.error(("texts", *key.split(".")),
                                       "used nowhere (not by the flow, the rules or the code)")
    for loaded in bundle.locales.values():
        if loaded is not english:
            yield from _check_locale(english, loaded)
        yield from _check_plural_forms(loaded)
        for path, text in loaded.texts.variants():
            unknown = placeholders(text) - PLACEHOLDERS
            if unknown:
                yield loaded.source.error(path, f"unknown placeholder {sorted(unknown)[0]!r}")
            if len(text) > MAX_TEXT_CHARS:
                yield loaded.source.error(path, f"{len(text)} characters, over {MAX_TEXT_CHARS}: "
                                                "a person reads this on a phone, often lying down")


def _check_locale(english: LoadedLocale, other: LoadedLocale) -> Iterator[DataError]:
    """``other`` has the English keys, no more, each with the English placeholders, and a
    text that depends on a number in English has plural forms in ``other`` too."""
    mine, theirs = english.texts, other.texts
    name = english.source.file.name
    for key in sorted(mine.keys()):
        if key not in theirs:
            line = english.source.line(("texts", *key.split(".")))
            yield other.source.error(("texts",), f"text {key!r} is missing ({name}:{line} has it)")
    for key in sorted(theirs.keys()):
        path = ("texts", *key.split("."))
        if key not in mine:
            yield other.source.error(path, f"not a text of {name} (a typo, or a key no longer used?)")
        elif (key in mine.plurals) != (key in theirs.plurals):
            kind = "plural forms" if key in mine.plurals else "one text"
            yield other.source.error(path, f"{name} has {kind} here")
        elif _placeholders_of(theirs, key) != _placeholders_of(mine, key):
            yield other.source.error(path, f"placeholders {sorted(_placeholders_of(theirs, key))} "
                                           f"differ from {name}'s {sorted(_placeholders_of(mine, key))}")


def _check_plural_forms(loaded: LoadedLocale) -> Iterator[DataError]:
    """Each plural text has exactly the forms its language's CLDR rules need."""
    needed = plural_forms(loaded.texts.language)
    for key, forms in loaded.texts.plurals.items():
        path = ("texts", *key.split("."))
        if set(forms) != needed:
            yield loaded.source.error(path, f"plural forms {sorted(forms)}, but "
                                            f"{loaded.texts.language!r} needs {sorted(needed)}")
        elif "count" not in placeholders(forms["other"]):
            yield loaded.source.error((*path, "other"), "the 'other' form says {count}")


def _placeholders_of(texts: Texts, key: str) -> set[str]:
    if key in texts.plurals:
        return set().union(*(placeholders(text) for text in texts.plurals[key].values()))
    return placeholders(texts.entries[key])


def _strings_in(bundle: FlowBundle) -> set[str]:
    """Every string of the flow and rule files (the texts they name are among them)."""
    found: set[str] = set()
    todo: list[object] = [src.data for src in (bundle.flow_source, bundle.safety_source,
                                                bundle.triage_source)]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, Mapping):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return found


def check_languages(bundle: FlowBundle) -> Iterator[DataError]:
    """Every language has its texts, its red-flag lexicon and its labelled corpus, and passes
    the safety gate (:mod:`back_care_guide.safety.gate`): no language ships with a weaker
    red-flag net than English."""
    english = bundle.lexicons.get(DEFAULT_LANGUAGE)
    tiers = {sign_id: sign.level for sign_id, sign in bundle.triage.signs.items()}
    for language in sorted(set(bundle.locales) | set(bundle.lexicons) | set(bundle.corpora)):
        locale = bundle.locales.get(language)
        lexicon, corpus = bundle.lexicons.get(language), bundle.corpora.get(language)
        # pointed at the language's line of the files it has (a corpus has no such line)
        anchors: list[tuple[Source, tuple[str, ...]]] = [
            (item.source, ("language",)) for item in (locale, lexicon) if item is not None]
        anchors += [(corpus.source, ())] if corpus is not None else []
        source, path = anchors[0]
        for item, what in ((locale, f"texts (locales/{language}.yaml)"),
                           (lexicon, f"red-flag lexicon (detector/{language}.yaml)"),
                           (corpus, f"labelled corpus (corpora/{language}.yaml)")):
            if item is None:
                yield source.error(path, f"language {language!r} has no {what}: every language "
                                         "needs its texts, its lexicon and its corpus")
        if lexicon is None or corpus is None:
            continue
        detectors = [bundle.detectors[language]]
        if english is not None and language != DEFAULT_LANGUAGE:
            detectors.append(bundle.detectors[DEFAULT_LANGUAGE])  # triage reads both
        yield from gate(corpus, measure(corpus, detectors, tiers))


def check_holds(bundle: FlowBundle) -> Iterator[DataError]:
    """Every hold length a flow offers lies inside the range it declares for the exercise."""
    for ex_name, exercise in bundle.flow.exercises.items():
        low, high = exercise.range
        for length, seconds in exercise.holds.items():
            if not low <= seconds <= high:
                yield bundle.flow_source.error(
                    ("exercises", ex_name, "holds", length),
                    f"hold of {seconds} s is outside the declared range {low}-{high} s")


def check_reachable(bundle: FlowBundle) -> Iterator[DataError]:
    flow = bundle.flow
    if flow.start not in flow.states:
        return
    adj = adjacency(bundle)
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


def check_dead_ends(bundle: FlowBundle) -> Iterator[DataError]:
    for name, state in bundle.flow.states.items():
        if state.kind == "step" and not state.choices:
            yield bundle.flow_source.error(("states", name),
                                           "non-final state with no way out (no choices)")


def check_safety(bundle: FlowBundle) -> Iterator[DataError]:
    """The safety proofs of flows/safety.yaml, each with a counter-example path."""
    flow, safety, src = bundle.flow, bundle.safety, bundle.flow_source
    states = flow.states
    for name in safety.screening:
        if name not in states:
            yield bundle.safety_source.error(("screening",), f"unknown state {name!r}")
            return
    if flow.start not in states:
        return  # reported by check_references
    outcomes = outcome_states(bundle.triage)
    if any(name not in states for name in outcomes):
        return  # reported by check_triage
    exercises = {n for n, s in states.items() if safety.exercise_tag in s.tags}

    # 1. The warning-sign check can reach every red-flag outcome by its own questions.
    red_flags = {bundle.triage.tiers.emergency.outcome, bundle.triage.tiers.urgent.outcome}
    entry = flow.interrupts.warning
    if entry in states and find_path(_choice_adjacency(bundle), [entry], red_flags) is None:
        yield src.error(("interrupts", "warning"),
                        f"the warning-sign check starting at {entry!r} can never reach urgent care")

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

    # 4. From every triage outcome (and no-exercise end), no path reaches an exercise
    #    while the outcome holds: only a choice that lifts it (a clearance, a corrected
    #    mis-tap) opens the way, and /start while it holds goes to the gate.
    sources = [*outcomes, *(n for n, s in states.items() if safety.no_exercise_tag in s.tags)]
    for source in dict.fromkeys(sources):
        path = _held_path(bundle, source, exercises)
        if path is not None:
            yield src.error(("states", source),
                            "leads to an exercise while its outcome holds: " + describe(path))


def _held_path(bundle: FlowBundle, source: str, exercises: set[str]) -> list[Edge] | None:
    """A path from ``source`` to an exercise on which the safety outcome is never lifted
    (and /start goes to the gate, not to a fresh session)."""
    held = {name: [e for e in out if not e.lifts and e.kind != "restart"]
            for name, out in adjacency(bundle).items()}
    return find_path(held, [source], exercises)


def _choice_adjacency(bundle: FlowBundle) -> dict[str, list[Edge]]:
    """Adjacency by the flow's own choices only (no global interrupts)."""
    adj = adjacency(bundle)
    return {n: [e for e in es if e.kind in ("choice", "timer", "report")] for n, es in adj.items()}


def _unscreened_path(bundle: FlowBundle, exercises: set[str]) -> list[Edge] | None:
    """Search (state, screening questions passed) pairs for an exercise reached too early."""
    flow, screening = bundle.flow, bundle.safety.screening
    full = (1 << len(screening)) - 1
    bit = {name: 1 << i for i, name in enumerate(screening)}
    adj = {n: [e for e in es if e.kind != "gate"] for n, es in adjacency(bundle).items()}
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


__all__ = ["validate"]
