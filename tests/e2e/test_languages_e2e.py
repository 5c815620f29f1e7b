"""The real bot process in Spanish and German: a whole session, a red flag typed mid-hold,
/language, and which language Telegram's ``language_code`` gives.

Every expectation is a text of the person's locale file, read by the package's own loader
(``FlowBundle.texts``), so rewording a text never breaks these tests; a text of the wrong
language, or an English one, does.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import babel
import babel.numbers
import pytest

from back_care_guide.flow.loader import DEFAULT_LANGUAGE, FlowBundle
from back_care_guide.flow.texts import Texts
from back_care_guide.safety.emergency_line import numbers_line
from back_care_guide.safety.triage import Action, Triage
from back_care_guide.safety.triage_rules import Tier
from back_care_guide.telegram.app import COMMANDS
from back_care_guide.telegram.callback import decode
from tests.e2e.conftest import BotProcess, Person
from tests.standin import BotApiStandin
from tests.standin.markup import iter_buttons
from tests.standin.models import StoredMessage

LANGUAGES = ("es", "de")
# What each language calls itself on the /language buttons (the spec of #15, not a text of
# the locale files).
OWN_NAMES = {"en": "English", "es": "Español", "de": "Deutsch"}
# Messages of a completed session with both knees skipped: test_telegram.SESSION_MESSAGES
# (not imported: mypy --strict would then check that module too, which isn't fully typed).
SESSION_MESSAGES = 10
# The 0-10 pain rating: number buttons in every language.
RATING_LABELS = frozenset(str(n) for n in range(11))
# A literal run of an English text at least this long that the other language doesn't also
# use (like "Back Care Guide") is English leaking through.
ENGLISH_RUN = 12
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
ANY_VALUE = r"[^\n]+?"  # a placeholder whose value is not known here: anything on one line


# ------------------------------------------------------------------ the locale's texts
def every_text(texts: Texts) -> list[str]:
    """Every text of a locale, each plural form included."""
    return [text for _, text in texts.variants()]


def standalone(template: str) -> bool:
    """Whether a text can be a paragraph of its own: not a piece that only goes inside other
    texts, like "{day} {month}" or "{number} ({where})" (those would match any paragraph)."""
    literal = "".join(_PLACEHOLDER.split(template)[::2])
    return any(c.isalpha() for c in literal) or not template.startswith("{")


class Catalog:
    """One language's texts as a person may read them: each paragraph of a message is a
    paragraph of one of the locale's texts, its placeholders filled as the bot fills them
    where the value is known here (seconds, the sign, the default emergency numbers), and
    with any one-line value where it is not."""

    def __init__(self, bundle: FlowBundle, language: str) -> None:
        self.language = language
        self.texts = bundle.texts(language)
        assert self.texts.language == language, f"no {language} locale"
        self.numbers = numbers_line(bundle.numbers, self.texts, None)
        names = sorted({self.texts.get(sign.name) for sign in bundle.triage.signs.values()}
                       | {self.texts.get("sign.unknown")}, key=len, reverse=True)
        self.labels = {text for text in every_text(self.texts) if not _PLACEHOLDER.search(text)}
        self._values = {
            "seconds": r"\d+",
            "numbers": re.escape(self.numbers),
            "sign": "|".join(map(re.escape, names)),
            "sign_cap": "|".join(re.escape(name[:1].upper() + name[1:]) for name in names),
            "label": "|".join(map(re.escape, sorted(self.labels | RATING_LABELS, key=len, reverse=True))),
        }
        self.paragraphs = [self.pattern(chunk) for text in every_text(self.texts)
                           for chunk in text.split("\n\n") if standalone(chunk)]

    def pattern(self, template: str) -> re.Pattern[str]:
        parts: list[str] = []
        at = 0
        for match in _PLACEHOLDER.finditer(template):
            parts.append(re.escape(template[at:match.start()]))
            parts.append(f"(?:{self._values.get(match.group(1), ANY_VALUE)})")
            at = match.end()
        parts.append(re.escape(template[at:]))
        return re.compile("".join(parts))

    def key(self, key: str) -> re.Pattern[str]:
        """A text of the locale by key, as a pattern (it may hold placeholders; a plural
        text is any of its forms)."""
        assert key in self.texts, f"{key!r} is not in the {self.language} locale yet"
        forms = ([self.texts.entries[key]] if key in self.texts.entries
                 else list(self.texts.plurals[key].values()))
        return re.compile("|".join(f"(?:{self.pattern(form).pattern})" for form in forms))

    def foreign(self, text: str) -> list[str]:
        """The paragraphs of ``text`` that are no text of this locale."""
        return [p for p in text.split("\n\n")
                if p.strip() and not any(pattern.fullmatch(p) for pattern in self.paragraphs)]


def english_runs(bundle: FlowBundle, language: str) -> set[str]:
    """Literal runs of the English texts (between placeholders and line breaks) that no text
    of ``language`` contains: any of them in a message to that person is English leaking."""
    own = "\n".join(every_text(bundle.texts(language)))
    runs = {run.strip() for text in every_text(bundle.texts(DEFAULT_LANGUAGE))
            for piece in _PLACEHOLDER.split(text)[::2] for run in piece.split("\n")}
    return {run for run in runs if len(run) >= ENGLISH_RUN and run not in own}


def versions(message: StoredMessage) -> Iterator[dict[str, Any]]:
    """The message as first sent, each edit, and as it is now."""
    yield from message.history
    yield message.data


def version_text(data: Mapping[str, Any]) -> str:
    return str(data.get("text", data.get("caption", "")))


def read_everything(person: Person, since: int = 0) -> tuple[list[str], list[str]]:
    """Every text (each version of each message) the person saw, and every button label;
    ``since``: from the person's message of that index on."""
    texts: list[str] = []
    labels: list[str] = []
    for message in person.sent[since:]:
        for data in versions(message):
            texts.append(version_text(data))
            markup = data.get("reply_markup")
            labels.extend(str(b["text"]) for b in iter_buttons(markup if isinstance(markup, dict) else None))
    return texts, labels


def assert_all_in(person: Person, catalog: Catalog, bundle: FlowBundle, since: int = 0,
                  buttons: bool = True) -> None:
    """Everything the person read is the catalog's language: no paragraph from elsewhere,
    no English run, and (``buttons``) every button labelled by a text of the locale or a
    0-10 number."""
    texts, labels = read_everything(person, since)
    assert texts, "the person got nothing"
    strays = [(text[:60], catalog.foreign(text)) for text in texts if catalog.foreign(text)]
    assert strays == [], f"paragraphs that are no {catalog.language} text: {strays}"
    if catalog.language != DEFAULT_LANGUAGE:
        english = english_runs(bundle, catalog.language)
        leaks = sorted({run for text in texts for run in english if run in text})
        assert leaks == [], f"English in a {catalog.language} chat: {leaks}"
    wrong = sorted({label for label in labels if label not in catalog.labels | RATING_LABELS})
    assert not buttons or wrong == [], f"buttons not labelled in {catalog.language}: {wrong}"


# ------------------------------------------------------------------ acting in a language
async def chat_menu(api: BotApiStandin, chat_id: int, timeout: float = 5.0) -> list[str]:
    """The descriptions of the command menu set for one chat (scope ``chat``), once set."""
    key = (json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True), "")
    await api.wait_until(lambda: key in api.core.commands, timeout)
    return [str(command["description"]) for command in api.core.commands[key]]


def speaker(api: BotApiStandin, user_id: int, language_code: str | None) -> Person:
    """A person whose Telegram app is set to ``language_code`` (sent with every update)."""
    api.add_user(user_id, f"User{user_id}", language_code=language_code)
    return Person(api, user_id)


async def expect_key(person: Person, catalog: Catalog, key: str, timeout: float = 10.0
                     ) -> StoredMessage:
    """The first message since the last action that says the text ``key`` of the catalog."""
    pattern = catalog.key(key)
    found: list[StoredMessage] = []

    def seen() -> bool:
        found[:] = [m for m in person.fresh if pattern.search(m.text)][:1]
        return bool(found)

    await person.api.wait_until(seen, timeout, person.id)
    return found[0]


async def step_key(person: Person, catalog: Catalog, label: str, expect: str) -> StoredMessage:
    """Tap the button labelled with the text ``label`` (or a rating), then expect ``expect``."""
    await person.click(catalog.texts.get(label) if label in catalog.texts else label)
    return await expect_key(person, catalog, expect)


def choice_of(data: object) -> str:
    """What a button chooses: its callback_data, unwrapped from the bot's versioned payload
    (``v1|<seq>|<choice>``, telegram/callback.py) when it is one."""
    payload = decode(str(data))
    return str(data) if payload is None else payload.choice


def seconds(bundle: FlowBundle, exercise: str, hold: str) -> str:
    return str(bundle.flow.exercises[exercise].holds[hold])


async def screening(person: Person, catalog: Catalog) -> None:
    """/start, agree, "none of these" on the four lists and a pain of 5: the hold question."""
    await person.command("start")
    await expect_key(person, catalog, "welcome.ask")
    await step_key(person, catalog, "btn.agree", "screen.intro")
    for following in ("screen.two", "screen.three", "screen.four", "rating.before"):
        await step_key(person, catalog, "triage.none", following)
    await step_key(person, catalog, "5", "prep.hold_length")


async def whole_session(person: Person, catalog: Catalog, bundle: FlowBundle) -> None:
    """test_telegram's full_session, by the locale's texts: both knees skipped."""
    knee, twist = seconds(bundle, "knee_to_chest", "standard"), seconds(bundle, "spinal_twist", "standard")
    await screening(person, catalog)
    await step_key(person, catalog, "btn.hold_standard", "ktc.title")
    for after in ("ktc.right", "ktc.both_offer"):
        hold = await step_key(person, catalog, "btn.in_position", "hold.stretch")
        assert f" {knee} " in hold.text
        await expect_key(person, catalog, "ktc.release")
        await step_key(person, catalog, "btn.no_pain_next", after)
    await step_key(person, catalog, "btn.skip_to_twist", "twist.title")
    for answer, after in (("btn.no_pain_next", "twist.lower_right"), ("btn.no_pain_finish", "rating.after")):
        hold = await step_key(person, catalog, "btn.in_position", "hold.twist")
        assert f" {twist} " in hold.text
        await expect_key(person, catalog, "twist.release")
        await step_key(person, catalog, answer, after)
    await step_key(person, catalog, "3", "closing.summary")


STRETCH_CUES = ("hold.stretch", "hold.twist", "hold.halfway", "ktc.release", "ktc.both_release",
                "twist.release", "ktc.right", "twist.lower_right")


# ------------------------------------------------------------------ 1. a whole session
@pytest.mark.parametrize("language", LANGUAGES)
async def test_whole_session_in_the_language(api: BotApiStandin, bot: BotProcess,
                                             bundle: FlowBundle, language: str) -> None:
    """Someone whose Telegram speaks Spanish or German reads the whole session in it: every
    message and every button, not just the milestones."""
    catalog = Catalog(bundle, language)
    person = speaker(api, 3001, language)
    await whole_session(person, catalog, bundle)
    await api.wait_quiet(0.3)
    assert len(person.sent) == SESSION_MESSAGES  # the same conversation as in English
    assert_all_in(person, catalog, bundle)
    english = Catalog(bundle, DEFAULT_LANGUAGE)
    said = "\n\n".join(read_everything(person)[0])
    for key in ("welcome.ask", "screen.intro", "prep.hold_length", "closing.summary"):
        assert not english.key(key).search(said), f"the English {key} in a {language} chat"


# ------------------------------------------------------------------ 2. a red flag mid-hold
RED_FLAG = {
    "es": "no puedo controlar la orina desde esta mañana",
    "de": "seit heute morgen kann ich den Urin nicht mehr halten",
}
RED_FLAGS = [("es", RED_FLAG["es"]), ("es-MX", RED_FLAG["es"]), ("de", RED_FLAG["de"])]


@pytest.mark.parametrize(("language_code", "phrase"), RED_FLAGS)
async def test_red_flag_typed_mid_hold_in_the_language(
        api: BotApiStandin, bot: BotProcess, bundle: FlowBundle, triage: Triage,
        language_code: str, phrase: str) -> None:
    """The phrase is an emergency for the package's own triage (as the corpus labels such
    phrasings); typed mid-hold, the emergency message comes first, in the person's
    language with the emergency number, and the stretch does not carry on."""
    language = language_code.split("-")[0]
    found = triage.text(phrase, language)
    assert (found.action, found.tier) == (Action.REPORT, Tier.EMERGENCY), found
    assert any(case.section == "emergency" and found.sign in case.signs
               for case in bundle.corpora[language].cases)
    catalog = Catalog(bundle, language)
    sign = bundle.triage.signs[str(found.sign)]
    name = catalog.texts.get(sign.name)
    message = catalog.texts.get(sign.message, sign=name, sign_cap=name[:1].upper() + name[1:],
                                numbers=catalog.numbers)

    person = speaker(api, 3002, language_code)
    await screening(person, catalog)
    await step_key(person, catalog, "btn.hold_long", "ktc.title")
    hold = await step_key(person, catalog, "btn.in_position", "hold.stretch")
    assert f" {seconds(bundle, 'knee_to_chest', 'long')} " in hold.text
    await person.send(phrase)
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    urgent = await expect_key(person, catalog, sign.message, timeout=1.0)
    assert urgent is person.sent[person.mark]  # first, and alone
    assert loop.time() - sent_at < 1.0
    assert message in urgent.text
    assert bundle.numbers.defaults()[0].number in urgent.text  # 112
    person._act()
    await asyncio.sleep(0.8)  # 30 s x 0.01 = 0.3 s: the hold would have ended by now
    cues = [catalog.key(key) for key in STRETCH_CUES]
    assert [m.text for m in person.fresh if any(c.search(m.text) for c in cues)] == []
    # The country question that follows has country buttons: see test_countries_and_emergency_line.
    assert_all_in(person, catalog, bundle, buttons=False)


# ------------------------------------------------------------------ 3. /language
async def test_language_command_switches_and_sticks(api: BotApiStandin, bot: BotProcess,
                                                    bundle: FlowBundle) -> None:
    """/language offers every language by its own name; the choice wins over Telegram's
    language_code from then on, also after a restart, and a forged choice changes nothing."""
    english, german = Catalog(bundle, "en"), Catalog(bundle, "de")
    person = speaker(api, 3003, "en")
    await person.command("language")
    ask = await expect_key(person, english, "language.ask")
    buttons = {choice_of(b.get("callback_data")): str(b["text"]) for b in ask.buttons}
    assert buttons == {f"lang_{code}": name for code, name in OWN_NAMES.items()}
    german_data = next(str(b["callback_data"]) for b in ask.buttons if b["text"] == OWN_NAMES["de"])
    await person.click(OWN_NAMES["de"])
    await expect_key(person, german, "language.saved")
    # Their own command menu, in German, whatever their app's language.
    assert await chat_menu(api, 3003) == [german.texts.get(f"commands.{c}") for c in COMMANDS]
    switched = person.mark  # the chat began in English
    await person.command("start")
    await expect_key(person, german, "welcome.ask")

    assert await bot.stop() == 0
    await bot.start()
    await person.command("start")
    await expect_key(person, german, "welcome.ask")

    person._act()
    forged = await person.user.click_stale(  # the real button's payload, another language
        ask.message_id, german_data.removesuffix("lang_de") + "lang_xx")
    await person.user.wait_for_answer(forged)
    await api.wait_quiet(0.3)
    saved = [catalog.key("language.saved") for catalog in (english, german, Catalog(bundle, "es"))]
    assert [m.text for m in person.fresh if any(s.search(m.text) for s in saved)] == []
    await person.command("start")
    await expect_key(person, german, "welcome.ask")
    assert_all_in(person, german, bundle, since=switched)
    await person.command("delete")  # erasing their data drops their own menu too
    await expect_key(person, german, "delete.ask")
    await person.click(german.texts.get("delete.confirm"))
    await expect_key(person, german, "delete.done")
    menu_key = (json.dumps({"chat_id": 3003, "type": "chat"}, sort_keys=True), "")
    await api.wait_until(lambda: menu_key not in api.core.commands, 5.0)


# ------------------------------------------------------------------ 4. which language
@pytest.mark.parametrize(("language_code", "language"), [("es-MX", "es"), ("fr", "en")])
async def test_language_code_picks_the_language(api: BotApiStandin, bot: BotProcess,
                                                bundle: FlowBundle, language_code: str,
                                                language: str) -> None:
    """A regional code speaks its language (es-MX is Spanish); a language the bot doesn't
    speak gets English, the default."""
    catalog = Catalog(bundle, language)
    person = speaker(api, 3004, language_code)
    await screening(person, catalog)
    await step_key(person, catalog, "btn.hold_standard", "ktc.title")
    await api.wait_quiet(0.3)
    assert_all_in(person, catalog, bundle)


# ------------------------------------------------------------------ countries and numbers
@pytest.mark.parametrize("language", LANGUAGES)
async def test_countries_and_emergency_line_in_the_language(
        api: BotApiStandin, bot: BotProcess, bundle: FlowBundle, language: str) -> None:
    """The emergency message names where each default number works in the person's
    language, and the country question that follows offers the countries by their names
    in it (Babel's, as the package's own texts will)."""
    catalog = Catalog(bundle, language)
    names = babel.Locale.parse(language).territories
    person = speaker(api, 3005, language)
    await person.command("start")
    await expect_key(person, catalog, "welcome.ask")
    await person.send(RED_FLAG[language])
    urgent = await expect_key(person, catalog, "triage.message.emergency")
    wheres = re.findall(r"\(([^)]+)\)", numbers_line(bundle.numbers, bundle.texts(DEFAULT_LANGUAGE), None))
    assert wheres, "the English default line names where each number works"
    english = [where for where in wheres if where in urgent.text]
    ask = await expect_key(person, catalog, "country.ask")
    shown = {str(b["text"]) for b in ask.buttons}
    untranslated = sorted(c.name for c in bundle.numbers.countries()
                          if c.name in shown and names.get(c.code, c.name) != c.name)
    assert (english, untranslated) == ([], [])
    await person.click(names["ES"])
    saved = await expect_key(person, catalog, "country.saved")
    assert names["ES"] in saved.text


@pytest.mark.parametrize("language", LANGUAGES)
async def test_progress_numbers_in_the_language(api: BotApiStandin, bot: BotProcess,
                                                bundle: FlowBundle, language: str) -> None:
    """After a session rated 5 then 3, /progress writes the change of -2 with the
    language's decimal separator ("-2,0" in Spanish and German), and the streak of one day
    in the singular ("1 día", not "1 días")."""
    catalog = Catalog(bundle, language)
    person = speaker(api, 3006, language)
    await whole_session(person, catalog, bundle)
    await person.command("progress")
    summary = await expect_key(person, catalog, "progress.summary")
    separator = babel.numbers.get_decimal_symbol(language)
    assert f"2{separator}0" in summary.text and (separator == "." or "2.0" not in summary.text)
    assert catalog.texts.plural("progress.streak", 1) in summary.text
