"""Emergency (ambulance) numbers by country, loaded from ``flows/emergency_numbers.yaml``.

The data file is the single source of truth; this module only loads it, checks its
schema strictly (every error names the file, the line and the key) and answers
look-ups. It holds no user-facing text.

YAML 1.1 surprises are rejected instead of silently accepted: an unquoted ``000`` would
load as the integer ``0`` and an unquoted ``NO`` (Norway) as ``False``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Final, Literal

import babel
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from back_care_guide.data import KeyPath, Loaded, StrictModel, flows_dir, load
from back_care_guide.data.location import NUMBERS_FILE
from back_care_guide.data.source import Source, dotted

__all__ = [
    "Country",
    "DefaultNumber",
    "EmergencyNumbers",
    "default_numbers",
]

_CODE_RE: Final = re.compile(r"[A-Z]{2}")
_NUMBER_RE: Final = re.compile(r"[0-9]{2,6}")

# Regional indicator symbols (flag emoji halves) and the Unicode tag characters that
# spell subdivision flags such as England's (black flag + "gbeng" + cancel tag).
_REGIONAL_A: Final = 0x1F1E6
_REGIONAL_Z: Final = 0x1F1FF
_BLACK_FLAG: Final = 0x1F3F4
_TAG_A: Final = 0xE0061
_TAG_Z: Final = 0xE007A
_TAG_CANCEL: Final = 0xE007F
_FLAG_JOINERS: Final = frozenset({0xFE0F, 0x200D})


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2, upper case
    name: str  # English name
    numbers: tuple[str, ...]  # ambulance / medical emergency numbers, primary first
    common: bool = False  # shown as a quick-reply button


@dataclass(frozen=True, slots=True)
class DefaultNumber:
    number: str
    where: str  # the locale text saying where this number works, for users whose country is unknown


class EmergencyNumbers:
    """Checked, immutable view of the emergency-number data file."""

    __slots__ = ("_by_code", "_countries", "_defaults", "_tables", "source")

    def __init__(
        self,
        *,
        countries: Sequence[Country],
        defaults: Sequence[DefaultNumber],
        exact: Mapping[str, str | None],
        phrases: Mapping[tuple[str, ...], str | None],
        localized: Mapping[str, Mapping[str, str]] | None = None,
        source: Source | None = None,
    ) -> None:
        """Prefer :meth:`load`. ``exact`` maps normalized text to a code (``None``:
        ambiguous); ``phrases`` maps normalized word sequences found inside longer
        text to a code (``None``: a region that must not match a country inside it);
        ``localized``, by language, maps more normalized names to codes, understood from
        people who speak that language only: "Polen" names Poland for a German speaker,
        not for anyone else."""
        self._countries: tuple[Country, ...] = tuple(countries)
        self._by_code: dict[str, Country] = {c.code: c for c in self._countries}
        self._defaults: tuple[DefaultNumber, ...] = tuple(defaults)
        self._tables: dict[str | None, _Table] = {None: _Table(dict(exact), dict(phrases))}
        for language, names in (localized or {}).items():
            more = {name: code for name, code in names.items() if name not in exact}
            self._tables[language] = _Table(
                {**more, **exact}, {**{tuple(n.split(" ")): c for n, c in more.items()}, **phrases})
        self.source = source  # where the data came from, for errors found by other checks

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, languages: Sequence[str] = ()) -> EmergencyNumbers:
        """Load and check ``path``; a :class:`~back_care_guide.data.DataError` names file,
        line and key. Country names in ``languages`` (from CLDR, through Babel) are
        understood too, so a Spanish speaker can type "Alemania"."""
        return _build(load(path, _NumbersFile), languages)

    # -- look-ups -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._countries)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.strip().upper() in self._by_code

    def country(self, code: str) -> Country:
        """The country with ISO code ``code`` (any case). ``KeyError`` if not listed."""
        try:
            return self._by_code[code.strip().upper()]
        except KeyError:
            raise KeyError(f"no emergency numbers for country code {code!r}") from None

    def for_country(self, code: str) -> list[str]:
        """Emergency numbers of ``code``, primary first. ``KeyError`` if not listed;
        callers then fall back to :meth:`defaults`."""
        return list(self.country(code).numbers)

    def countries(self) -> list[Country]:
        """Every listed country, in file order."""
        return list(self._countries)

    def common(self) -> list[Country]:
        """Countries marked ``common: true`` (quick-reply buttons), in file order."""
        return [c for c in self._countries if c.common]

    def defaults(self) -> list[DefaultNumber]:
        """Numbers for users whose country is unknown or not listed, in file order."""
        return list(self._defaults)

    def match(self, text: str, language: str | None = None) -> Country | None:
        """Resolve what a user typed for "which country?" to a listed country.

        Accepts English names, aliases, the names in the person's ``language`` and ISO
        codes, ignoring case, accents and punctuation ("U.S.A.", "united kingdom",
        "Alemania", "de", "GB"), flag emoji ("🇩🇪", and England's/Scotland's/Wales' flags
        as GB), and a name or alias inside a short sentence ("I'm in Germany"). Returns
        ``None`` when nothing matches, when the text names more than one country, or when
        it is a listed ambiguous phrase ("south america", a lowercase "no").
        """
        table = self._tables.get(language) or self._tables[None]
        flags, rest = _split_flags(text)
        found: set[str] = set(flags)

        bare = rest.strip().strip(".!?")
        if bare in self._by_code:
            # An ISO code typed in capitals is deliberate, even if it is also a word ("NO").
            found.add(bare)
        else:
            key = _normalize(rest)
            if key in table.exact:
                code = table.exact[key]
                if code is None:
                    return None
                found.add(code)
            elif key:
                found.update(table.scan(key.split(" ")))

        if len(found) != 1:
            return None
        return self._by_code.get(found.pop())



@dataclass(frozen=True)
class _Table:
    """What names a country, for the people of one language."""

    exact: dict[str, str | None]  # normalized text -> code (None: ambiguous)
    phrases: dict[tuple[str, ...], str | None]  # found inside longer text

    @cached_property
    def longest(self) -> int:
        return max((len(p) for p in self.phrases), default=0)

    def scan(self, words: Sequence[str]) -> set[str]:
        """Codes of the names and aliases inside ``words``, longest phrase first."""
        codes: set[str] = set()
        i = 0
        while i < len(words):
            for size in range(min(self.longest, len(words) - i), 0, -1):
                phrase = tuple(words[i : i + size])
                if phrase in self.phrases:
                    code = self.phrases[phrase]
                    if code is not None:
                        codes.add(code)
                    i += size
                    break
            else:
                i += 1
        return codes


@cache
def default_numbers() -> EmergencyNumbers:
    """The package's own data file, loaded once per process."""
    return EmergencyNumbers.load(flows_dir() / NUMBERS_FILE)


# -- text normalization ----------------------------------------------------------------


def _normalize(text: str) -> str:
    """Case-fold, drop accents and punctuation, collapse spaces, drop a leading "the".

    Dots and apostrophes vanish ("U.S.A." -> "usa"); other punctuation separates words.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold()
    folded = re.sub(r"[.'\u2019\u02bc`]", "", folded)
    words = re.sub(r"[\W_]+", " ", folded).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _split_flags(text: str) -> tuple[list[str], str]:
    """Region codes of the flag emoji in ``text``, and the text without them."""
    codes: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(text):
        point = ord(text[i])
        if _REGIONAL_A <= point <= _REGIONAL_Z:
            nxt = ord(text[i + 1]) if i + 1 < len(text) else 0
            if _REGIONAL_A <= nxt <= _REGIONAL_Z:
                codes.append(
                    chr(point - _REGIONAL_A + ord("A")) + chr(nxt - _REGIONAL_A + ord("A"))
                )
                i += 2
                continue
            i += 1  # a lone regional indicator is not a flag
            continue
        if point == _BLACK_FLAG:
            j = i + 1
            tag = ""
            while j < len(text) and _TAG_A <= ord(text[j]) <= _TAG_Z:
                tag += chr(ord(text[j]) - _TAG_A + ord("a"))
                j += 1
            if tag and j < len(text) and ord(text[j]) == _TAG_CANCEL:
                codes.append(tag[:2].upper())  # "gbeng" -> GB
                i = j + 1
                continue
        if point in _FLAG_JOINERS:
            i += 1
            continue
        rest.append(text[i])
        i += 1
    return codes, "".join(rest)


# -- loading and schema checks ---------------------------------------------------------


def _quoted(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"phone number {value} must be a quoted string "
                         "(unquoted, YAML reads 000 as 0)")
    return value


def _short_number(value: str) -> str:
    if not _NUMBER_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a short number of 2-6 digits")
    return value


def _country_code(value: str) -> str:
    if not _CODE_RE.fullmatch(value):
        raise ValueError("country key must be an ISO 3166-1 alpha-2 code like 'DE'")
    return value


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Number = Annotated[str, StringConstraints(strip_whitespace=True), BeforeValidator(_quoted),
                    AfterValidator(_short_number)]
_Code = Annotated[str, AfterValidator(_country_code)]


class _Reference(StrictModel):
    """Where the numbers come from (documentation for reviewers; not used at run time)."""

    name: _Text
    publisher: _Text | None = None
    url: _Text | None = None
    note: _Text | None = None


class _Default(StrictModel):
    number: _Number
    where: _Text  # a locale text key (checked against every locale with the other texts)


class _Country(StrictModel):
    name: _Text
    numbers: tuple[_Number, ...] = Field(min_length=1)
    aliases: tuple[_Text, ...] = ()
    common: bool = Field(default=False, strict=True)


class _NumbersFile(StrictModel):
    version: Literal[1]
    sources: tuple[_Reference, ...] = Field(min_length=1)
    defaults: tuple[_Default, ...] = Field(min_length=1)
    countries: dict[_Code, _Country] = Field(min_length=1)
    ambiguous: tuple[_Text, ...] = ()


@dataclass(frozen=True, slots=True)
class _Name:
    """One text that names a country: its ISO code, English name or an alias."""

    text: str  # normalized
    code: str
    path: KeyPath  # where it is written
    is_code: bool = False


def _build(loaded: Loaded[_NumbersFile], languages: Sequence[str]) -> EmergencyNumbers:
    """The checks the schema cannot make (duplicates, clashes), then the look-up tables."""
    data, source = loaded.value, loaded.source
    _unique(loaded, [(d.number, ("defaults", i, "number")) for i, d in enumerate(data.defaults)])
    names: list[_Name] = []
    for code, country in data.countries.items():
        key: KeyPath = ("countries", code)
        _unique(loaded, [(n, (*key, "numbers", i)) for i, n in enumerate(country.numbers)])
        names.append(_Name(code.lower(), code, key, is_code=True))
        names.append(_Name(_normalize(country.name), code, (*key, "name")))
        for i, alias in enumerate(country.aliases):
            names.append(_Name(_words(loaded, alias, (*key, "aliases", i)), code, (*key, "aliases", i)))

    exact: dict[str, str | None] = {}
    owner: dict[str, _Name] = {}  # normalized text -> where it was first defined
    # Names and aliases first, then ISO codes, so a clash is reported at the later one.
    for entry in sorted(names, key=lambda n: n.is_code):
        first = owner.get(entry.text)
        if first is not None and first.code != entry.code:
            raise source.error(entry.path, f"{entry.text!r} already names {first.code} "
                                           f"({dotted(first.path)})")
        exact[entry.text] = entry.code
        owner.setdefault(entry.text, entry)
    ambiguous = [_words(loaded, raw, ("ambiguous", i)) for i, raw in enumerate(data.ambiguous)]
    for i, text in enumerate(ambiguous):
        first = owner.get(text)
        if first is not None and not first.is_code:
            raise source.error(("ambiguous", i),
                               f"{text!r} is a name or alias of {first.code} ({dotted(first.path)})")
        exact[text] = None  # a lowercase ISO code that is also a word: only "NO" resolves
    # Names and aliases also match inside longer text; bare ISO codes only on their own.
    phrases: dict[tuple[str, ...], str | None] = {
        tuple(text.split(" ")): entry.code for text, entry in owner.items() if not entry.is_code
    }
    phrases.update((tuple(text.split(" ")), None) for text in ambiguous)
    return EmergencyNumbers(
        countries=[Country(code, c.name, c.numbers, c.common) for code, c in data.countries.items()],
        defaults=[DefaultNumber(d.number, d.where) for d in data.defaults],
        exact=exact,
        phrases=phrases,
        localized={language: _names_in(language, data.countries) for language in languages},
        source=loaded.source,
    )


def _names_in(language: str, countries: Mapping[str, _Country]) -> dict[str, str]:
    """The listed countries' names in ``language``, as CLDR writes them, normalized."""
    territories = babel.Locale.parse(language).territories
    return {_normalize(territories[code]): code for code in countries if code in territories}


def _unique(loaded: Loaded[_NumbersFile], numbers: Sequence[tuple[str, KeyPath]]) -> None:
    seen: set[str] = set()
    for number, path in numbers:
        if number in seen:
            raise loaded.source.error(path, f"duplicate number {number!r}")
        seen.add(number)


def _words(loaded: Loaded[_NumbersFile], text: str, path: KeyPath) -> str:
    """``text`` normalized for matching; it must keep a letter or digit."""
    normalized = _normalize(text)
    if not normalized:
        raise loaded.source.error(path, "has no letters or digits")
    return normalized
