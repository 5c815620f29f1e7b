"""Progress over recent sessions: plain numbers (``summary``) and a PNG chart (``chart``).

``bot.progress.chart`` imports matplotlib, so it is not imported here: callers that only need
the numbers stay light. Import the chart with ``from bot.progress.chart import ChartLabels, render_chart``.
"""

from __future__ import annotations

from bot.progress.model import COMPLETED, OUTCOMES, SessionRecord, recent
from bot.progress.summary import Summary, summarize

__all__ = ["COMPLETED", "OUTCOMES", "SessionRecord", "Summary", "recent", "summarize"]
