"""flows/emergency_numbers.yaml: data cross-checked against libphonenumber, loader, match()."""

from __future__ import annotations

import re
from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import shortnumberinfo

from back_care_guide.data import DataError, flows_dir
from back_care_guide.data.location import NUMBERS_FILE
from back_care_guide.safety.emergency import (
    Country,
    DefaultNumber,
    EmergencyNumbers,
    default_numbers,
)

DATA = default_numbers()
DEFAULT_PATH = flows_dir() / NUMBERS_FILE
EU_MEMBERS = frozenset(
    {
        *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
        *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
    }
)


# -- the data, cross-checked against libphonenumber's ShortNumberMetadata -------------------


def test_the_default_is_the_packaged_flows_file() -> None:
    expected = Path(__file__).resolve().parents[1] / "back_care_guide" / "flows" / "emergency_numbers.yaml"
    assert expected == DEFAULT_PATH
    assert default_numbers() is DATA  # cached


def test_coverage() -> None:
    codes = {c.code for c in DATA.countries()}
    assert len(codes) >= 40
    assert codes >= EU_MEMBERS
    assert codes >= {"US", "CA", "MX", "BR", "AR", "CO", "CL"}
    assert codes >= {"IN", "CN", "ID", "PK", "BD", "JP", "PH", "VN"}
    assert codes >= {"EG", "ZA", "KE"}


@pytest.mark.parametrize("country", DATA.countries(), ids=lambda c: c.code)
def test_every_number_is_an_emergency_number_in_libphonenumber(country: Country) -> None:
    assert country.code in phonenumbers.SUPPORTED_SHORT_REGIONS
    assert country.numbers
    for number in country.numbers:
        assert shortnumberinfo.is_emergency_number(number, country.code), (country.code, number)


@pytest.mark.parametrize(
    ("code", "primary"),
    [
        ("US", "911"),
        ("GB", "999"),
        ("DE", "112"),
        ("FR", "15"),
        ("IN", "112"),
        ("AU", "000"),
        ("NZ", "111"),
        ("JP", "119"),
        ("CN", "120"),
        ("RU", "112"),
        ("BR", "192"),
        ("MX", "911"),
        ("NO", "113"),  # "NO" must survive YAML 1.1 (it is quoted in the file)
    ],
)
def test_primary_numbers(code: str, primary: str) -> None:
    assert DATA.for_country(code)[0] == primary


def test_secondary_numbers_and_case_insensitive_codes() -> None:
    assert DATA.for_country("gb") == ["999", "112"]
    assert DATA.for_country(" fr ") == ["15", "112"]
    assert DATA.country("au") == Country("AU", "Australia", ("000", "112"), common=True)
    assert "de" in DATA
    assert "XX" not in DATA


def test_unknown_country_raises_key_error() -> None:
    with pytest.raises(KeyError, match="XX"):
        DATA.for_country("XX")
    with pytest.raises(KeyError):
        DATA.country("")


def test_for_country_returns_a_copy() -> None:
    DATA.for_country("DE").append("0")
    assert DATA.for_country("DE") == ["112"]


def test_common_countries_are_eight_in_file_order() -> None:
    common = DATA.common()
    assert [c.code for c in common] == ["US", "GB", "CA", "AU", "IN", "DE", "FR", "ES"]
    assert all(c.common for c in common)
    order = [c.code for c in DATA.countries()]
    assert [order.index(c.code) for c in common] == sorted(order.index(c.code) for c in common)


# Where each default must connect to emergency services, per libphonenumber.
DEFAULT_REGIONS = {
    "112": ("DE", "FR", "ES", "IT", "PL", "GB", "IN"),
    "911": ("US", "CA", "MX"),
    "999": ("GB", "IE", "MY"),
}


def test_defaults() -> None:
    defaults = DATA.defaults()
    assert [d.number for d in defaults] == ["112", "911", "999"]
    assert all(isinstance(d, DefaultNumber) and d.where.strip() for d in defaults)


@pytest.mark.parametrize("default", DATA.defaults(), ids=lambda d: d.number)
def test_defaults_are_emergency_numbers_where_they_claim(default: DefaultNumber) -> None:
    regions = DEFAULT_REGIONS[default.number]  # a new default needs regions listed here
    for region in regions:
        assert shortnumberinfo.is_emergency_number(default.number, region), (default, region)


# -- match() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("united states", "US"),
        ("America", "US"),
        ("us", "US"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("Britain", "GB"),
        ("england", "GB"),
        ("Deutschland", "DE"),
        ("germany!", "DE"),
        ("de", "DE"),
        ("GB", "GB"),
        ("  The Netherlands. ", "NL"),
        ("Österreich", "AT"),
        ("osterreich", "AT"),
        ("españa", "ES"),
        ("Espana", "ES"),
        ("new zealand", "NZ"),
        ("NO", "NO"),  # ISO code in capitals resolves even if it is also a word
        ("IT", "IT"),
        ("I'm in Germany right now", "DE"),
        ("in the uk", "GB"),
        ("northern ireland", "GB"),
        ("ireland", "IE"),
        ("new south wales", "AU"),
        ("日本", "JP"),
        ("🇫🇷", "FR"),
        ("🇩🇪 Germany", "DE"),
        ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "GB"),  # England
    ],
)
def test_match(text: str, code: str) -> None:
    country = DATA.match(text)
    assert country is not None, text
    assert country.code == code


@pytest.mark.parametrize(
    "text",
    [
        "asdfgh qwerty",
        "",
        "   ",
        "!!!",
        "no",  # a refusal, not Norway
        "it",
        "in",
        "e.g.",
        "south america",  # contains "america" but is not the US
        "north korea",
        "France or Germany",  # two countries
        "Germany 🇫🇷",
        "🇳🇬",  # a flag of a country that is not listed
        "XX",
        "Atlantis",
    ],
)
def test_match_none(text: str) -> None:
    assert DATA.match(text) is None


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("Alemania", "es", "DE"),
        ("estoy en Reino Unido", "es", "GB"),
        ("Estados Unidos", "es", "US"),
        ("Österreich", "de", "AT"),
        ("ich bin in der Schweiz", "de", "CH"),
        ("Ungarn", "de", "HU"),
        ("Germany", "es", "DE"),  # the English names and aliases work in every language
        ("Deutschland", None, "DE"),  # an alias of the file
    ],
)
def test_match_in_the_person_s_language(text: str, language: str | None, code: str) -> None:
    """The bot's languages' names for the countries (CLDR) are understood from the people
    who speak them."""
    localized = EmergencyNumbers.load(DEFAULT_PATH, languages=("en", "es", "de"))
    found = localized.match(text, language)
    assert found is not None and found.code == code


def test_a_name_in_one_language_is_no_name_in_another() -> None:
    localized = EmergencyNumbers.load(DEFAULT_PATH, languages=("en", "es", "de"))
    assert localized.match("Alemania", "en") is None
    assert localized.match("Alemania", "de") is None
    assert localized.match("Ungarn", "es") is None
    assert localized.match("Alemania", "fr") is None  # a language it was not loaded with


# -- schema errors are DataErrors: file, line and key ---------------------------------------


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "emergency_numbers.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _at(path: Path, line: int | None = None) -> str:
    """Regex for the start of an error message: file and line."""
    return "^" + re.escape(f"{path}:") + (str(line) if line else r"\d+") + ": "


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_unquoted_number_is_rejected_with_file_key_and_line(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'numbers: ["000", "112"]', "numbers: [000, 112]")
    line = _line_of(path, "numbers: [000, 112]")
    with pytest.raises(DataError) as info:
        EmergencyNumbers.load(path)
    error = info.value
    assert (error.file, error.line, error.key) == (str(path), line, "countries.AU.numbers.0")
    assert str(error).startswith(f"{path}:{line}: countries.AU.numbers.0: ")
    assert "quoted" in error.message


def test_unquoted_norway_is_rejected(tmp_path: Path) -> None:
    path = _broken(tmp_path, '  "NO":\n', "  NO:\n")
    line = _line_of(path, "  NO:")
    with pytest.raises(DataError, match=_at(path, line) + r"countries\.NO: key is read as bool False"):
        EmergencyNumbers.load(path)


def test_missing_numbers_key(tmp_path: Path) -> None:
    path = _broken(tmp_path, '    numbers: ["192"]\n', "")
    line = _line_of(path, "  BR:")
    with pytest.raises(DataError, match=_at(path, line) + r"countries\.BR\.numbers: required key is missing"):
        EmergencyNumbers.load(path)


def test_unknown_key(tmp_path: Path) -> None:
    path = _broken(tmp_path, "    name: Japan\n", "    name: Japan\n    phone: x\n")
    line = _line_of(path, "phone: x")
    with pytest.raises(DataError, match=_at(path, line) + r"countries\.JP\.phone: unknown key"):
        EmergencyNumbers.load(path)


def test_bad_country_code(tmp_path: Path) -> None:
    path = _broken(tmp_path, "  JP:\n", "  Japan:\n")
    line = _line_of(path, "  Japan:")
    with pytest.raises(DataError, match=_at(path, line) + r"countries\.Japan: .*ISO 3166"):
        EmergencyNumbers.load(path)


def test_not_a_number(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'numbers: ["120"]', 'numbers: ["12O"]')
    with pytest.raises(DataError, match=r"countries\.CN\.numbers\.0: '12O' is not"):
        EmergencyNumbers.load(path)


def test_alias_claimed_by_two_countries(tmp_path: Path) -> None:
    path = _broken(tmp_path, "aliases: [aotearoa]", "aliases: [aotearoa, britain]")
    line = _line_of(path, "aotearoa, britain")
    with pytest.raises(
        DataError,
        match=_at(path, line) + r"countries\.NZ\.aliases\.1: 'britain' already names GB",
    ):
        EmergencyNumbers.load(path)


def test_empty_number_list(tmp_path: Path) -> None:
    path = _broken(tmp_path, 'numbers: ["111"]', "numbers: []")
    with pytest.raises(DataError, match=r"countries\.NZ\.numbers: Tuple should have at least 1 item"):
        EmergencyNumbers.load(path)


def test_bad_common_flag(tmp_path: Path) -> None:
    path = _broken(
        tmp_path,
        'new england]\n    numbers: ["911"]\n    common: true\n',
        'new england]\n    numbers: ["911"]\n    common: "yes please"\n',
    )
    with pytest.raises(DataError, match=r"countries\.US\.common: Input should be a valid boolean"):
        EmergencyNumbers.load(path)


def test_wrong_version(tmp_path: Path) -> None:
    path = _broken(tmp_path, "version: 1\n", "version: 2\n")
    with pytest.raises(DataError, match=_at(path) + r"version: Input should be 1"):
        EmergencyNumbers.load(path)


def test_duplicate_default(tmp_path: Path) -> None:
    path = _broken(tmp_path, '  - number: "999"\n', '  - number: "112"\n')
    with pytest.raises(DataError, match=r"defaults\.2\.number: duplicate number '112'"):
        EmergencyNumbers.load(path)


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = _broken(tmp_path, "    name: Chile\n", "    name: [Chile\n")
    with pytest.raises(DataError, match=_at(path) + r"invalid YAML: "):
        EmergencyNumbers.load(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="^" + re.escape(f"{path}: the file is empty") + "$"):
        EmergencyNumbers.load(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(DataError, match=re.escape(f"{path}: cannot read: ")):
        EmergencyNumbers.load(path)
