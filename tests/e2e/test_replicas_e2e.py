"""Three replicas of the real bot in webhook mode, on one PostgreSQL database, behind a
round-robin proxy (tests/e2e/roundrobin.py, like nginx's default upstream).

Each replica is ``python -m back_care_guide run`` with ``DATABASE_URL`` the same fresh
PostgreSQL database (tests/conftest_pg.py; the tests are skipped without PostgreSQL binaries),
the same ``WEBHOOK_URL`` (the proxy: the stand-in delivers every update there) and secret,
and a port of its own. Consecutive updates of one person land on different replicas, so
what these tests prove holds only if the replicas share everything through the database:

* ``test_thirty_whole_sessions_at_once``: 30 people each go through a whole session at the
  same time; each gets every step once ("Well done" exactly once, every hold and release
  exactly as often as the session has them), nothing goes to anyone else's chat, and the
  proxy spread the updates over all three replicas.
* ``test_sigkill_mid_hold_timers_are_taken_over``: 9 people in a 5-second hold; one replica
  (the one that started most of those holds) is SIGKILLed; every hold still ends ("Slowly
  return your leg") within its due time + 3 s, exactly once, nothing after it twice, and
  the people carry on with the survivors.
* ``test_one_update_posted_to_two_replicas_is_acted_on_once``: the same update (same
  ``update_id``) posted to two replicas' own ports at once, like a Telegram retry racing
  the first delivery, is answered once; posting it to the third replica later changes nothing.
* ``test_reminders_for_500_users_across_three_replicas``: 500 reminders already due when the
  replicas start are each delivered exactly once within a bounded time, and the three
  together keep to REMINDER_RATE (it is shared: each replica sends its third) without
  wasting much of it (at least 60% of it is used).

``test_round_robin_proxy`` checks the proxy itself (no bot, no PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.e2e.conftest import BotProcess, Person, full_session, screening, seed_due_reminders
from tests.e2e.roundrobin import RoundRobinProxy
from tests.standin import BotApiStandin
from tests.standin.models import StoredMessage

SECRET = "replicas-webhook-secret_0123"
WEBHOOK_PATH = "/telegram"
REPLICAS = 3
HEALTH_TIMEOUT = 30.0  # seconds for a started replica to answer /healthz with 200

WELCOME = "Shall we start?"
KNEE_TO_CHEST = "knee-to-chest"
HOLD = "Hold for 20 seconds"
RELEASE = "Slowly return your leg"
RIGHT_KNEE = "right knee"
TWIST_HOLD = "Hold the gentle twist for 25 seconds"
TWIST_RELEASE = "back to the centre"
WELL_DONE = "Well done"
NUDGE = "Time for your gentle back routine"  # remind.nudge in flows/locales/en.yaml

JSONDict = dict[str, Any]


# ------------------------------------------------------------------ helpers


def versions(message: StoredMessage) -> list[str]:
    """Every text the message has shown, oldest first (edits included)."""
    return [str(data.get("text", data.get("caption", ""))) for data in [*message.history, message.data]]


def shown(messages: Iterable[StoredMessage], text: str) -> int:
    """How many of ``messages`` ever showed ``text`` (a message edited into it counts once)."""
    return sum(any(text in version for version in versions(m)) for m in messages)


NOT_MESSAGES = frozenset({"callback_answer", "chat_action", "delete"})  # event kinds that show no text


def event_text(data: JSONDict) -> str:
    """The text or caption a send or edit event left the message with."""
    return str(data.get("text") or data.get("caption") or "")


def first_shown(api: BotApiStandin, chat_id: int, text: str) -> float | None:
    """When (stand-in monotonic clock) the bot first sent or edited ``text`` into the chat."""
    for event in api.events(chat_id):
        if event.kind not in NOT_MESSAGES and text in event_text(event.data):
            return event.time
    return None


def log_problems(log: str) -> list[str]:
    """Error lines and tracebacks in a replica's log."""
    return [line for line in log.splitlines()
            if " ERROR " in line or " CRITICAL " in line or "Traceback" in line]


def chats_written_to(api: BotApiStandin) -> set[int]:
    return {event.chat_id for event in api.events() if event.kind not in NOT_MESSAGES}


async def wait_healthy(port: int, timeout: float = HEALTH_TIMEOUT) -> None:
    """Until ``GET /healthz`` on the replica's own port answers 200 (it has set the webhook)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
                    last = f"status {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.1)
    raise AssertionError(f"the replica on port {port} was not healthy within {timeout} s ({last})")


@dataclass
class Cluster:
    """Three replicas and the proxy in front of them (see :func:`cluster`)."""

    api: BotApiStandin
    proxy: RoundRobinProxy
    ports: list[int]
    replicas: list[BotProcess] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)  # indexes of replicas SIGKILLed on purpose

    def upstream(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def replica_url(self, index: int) -> str:
        """Replica ``index``'s own webhook URL (not through the proxy)."""
        return self.upstream(index) + WEBHOOK_PATH

    async def kill(self, index: int) -> int:
        self.killed.add(index)
        return await self.replicas[index].stop(signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(f"--- replica {i} (port {self.ports[i]}){' (killed)' if i in self.killed else ''}:\n"
                         f"{r.log[-6000:]}" for i, r in enumerate(self.replicas))

    def problems(self) -> dict[int, list[str]]:
        """Error lines of the replicas that were not killed."""
        found = {i: log_problems(r.log) for i, r in enumerate(self.replicas) if i not in self.killed}
        return {i: lines for i, lines in found.items() if lines}


@contextlib.asynccontextmanager
async def cluster(api: BotApiStandin, tmp_path: Path, database_url: str,
                  port_factory: Callable[[], int], env: dict[str, str] | None = None,
                  ) -> AsyncIterator[Cluster]:
    """The proxy on a free port, then three replicas started one after the other, each healthy.

    On the way out every replica still running gets SIGTERM (BotProcess kills it after 15 s);
    if the body succeeded, each must have exited with 0 and logged no error.
    """
    ports = [port_factory() for _ in range(REPLICAS)]
    async with RoundRobinProxy([f"http://127.0.0.1:{p}" for p in ports]) as proxy:
        group = Cluster(api, proxy, ports)
        codes: dict[int, int] = {}
        try:
            for i, port in enumerate(ports):
                replica = BotProcess(api, tmp_path / f"replica{i}.db", {
                    "DATABASE_URL": database_url,
                    "WEBHOOK_URL": proxy.url(WEBHOOK_PATH), "WEBHOOK_SECRET": SECRET,
                    "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_PORT": str(port),
                    **(env or {})})
                group.replicas.append(replica)
                await replica.start()
                await wait_healthy(port)
            yield group
        finally:
            running = [(i, r) for i, r in enumerate(group.replicas)
                       if r.process is not None and i not in group.killed]
            results = await asyncio.gather(*(r.stop() for _, r in running), return_exceptions=True)
            for (i, _), result in zip(running, results, strict=True):
                codes[i] = result if isinstance(result, int) else -1
        # reached only when the body succeeded
        assert all(code == 0 for code in codes.values()), f"exit codes {codes}\n{group.logs()}"
        assert not group.problems(), f"{group.problems()}\n{group.logs()}"


# ------------------------------------------------------------------ the proxy alone


async def test_round_robin_proxy(unused_tcp_port_factory: Callable[[], int]) -> None:
    """Turns, a refused upstream skipped, headers/path/body/status passed on, 502 when none answer."""
    seen: list[tuple[str, str, str, bytes]] = []

    def upstream(name: str) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            seen.append((name, request.path_qs, secret, body))
            status = 200 if secret == SECRET else 403
            return web.json_response({"from": name}, status=status, headers={"X-Upstream": name})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    runners: list[web.AppRunner] = []
    try:
        ports = []
        for name in ("a", "b"):
            runner = web.AppRunner(upstream(name), access_log=None)
            await runner.setup()
            runners.append(runner)
            port = unused_tcp_port_factory()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ports.append(port)
        dead = unused_tcp_port_factory()  # nothing listens there: connection refused
        a, b, gone = (f"http://127.0.0.1:{p}" for p in (*ports, dead))
        async with RoundRobinProxy([a, gone, b], connect_timeout=2, read_timeout=5) as proxy, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            answered = []
            for n in range(6):
                async with session.post(proxy.url(f"/telegram?n={n}"), data=f"body{n}".encode(),
                                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                    assert response.status == 200
                    assert response.headers["X-Upstream"] == (await response.json())["from"]
                    answered.append(response.headers["X-Upstream"])
            # turns a, gone->b, b, a, gone->b, b
            assert answered == ["a", "b", "b", "a", "b", "b"]
            assert proxy.counts == {a: 2, gone: 0, b: 4}
            assert proxy.failures == {a: 0, gone: 2, b: 0}
            assert [(path, secret, body) for _, path, secret, body in seen] == [
                (f"/telegram?n={n}", SECRET, f"body{n}".encode()) for n in range(6)]
            async with session.get(proxy.url("/healthz"), headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
                                   ) as response:
                assert response.status == 403  # the upstream's answer, passed on
        async with RoundRobinProxy([gone], connect_timeout=1, read_timeout=2) as proxy, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.post(proxy.url("/telegram"), data=b"{}") as response:
                assert response.status == 502
            assert proxy.bad_gateway == 1 and proxy.failures == {gone: 1}
    finally:
        for runner in runners:
            await runner.cleanup()


# ------------------------------------------------------------------ 1. 30 whole sessions


async def test_thirty_whole_sessions_at_once(api: BotApiStandin, tmp_path: Path, fresh_postgres_url: str,
                                             unused_tcp_port_factory: Callable[[], int]) -> None:
    people = [Person(api, uid) for uid in range(31001, 31031)]
    async with cluster(api, tmp_path, fresh_postgres_url, unused_tcp_port_factory) as group:
        try:
            async with asyncio.timeout(240):
                await asyncio.gather(*(full_session(person) for person in people))
            await api.wait_quiet(1.0, timeout=20)  # late duplicates, if any, arrive meanwhile
        except BaseException:
            print(group.logs())
            raise
        expected = {WELCOME: 1, HOLD: 2, RELEASE: 2, TWIST_HOLD: 2, TWIST_RELEASE: 2, WELL_DONE: 1}
        wrong = {}
        for person in people:
            counts = {text: shown(person.sent, text) for text in expected}
            if counts != expected:
                wrong[person.id] = counts
        assert not wrong, f"{wrong}\n{group.logs()}"
        assert chats_written_to(api) == {person.id for person in people}
        total = sum(group.proxy.counts.values())
        assert min(group.proxy.counts.values()) >= total // 4, group.proxy.counts  # about a third each
        assert group.proxy.bad_gateway == 0


# ------------------------------------------------------------------ 2. SIGKILL mid-hold


KILL_SCALE = 0.25
HOLD_SECONDS = 20 * KILL_SCALE  # the knee-to-chest hold, scaled: 5 s
TAKEOVER_SLACK = 3.0  # the release may come this much after the hold's due time


def clicked_by(proxy: RoundRobinProxy, start: int) -> dict[int, str]:
    """Which upstream answered each person's callback-query update since ``proxy.forwarded[start]``."""
    found: dict[int, str] = {}
    for forwarded in proxy.forwarded[start:]:
        try:
            update = json.loads(forwarded.body)
        except ValueError:
            continue
        query = update.get("callback_query") if isinstance(update, dict) else None
        if isinstance(query, dict) and forwarded.status == 200:
            found[int(query["from"]["id"])] = forwarded.upstream
    return found


async def test_sigkill_mid_hold_timers_are_taken_over(
        api: BotApiStandin, tmp_path: Path, fresh_postgres_url: str,
        unused_tcp_port_factory: Callable[[], int]) -> None:
    people = [Person(api, uid) for uid in range(32001, 32010)]
    env = {"FLOW_TIME_SCALE": str(KILL_SCALE)}
    async with cluster(api, tmp_path, fresh_postgres_url, unused_tcp_port_factory, env) as group:
        try:
            async with asyncio.timeout(120):
                await asyncio.gather(*(screening(p) for p in people))
                await asyncio.gather(*(p.step("Standard", KNEE_TO_CHEST) for p in people))
            mark = len(group.proxy.forwarded)
            async with asyncio.timeout(30):
                await asyncio.gather(*(p.step("in position", HOLD) for p in people))
            holders = clicked_by(group.proxy, mark)
            # the replica that started the most holds dies now, its timers in memory with it
            busiest = Counter(holders.values()).most_common(1)[0][0]
            victim = group.ports.index(int(busiest.rsplit(":", 1)[1]))
            held_by_victim = sorted(uid for uid, upstream in holders.items() if upstream == busiest)
            killed_at = time.monotonic()
            await group.kill(victim)
            started = {p.id: first_shown(api, p.id, HOLD) for p in people}
            assert all(t is not None for t in started.values()), started
            assert killed_at < min(t for t in started.values() if t is not None) + HOLD_SECONDS, \
                "the kill came after a hold had ended: the test proves nothing"
            latest_due = max(t for t in started.values() if t is not None) + HOLD_SECONDS
            with contextlib.suppress(AssertionError):  # judged per person below
                await api.wait_until(lambda: all(shown(p.sent, RELEASE) for p in people),
                                     timeout=max(1.0, latest_due + TAKEOVER_SLACK + 2.0 - time.monotonic()))
            await api.wait_quiet(1.0, timeout=20)  # duplicates, if any, arrive meanwhile
        except BaseException:
            print(group.logs())
            raise
        late: dict[int, str] = {}
        after_due: dict[int, float | None] = {}
        for p in people:
            begun, released = started[p.id], first_shown(api, p.id, RELEASE)
            assert begun is not None
            after_due[p.id] = None if released is None else round(released - begun - HOLD_SECONDS, 2)
            if released is None:
                late[p.id] = "never released"
            elif released > begun + HOLD_SECONDS + TAKEOVER_SLACK:
                late[p.id] = f"released {released - begun - HOLD_SECONDS:.2f} s after its due time"
        print(f"replica {victim} killed {killed_at - min(t for t in started.values() if t):.2f} s into "
              f"the first hold, holding {held_by_victim}; releases after their due time (s): {after_due}")
        assert not late, (f"{late} (holds on the killed replica {victim}: {held_by_victim})\n"
                          f"{group.logs()}")
        for p in people:
            assert shown(p.sent, RELEASE) == 1, (p.id, p.texts)
            assert shown(p.sent, HOLD) == 1, (p.id, p.texts)
            hold_id = min(m.message_id for m in p.sent if any(HOLD in v for v in versions(m)))
            since_hold = [m.text for m in p.sent if m.message_id >= hold_id]
            assert len(since_hold) == len(set(since_hold)), (p.id, since_hold)  # nothing twice
        assert held_by_victim, "the killed replica had none of the holds"
        # the people carry on with the survivors (the dead one is skipped by the proxy)
        async with asyncio.timeout(60):
            await asyncio.gather(*(p.step("No pain", RIGHT_KNEE) for p in people))


# ------------------------------------------------------------------ 3. one update, two replicas


def start_update(update_id: int, user_id: int) -> JSONDict:
    """``/start`` from ``user_id`` as Telegram would deliver it."""
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": user_id, "type": "private",
                                                            "first_name": f"User{user_id}"},
        "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "en"},
        "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}


async def test_one_update_posted_to_two_replicas_is_acted_on_once(
        api: BotApiStandin, tmp_path: Path, fresh_postgres_url: str,
        unused_tcp_port_factory: Callable[[], int]) -> None:
    person = Person(api, 33001)  # known to the stand-in, never seen by the bot
    update = start_update(900_000_001, person.id)
    async with cluster(api, tmp_path, fresh_postgres_url, unused_tcp_port_factory) as group:
        try:
            statuses = await asyncio.gather(api.post_update(group.replica_url(0), update, secret=SECRET),
                                            api.post_update(group.replica_url(1), update, secret=SECRET))
            assert list(statuses) == [200, 200], statuses
            await person.expect(WELCOME, timeout=15)
            await api.wait_quiet(1.0, timeout=20)
            assert shown(person.sent, WELCOME) == 1, person.texts
            events = len(api.events(person.id))
            assert await api.post_update(group.replica_url(2), update, secret=SECRET) == 200
            await asyncio.sleep(1.0)
            await api.wait_quiet(1.0, timeout=20)
        except BaseException:
            print(group.logs())
            raise
        assert shown(person.sent, WELCOME) == 1, person.texts
        assert len(api.events(person.id)) == events, [e.method for e in api.events(person.id)[events:]]


# ------------------------------------------------------------------ 4. 500 reminders


REMINDED = list(range(40001, 40501))
REMINDER_RATE = 25.0  # the default REMINDER_RATE, per second, shared by the replicas
REMINDERS_WITHIN = 60.0  # seconds from the first replica's start to the last reminder
MIN_SHARE_USED = 0.6  # the three together send at least this part of REMINDER_RATE


def nudge_times(api: BotApiStandin) -> list[tuple[float, int]]:
    """(time, chat) of every reminder the stand-in received, in order."""
    return [(event.time, event.chat_id) for event in api.events()
            if event.kind not in NOT_MESSAGES and event.kind != "edit" and NUDGE in event_text(event.data)]


async def test_reminders_for_500_users_across_three_replicas(
        api: BotApiStandin, tmp_path: Path, fresh_postgres_url: str,
        unused_tcp_port_factory: Callable[[], int]) -> None:
    for uid in REMINDED:
        api.add_user(uid, f"User{uid}")
    await seed_due_reminders(fresh_postgres_url, REMINDED, ago=5)
    env = {"TELEGRAM_MAX_RATE": "30"}  # production defaults for the send budget and REMINDER_RATE
    begun = time.monotonic()
    async with cluster(api, tmp_path, fresh_postgres_url, unused_tcp_port_factory, env) as group:
        try:
            with contextlib.suppress(AssertionError):  # judged below, with what did arrive
                await api.wait_until(lambda: len({c for _, c in nudge_times(api)}) >= len(REMINDED),
                                     timeout=max(1.0, begun + REMINDERS_WITHIN - time.monotonic()))
            await api.wait_quiet(2.0, timeout=30)  # late duplicates, if any, arrive meanwhile
        except BaseException:
            print(group.logs())
            raise
        sent = nudge_times(api)
        if sent:  # shown with -s, or with a failure
            print(f"{len(sent)} reminders from {sent[0][0] - begun:.1f} s to {sent[-1][0] - begun:.1f} s "
                  f"after the first replica was started; per second: "
                  f"{sorted(Counter(int(t - begun) for t, _ in sent).items())}")
        per_user = Counter(chat for _, chat in sent)
        missing = [uid for uid in REMINDED if per_user[uid] == 0]
        twice = {uid: n for uid, n in per_user.items() if n > 1}
        assert not missing and not twice, (
            f"{len(missing)} users got no reminder ({missing[:10]}...), {len(twice)} got more than "
            f"one ({dict(list(twice.items())[:10])})\n{group.logs()}")
        assert set(per_user) == set(REMINDED)
        last = max(t for t, _ in sent)
        assert last - begun <= REMINDERS_WITHIN, f"the last reminder {last - begun:.1f} s after the start"
        # the replicas share REMINDER_RATE: together no faster than one replica alone would be,
        # and not much slower either (each replica's share is REMINDER_RATE / 3)
        times = sorted(t for t, _ in sent)
        rate = (len(times) - 1) / (times[-1] - times[0])
        assert rate <= REMINDER_RATE * 1.25, f"{rate:.1f} reminders/s from three replicas together"
        rounds = [line.split(": ", 1)[-1] for r in group.replicas for line in r.log.splitlines()
                  if "reminders: sent=" in line]
        assert rate >= REMINDER_RATE * MIN_SHARE_USED, (
            f"{rate:.1f} reminders/s from three replicas together, under {MIN_SHARE_USED:.0%} of "
            f"REMINDER_RATE={REMINDER_RATE:g}; their rounds: {rounds}")
