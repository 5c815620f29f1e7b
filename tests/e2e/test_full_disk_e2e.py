"""A real full filesystem under the bot's SQLite file: a red flag mid-hold still gets urgent
care, the person is told once that nothing is saved, and the state is written once space is
back (verified across a SIGKILL and a restart)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EMERGENCY, URGENT, BotProcess, Person, screening
from tests.standin import BotApiStandin
from tests.standin.recorder import WaitTimeout

SCALE = 0.2  # the longer knee-to-chest hold (30 s) lasts 6 s
HOLD_SECONDS = 30 * SCALE
ENV = {"FLOW_TIME_SCALE": str(SCALE)}
RED_FLAG = "my leg has gone numb all the way down to my foot"
STORE_DOWN = "can't save your progress"
APOLOGY = "something went wrong"
HOLD_MESSAGES = ("Halfway there", "Slowly return your leg", "Any sharp pain", "Hold for")
RETRY_WITHIN = 8.0  # the runtime retries refused writes every ~2 s


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A freshly mounted tmpfs of ``size``; skips the test where mounting isn't allowed."""
    where.mkdir()
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount here")
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=30, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield where
    finally:
        done = subprocess.run(["umount", str(where)], capture_output=True, timeout=30, check=False)
        if done.returncode != 0:  # still busy: detach it now, it goes when the last user does
            subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30, check=False)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem refuses (ENOSPC); returns the bytes written."""
    written = 0
    with path.open("wb", buffering=0) as filler:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            block = b"\0" * chunk
            while True:
                try:
                    filler.write(block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                written += chunk
    return written


def store_failures(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR " in line and "store write failed" in line]


async def test_red_flag_on_a_full_disk_gets_urgent_care_and_is_saved_once_space_is_back(
        api: BotApiStandin, tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        db = disk / "bot.db"
        filler = disk / "filler"
        first = BotProcess(api, db, ENV)
        first.log_file = tmp_path / "bot.log"  # the log must not need the full disk
        restarted: BotProcess | None = None
        try:
            await first.start()
            person = Person(api, 1001)
            await screening(person)
            await person.step("Longer", "knee-to-chest")
            await person.step("in position", "Hold for 30 seconds")
            hold_began = time.monotonic()

            filled = fill(filler)
            assert os.statvfs(disk).f_bavail == 0, "the disk is not full"
            await person.send(RED_FLAG)
            urgent = await person.expect(URGENT)
            store_down = await person.expect(STORE_DOWN)
            await asyncio.sleep(max(0.0, hold_began + HOLD_SECONDS + 1.0 - time.monotonic()))
            await api.wait_quiet(0.5)
            after = person.sent[person.mark:]
            texts = [m.text for m in after]
            assert after[0] is urgent, texts  # the advice comes first
            assert urgent.text.startswith((URGENT, EMERGENCY))
            assert "numbness or tingling travelling down a leg" in urgent.text
            assert sum(STORE_DOWN in t for t in texts) == 1, texts
            assert after.index(store_down) > 0 and not store_down.reply_markup, store_down.data
            assert not any(APOLOGY in t.casefold() for t in texts), texts
            hold_traces = [t for t in texts if any(w in t for w in HOLD_MESSAGES)]
            assert hold_traces == [], "the hold went on after the urgent message"

            await person.command("help")  # still full: answered, and not told a second time
            await person.expect("/start")
            await api.wait_quiet(0.5)
            assert not any(STORE_DOWN in t for t in person.texts[person.mark:])
            assert first.process is not None and first.process.returncode is None
            log = first.log
            failures = store_failures(log)
            assert len(failures) == 1, log
            assert "OperationalError" in failures[0] and "database or disk is full" in failures[0]
            assert "Traceback" not in log, log

            filler.unlink()  # space again: the next retry writes the state
            freed = time.monotonic()
            with contextlib.suppress(WaitTimeout):  # the restart below is what counts
                await api.wait_until(lambda: "store works again" in first.log, RETRY_WITHIN)
            saved_after = time.monotonic() - freed
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            assert "store works again" in first.log, first.log
            assert len(store_failures(first.log)) == 1, first.log

            restarted = BotProcess(api, db, ENV)
            restarted.log_file = tmp_path / "restarted.log"
            await restarted.start()
            await person.command("start")
            reminder = await person.expect("you told me about")
            assert "numbness or tingling travelling down a leg" in reminder.text
            await api.wait_quiet(0.5)
            assert not any("Shall we start?" in m.text for m in person.sent[person.mark:])
            assert await restarted.stop() == 0, restarted.log
            assert " ERROR bot." not in restarted.log and "Traceback" not in restarted.log, restarted.log
            sys.stderr.write(f"\nfilled {filled} bytes; the state was written {saved_after:.2f}s "
                             "after the space came back\n")
        finally:
            for process in (first, restarted):  # nothing may keep the mount busy
                if process is not None and process.process is not None:
                    await process.stop(signal.SIGKILL)
