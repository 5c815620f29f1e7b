"""The regular install: the project's wheel, pip-installed into a fresh virtual environment,
runs from a folder that is not the checkout, with its flow data read from site-packages.

The dev venv has an editable install that would hide a wheel without its data files, so
this builds the wheel from a copy of the sources and installs it into a new venv that
cannot see the dev venv's packages. Dependencies come from the package registry (pip's
cache makes a second run quick); the test skips, saying so, only if the registry cannot be
reached. The Dockerfile does the same ``pip install .``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "back_care_guide"
SOURCES = ("pyproject.toml", "README.md", PACKAGE)  # what setuptools needs to build the wheel
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

# pip's words when it cannot reach an index (as opposed to a real packaging error).
UNREACHABLE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name",
               "Name or service not known", "Network is unreachable", "ConnectTimeoutError",
               "Read timed out", "ProxyError", "Connection refused", "No route to host")
PIP_NETWORK = ("--timeout", "30", "--retries", "2")  # a dead network fails in seconds, not minutes

# Installed into the new venv only: a .pth line arms an audit hook that writes down every
# .yaml file the process opens, so the test can tell where the flow data really came from.
AUDIT_MODULE = '''
import atexit, os, sys

_log = os.environ.get("WHEEL_TEST_OPENED")
_seen = []


def _hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if path.endswith(".yaml"):
            _seen.append(os.path.realpath(path))


def _write():
    with open(_log, "w", encoding="utf-8") as out:
        out.write("\\n".join(_seen))


if _log:
    sys.addaudithook(_hook)
    atexit.register(_write)
'''


def pip(*args: str, cwd: Path) -> None:
    """Run pip from the dev venv or the new one; skip if the registry is out of reach."""
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=240)
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    offline = [line for line in output.splitlines() if any(mark in line for mark in UNREACHABLE)]
    if offline:
        pytest.skip(f"the package registry is unreachable, so the wheel can't be installed: "
                    f"{offline[0][:200]}")
    pytest.fail(f"{' '.join(args[:4])} ... failed ({done.returncode}):\n{output[-4000:]}")


def build_wheel(work: Path) -> Path:
    """The wheel, built from a copy of the sources (the checkout gets no build/ folder)."""
    src = work / "src"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=NOT_SOURCES)
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    dist = work / "dist"
    pip(sys.executable, "-m", "pip", "wheel", "--no-deps", *PIP_NETWORK, "-w", str(dist), str(src), cwd=work)
    (wheel,) = dist.glob("back_care_guide-*.whl")
    return wheel


def missing_from(wheel: Path) -> list[str]:
    """Files of the package in the checkout (code and data alike) that the wheel lacks."""
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    tree = ROOT / PACKAGE
    files = (p for p in tree.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return sorted(name for p in files if (name := p.relative_to(ROOT).as_posix()) not in packed)


def bot_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment for the installed bot: nothing points back at the checkout."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DATABASE_URL", "TELEGRAM_BOT_TOKEN")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "XDG_DATA_HOME": str(work / "xdg"), "TELEGRAM_BOT_TOKEN": "", **extra}


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    started = time.monotonic()
    wheel = build_wheel(tmp_path)
    built = time.monotonic()
    assert missing_from(wheel) == [], "the wheel lacks these files: add them to pyproject's package-data"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip(str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *PIP_NETWORK,
        str(wheel), cwd=tmp_path)
    installed = time.monotonic()
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    assert site.is_relative_to(env_dir)  # not the dev venv's site-packages
    (site / "_wheel_test_audit.py").write_text(AUDIT_MODULE, encoding="utf-8")
    (site / "_wheel_test_audit.pth").write_text("import _wheel_test_audit\n", encoding="utf-8")

    work = tmp_path / "elsewhere"  # not the checkout: nothing there to import or read
    work.mkdir()
    env = bot_env(tmp_path)

    where = subprocess.run([python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], cwd=work,
                           env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert Path(where.strip()).is_relative_to(site), where

    for command in ([str(env_dir / "bin" / "back-care-guide"), "check"],
                    [str(python), "-m", PACKAGE, "check"]):
        done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        assert done.stdout.startswith("OK: flow"), done.stdout

    database = tmp_path / "db" / "chat.db"
    opened = tmp_path / "opened.txt"
    chat_env = {**env, "DATABASE_URL": f"sqlite:///{database}", "WHEEL_TEST_OPENED": str(opened)}
    # The welcome, then "1" (I understand) and the first safety list; EOF ends the chat.
    done = subprocess.run([python, "-m", PACKAGE, "chat"], cwd=work, env=chat_env, input="1\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert f"Database: {database}" in done.stdout
    assert "Hi, I'm Back Care Guide" in done.stdout and "[1] I understand, let's start" in done.stdout
    assert "Safety check, 1 of 4" in done.stdout and "None of these" in done.stdout
    assert database.is_file()

    yaml_files = opened.read_text(encoding="utf-8").split()
    flows = (site / PACKAGE / "flows").resolve()
    assert any(Path(p).name == "lower_back.yaml" for p in yaml_files), yaml_files
    assert all(Path(p).is_relative_to(flows) for p in yaml_files), yaml_files
    assert not any(Path(p).is_relative_to(ROOT) for p in yaml_files), yaml_files
    assert list(work.iterdir()) == []  # nothing written where it was started
    done_at = time.monotonic()
    sys.stderr.write(f"wheel: built in {built - started:.1f} s, venv and install {installed - built:.1f} s, "
                     f"check and chat {done_at - installed:.1f} s\n")
