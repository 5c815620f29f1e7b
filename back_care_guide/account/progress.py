"""``/progress``: the last 30 days as a chart and a line of figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, tzinfo
from typing import ClassVar

from back_care_guide.account.base import Feature, Outcome
from back_care_guide.engine.events import LogSession, Send, SendPhoto
from back_care_guide.flow.texts import Texts
from back_care_guide.progress.model import SessionRecord
from back_care_guide.progress.summary import summarize
from back_care_guide.safety import hold as holds
from back_care_guide.store.records import Conversation, Profile

PROGRESS_DAYS = 30


class Progress(Feature):
    commands: ClassVar[frozenset[str]] = frozenset({"progress"})

    async def command(self, name: str, args: str, conv: Conversation, profile: Profile,
                      texts: Texts) -> Outcome:
        clock = self.account.clock
        now = datetime.fromtimestamp(clock(), UTC)
        zone = holds.zone_of(profile)
        since = clock() - (PROGRESS_DAYS + 1) * 86400
        records = [SessionRecord(datetime.fromtimestamp(s.started_at, UTC), s.outcome,
                                 s.pain_before, s.pain_after)
                   for s in await self._sessions(profile.user_id, since)]
        summary = summarize(records, now, zone, PROGRESS_DAYS)
        if not summary.has_data:
            return Outcome([Send(texts.get("progress.empty"))])
        change = (texts.get("progress.no_change") if summary.average_change is None
                  else texts.number(summary.average_change, signed=True))
        caption = texts.get("progress.summary", completed=texts.number(summary.sessions_completed),
                            change=change,
                            streak=texts.plural("progress.streak", summary.current_streak_days))
        png = await asyncio.to_thread(_render, records, now, zone, texts)
        return Outcome([SendPhoto(png, caption)])

    async def _sessions(self, user_id: int, since: float) -> list[LogSession]:
        async with self.account.store.transaction() as tx:
            return await tx.sessions.since(user_id, since)


def _render(records: list[SessionRecord], now: datetime, zone: tzinfo, texts: Texts) -> bytes:
    from back_care_guide.progress.chart import ChartLabels, render_chart  # matplotlib loads only when needed

    labels = ChartLabels(
        pain_title=texts.get("progress.pain_title"), pain_axis=texts.get("progress.pain_axis"),
        before=texts.get("progress.before"), after=texts.get("progress.after"),
        weekly_title=texts.get("progress.weekly_title"), weekly_axis=texts.get("progress.weekly_axis"),
        empty=texts.get("progress.chart_empty"), day=lambda day: texts.day(day, short=True))
    return render_chart(records, now, zone, labels, PROGRESS_DAYS)
