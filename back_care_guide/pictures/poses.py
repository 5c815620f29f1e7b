"""Simple, clear drawings of each position, made by the project (no third-party images).

Each pose is a stick figure on an exercise mat, drawn with thick round-capped lines so it
reads at a glance on a phone: the body in dark ink, the part that moves in the accent
colour, an arrow for the direction of the movement. Knee-to-chest is seen from the side;
the twist from above, where the arms in a "T" and the knees lowered to one side show.

Drawn with a private ``Figure`` and the Agg canvas (no pyplot), like the progress chart.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

Point = tuple[float, float]

INK = "#263238"
ACCENT = "#E65100"  # what moves (Okabe-Ito-like orange, clear on white for colour blindness)
SECOND = "#90A4AE"  # a limb behind the other one
MAT = "#B2DFDB"
WIDTH, HEIGHT = 6.0, 3.6  # inches: a 960 x 576 picture at DPI
DPI = 160
LIMB = 14.0  # line width in points
HEAD = 0.42


@dataclass(frozen=True)
class Pose:
    """A drawing: limbs as polylines, where the head is, the mat, and movement arrows."""

    head: Point
    body: Sequence[Sequence[Point]]  # torso and still limbs
    moving: Sequence[Sequence[Point]] = ()  # the limbs the instruction is about
    behind: Sequence[Sequence[Point]] = ()  # a limb partly hidden behind another
    arrows: Sequence[tuple[Point, Point, float]] = field(default=())  # start, end, curvature
    mat: tuple[float, float, float, float] = (0.2, 0.55, 8.6, 0.35)  # x, y, width, height
    top_view: bool = False


# Side view, head on the left, lying on the back: shoulder (1.6, 1.1), hip (4.1, 1.1).
_TORSO = ((1.55, 1.12), (4.1, 1.1))
_LEG_FLAT = ((4.1, 1.05), (5.9, 1.0), (7.7, 1.0), (7.95, 1.45))
_ARM_TO_SHIN = ((1.75, 1.25), (2.35, 1.95), (3.3, 2.45))
_KNEE_UP = ((4.1, 1.15), (3.05, 2.45), (4.5, 3.0), (4.75, 3.3))

# From above, head at the top: the person's right is the viewer's left.
_TWIST_LOWERED = Pose(
    head=(4.5, 5.35),
    body=(((4.5, 4.85), (4.5, 2.9)), ((2.0, 4.55), (7.0, 4.55))),
    moving=(((4.4, 2.9), (3.0, 2.05), (3.6, 1.05)),),
    behind=(((4.65, 2.85), (3.25, 1.85), (3.85, 0.85)),),
    arrows=(((4.9, 1.55), (3.0, 1.05), -0.35),),
    mat=(1.4, 0.6, 6.2, 5.45),
    top_view=True,
)


def _mirrored(pose: Pose) -> Pose:
    """The same pose to the other side (mirrored about the body's long axis)."""
    axis = pose.head[0]

    def flip(points: Sequence[Point]) -> tuple[Point, ...]:
        return tuple((2 * axis - x, y) for x, y in points)

    return Pose(
        head=pose.head,
        body=tuple(flip(line) for line in pose.body),
        moving=tuple(flip(line) for line in pose.moving),
        behind=tuple(flip(line) for line in pose.behind),
        arrows=tuple((flip([a])[0], flip([b])[0], -bend) for a, b, bend in pose.arrows),
        mat=pose.mat,
        top_view=pose.top_view,
    )


POSES: dict[str, Pose] = {
    # One knee drawn toward the chest, hands around the shin, the other leg long.
    "knee_to_chest": Pose(
        head=(1.05, 1.2),
        body=(_TORSO, _LEG_FLAT, _ARM_TO_SHIN),
        moving=(_KNEE_UP,),
        arrows=(((5.2, 2.6), (3.9, 3.55), 0.45),),
    ),
    # Both knees drawn toward the chest together.
    "both_knees": Pose(
        head=(1.05, 1.2),
        body=(_TORSO, _ARM_TO_SHIN),
        moving=(_KNEE_UP,),
        behind=(((4.1, 1.15), (3.35, 2.35), (4.8, 2.85), (5.05, 3.15)),),
        arrows=(((5.4, 2.45), (4.1, 3.55), 0.45),),
    ),
    # From above: the knees lowered together to the left, shoulders and arms flat in a T.
    "twist_left": _mirrored(_TWIST_LOWERED),
    "twist_right": _TWIST_LOWERED,
}


def render(name: str) -> bytes:
    """The pose as a PNG (about 0.1 s: cache it)."""
    pose = POSES[name]
    figure = Figure(figsize=(WIDTH, HEIGHT if not pose.top_view else WIDTH * 0.95), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    axes.set_aspect("equal")
    x, y, w, h = pose.mat
    axes.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.2",
                                  facecolor=MAT, edgecolor="none", zorder=0))
    for line in pose.behind:
        _polyline(axes, line, SECOND, 1)
    for line in pose.body:
        _polyline(axes, line, INK, 2)
    for line in pose.moving:
        _polyline(axes, line, ACCENT, 3)
    axes.add_patch(Circle(pose.head, HEAD, facecolor=INK, edgecolor="none", zorder=2))
    for start, end, bend in pose.arrows:
        axes.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}",
                                       arrowstyle="-|>,head_length=9,head_width=6",
                                       linewidth=3, color=ACCENT, zorder=4))
    if pose.top_view:
        axes.set_xlim(0.9, 8.1)
        axes.set_ylim(0.3, 6.2)
    else:
        axes.set_xlim(0.0, 9.0)
        axes.set_ylim(0.2, 4.0)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _polyline(axes: object, points: Sequence[Point], colour: str, order: int) -> None:
    xs, ys = zip(*points, strict=True)
    axes.plot(xs, ys, color=colour, linewidth=LIMB, solid_capstyle="round",  # type: ignore[attr-defined]
              solid_joinstyle="round", zorder=order)
