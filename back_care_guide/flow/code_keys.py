"""The locale keys the bot's code uses, read from the code itself, not from a hand-kept list.

``check`` compares them with every locale both ways (:mod:`back_care_guide.flow.validate`), so
a key the code asks for is never missing from a language, and a key no one uses is noticed.

What counts as a key: a string literal in the package's source whose first part is a section
of the texts (``"system.store_down"``: ``system`` is a section). An f-string that starts with
such a section and a dot (``f"commands.{name}"``) uses every key under that prefix.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_PREFIX = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.")
_FILE_NAME = re.compile(r".*\.(png|jpe?g|svg|yaml|yml|json|db|py|md|txt|csv|log|html)")


@dataclass(frozen=True)
class CodeKey:
    """A key (or, ending in ".", a prefix of keys) and where the code uses it."""

    key: str
    file: Path
    line: int

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith(".")

    def covers(self, key: str) -> bool:
        return key.startswith(self.key) if self.is_prefix else key == self.key


def keys_in_code(sections: Collection[str], package: Path = PACKAGE) -> list[CodeKey]:
    """Every key the package's code uses, in file and line order."""
    found: list[CodeKey] = []
    for path in sorted(package.rglob("*.py")):
        found.extend(_keys_in(path, frozenset(sections)))
    return found


def _keys_in(path: Path, sections: frozenset[str]) -> Iterator[CodeKey]:
    for value, line in _strings(path):
        pattern = _PREFIX if value.endswith(".") else _KEY
        if (pattern.fullmatch(value) and value.split(".", 1)[0] in sections
                and not _FILE_NAME.fullmatch(value)):
            yield CodeKey(value, path, line)


@cache
def _strings(path: Path) -> tuple[tuple[str, int], ...]:
    """The file's string literals, and the literal start of each f-string (its prefix)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[str, int]] = []
    parts_of_fstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts_of_fstrings.update(id(part) for part in node.values)
            first = node.values[0] if node.values else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and len(node.values) > 1:
                found.append((first.value, node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in parts_of_fstrings):
            found.append((node.value, node.lineno))
    return tuple(sorted(found, key=lambda item: item[1]))
