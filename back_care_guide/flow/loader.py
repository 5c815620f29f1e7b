"""Load every file of a flows directory: the flow, its locales, the safety rules, the triage
rules, the detector lexicons with their labelled corpora, and the emergency numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import cast

import babel

from back_care_guide.data import DataError, Loaded, Source, flows_dir, load
from back_care_guide.data.location import (
    CORPORA_DIR,
    FLOW_FILE,
    LEXICONS_DIR,
    LOCALES_DIR,
    NUMBERS_FILE,
    SAFETY_FILE,
    TRIAGE_FILE,
)
from back_care_guide.flow.model import Flow, Locale, Safety
from back_care_guide.flow.texts import Texts, flatten, is_plural
from back_care_guide.safety.detection import Detector
from back_care_guide.safety.detector_config import DetectorConfig, load_config
from back_care_guide.safety.emergency import EmergencyNumbers
from back_care_guide.safety.gate import Corpus, load_corpus
from back_care_guide.safety.triage_rules import TriageRules

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class LoadedLocale:
    texts: Texts
    source: Source


@dataclass(frozen=True)
class FlowBundle:
    """Everything the bot needs from a flows directory, already validated."""

    flow: Flow
    flow_source: Source
    safety: Safety
    safety_source: Source
    triage: TriageRules
    triage_source: Source
    locales: dict[str, LoadedLocale]
    lexicons: dict[str, Loaded[DetectorConfig]]  # by language
    numbers: EmergencyNumbers
    corpora: dict[str, Corpus]  # by language: what the safety gate measures each lexicon on

    @cached_property
    def detectors(self) -> dict[str, Detector]:
        """A detector per lexicon, by language, compiled once (it takes a moment) for both the
        safety gate at check and start, and triage."""
        from back_care_guide.safety.detector import KeywordDetector

        return {language: KeywordDetector(lexicon.value) for language, lexicon in self.lexicons.items()}

    def language_for(self, code: str | None) -> str | None:
        """The language the bot speaks for a client's code: Telegram's ``language_code``
        ("es-MX" is es) or a POSIX locale ("de_AT.UTF-8" is de); none if it speaks no such
        language."""
        language = re.split(r"[-_.@]", code or "", maxsplit=1)[0].lower()
        return language if language in self.locales else None

    def texts(self, language: str | None) -> Texts:
        found = self.locales.get(language or DEFAULT_LANGUAGE) or self.locales[DEFAULT_LANGUAGE]
        return found.texts


def load_locale(file: Path) -> LoadedLocale:
    loaded = load(file, Locale)
    locale, source = loaded.value, loaded.source
    entries: dict[str, str] = {}
    plurals: dict[str, dict[str, str]] = {}
    for key, value in flatten(locale.texts).items():
        if is_plural(value):
            plurals[key] = dict(cast(Mapping[str, str], value))
        elif isinstance(value, str):
            entries[key] = value
        else:
            raise source.error(("texts", *key.split(".")), "a text must be a string, or its plural "
                                                           "forms (one: ..., other: ...)")
    _check_language(source, file, locale.language)
    try:
        babel.Locale.parse(locale.language)
    except (babel.UnknownLocaleError, ValueError):
        raise source.error(("language",), f"{locale.language!r} is not a language Babel knows "
                                          "(numbers, dates and plural forms come from it)") from None
    return LoadedLocale(Texts(locale.language, entries, plurals), source)


def load_lexicon(file: Path) -> Loaded[DetectorConfig]:
    lexicon = load_config(file)
    _check_language(lexicon.source, file, lexicon.value.language)
    return lexicon


def _check_language(source: Source, file: Path, language: str) -> None:
    """A per-language file is named after its language (``en.yaml`` says ``language: en``)."""
    if file.stem != language:
        raise source.error(("language",), f"file name says {file.stem!r}, language is {language!r}")


def load_bundle(folder: Path | None = None, *, check: bool = True) -> FlowBundle:
    """Load every file of ``folder`` (default: the package's own data, see
    :func:`back_care_guide.data.flows_dir`) and, by default, run all validation rules,
    raising the first :class:`DataError`."""
    folder = flows_dir(folder)
    flow = load(folder / FLOW_FILE, Flow)
    safety = load(folder / SAFETY_FILE, Safety)
    triage = load(folder / TRIAGE_FILE, TriageRules)
    locales = {loaded.texts.language: loaded
               for loaded in map(load_locale, _per_language(folder / LOCALES_DIR, "locale"))}
    if DEFAULT_LANGUAGE not in locales:
        raise DataError(folder / LOCALES_DIR, None, "", f"the {DEFAULT_LANGUAGE} locale is missing")
    lexicons = {loaded.value.language: loaded
                for loaded in map(load_lexicon, _per_language(folder / LEXICONS_DIR, "detector lexicon"))}
    corpora = {corpus.language: corpus
               for corpus in map(load_corpus, _per_language(folder / CORPORA_DIR, "corpus"))}
    bundle = FlowBundle(flow.value, flow.source, safety.value, safety.source, triage.value,
                        triage.source, locales, lexicons,
                        EmergencyNumbers.load(folder / NUMBERS_FILE, languages=tuple(locales)),
                        corpora)
    if check:
        from back_care_guide.flow.validate import validate

        errors = validate(bundle)
        if errors:
            raise errors[0]
    return bundle


def _per_language(folder: Path, what: str) -> list[Path]:
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DataError(folder, None, "", f"no {what} files")
    return files
