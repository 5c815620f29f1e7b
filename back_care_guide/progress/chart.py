"""A phone-sized PNG of recent progress: pain before/after each session, completed sessions per week.

Drawn with a private ``Figure`` and the Agg canvas (no pyplot, no rcParams changes), so it
needs no display, leaves matplotlib's global state alone and can run in a worker thread:
rendering is CPU-bound (about a quarter of a second), so async callers should use
``asyncio.to_thread``.

Every word on the chart comes from ``ChartLabels``, which the caller fills from its locale.
Only DejaVu Sans is used (it ships with matplotlib); text needing glyphs it lacks (emoji, CJK)
would draw as boxes with a matplotlib warning.
"""

from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator, MultipleLocator

from back_care_guide.progress.model import PAIN_MAX, PAIN_MIN, SessionRecord, recent, window_start

FONT = "DejaVu Sans"
SIZE_INCHES = (6.0, 7.5)
DPI = 160
TITLE_PT = 15
TEXT_PT = 13
BEFORE_COLOUR = "#D55E00"  # Okabe-Ito vermillion / blue / bluish green: distinguishable with colour blindness
AFTER_COLOUR = "#0072B2"
BAR_COLOUR = "#009E73"
CONNECTOR_COLOUR = "#9a9a9a"
GRID_COLOUR = "#dddddd"
MUTED = "#666666"
INK = "#222222"
WEEK = 7
MIN_LABELLED_DAYS = 4  # a cut-off oldest week shorter than this gets no date (it would collide)
MAX_DATE_LABELS = 5  # dates that fit under a panel at TEXT_PT on a 6-inch width
MAX_DAY_TICKS = 45  # more days than this get a small tick per week instead of per day
BAR_GAP = 0.8  # days left blank between two weekly bars


@dataclass(frozen=True)
class ChartLabels:
    """Every string drawn on the chart, taken by the caller from its locale file."""

    pain_title: str  # top panel title
    pain_axis: str  # top panel y axis
    before: str  # legend: rating before the session
    after: str  # legend: rating after the session
    weekly_title: str  # bottom panel title
    weekly_axis: str  # bottom panel y axis
    empty: str  # shown in the top panel when there is nothing to plot
    day: Callable[[date], str]  # a day as the axis shows it, in the person's language

    def format_date(self, day: date) -> str:
        return _plain(self.day(day))


def render_chart(records: Iterable[SessionRecord], now: datetime, zone: tzinfo, labels: ChartLabels,
                 days: int = 30) -> bytes:
    """PNG bytes of the last ``days`` local calendar days (today included) in ``zone``."""
    first = window_start(now, zone, days)
    today = now.astimezone(zone).date()
    window = recent(records, now, zone, days)

    fig = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    pain_ax, week_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    _draw_pain(pain_ax, window, zone, first, today, labels)
    _draw_weeks(week_ax, window, zone, first, today, labels)
    fig.align_ylabels([pain_ax, week_ax])

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _font(size: float, bold: bool = False) -> FontProperties:
    return FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")


def _plain(text: str) -> str:
    """Escape ``$`` so locale text is never read as mathtext."""
    return text.replace("$", r"\$")


def _style(ax: Axes, title: str, ylabel: str, title_pad: float = 8.0) -> None:
    ax.set_title(_plain(title), fontproperties=_font(TITLE_PT, bold=True), color=INK, loc="left",
                 pad=title_pad)
    ax.set_ylabel(_plain(ylabel), fontproperties=_font(TEXT_PT), color=INK)
    ax.tick_params(which="both", labelsize=TEXT_PT, labelfontfamily=FONT, colors=INK, width=1.2)
    ax.grid(True, axis="y", color=GRID_COLOUR, linewidth=1)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_linewidth(1.2)


def _session_positions(window: Sequence[SessionRecord], zone: tzinfo, first: date) -> list[float]:
    """x of each session: days since ``first``; several sessions in a day are spread evenly across it."""
    by_day: defaultdict[date, list[int]] = defaultdict(list)
    for i, record in enumerate(window):  # window is sorted by time
        by_day[record.local_date(zone)].append(i)
    xs = [0.0] * len(window)
    for day, indices in by_day.items():
        offset = (day - first).days
        for k, i in enumerate(indices):
            xs[i] = offset + (k + 1) / (len(indices) + 1)
    return xs


def _week_buckets(first: date, today: date) -> list[tuple[date, date]]:
    """(first day, last day) of 7-day buckets ending today, oldest first; the oldest is cut at ``first``."""
    n = math.ceil(((today - first).days + 1) / WEEK)
    buckets: list[tuple[date, date]] = []
    for k in reversed(range(n)):
        end = today - timedelta(days=WEEK * k)
        buckets.append((max(end - timedelta(days=WEEK - 1), first), end))
    return buckets


def _date_axis(ax: Axes, first: date, today: date, labels: ChartLabels) -> None:
    """x in days since ``first``; a labelled tick where each (full enough) week bucket starts."""
    ax.set_xlim(0, (today - first).days + 1)
    buckets = _week_buckets(first, today)
    if len(buckets) > 1 and (buckets[0][1] - buckets[0][0]).days + 1 < MIN_LABELLED_DAYS:
        buckets = buckets[1:]  # a short, cut-off oldest week: its date would collide with the next
    span = (today - first).days + 1
    if len(buckets) > 1:
        step = math.ceil(len(buckets) / MAX_DATE_LABELS)
        starts = [start for start, _ in buckets[::-1][::step]]  # thinned from today backwards
    else:  # a week or less: label days instead, counted back from today
        step = math.ceil(span / MAX_DATE_LABELS)
        starts = [today - timedelta(days=k) for k in range(0, span, step)]
    ax.xaxis.set_major_locator(FixedLocator([float((d - first).days) for d in starts]))
    ax.xaxis.set_major_formatter(FixedFormatter([labels.format_date(d) for d in starts]))
    if span <= MAX_DAY_TICKS:
        ax.xaxis.set_minor_locator(MultipleLocator(1))
    else:
        week_starts = [float((start - first).days) for start, _ in _week_buckets(first, today)]
        ax.xaxis.set_minor_locator(FixedLocator(week_starts))
    ax.tick_params(axis="x", which="major", length=7)
    ax.tick_params(axis="x", which="minor", length=3, width=1)
    ax.tick_params(axis="x", labelbottom=True)
    ax.grid(True, axis="x", which="major", color=GRID_COLOUR, linewidth=1)


def _draw_pain(ax: Axes, window: Sequence[SessionRecord], zone: tzinfo, first: date, today: date,
               labels: ChartLabels) -> None:
    rated = [r for r in window if r.pain_before is not None or r.pain_after is not None]
    xs = _session_positions(rated, zone, first)
    for x, r in zip(xs, rated, strict=True):
        if r.pain_before is not None and r.pain_after is not None and r.pain_before != r.pain_after:
            ax.plot([x, x], [r.pain_before, r.pain_after], color=CONNECTOR_COLOUR, linewidth=2.5,
                    solid_capstyle="butt", zorder=2, clip_on=False)
    series = ((labels.before, BEFORE_COLOUR, "o", 12.0, [r.pain_before for r in rated]),
              (labels.after, AFTER_COLOUR, "D", 8.0, [r.pain_after for r in rated]))
    handles: list[Line2D] = []
    for name, colour, marker, size, values in series:
        points = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], linestyle="none", marker=marker,
                          markersize=size, color=colour, markeredgecolor="white", markeredgewidth=1.2,
                          label=_plain(name), zorder=3, clip_on=False)  # a marker on the edge stays whole
        handles.append(line)

    ax.set_ylim(PAIN_MIN - 0.6, PAIN_MAX + 0.6)
    ax.yaxis.set_major_locator(MultipleLocator(2))
    ax.yaxis.set_minor_locator(MultipleLocator(1))
    _date_axis(ax, first, today, labels)
    # The legend sits between the title and the plot; the title's pad leaves it room.
    _style(ax, labels.pain_title, labels.pain_axis, title_pad=TEXT_PT * 2.6)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False,
              prop=_font(TEXT_PT), borderaxespad=0.3, handletextpad=0.3, columnspacing=1.5,
              labelcolor=INK)
    if not rated:
        ax.text(0.5, 0.5, _plain(labels.empty), transform=ax.transAxes, ha="center", va="center",
                fontproperties=_font(TEXT_PT), color=MUTED,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 6})


def _draw_weeks(ax: Axes, window: Sequence[SessionRecord], zone: tzinfo, first: date, today: date,
                labels: ChartLabels) -> None:
    """Completed sessions per 7-day bucket, each bar spanning its days on the same axis as the top panel."""
    per_day = Counter(r.local_date(zone) for r in window if r.completed)
    lefts: list[float] = []
    widths: list[float] = []
    counts: list[int] = []
    for start, end in _week_buckets(first, today):
        n_days = (end - start).days + 1
        lefts.append((start - first).days + BAR_GAP / 2)
        widths.append(n_days - BAR_GAP)
        counts.append(sum(per_day[start + timedelta(days=i)] for i in range(n_days)))
    bars = ax.bar(lefts, counts, width=widths, align="edge", color=BAR_COLOUR, zorder=2)
    ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], padding=3,
                 fontproperties=_font(TEXT_PT, bold=True), color=INK)
    top = max(counts, default=0)
    ax.set_ylim(0, max(top * 1.2, top + 1, 3))  # headroom for the count labels
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    _date_axis(ax, first, today, labels)
    _style(ax, labels.weekly_title, labels.weekly_axis)
