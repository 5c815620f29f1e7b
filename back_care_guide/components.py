"""Builds the transport-independent pieces every adapter shares."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from back_care_guide.account import Services
from back_care_guide.engine.engine import Engine
from back_care_guide.engine.runtime import Runtime, Transport
from back_care_guide.flow.loader import FlowBundle, load_bundle
from back_care_guide.observability.metrics import Metrics
from back_care_guide.safety.detection import Detector
from back_care_guide.safety.triage import Triage
from back_care_guide.settings import Settings
from back_care_guide.store.base import Store
from back_care_guide.store.open import open_store

log = logging.getLogger(__name__)


@dataclass
class Core:
    bundle: FlowBundle
    engine: Engine
    store: Store


def load_detectors(bundle: FlowBundle) -> dict[str, Detector]:
    """A detector for every lexicon of the bundle, by language (compiled once per bundle)."""
    return dict(bundle.detectors)


def build_triage(bundle: FlowBundle, detectors: dict[str, Detector] | None = None) -> Triage:
    return Triage(bundle.triage, detectors or load_detectors(bundle))


def build_engine(bundle: FlowBundle, *, time_scale: float = 1.0, triage: Triage | None = None,
                 clock: Callable[[], float] = time.time) -> Engine:
    return Engine(
        bundle,
        triage or build_triage(bundle),
        numbers=bundle.numbers,
        time_scale=time_scale,
        clock=clock,
    )


def build_core(settings: Settings, bundle: FlowBundle | None = None) -> Core:
    """The bot's parts that know no transport; ``bundle`` is data already loaded and checked."""
    bundle = bundle or load_bundle(settings.flows_dir)
    engine = build_engine(bundle, time_scale=settings.flow_time_scale)
    store = open_store(settings.database_url, pool_size=settings.database_pool_size,
                       holds=settings.database_holds)
    log.info("database: %s", store.location.shown)  # never the URL: it may hold a password
    for migration in store.migrated:
        log.info("database migrated to schema version %d: %s", migration.version, migration.name)
    return Core(bundle, engine, store)


def build_services(core: Core, clock: Callable[[], float] = time.time) -> Services:
    return Services(core.bundle, core.store, clock=clock)


def build_runtime(settings: Settings, core: Core, transport: Transport,
                  metrics: Metrics | None = None) -> Runtime:
    return Runtime(core.engine, core.store, transport, services=build_services(core),
                   idle_evict=settings.idle_evict_seconds, reminder_rate=settings.reminder_rate,
                   metrics=metrics)


def setup_logging(level: str, secrets: Iterable[str] = (), log_format: str = "text") -> None:
    """Log to stderr at ``level``, as text lines or (``log_format="json"``) JSON objects, with
    ``secrets`` (the bot token, the webhook secret) masked in every line, whatever a library or
    an exception puts into it (see :mod:`back_care_guide.redact`)."""
    from back_care_guide.observability.logs import TEXT_FORMAT, JsonFormatter
    from back_care_guide.redact import install

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    install(secrets)
    # Library loggers at INFO would log request URLs, and the Bot API URL contains the token.
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access", "transitions"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
