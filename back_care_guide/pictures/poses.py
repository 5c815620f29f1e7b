"""Simple, clear drawings of each position, made by the project (no third-party images).

Each pose is a stick figure on an exercise mat, drawn with thick round-capped lines so it
reads at a glance on a phone: the body in dark ink, the part that moves in the accent
colour, an arrow for the direction of the movement. Knee-to-chest is seen from the side.

The spinal twist is modelled in 3-D and drawn in perspective from above one side of the
person (head on the left), the view where the arms flat in a "T" with the palms up, the
bent knees standing up (their shadow on the mat below them) and the knees lowered to one
side all show. Each twist picture is two numbered panels one above the other: 1, the start
position (``twist_start``); 2, the knees lowered toward the viewer, a faint copy of the
start knees and an arrow for the movement. ``twist_left`` is ``twist_right`` mirrored (seen
from the person's left side, head on the right), so the knees always come toward you.

Drawn with a private ``Figure`` and the Agg canvas (no pyplot), like the progress chart.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Polygon

Point = tuple[float, float]
Point3 = tuple[float, float, float]
Line = Sequence[Point]

INK = "#263238"
ACCENT = "#E65100"  # what moves (Okabe-Ito-like orange, clear on white for colour blindness)
SECOND = "#90A4AE"  # a limb behind the other one
GHOST = "#F3B58F"  # where the moving limbs were (the start), faint accent
PALM = "#FFE0B2"  # an open palm, facing up
MAT = "#B2DFDB"
SHADOW = "#80CBC4"  # a raised limb's shadow on the mat
WIDTH, HEIGHT = 6.0, 3.6  # inches: a 960 x 576 picture at DPI
DPI = 160
STEPS_DPI = 128  # two panels one above the other: 768 wide, still sharp at phone size
LIMB = 14.0  # line width in points
HEAD = 0.42


@dataclass(frozen=True)
class Pose:
    """A drawing: limbs as polylines, where the head is, the mat, and movement arrows."""

    head: Point
    body: Sequence[Line]  # torso and still limbs
    moving: Sequence[Line] = ()  # the limbs the instruction is about
    behind: Sequence[Line] = ()  # a limb partly hidden behind another
    arrows: Sequence[tuple[Point, Point, float]] = field(default=())  # start, end, curvature
    mat: tuple[float, float, float, float] = (0.2, 0.55, 8.6, 0.35)  # x, y, width, height
    floor: Line = ()  # the mat as a polygon (a view from above), instead of ``mat``
    ghost: Sequence[Line] = ()  # where the moving limbs started, drawn faint
    shadows: Sequence[Line] = ()  # raised limbs' shadows on the mat, straight below them
    palms: Sequence[Sequence[Point]] = ()  # open hand, palm up: centre, outward, thumb side
    view: tuple[float, float, float, float] = (0.0, 9.0, 0.2, 4.0)  # x0, x1, y0, y1
    arrow_width: float = 3.0  # points


@dataclass(frozen=True)
class Steps:
    """A movement in numbered panels, one above the other: start, then where to go."""

    panels: tuple[Pose, ...]


# Side view, head on the left, lying on the back: shoulder (1.6, 1.1), hip (4.1, 1.1).
_TORSO = ((1.55, 1.12), (4.1, 1.1))
_LEG_FLAT = ((4.1, 1.05), (5.9, 1.0), (7.7, 1.0), (7.95, 1.45))
_ARM_TO_SHIN = ((1.75, 1.25), (2.35, 1.95), (3.3, 2.45))
_KNEE_UP = ((4.1, 1.15), (3.05, 2.45), (4.5, 3.0), (4.75, 3.3))


# ------------------------------------------------------------------ the twist, in 3-D
# x across the body (the person's left is +x), y along it (head +y), z up from the floor.
# The camera looks down from beside the person's right hip (a little toward the feet), so
# the head is on the left like the side views, the arms in a "T" cross the body, the knees
# standing up show as a side view would, and lowered to the right they come toward you.
CAMERA_AZIMUTH, CAMERA_ELEVATION = 184.0, 42.0  # degrees; azimuth 180 is the right side
CAMERA_DISTANCE = 14.0  # from the middle of the body: a little perspective, the mat a trapezoid
HIP_Z = 0.22
_CENTRE: Point3 = (0.0, 0.2, 0.0)
_NECK: Point3 = (0.0, 2.2, HIP_Z)
_HIP: Point3 = (0.0, 0.0, HIP_Z)
_HEAD: Point3 = (0.0, 2.75, 0.35)
_ARMS: tuple[Point3, ...] = ((-2.35, 2.05, 0.1), (2.35, 2.05, 0.1))
_HANDS: tuple[tuple[Point3, Point3, Point3], ...] = (  # palm centre, outward, thumb side
    ((-2.62, 2.05, 0.1), (-3.0, 2.05, 0.1), (-2.62, 2.45, 0.1)),
    ((2.62, 2.05, 0.1), (3.0, 2.05, 0.1), (2.62, 2.45, 0.1)))
_MAT3: tuple[Point3, ...] = ((-2.95, -2.75, 0.0), (2.95, -2.75, 0.0),
                             (2.95, 3.3, 0.0), (-2.95, 3.3, 0.0))


def _leg(side: float) -> tuple[Point3, ...]:
    """One bent leg, knee up and foot flat near the hips (side -1 right, +1 left)."""
    return ((side * 0.1, 0.0, HIP_Z), (side * 0.14, -1.3, 1.55),
            (side * 0.18, -1.9, 0.14), (side * 0.18, -2.45, 0.1))


def _lowered(points: Sequence[Point3], degrees: float) -> tuple[Point3, ...]:
    """Turned about the body's long axis: positive degrees lower toward the right (-x)."""
    turn = math.radians(degrees)
    out = []
    for x, y, z in points:
        up = z - HIP_Z
        out.append((x * math.cos(turn) - up * math.sin(turn), y,
                    max(0.08, HIP_Z + x * math.sin(turn) + up * math.cos(turn))))
    return tuple(out)


def _project(point: Point3) -> Point:
    """Where a point shows in a perspective view from the camera (the body at the centre)."""
    az, el = math.radians(CAMERA_AZIMUTH), math.radians(CAMERA_ELEVATION)
    right = (-math.sin(az), math.cos(az), 0.0)  # horizontal, across the line of sight
    back = (math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el))
    up = (back[1] * right[2] - back[2] * right[1], back[2] * right[0] - back[0] * right[2],
          back[0] * right[1] - back[1] * right[0])
    rel = tuple(p - c - CAMERA_DISTANCE * b for p, c, b in zip(point, _CENTRE, back, strict=True))
    depth = -sum(r * b for r, b in zip(rel, back, strict=True))
    scale = CAMERA_DISTANCE / depth
    return (scale * sum(r * q for r, q in zip(rel, right, strict=True)),
            scale * sum(r * u for r, u in zip(rel, up, strict=True)))


def _flat(points: Sequence[Point3]) -> tuple[Point, ...]:
    return tuple(_project(p) for p in points)


def _twist_view(moving: Sequence[Sequence[Point3]], behind: Sequence[Sequence[Point3]],
                ghost: Sequence[Sequence[Point3]] = (),
                shadows: Sequence[Sequence[Point3]] = (),
                arrows: Sequence[tuple[Point3, Point3, float]] = ()) -> Pose:
    floor = _flat(_MAT3)
    reach = _flat([*_MAT3, *(end for hand in _HANDS for end in hand[1:])])
    xs, ys = [p[0] for p in reach], [p[1] for p in reach]
    return Pose(
        head=_project(_HEAD),
        body=(_flat((_NECK, _HIP)), _flat(_ARMS)),
        moving=tuple(_flat(line) for line in moving),
        behind=tuple(_flat(line) for line in behind),
        ghost=tuple(_flat(line) for line in ghost),
        shadows=tuple(_flat([(x, y, 0.0) for x, y, _ in line]) for line in shadows),
        arrows=tuple((_project(a), _project(b), bend) for a, b, bend in arrows),
        floor=floor,
        palms=tuple((_project(c), _project(o), _project(t)) for c, o, t in _HANDS),
        view=(min(xs) - 0.2, max(xs) + 0.2, min(ys) - 0.15, max(ys) + 0.3),
        arrow_width=5.0,
    )


_LEFT_LEG, _RIGHT_LEG = _leg(1.0), _leg(-1.0)
_TURN = 75.0
TWIST_START = _twist_view(moving=(_RIGHT_LEG,), behind=(_LEFT_LEG,), shadows=(_RIGHT_LEG,))
_TWIST_RIGHT = _twist_view(
    moving=(_lowered(_LEFT_LEG, _TURN),), behind=(_lowered(_RIGHT_LEG, _TURN),),
    ghost=(_RIGHT_LEG,),
    arrows=((_RIGHT_LEG[1], _lowered(_LEFT_LEG, _TURN)[1], 0.35),))


def _mirrored(pose: Pose) -> Pose:
    """The same drawing to the other side (mirrored left to right about the head)."""
    axis = pose.head[0]

    def flip(points: Sequence[Point]) -> tuple[Point, ...]:
        return tuple((2 * axis - x, y) for x, y in points)

    x0, x1, y0, y1 = pose.view
    return Pose(
        head=pose.head,
        body=tuple(flip(line) for line in pose.body),
        moving=tuple(flip(line) for line in pose.moving),
        behind=tuple(flip(line) for line in pose.behind),
        arrows=tuple((flip([a])[0], flip([b])[0], -bend) for a, b, bend in pose.arrows),
        mat=pose.mat,
        floor=flip(pose.floor),
        ghost=tuple(flip(line) for line in pose.ghost),
        shadows=tuple(flip(line) for line in pose.shadows),
        palms=tuple(tuple(flip(hand)) for hand in pose.palms),
        view=(2 * axis - x1, 2 * axis - x0, y0, y1),
        arrow_width=pose.arrow_width,
    )


POSES: dict[str, Pose | Steps] = {
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
    # On the back, knees bent and together, feet flat, arms out in a T with the palms up.
    "twist_start": TWIST_START,
    # 1 the start, 2 the knees lowered together to that side, shoulders and arms flat.
    "twist_left": Steps((_mirrored(TWIST_START), _mirrored(_TWIST_RIGHT))),
    "twist_right": Steps((TWIST_START, _TWIST_RIGHT)),
}


def render(name: str) -> bytes:
    """The pose as a PNG (about 0.1 s: cache it)."""
    drawing = POSES[name]
    panels = drawing.panels if isinstance(drawing, Steps) else (drawing,)
    heights = [(p.view[3] - p.view[2]) / (p.view[1] - p.view[0]) if p.floor else HEIGHT / WIDTH
               for p in panels]
    gap = 0.05 if len(panels) > 1 else 0.0
    total = sum(heights) + gap * (len(panels) - 1)
    dpi = DPI if len(panels) == 1 else STEPS_DPI
    figure = Figure(figsize=(WIDTH, WIDTH * total), dpi=dpi)
    FigureCanvasAgg(figure)
    top = 1.0
    for number, (pose, height) in enumerate(zip(panels, heights, strict=True), start=1):
        axes = figure.add_axes((0.0, top - height / total, 1.0, height / total))
        top -= (height + gap) / total
        _draw(axes, pose)
        if len(panels) > 1:
            _badge(axes, number)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def _draw(axes: Axes, pose: Pose) -> None:
    axes.set_axis_off()
    axes.set_aspect("equal")
    if pose.floor:
        axes.add_patch(Polygon(pose.floor, closed=True, facecolor=MAT, edgecolor=MAT,
                               linewidth=12, joinstyle="round", zorder=0))
    else:
        x, y, w, h = pose.mat
        axes.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.2",
                                      facecolor=MAT, edgecolor="none", zorder=0))
    for line in pose.shadows:
        _polyline(axes, line, SHADOW, 1, LIMB * 1.1)
    for line in pose.ghost:
        _polyline(axes, line, GHOST, 1, LIMB * 0.6)
    for line in pose.behind:
        _polyline(axes, line, SECOND, 1)
    for line in pose.body:
        _polyline(axes, line, INK, 2)
    for line in pose.moving:
        _polyline(axes, line, ACCENT, 3)
    axes.add_patch(Circle(pose.head, HEAD, facecolor=INK, edgecolor="none", zorder=2))
    for hand in pose.palms:
        _palm(axes, hand)
    for start, end, bend in pose.arrows:
        axes.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}",
                                       arrowstyle="-|>,head_length=9,head_width=6",
                                       mutation_scale=pose.arrow_width / 3.0,
                                       linewidth=pose.arrow_width, color=ACCENT, zorder=4))
    x0, x1, y0, y1 = pose.view
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)


def _palm(axes: Axes, hand: Sequence[Point]) -> None:
    """An open hand, palm up: a light palm, four fingers outward, the thumb toward the head."""
    (cx, cy), (ox, oy), (tx, ty) = hand
    out = ((ox - cx) / math.hypot(ox - cx, oy - cy), (oy - cy) / math.hypot(ox - cx, oy - cy))
    side = ((tx - cx) / math.hypot(tx - cx, ty - cy), (ty - cy) / math.hypot(tx - cx, ty - cy))
    for k in range(4):
        spread = (1.5 - k) * 0.1
        base = (cx + side[0] * spread, cy + side[1] * spread)
        tip = (base[0] + out[0] * 0.36 + side[0] * spread * 0.3,
               base[1] + out[1] * 0.36 + side[1] * spread * 0.3)
        _polyline(axes, (base, tip), INK, 2, 4.0)
    thumb = (cx + side[0] * 0.32 + out[0] * 0.08, cy + side[1] * 0.32 + out[1] * 0.08)
    _polyline(axes, ((cx, cy), thumb), INK, 2, 4.0)
    axes.add_patch(Circle((cx, cy), 0.2, facecolor=PALM, edgecolor=INK, linewidth=2.5, zorder=3))


def _badge(axes: Axes, number: int) -> None:
    """The step's number in a dark disc, top left of its panel."""
    axes.text(0.05, 0.93, str(number), transform=axes.transAxes, color="white", fontsize=20,
              fontweight="bold", ha="center", va="center", zorder=7,
              bbox={"boxstyle": "circle,pad=0.35", "facecolor": INK, "edgecolor": "none"})


def _polyline(axes: Axes, points: Line, colour: str, order: int, width: float = LIMB) -> None:
    xs, ys = zip(*points, strict=True)
    axes.plot(xs, ys, color=colour, linewidth=width, solid_capstyle="round",
              solid_joinstyle="round", zorder=order)
