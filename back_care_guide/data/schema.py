"""Validate a :class:`Source` against a pydantic model; errors point at the offending key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from back_care_guide.data.errors import DataError
from back_care_guide.data.source import KeyPath, Source, dotted, load_source

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class StrictModel(BaseModel):
    """The base of every data schema: a misspelt key is an error, not an ignored default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A validated value and the source it came from (for errors found later on)."""

    value: T
    source: Source


def load(file: Path, schema: type[M], *, plain_text: bool = False) -> Loaded[M]:
    """Read ``file`` (see :func:`load_source`) and validate it against ``schema``."""
    source = load_source(file, plain_text=plain_text)
    return Loaded(parse(source, schema), source)


def parse(source: Source, schema: type[M]) -> M:
    """Validate ``source`` against ``schema``; the first error names file, line and key.

    An unknown key goes first: a misspelt key is also a missing one, and its own line is
    where the typo is.
    """
    try:
        return schema.model_validate(source.data)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise _located(source, first) from None


def _located(source: Source, error: ErrorDetails) -> DataError:
    """Map pydantic's error location to the data's key path.

    Pydantic's ``loc`` also holds entries that are no key of the data (the member of a
    union that was tried, ``[key]`` for a mapping key): only the entries found by walking
    the data are kept. A missing key is named, and located at its parent.
    """
    path: list[str | int] = []
    node: Any = source.data
    for part in error["loc"]:
        if part == "[key]":
            break
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
            path.append(part)
    found: KeyPath = tuple(path)
    kind = error["type"]
    if kind == "missing":
        return DataError(source.file, source.line(found), dotted((*found, error["loc"][-1])),
                         "required key is missing")
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind in ("value_error", "assertion_error"):
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"]
    return source.error(found, message)
