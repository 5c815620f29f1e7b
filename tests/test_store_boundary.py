"""All SQL lives in ``back_care_guide/store/``: no other module imports a database driver or
holds an SQL statement, so a second backend (PostgreSQL) is added there and nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "back_care_guide"
STORE = PACKAGE / "store"
DRIVERS = {"sqlite3", "aiosqlite", "asyncpg", "psycopg", "psycopg2", "sqlalchemy"}
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+"
                 r"(TABLE|INDEX)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX)|PRAGMA\s+\w+|BEGIN|COMMIT|ROLLBACK)\b",
                 re.DOTALL)  # upper case, as every statement of the store is written


def modules_outside_the_store() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if STORE not in path.parents]


def test_no_database_driver_outside_the_store() -> None:
    found = []
    for path in modules_outside_the_store():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}" for name in names
                      if name.split(".")[0] in DRIVERS]
    assert found == []


def test_no_sql_outside_the_store() -> None:
    """No string (docstrings aside) that reads as an SQL statement."""
    found = []
    for path in modules_outside_the_store():
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and SQL.search(node.value)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_check_sees_sql_where_there_is_some() -> None:
    """The two checks above do look: the store's own modules fail them."""
    sql_modules = [p for p in STORE.rglob("*.py") if SQL.search(p.read_text())]
    assert STORE / "sqlite" / "repositories.py" in sql_modules
    assert "import sqlite3" in (STORE / "sqlite" / "store.py").read_text()
