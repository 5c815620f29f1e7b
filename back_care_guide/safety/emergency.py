"""Emergency (ambulance) numbers by country, loaded from ``flows/emergency_numbers.yaml``.

The data file is the single source of truth; this module only loads it, checks its
schema strictly (every error names the file, the key and the line) and answers
look-ups. It holds no user-facing text.

The file is read node by node (``yaml.compose``) rather than with ``safe_load`` so
that errors can point at a line, and so that YAML 1.1 surprises are rejected instead
of silently accepted: an unquoted ``000`` would load as the integer ``0`` and an
unquoted ``NO`` (Norway) as ``False``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "DEFAULT_PATH",
    "Country",
    "DefaultNumber",
    "EmergencyNumbers",
    "default_numbers",
]

DEFAULT_PATH: Final = Path(__file__).resolve().parents[1] / "flows" / "emergency_numbers.yaml"

SCHEMA_VERSION: Final = 1

_STR_TAG: Final = "tag:yaml.org,2002:str"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_BOOL_TAG: Final = "tag:yaml.org,2002:bool"

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
    where: str  # where this number works, for users whose country is unknown


class EmergencyNumbers:
    """Checked, immutable view of the emergency-number data file."""

    __slots__ = ("_by_code", "_countries", "_defaults", "_exact", "_longest", "_phrases")

    def __init__(
        self,
        *,
        countries: Sequence[Country],
        defaults: Sequence[DefaultNumber],
        exact: Mapping[str, str | None],
        phrases: Mapping[tuple[str, ...], str | None],
    ) -> None:
        """Prefer :meth:`load`. ``exact`` maps normalized text to a code (``None``:
        ambiguous); ``phrases`` maps normalized word sequences found inside longer
        text to a code (``None``: a region that must not match a country inside it)."""
        self._countries: tuple[Country, ...] = tuple(countries)
        self._by_code: dict[str, Country] = {c.code: c for c in self._countries}
        self._defaults: tuple[DefaultNumber, ...] = tuple(defaults)
        self._exact: dict[str, str | None] = dict(exact)
        self._phrases: dict[tuple[str, ...], str | None] = dict(phrases)
        self._longest: int = max((len(p) for p in self._phrases), default=0)

    # -- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> EmergencyNumbers:
        """Load and check ``path``. Raises ``ValueError`` naming file, key and line."""
        return _Loader(path).load()

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

    def match(self, text: str) -> Country | None:
        """Resolve what a user typed for "which country?" to a listed country.

        Accepts English names, aliases and ISO codes, ignoring case, accents and
        punctuation ("U.S.A.", "united kingdom", "Deutschland", "de", "GB"), flag
        emoji ("🇩🇪", and England's/Scotland's/Wales' flags as GB), and a name or
        alias inside a short sentence ("I'm in Germany"). Returns ``None`` when
        nothing matches, when the text names more than one country, or when it is
        a listed ambiguous phrase ("south america", a lowercase "no").
        """
        flags, rest = _split_flags(text)
        found: set[str] = set(flags)

        bare = rest.strip().strip(".!?")
        if bare in self._by_code:
            # An ISO code typed in capitals is deliberate, even if it is also a word ("NO").
            found.add(bare)
        else:
            key = _normalize(rest)
            if key in self._exact:
                code = self._exact[key]
                if code is None:
                    return None
                found.add(code)
            elif key:
                found.update(self._scan(key.split(" ")))

        if len(found) != 1:
            return None
        return self._by_code.get(found.pop())

    def _scan(self, words: Sequence[str]) -> set[str]:
        """Codes of the names and aliases inside ``words``, longest phrase first."""
        codes: set[str] = set()
        i = 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                phrase = tuple(words[i : i + size])
                if phrase in self._phrases:
                    code = self._phrases[phrase]
                    if code is not None:
                        codes.add(code)
                    i += size
                    break
            else:
                i += 1
        return codes


@cache
def default_numbers() -> EmergencyNumbers:
    """The project's data file, loaded once per process."""
    return EmergencyNumbers.load(DEFAULT_PATH)


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


class _Loader:
    """Walks the composed YAML node tree; every error carries file, key and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, node: Node | None, key: str, problem: str) -> ValueError:
        line = node.start_mark.line + 1 if node is not None and node.start_mark else 1
        return ValueError(f"{self.path}:{line}: {key}: {problem}")

    # -- entry point --

    def load(self) -> EmergencyNumbers:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{self.path}: cannot read emergency numbers: {exc}") from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise ValueError(f"{self.path}:{line}: <yaml>: {exc.problem or exc}") from exc
        except yaml.YAMLError as exc:
            raise ValueError(f"{self.path}:1: <yaml>: {exc}") from exc
        if root is None:
            raise self.error(None, "<root>", "file is empty")

        top = self.mapping(root, "<root>")
        self.only_keys(
            root,
            top,
            "",
            required=("version", "sources", "defaults", "countries"),
            optional=("ambiguous",),
        )

        version_node = top["version"][1]
        if self.integer(version_node, "version") != SCHEMA_VERSION:
            raise self.error(version_node, "version", f"must be {SCHEMA_VERSION}")
        self.sources(top["sources"][1])
        defaults = self.defaults(top["defaults"][1])
        countries, names = self.countries(top["countries"][1])
        ambiguous = self.ambiguous(top["ambiguous"][1]) if "ambiguous" in top else []
        return self.build(countries, names, ambiguous, defaults)

    # -- sections --

    def sources(self, node: Node) -> None:
        items = self.sequence(node, "sources", non_empty=True)
        for i, item in enumerate(items):
            key = f"sources[{i}]"
            fields = self.mapping(item, key)
            self.only_keys(
                item, fields, key, required=("name",), optional=("publisher", "url", "note")
            )
            for name, (_, value) in fields.items():
                self.string(value, f"{key}.{name}")

    def defaults(self, node: Node) -> list[DefaultNumber]:
        result: list[DefaultNumber] = []
        seen: set[str] = set()
        for i, item in enumerate(self.sequence(node, "defaults", non_empty=True)):
            key = f"defaults[{i}]"
            fields = self.mapping(item, key)
            self.only_keys(item, fields, key, required=("number", "where"))
            number_node = fields["number"][1]
            number = self.number(number_node, f"{key}.number")
            if number in seen:
                raise self.error(number_node, f"{key}.number", f"duplicate number {number!r}")
            seen.add(number)
            result.append(DefaultNumber(number, self.string(fields["where"][1], f"{key}.where")))
        return result

    def countries(self, node: Node) -> tuple[list[Country], list[_Name]]:
        """The countries, plus every text that names one (code, name, aliases)."""
        entries = self.mapping(node, "countries")
        if not entries:
            raise self.error(node, "countries", "must list at least one country")
        countries: list[Country] = []
        names: list[_Name] = []
        for code, (code_node, value) in entries.items():
            key = f"countries.{code}"
            if not _CODE_RE.fullmatch(code):
                raise self.error(
                    code_node, key, "country key must be an ISO 3166-1 alpha-2 code like 'DE'"
                )
            names.append(_Name(code.lower(), code, code_node, key, is_code=True))
            fields = self.mapping(value, key)
            self.only_keys(
                value, fields, key, required=("name", "numbers"), optional=("aliases", "common")
            )

            name_node = fields["name"][1]
            name = self.string(name_node, f"{key}.name")
            names.append(_Name(_normalize(name), code, name_node, f"{key}.name"))

            if "aliases" in fields:
                for i, alias_node in enumerate(
                    self.sequence(fields["aliases"][1], f"{key}.aliases")
                ):
                    alias_key = f"{key}.aliases[{i}]"
                    alias = _normalize(self.string(alias_node, alias_key))
                    if not alias:
                        raise self.error(alias_node, alias_key, "alias has no letters or digits")
                    names.append(_Name(alias, code, alias_node, alias_key))

            numbers: list[str] = []
            numbers_key = f"{key}.numbers"
            for i, number_node in enumerate(
                self.sequence(fields["numbers"][1], numbers_key, non_empty=True)
            ):
                number = self.number(number_node, f"{numbers_key}[{i}]")
                if number in numbers:
                    raise self.error(
                        number_node, f"{numbers_key}[{i}]", f"duplicate number {number!r}"
                    )
                numbers.append(number)

            common = (
                self.boolean(fields["common"][1], f"{key}.common") if "common" in fields else False
            )
            countries.append(Country(code, name, tuple(numbers), common))
        return countries, names

    def ambiguous(self, node: Node) -> list[tuple[str, Node, str]]:
        result: list[tuple[str, Node, str]] = []
        for i, item in enumerate(self.sequence(node, "ambiguous")):
            key = f"ambiguous[{i}]"
            text = _normalize(self.string(item, key))
            if not text:
                raise self.error(item, key, "entry has no letters or digits")
            result.append((text, item, key))
        return result

    def build(
        self,
        countries: list[Country],
        names: Sequence[_Name],
        ambiguous: Iterable[tuple[str, Node, str]],
        defaults: list[DefaultNumber],
    ) -> EmergencyNumbers:
        exact: dict[str, str | None] = {}
        owner: dict[str, _Name] = {}  # normalized text -> where it was first defined
        # Names and aliases first, then ISO codes, so a clash is reported at the later one.
        for entry in sorted(names, key=lambda n: n.is_code):
            first = owner.get(entry.text)
            if first is not None and first.code != entry.code:
                raise self.error(
                    entry.node,
                    entry.key,
                    f"{entry.text!r} already names {first.code} ({first.key})",
                )
            exact[entry.text] = entry.code
            owner.setdefault(entry.text, entry)
        # Names and aliases also match inside longer text; bare ISO codes only on their own.
        phrases: dict[tuple[str, ...], str | None] = {
            tuple(text.split(" ")): entry.code for text, entry in owner.items() if not entry.is_code
        }
        for text, node, key in ambiguous:
            first = owner.get(text)
            if first is not None and not first.is_code:
                raise self.error(
                    node, key, f"{text!r} is a name or alias of {first.code} ({first.key})"
                )
            exact[text] = None  # a lowercase ISO code that is also a word: only "NO" resolves
            phrases[tuple(text.split(" "))] = None
        return EmergencyNumbers(
            countries=countries, defaults=defaults, exact=exact, phrases=phrases
        )

    # -- node helpers --

    def mapping(self, node: Node, key: str) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.error(node, key, f"expected a mapping, got {_describe(node)}")
        result: dict[str, tuple[Node, Node]] = {}
        prefix = f"{key}." if key and key != "<root>" else ""
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                raw = key_node.value if isinstance(key_node, ScalarNode) else "?"
                raise self.error(
                    key_node,
                    f"{prefix}{raw}",
                    f"key must be a string, got {_describe(key_node)} (quote it)",
                )
            name = str(key_node.value)
            if name in result:
                raise self.error(key_node, f"{prefix}{name}", "duplicate key")
            result[name] = (key_node, value_node)
        return result

    def only_keys(
        self,
        node: Node,
        fields: dict[str, tuple[Node, Node]],
        key: str,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
    ) -> None:
        prefix = f"{key}." if key else ""
        for name, (key_node, _) in fields.items():
            if name not in required and name not in optional:
                allowed = ", ".join([*required, *optional])
                raise self.error(key_node, f"{prefix}{name}", f"unknown key (allowed: {allowed})")
        missing = [name for name in required if name not in fields]
        if missing:
            raise self.error(node, f"{prefix}{missing[0]}", "required key is missing")

    def sequence(self, node: Node, key: str, *, non_empty: bool = False) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.error(node, key, f"expected a list, got {_describe(node)}")
        items = list(node.value)
        if non_empty and not items:
            raise self.error(node, key, "must not be empty")
        return items

    def string(self, node: Node, key: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG:
            raise self.error(node, key, f"expected a string, got {_describe(node)} (quote it)")
        value = str(node.value).strip()
        if not value:
            raise self.error(node, key, "must not be empty")
        return value

    def number(self, node: Node, key: str) -> str:
        if isinstance(node, ScalarNode) and node.tag == _INT_TAG:
            raise self.error(
                node,
                key,
                f"phone number {node.value} must be a quoted string "
                "(unquoted, YAML reads 000 as 0)",
            )
        value = self.string(node, key)
        if not _NUMBER_RE.fullmatch(value):
            raise self.error(node, key, f"{value!r} is not a short number of 2-6 digits")
        return value

    def integer(self, node: Node, key: str) -> int:
        if not isinstance(node, ScalarNode) or node.tag != _INT_TAG:
            raise self.error(node, key, f"expected an integer, got {_describe(node)}")
        try:
            return int(str(node.value).replace("_", ""), 10)
        except ValueError:
            raise self.error(node, key, f"expected a decimal integer, got {node.value!r}") from None

    def boolean(self, node: Node, key: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != _BOOL_TAG:
            raise self.error(node, key, f"expected true or false, got {_describe(node)}")
        return yaml.SafeLoader.bool_values[str(node.value).lower()]


@dataclass(frozen=True, slots=True)
class _Name:
    """One text that names a country: its ISO code, English name or an alias."""

    text: str  # normalized
    code: str
    node: Node
    key: str
    is_code: bool = False


def _describe(node: Node | None) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        kind = node.tag.rsplit(":", 1)[-1]
        return f"{kind} {node.value!r}"
    return "nothing"
