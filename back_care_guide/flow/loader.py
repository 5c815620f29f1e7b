"""Load and validate the flow, its locales and the safety rules from ``flows/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from back_care_guide.flow.model import Flow, Locale, Safety
from back_care_guide.flow.source import FlowError, Source, load_source
from back_care_guide.flow.texts import Texts, flatten
from back_care_guide.safety.triage_rules import TriageRules

FLOWS_DIR = Path(__file__).resolve().parents[1] / "flows"
FLOW_FILE = "lower_back.yaml"
SAFETY_FILE = "safety.yaml"
TRIAGE_FILE = "triage.yaml"
LOCALES_DIR = "locales"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class LoadedLocale:
    texts: Texts
    source: Source


@dataclass(frozen=True)
class FlowBundle:
    """Everything the engine needs from ``flows/``, already validated."""

    flow: Flow
    flow_source: Source
    safety: Safety
    safety_source: Source
    triage: TriageRules
    triage_source: Source
    locales: dict[str, LoadedLocale]

    def texts(self, language: str | None) -> Texts:
        found = self.locales.get(language or DEFAULT_LANGUAGE) or self.locales[DEFAULT_LANGUAGE]
        return found.texts


def parse(source: Source, schema: type[BaseModel]) -> BaseModel:
    """Validate ``source`` against ``schema``; the first error names file, line and key."""
    try:
        return schema.model_validate(source.data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        raise source.error(loc, message) from None


def load_locale(file: Path) -> LoadedLocale:
    source = load_source(file)
    locale = parse(source, Locale)
    assert isinstance(locale, Locale)
    entries: dict[str, str] = {}
    _check_keys(source, locale.texts, ("texts",))
    for key, value in flatten(locale.texts).items():
        if not isinstance(value, str):
            raise source.error(("texts", *key.split(".")), "a text must be a string")
        entries[key] = value
    if file.stem != locale.language:
        raise source.error(("language",), f"file name says {file.stem!r}, language is {locale.language!r}")
    return LoadedLocale(Texts(locale.language, entries), source)


def _check_keys(source: Source, tree: Mapping[Any, object], path: tuple[str | int, ...]) -> None:
    """YAML reads unquoted yes/no/on/off keys as booleans: insist on strings."""
    for key, value in tree.items():
        if not isinstance(key, str):
            raise source.error(path, f"key {key!r} is not a string (quote yes/no/on/off)")
        if isinstance(value, Mapping):
            _check_keys(source, value, (*path, key))


def load_bundle(flows_dir: Path = FLOWS_DIR, *, check: bool = True) -> FlowBundle:
    """Load every file and (by default) run all validation rules, raising the first error."""
    flow_source = load_source(flows_dir / FLOW_FILE)
    flow = parse(flow_source, Flow)
    safety_source = load_source(flows_dir / SAFETY_FILE)
    safety = parse(safety_source, Safety)
    triage_source = load_source(flows_dir / TRIAGE_FILE)
    triage = parse(triage_source, TriageRules)
    assert isinstance(flow, Flow) and isinstance(safety, Safety) and isinstance(triage, TriageRules)
    locale_files = sorted((flows_dir / LOCALES_DIR).glob("*.yaml"))
    if not locale_files:
        raise FlowError(flows_dir / LOCALES_DIR, None, "no locale files")
    locales = {loaded.texts.language: loaded for loaded in map(load_locale, locale_files)}
    if DEFAULT_LANGUAGE not in locales:
        raise FlowError(flows_dir / LOCALES_DIR, None, f"the {DEFAULT_LANGUAGE} locale is missing")
    bundle = FlowBundle(flow, flow_source, safety, safety_source, triage, triage_source, locales)
    if check:
        from back_care_guide.flow.validate import validate

        errors = validate(bundle)
        if errors:
            raise errors[0]
    return bundle
