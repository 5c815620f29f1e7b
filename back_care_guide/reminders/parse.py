"""Parsing what a user types: a time of day and a time zone.

Pure functions, no I/O beyond reading the bundled time-zone database once. Nothing here
produces user-facing text: callers get a value or ``None`` and render messages from the
locale files.

Zone keys come in two kinds, both stored as plain strings:

* IANA keys such as ``"Europe/Berlin"`` or ``"UTC"`` (daylight-saving rules apply);
* fixed offsets written ``"UTC+05:30"`` / ``"UTC-05:00"`` (no daylight saving).
  ``UTC+00:00`` is always written ``"UTC"``.

:func:`zone_for` turns either kind into a :class:`datetime.tzinfo`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import time, timedelta, timezone, tzinfo
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import babel
from babel.dates import get_timezone_location

__all__ = ["MAX_OFFSET_MINUTES", "is_valid_zone", "parse_time", "resolve_timezone", "zone_for"]

#: Real-world UTC offsets span -12:00 .. +14:00; anything beyond ±14:00 is rejected.
MAX_OFFSET_MINUTES = 14 * 60

# Areas whose keys look like "Region/City". Legacy aliases ("US/Eastern", "Canada/Atlantic",
# "Etc/GMT+5", "Cuba", ...) are only accepted when typed as a full key.
_REGIONS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
     "Indian", "Pacific"}
)

_TIME_RE = re.compile(r"(\d{1,2})\s*[:.hH\uff1a]\s*(\d{2})")
# "7pm", "7 pm", "7:30 pm", "7.30p.m.", "19h", "19 h", "07"
_CLOCK_RE = re.compile(
    r"(\d{1,2})(?:\s*[:.hH\uff1a]\s*(\d{2}))?\s*(?:(a|p)\.?\s*m\.?|(h))?", re.IGNORECASE)
_OFFSET_RE = re.compile(
    r"(?:(?:utc|gmt)\s*)?([+\-\u2212])\s*(\d{1,2})(?:\s*(?::|\.|h)?\s*(\d{2}))?", re.IGNORECASE
)
_ZERO_ZONE_RE = re.compile(r"(?:utc|gmt|z|zulu)(?:\s*[+\-\u2212±]\s*0{1,2}(?:\s*:?\s*00)?)?", re.IGNORECASE)
_OFFSET_KEY_RE = re.compile(r"UTC([+-])(\d{2}):(\d{2})")
_LETTER_HYPHEN_RE = re.compile(r"-(?!\d)")


def parse_time(text: str) -> time | None:
    """A time of day the way people write it: ``"08:00"``, ``"8:00"``, ``"20:30"``, ``"8.30"``,
    ``"8h30"``, ``"19h"``, ``"7pm"``, ``"7:30 pm"``, ``"7.30 a.m."``, ``"12am"`` (midnight).

    Returns ``None`` for anything else: empty text, a bare number, ``"24:00"``, ``"25:99"``,
    ``"13pm"``, words, seconds.
    """
    match = _CLOCK_RE.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem, h_suffix = match.group(3), match.group(4)
    if match.group(2) is None and meridiem is None and h_suffix is None:
        return None  # a bare number is not a time
    if meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def resolve_timezone(text: str, language: str | None = None) -> str | None:
    """What the user typed → a zone key (see the module docstring), or ``None`` if unknown.

    Tried in order:

    1. UTC offsets: ``"UTC"``, ``"GMT"``, ``"UTC+2"``, ``"GMT-5"``, ``"+05:30"``, ``"utc+5:45"``
       (within ±14:00) → ``"UTC"`` or ``"UTC+05:30"``;
    2. text with a ``/``: a full IANA key, case-insensitively, spaces for underscores, accents
       ignored: ``"europe/berlin"`` → ``"Europe/Berlin"``; legacy keys typed in full are
       honoured (``"US/Eastern"``);
    3. otherwise a city name matched against the last part of ``Region/City`` keys:
       ``"new york"`` → ``"America/New_York"``, ``"São Paulo"`` → ``"America/Sao_Paulo"``,
       ``"Singapore"`` → ``"Asia/Singapore"``. When several keys share a city name the one
       listed in ``zone.tab`` wins (``"Buenos Aires"`` → ``"America/Argentina/Buenos_Aires"``);
    4. a city's name in the person's ``language``, as CLDR writes it (``"Londres"``,
       ``"Nueva York"``, ``"Kalkutta"``), for the zones ``zone.tab`` lists;
    5. finally a top-level legacy key typed in full (``"Japan"``, ``"EST"``).
    """
    raw = " ".join(text.split())
    if not raw or len(raw) > 64:
        return None
    offset = _parse_offset(raw)
    if offset is not None:
        return offset
    index = _zone_index()
    if "/" in raw:
        return index.full.get(_norm_key(raw))
    # a city first ("Singapore" → "Asia/Singapore"), then a legacy key typed in full ("Japan")
    city = _norm(raw)
    found = index.cities.get(city)
    if found is None and language:
        found = _cities_in(language).get(city)
    return found or index.full.get(_norm_key(raw))


def zone_for(key: str) -> tzinfo:
    """A zone key from :func:`resolve_timezone` → a tzinfo. Raises ``ValueError`` if unknown."""
    match = _OFFSET_KEY_RE.fullmatch(key)
    if match is not None:
        minutes = int(match.group(2)) * 60 + int(match.group(3))
        if minutes > MAX_OFFSET_MINUTES or int(match.group(3)) > 59 or minutes == 0:
            raise ValueError(f"invalid offset zone key: {key!r}")
        sign = -1 if match.group(1) == "-" else 1
        return timezone(timedelta(minutes=sign * minutes), key)
    return _zoneinfo(key)


def is_valid_zone(key: str) -> bool:
    """True if :func:`zone_for` accepts ``key``."""
    try:
        zone_for(key)
    except ValueError:
        return False
    return True


def _zoneinfo(key: str) -> ZoneInfo:
    if not key or key.startswith("/") or ".." in key or "\\" in key:
        raise ValueError(f"invalid zone key: {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown zone key: {key!r}") from exc


def _parse_offset(text: str) -> str | None:
    if _ZERO_ZONE_RE.fullmatch(text):
        return "UTC"
    match = _OFFSET_RE.fullmatch(text)
    if match is None:
        return None
    hours = int(match.group(2))
    minutes = int(match.group(3) or 0)
    if minutes > 59:
        return None
    total = hours * 60 + minutes
    if total > MAX_OFFSET_MINUTES:
        return None
    if total == 0:
        return "UTC"
    sign = "+" if match.group(1) == "+" else "-"
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _norm(text: str) -> str:
    """Case, accents, spaces, underscores and punctuation folded away: "São Paulo" → "saopaulo"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    kept = "".join(ch for ch in stripped.casefold() if ch.isalnum() or ch in "+-")
    return _LETTER_HYPHEN_RE.sub("", kept)  # "port-au-prince" → "portauprince", "gmt-5" stays


def _norm_key(text: str) -> str:
    return "/".join(_norm(part) for part in text.split("/"))


class _ZoneIndex:
    def __init__(self, full: dict[str, str], cities: dict[str, str]) -> None:
        self.full = full
        self.cities = cities


@lru_cache(maxsize=1)
def _zone_index() -> _ZoneIndex:
    keys = sorted(available_timezones())
    preferred = _listed_zones()
    full: dict[str, str] = {}
    candidates: dict[str, list[str]] = {}
    for key in keys:
        full.setdefault(_norm_key(key), key)
        parts = key.split("/")
        if len(parts) >= 2 and parts[0] in _REGIONS:
            candidates.setdefault(_norm(parts[-1]), []).append(key)
    cities = {
        city: min(options, key=lambda k: (k not in preferred, k.count("/") == 1, k))
        for city, options in candidates.items()
    }
    return _ZoneIndex(full, cities)


@lru_cache(maxsize=8)
def _cities_in(language: str) -> dict[str, str]:
    """The cities of the zones ``zone.tab`` lists, by their names in ``language`` (CLDR)."""
    try:
        locale = babel.Locale.parse(language)
    except (babel.UnknownLocaleError, ValueError):
        return {}
    cities: dict[str, str] = {}
    for key in sorted(_listed_zones()):
        city = get_timezone_location(key, locale=locale, return_city=True)
        cities.setdefault(_norm(city), key)
    return cities


def _listed_zones() -> frozenset[str]:
    """Zones named in ``zone.tab`` / ``zone1970.tab`` (canonical per country), if available."""
    listed: set[str] = set()
    for name in ("zone1970.tab", "zone.tab"):
        try:
            text = resources.files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError, OSError):
            continue
        for line in text.splitlines():
            if line and not line.startswith("#"):
                fields = line.split("\t")
                if len(fields) >= 3:
                    listed.add(fields[2])
    return frozenset(listed)
