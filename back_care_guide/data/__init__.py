"""The data files under ``flows/``: where they are, how they are read, and their one error.

Every file is read by :func:`load` (YAML with the line of every key) and validated against
a pydantic model; every problem, from a YAML syntax error to a broken cross-reference,
is a :class:`DataError` that reads ``file:line: key: message``.
"""

from back_care_guide.data.errors import DataError
from back_care_guide.data.location import flows_dir
from back_care_guide.data.schema import Loaded, StrictModel, load, parse
from back_care_guide.data.source import KeyPath, Source, load_source

__all__ = ["DataError", "KeyPath", "Loaded", "Source", "StrictModel", "flows_dir", "load",
           "load_source", "parse"]
