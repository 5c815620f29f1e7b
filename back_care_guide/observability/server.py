"""``GET /metrics`` for an aiohttp application, and a small listener that serves only that."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from back_care_guide.observability.metrics import Metrics

log = logging.getLogger(__name__)


def add_metrics_route(app: web.Application, metrics: Metrics) -> None:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", scrape)


class MetricsServer:
    """``METRICS_LISTEN:METRICS_PORT``: /metrics without the webhook (or in polling mode).

    A port that can't be bound is logged and the bot runs on without it: metrics are worth
    less than answering people.
    """

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.host = host
        self.port = port
        app = web.Application()
        add_metrics_route(app, metrics)
        self._runner: web.AppRunner | None = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> None:
        assert self._runner is not None
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            log.error("metrics: cannot listen on %s:%d (%s); running without /metrics there",
                      self.host, self.port, exc.strerror or type(exc).__name__)
            await self.stop()
            return
        log.info("serving /metrics on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Close the listener; a second call does nothing."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
