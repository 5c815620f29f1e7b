"""Cross-checks of ``flows/triage.yaml`` against the flow, the locales and the lexicons.

Every reference is checked in both directions, with file and line: each sign's texts exist
in every locale and its detector rules in every lexicon, and every lexicon rule belongs to
a sign; every group is asked by a screen state and every screen state asks a known group;
every sign that stops the stretches is asked by the screening before any exercise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from back_care_guide.data import DataError
from back_care_guide.safety.triage_rules import LOCKING, Tier

if TYPE_CHECKING:
    from back_care_guide.flow.loader import FlowBundle


def check_triage(bundle: FlowBundle) -> Iterator[DataError]:
    yield from _check_tiers(bundle)
    yield from _check_signs(bundle)
    yield from _check_groups(bundle)
    yield from _check_lexicons(bundle)


def _check_tiers(bundle: FlowBundle) -> Iterator[DataError]:
    triage, src, states = bundle.triage, bundle.triage_source, bundle.flow.states
    for tier in LOCKING:
        rule = triage.tiers.rule(tier)
        path = ("tiers", tier.value)
        state = states.get(rule.outcome)
        if state is None:
            yield src.error((*path, "outcome"), f"unknown state {rule.outcome!r} in the flow")
            continue
        if state.kind != "end":
            yield src.error((*path, "outcome"), f"state {rule.outcome!r} must be an end state")
        if not state.say or state.say[0] != "$message":
            yield bundle.flow_source.error(("states", rule.outcome, "say"),
                                           "a triage outcome says the sign's $message first")
        if tier is not Tier.STOP_TODAY and bundle.safety.no_exercise_tag not in state.tags and (
                "urgent" not in state.tags):
            yield bundle.flow_source.error(("states", rule.outcome, "tags"),
                                           "a triage outcome is tagged urgent or no_exercise")
        for field in ("message", "reminder", "resume"):
            yield from _text_exists(bundle, (*path, field), getattr(rule, field))


def _check_signs(bundle: FlowBundle) -> Iterator[DataError]:
    triage, src = bundle.triage, bundle.triage_source
    used_sources: set[str] = set()
    for name, sign in triage.signs.items():
        path = ("signs", name)
        for field in ("question", "label", "name", "message"):
            yield from _text_exists(bundle, (*path, field), getattr(sign, field))
        if sign.message != triage.tiers.rule(sign.level).message:
            yield src.error((*path, "message"),
                            f"differs from its tier's message {triage.tiers.rule(sign.level).message!r}")
        for i, source in enumerate(sign.source):
            used_sources.add(source)
            if source not in triage.sources:
                yield src.error((*path, "source", i), f"unknown source {source!r}")
    for source in triage.sources:
        if source not in used_sources:
            yield src.error(("sources", source), "no sign cites this source")
    scale = triage.pain_scale.sign
    if scale not in triage.signs:
        yield src.error(("pain_scale", "sign"), f"unknown sign {scale!r}")


def _check_groups(bundle: FlowBundle) -> Iterator[DataError]:
    triage, src, flow = bundle.triage, bundle.triage_source, bundle.flow
    grouped: dict[str, str] = {}
    for name, group in triage.groups.items():
        yield from _text_exists(bundle, ("groups", name, "question"), group.question)
        for i, member in enumerate(group.signs):
            if member not in triage.signs:
                yield src.error(("groups", name, "signs", i), f"unknown sign {member!r}")
            elif member in grouped:
                yield src.error(("groups", name, "signs", i),
                                f"{member!r} is already asked in group {grouped[member]!r}")
            else:
                grouped[member] = name
    asked = {s.group for s in flow.states.values() if s.kind == "screen"}
    for name in triage.groups:
        if name not in asked:
            yield src.error(("groups", name), "no screen state in the flow asks this group")
    # Every sign that keeps the stretches away is asked before any exercise.
    screening = set(bundle.safety.screening)
    screened = {flow.states[n].group for n in screening
                if n in flow.states and flow.states[n].kind == "screen"}
    rated = any(flow.states[n].kind == "rating" for n in screening if n in flow.states)
    for name, sign in triage.signs.items():
        if sign.level is Tier.STOP_TODAY:
            continue  # said before the first stretch and asked after each one
        if name == triage.pain_scale.sign:
            if not rated:
                yield src.error(("pain_scale",), "no rating state is part of the screening")
        elif grouped.get(name) not in screened:
            yield src.error(("signs", name),
                            "not asked by the screening (add it to a group a screen state asks)")


def _check_lexicons(bundle: FlowBundle) -> Iterator[DataError]:
    triage, src = bundle.triage, bundle.triage_source
    wanted = {rule for sign in triage.signs.values() for rule in sign.detect}
    for lexicon in bundle.lexicons.values():
        rules = {sign.sign for sign in lexicon.value.signs}
        for name, sign in triage.signs.items():
            for i, rule in enumerate(sign.detect):
                if rule not in rules:
                    yield src.error(("signs", name, "detect", i),
                                    f"no rule {rule!r} in the lexicon {lexicon.source.file.name}")
        for rule in sorted(rules - wanted):
            yield lexicon.source.error(("signs", rule),
                                       "no sign of flows/triage.yaml detects with this rule")


def _text_exists(bundle: FlowBundle, path: tuple[str | int, ...], key: str
                 ) -> Iterator[DataError]:
    for language, loaded in bundle.locales.items():
        if key not in loaded.texts:
            yield bundle.triage_source.error(path, f"text {key!r} is missing from locale {language!r}")


__all__ = ["check_triage"]
