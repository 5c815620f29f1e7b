"""Turn a chat message into sentences of lower-case word tokens.

The same tokenizer reads the lexicon phrases, so a phrase written in the YAML and a
message typed by a user end up as comparable token sequences. Apostrophes, straight or
curly, are dropped rather than expanded: "don't" becomes "dont", the way many people
type it anyway, and the lexicon simply lists the apostrophe-less form.

Invisible characters that split a word (zero-width spaces and joiners, the soft hyphen,
a byte-order mark) are removed, and accents are dropped ("nu\u0301mb", "numb\u00e9" with a
stray accent): both are ways a red flag could slip past the lexicon unseen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

COMMA = ","

# Straight, curly and look-alike apostrophes: removed so that "can't" == "cant".
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc\u0060\u00b4\u2032]")
# Letters (any script), digit runs, and the punctuation that carries structure.
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[,.!?;\n]")
_SENTENCE_ENDS = frozenset(".!?;\n")
_QUESTION = "?"
# Zero-width space, non-joiner, joiner, word joiner, byte-order mark, soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


@dataclass(frozen=True, slots=True)
class Sentence:
    """Word tokens of one sentence (with ``COMMA`` kept as a token) and how it ended."""

    tokens: tuple[str, ...]
    question_mark: bool


def normalize(text: str) -> str:
    """Fold case and width; drop apostrophes, invisible characters and accents."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_INVISIBLE)
    return _APOSTROPHES.sub("", strip_accents(folded))


def strip_accents(text: str) -> str:
    """Decompose, drop combining marks, compose again: "nu\u0301mb" and "numb" match."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", kept)


def split_sentences(text: str) -> list[Sentence]:
    """Split a message into sentences; empty sentences are dropped."""
    sentences: list[Sentence] = []
    current: list[str] = []
    for token in _TOKEN.findall(normalize(text)):
        if token in _SENTENCE_ENDS:
            _close(sentences, current, question_mark=token == _QUESTION)
            current = []
        elif token == COMMA:
            if current and current[-1] != COMMA:
                current.append(token)
        else:
            current.append(token)
    _close(sentences, current, question_mark=False)
    return sentences


def phrase_tokens(phrase: str) -> tuple[str, ...]:
    """Tokens of one lexicon phrase: words and commas, no sentence punctuation."""
    return tuple(
        token for token in _TOKEN.findall(normalize(phrase)) if token not in _SENTENCE_ENDS
    )


def _close(sentences: list[Sentence], tokens: list[str], *, question_mark: bool) -> None:
    while tokens and tokens[-1] == COMMA:
        tokens.pop()
    if tokens:
        sentences.append(Sentence(tuple(tokens), question_mark))
    elif question_mark and sentences and not sentences[-1].question_mark:
        # "numb ??" or "numb. ?" : the question mark still belongs to what came before.
        sentences[-1] = Sentence(sentences[-1].tokens, True)
