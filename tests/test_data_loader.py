"""The one data loader: every file under ``flows/`` is read with line tracking, validated
against its model, and every problem is a :class:`DataError` with file, line and key."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from back_care_guide.data import DataError, StrictModel, flows_dir, load, load_source
from back_care_guide.flow.loader import load_bundle

PACKAGE = Path(__file__).resolve().parents[1] / "back_care_guide"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the error --------------------------------------------------------------------------


def test_a_data_error_reads_file_line_key_message() -> None:
    error = DataError(Path("flows/x.yaml"), 12, "states.a.choices.0", "unknown key")
    assert str(error) == "flows/x.yaml:12: states.a.choices.0: unknown key"
    assert (error.file, error.line, error.key, error.message) == (
        "flows/x.yaml", 12, "states.a.choices.0", "unknown key")


def test_a_data_error_leaves_out_what_it_does_not_know() -> None:
    assert str(DataError("flows/locales", None, "", "no locale files")) == "flows/locales: no locale files"
    assert str(DataError("x.yaml", 3, "", "invalid YAML: oops")) == "x.yaml:3: invalid YAML: oops"


# --- reading YAML -----------------------------------------------------------------------


def test_lines_are_those_of_keys_and_list_items(tmp_path: Path) -> None:
    source = load_source(write(tmp_path, "# comment\na: 1\nb:\n  c: [x,\n    y]\n  d:\n    - 1\n    - 2\n"))
    assert source.data == {"a": 1, "b": {"c": ["x", "y"], "d": [1, 2]}}
    assert source.line(()) == 2
    assert source.line(("b",)) == 3
    assert source.line(("b", "c", 1)) == 5
    assert source.line(("b", "d", 1)) == 8
    assert source.line(("b", "d", 7)) == 6  # unknown: the nearest ancestor


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ("a: 1\nb:\n  NO: x\n", 3, "b.NO", "key is read as bool False: quote it"),
    ("a: 1\n000: x\n", 2, "000", "key is read as int 0: quote it"),
    ("a: 1\nb: 2\na: 3\n", 3, "a", "duplicate key"),
])
def test_keys_are_unique_strings(tmp_path: Path, text: str, line: int, key: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_source(path)
    assert (info.value.file, info.value.line, info.value.key, info.value.message) == (
        str(path), line, key, message)


def test_unreadable_invalid_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.yaml: cannot read: No such file"):
        load_source(tmp_path / "nope.yaml")
    with pytest.raises(DataError, match=r"data\.yaml:\d+: invalid YAML: "):
        load_source(write(tmp_path, "a: 1\nb: [x\n"))
    with pytest.raises(DataError, match=r"data\.yaml: the file is empty$"):
        load_source(write(tmp_path, "# only a comment\n"))


def test_plain_text_reads_scalars_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "words: [no, on, 7, 007, true, ~]\n")
    assert load_source(path).data == {"words": [False, True, 7, 7, True, None]}
    assert load_source(path, plain_text=True).data == {"words": ["no", "on", "7", "007", "true", None]}


# --- validating against a model ---------------------------------------------------------


class _Item(StrictModel):
    name: str
    size: int = 0


class _File(StrictModel):
    items: dict[str, _Item]
    tags: tuple[str | tuple[str, ...], ...] = ()


@pytest.mark.parametrize(("text", "line", "key", "message"), [
    ("items:\n  a:\n    name: x\n    colour: red\n", 4, "items.a.colour", "unknown key"),
    ("items:\n  a:\n    name: x\n    size: big\n", 4, "items.a.size", "Input should be a valid integer"),
    ("items:\n  a:\n    size: 1\n", 2, "items.a.name", "required key is missing"),
    # a misspelt key is also a missing one: the typo's own line is reported
    ("items:\n  a:\n    nmae: x\n", 3, "items.a.nmae", "unknown key"),
    # the union member pydantic tried is no key of the data
    ("items: {}\ntags:\n  - x\n  - {y: 1}\n", 4, "tags.1", "Input should be a valid string"),
])
def test_pydantic_errors_point_at_the_offending_key(
        tmp_path: Path, text: str, line: int, key: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load(path, _File)
    error = info.value
    assert (error.file, error.line, error.key) == (str(path), line, key)
    assert error.message.startswith(message)


# --- every file of a flows directory ------------------------------------------------------


def broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(flows_dir(), target)
    path = target / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return target


FILES = [
    # the flow
    pytest.param("lower_back.yaml", "default_hold: standard\n",
                 "default_hold: standard\ndefault_holds: long\n", "default_holds", "default_holds:",
                 "unknown key", id="flow-unknown-key"),
    pytest.param("lower_back.yaml", "start: welcome\n", "start: [welcome]\n", "start", "start:",
                 "Input should be a valid string", id="flow-bad-type"),
    pytest.param("lower_back.yaml", "    range: [15, 30]\n", "", "exercises.knee_to_chest.range",
                 "  knee_to_chest:", "required key is missing", id="flow-missing-key"),
    # a locale
    pytest.param("locales/en.yaml", "language: en\n", "language: en\nauthor: me\n", "author", "author:",
                 "unknown key", id="locale-unknown-key"),
    pytest.param("locales/en.yaml", "language: en\n", "language: 42\n", "language", "language:",
                 "Input should be a valid string", id="locale-bad-type"),
    pytest.param("locales/en.yaml", "language: en\n", "", "language", "version:",
                 "required key is missing", id="locale-missing-key"),
    # the safety rules
    pytest.param("safety.yaml", "exercise_tag: exercise\n", "exercise_tag: exercise\nexercise_tags: []\n",
                 "exercise_tags", "exercise_tags:", "unknown key", id="safety-unknown-key"),
    pytest.param("safety.yaml", "  spinal_twist: [20, 30]", "  spinal_twist: [20, thirty]",
                 "hold_ranges.spinal_twist.1", "  spinal_twist:", "Input should be a valid integer",
                 id="safety-bad-type"),
    pytest.param("safety.yaml", "no_exercise_tag: no_exercise\n", "", "no_exercise_tag", "version:",
                 "required key is missing", id="safety-missing-key"),
    # the triage rules
    pytest.param("triage.yaml", "    detect: [fever]\n", "    detect: [fever]\n    detects: [fever]\n",
                 "signs.fever.detects", "    detects:", "unknown key", id="triage-unknown-key"),
    pytest.param("triage.yaml", "    lock: {until: day}", "    lock: {until: week}",
                 "tiers.stop_today.lock.until", "    lock: {until: week}",
                 "Input should be 'clearance' or 'day'", id="triage-bad-type"),
    pytest.param("triage.yaml", "    label: triage.label.fever\n", "", "signs.fever.label", "  fever:",
                 "required key is missing", id="triage-missing-key"),
    # a detector lexicon
    pytest.param("detector/en.yaml", "  negation_window: 6\n",
                 "  negation_window: 6\n  negation_windows: 7\n", "cues.negation_windows",
                 "  negation_windows:", "unknown key", id="lexicon-unknown-key"),
    pytest.param("detector/en.yaml", "{min_length: 5, max_distance: 1}", "{min_length: 5, max_distance: 3}",
                 "fuzzy.bands.0.max_distance", "    - {min_length: 5, max_distance: 3}",
                 "Input should be less than or equal to 2", id="lexicon-bad-type"),
    pytest.param("detector/en.yaml", "  same_first_letter: true\n", "", "fuzzy.same_first_letter", "fuzzy:",
                 "required key is missing", id="lexicon-missing-key"),
    pytest.param("detector/en.yaml", "      - {all: [fever]}", "      - {all: [{fever: 1}]}",
                 "signs.fever.rules.0.all.0", "      - {all: [{fever: 1}]}", "Input should be a valid string",
                 id="lexicon-union-bad-type"),
    # the emergency numbers
    pytest.param("emergency_numbers.yaml", "version: 1\n", "version: 1\nrevision: 2\n", "revision",
                 "revision:", "unknown key", id="numbers-unknown-key"),
    pytest.param("emergency_numbers.yaml", 'numbers: ["000", "112"]', 'numbers: "000"',
                 "countries.AU.numbers", '    numbers: "000"', "Input should be a valid tuple",
                 id="numbers-bad-type"),
    pytest.param("emergency_numbers.yaml", "    where: numbers.where.north_america\n", "", "defaults.1.where",
                 '  - number: "911"', "required key is missing", id="numbers-missing-key"),
]


@pytest.mark.parametrize(("file", "old", "new", "key", "line_start", "message"), FILES)
def test_every_kind_of_file_reports_file_line_and_key(
        tmp_path: Path, file: str, old: str, new: str, key: str, line_start: str, message: str) -> None:
    flows = broken_copy(tmp_path, file, old, new)
    path = flows / file
    lines = path.read_text(encoding="utf-8").split("\n")
    line = next(number for number, text in enumerate(lines, 1) if text.startswith(line_start))
    with pytest.raises(DataError) as info:
        load_bundle(flows, check=False)
    error = info.value
    assert (error.file, error.line, error.key) == (str(path), line, key)
    assert error.message.startswith(message), error.message
    assert str(error).startswith(f"{path}:{line}: {key}: {message}")


def test_a_missing_per_language_folder_is_named(tmp_path: Path) -> None:
    flows = broken_copy(tmp_path, "detector/en.yaml", "language: en", "language: en")
    shutil.rmtree(flows / "detector")
    with pytest.raises(DataError, match="^" + str(flows / "detector") + ": no detector lexicon files$"):
        load_bundle(flows, check=False)


def test_a_per_language_file_is_named_after_its_language(tmp_path: Path) -> None:
    flows = broken_copy(tmp_path, "detector/en.yaml", "language: en", "language: de")
    with pytest.raises(DataError, match=r"detector/en\.yaml:\d+: language: file name says 'en', language"):
        load_bundle(flows, check=False)


# --- where the data is --------------------------------------------------------------------


def test_the_default_data_is_the_package_resource() -> None:
    default = flows_dir()
    assert default == files("back_care_guide") / "flows" == PACKAGE / "flows"
    assert (default / "lower_back.yaml").is_file()


def test_a_configured_directory_wins(tmp_path: Path) -> None:
    assert flows_dir(tmp_path) == tmp_path


def test_yaml_is_read_in_one_place() -> None:
    readers = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                     if "import yaml" in path.read_text(encoding="utf-8"))
    assert readers == ["data/source.py"]
