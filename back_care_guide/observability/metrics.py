"""The bot's Prometheus metrics, in a registry of their own.

Every :class:`Metrics` has its own ``CollectorRegistry`` instead of prometheus_client's global
one: the global registry refuses a second metric of the same name, so two applications in one
process (the tests build many) would clash, and each would count the other's traffic. The
application builds one and hands it to the pieces that count; a piece built without one (a
unit test, the terminal chat) counts into a private one nobody reads.

Labels are small fixed sets (kinds, methods, outcomes, lanes, tiers): never a chat id, a user
id or any text, so the exposition says how the bot is doing and nothing about anyone.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds. Updates: most are answered in milliseconds; seconds mean a queue or a slow store.
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Send queue: a conversation's next message may wait about a second (one a second per chat).
SEND_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Timers: milliseconds on a healthy loop; minutes for a hold that ended while the bot was down.
TIMER_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0)
API_METHOD = re.compile(r"[A-Za-z]{1,64}")  # Bot API method names; anything else is "other"


def api_outcome(status: int | None) -> str:
    """ok, 429, 403, 5xx, other (any other status), or network (no answer at all)."""
    if status is None:
        return "network"
    if 200 <= status < 300:
        return "ok"
    if status in (429, 403):
        return str(status)
    return "5xx" if 500 <= status < 600 else "other"


def api_method(url: str) -> str:
    """The Bot API method a request URL calls (its last path segment; the token is before it)."""
    method = url.rstrip("/").rsplit("/", 1)[-1]
    return method if API_METHOD.fullmatch(method) else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.updates = Counter(
            "backcare_updates", "Telegram updates handled, by kind", ["kind"], registry=registry)
        self.update_seconds = Histogram(
            "backcare_update_seconds", "Time from taking an update to having handled it "
            "(its chat's earlier updates and the send queue included), by kind", ["kind"],
            buckets=UPDATE_BUCKETS, registry=registry)
        self.api_calls = Counter(
            "backcare_bot_api_calls", "Bot API requests, by method and outcome "
            "(ok, 429, 403, 5xx, other, network)", ["method", "outcome"], registry=registry)
        self.send_queue_depth = Gauge(
            "backcare_send_queue_depth", "Bot API calls waiting in the send scheduler, by lane",
            ["lane"], registry=registry)
        self.send_wait_seconds = Histogram(
            "backcare_send_wait_seconds", "Time a Bot API call waited in the send scheduler "
            "for its turn, by lane", ["lane"], buckets=SEND_WAIT_BUCKETS, registry=registry)
        self.sends_dropped = Counter(
            "backcare_sends_dropped", "Calls the send scheduler gave up, by reason", ["reason"],
            registry=registry)
        self.timer_lateness_seconds = Histogram(
            "backcare_timer_lateness_seconds", "How long after its due time a flow timer fired",
            buckets=TIMER_BUCKETS, registry=registry)
        self.active_sessions = Gauge(
            "backcare_active_sessions", "Conversations held in memory (active within "
            "IDLE_EVICT_SECONDS)", registry=registry)
        self.reminders = Counter(
            "backcare_reminders", "Reminders due, by result (sent, skipped, gone)", ["result"],
            registry=registry)
        self.safety_outcomes = Counter(
            "backcare_safety_outcomes", "Safety outcomes recorded, by tier and kind "
            "(reported, corrected, cleared)", ["tier", "kind"], registry=registry)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
