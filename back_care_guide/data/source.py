"""Read a YAML file while remembering the line of every key, so errors can say ``file:line``.

The file is composed node by node (rather than read with ``safe_load``) to keep the lines,
and every mapping key must be a string: unquoted, YAML 1.1 reads ``NO`` (Norway) or ``no``
as ``false`` and ``000`` as ``0``, and such a key is rejected instead of silently misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from back_care_guide.data.errors import DataError

KeyPath = tuple[str | int, ...]
_NULL_TAG = "tag:yaml.org,2002:null"


def dotted(path: KeyPath) -> str:
    """``("states", "welcome", "choices", 0)`` -> ``"states.welcome.choices.0"``."""
    return ".".join(str(part) for part in path)


@dataclass
class Source:
    """Parsed YAML data plus the line (1-based) where each key path starts.

    The line of a mapping entry is its key's line; of a list item, the item's own line.
    """

    file: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: KeyPath, message: str) -> DataError:
        return DataError(self.file, self.line(path), dotted(path), message)


#: libyaml's parser when PyYAML was built with it (the wheels are): the same nodes and line
#: marks, several times faster, and the bot reads every data file at start.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_source(file: Path, *, plain_text: bool = False) -> Source:
    """Read ``file``; raise :class:`DataError` if it cannot be read, is not YAML or is empty.

    With ``plain_text`` every scalar but null is its text as written: the detector lexicon
    is words, where ``no``, ``on`` and ``7`` are words, not a boolean and a number.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(file, None, "", f"cannot read: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise DataError(file, line, "", f"invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise DataError(file, None, "", f"invalid YAML: {exc}") from exc
    if node is None:
        raise DataError(file, None, "", "the file is empty")
    source = Source(file, None)
    source.data = _Converter(source, plain_text).value(node, ())
    return source


@dataclass
class _Converter:
    source: Source
    plain_text: bool

    def value(self, node: yaml.Node, path: KeyPath) -> Any:
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                key = self.scalar(key_node)
                if not isinstance(key, str):
                    raise DataError(self.source.file, line, dotted((*path, str(key_node.value))),
                                    f"key is read as {type(key).__name__} {key!r}: quote it")
                if key in result:
                    raise DataError(self.source.file, line, dotted((*path, key)), "duplicate key")
                child = (*path, key)
                self.source.lines[child] = line
                result[key] = self.value(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node: yaml.Node) -> Any:
        if self.plain_text and isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL_TAG else str(node.value)
        loader = yaml.SafeLoader("")
        try:
            return loader.construct_object(node, deep=True)
        finally:
            loader.dispose()
