"""Progress over recent sessions: plain numbers (``summary``) and a PNG chart (``chart``).

``back_care_guide.progress.chart`` imports matplotlib, so it is not imported here: callers that only need
the numbers stay light. Import the chart with
``from back_care_guide.progress.chart import ChartLabels, render_chart``.
"""

from __future__ import annotations

from back_care_guide.progress.model import COMPLETED, OUTCOMES, SessionRecord, recent
from back_care_guide.progress.summary import Summary, summarize

__all__ = ["COMPLETED", "OUTCOMES", "SessionRecord", "Summary", "recent", "summarize"]
