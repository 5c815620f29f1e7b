"""Load YAML while remembering the line of every key, so errors can say `file:line`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class FlowError(Exception):
    """A problem in a flow, locale or safety file, located by file and line."""

    def __init__(self, file: Path | str, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        super().__init__(self.location() + ": " + message)

    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass
class Source:
    """Parsed YAML data plus the line (1-based) where each key path starts."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path_, message: str) -> FlowError:
        where = ".".join(str(p) for p in path)
        return FlowError(self.file, self.line(path), f"{where}: {message}" if where else message)


def load_source(file: Path) -> Source:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError(file, None, f"cannot read: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise FlowError(file, line, f"invalid YAML: {exc.problem}") from exc
    source = Source(file, None)
    if node is not None:
        source.data = _convert(node, (), source)
    return source


def _convert(node: yaml.Node, path: Path_, source: Source) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in result:
                raise FlowError(source.file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            child = (*path, key)
            source.lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, child, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), source) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
