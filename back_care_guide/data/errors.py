"""The one error type for the data files under ``flows/``."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """A problem in a data file, located by file, line and key: ``file:line: key: message``.

    ``line`` is ``None`` when there is no line to point at (a missing file or folder) and
    ``key`` is empty when the problem is about the file as a whole; both are then left out.
    """

    def __init__(self, file: Path | str, line: int | None, key: str, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
