"""The drawings of the positions: every one the flow names renders to a phone-sized PNG."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from back_care_guide.flow.loader import FlowBundle
from back_care_guide.pictures import POSES, picture_png
from back_care_guide.pictures.poses import Pose, Steps

DOCS = Path(__file__).resolve().parents[1] / "docs" / "pictures"


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_every_position_step_has_a_picture(bundle: FlowBundle) -> None:
    positions = [n for n, s in bundle.flow.states.items() if n.endswith("_position")]
    assert positions
    for name in positions:
        assert bundle.flow.states[name].picture in POSES, name


def test_every_picture_the_flow_names_exists(bundle: FlowBundle) -> None:
    named = {s.picture for s in bundle.flow.states.values() if s.picture is not None}
    assert {"knee_to_chest", "both_knees", "twist_left", "twist_right"} <= named
    assert named <= set(POSES), named - set(POSES)


def test_every_picture_renders_phone_sized() -> None:
    for name in POSES:
        png = picture_png(name)
        width, height = size(png)
        assert 600 <= width <= 1280 and 300 <= height <= 1280, (name, width, height)
        assert len(png) < 100_000, (name, len(png))


def test_the_twist_start_is_one_picture_of_its_own() -> None:
    start = POSES["twist_start"]
    assert isinstance(start, Pose)
    assert start.palms and len(start.palms) == 2  # the arms out in a T, palms up
    width, height = size(picture_png("twist_start"))
    assert width > height


def test_each_twist_shows_the_start_then_the_knees_lowered() -> None:
    for name in ("twist_left", "twist_right"):
        steps = POSES[name]
        assert isinstance(steps, Steps) and len(steps.panels) == 2, name
        start, lowered = steps.panels
        assert not start.arrows and lowered.arrows and lowered.ghost, name
        width, height = size(picture_png(name))
        assert height > width, (name, width, height)  # two panels, one above the other
    right = POSES["twist_right"]
    assert isinstance(right, Steps) and right.panels[0] == POSES["twist_start"]


def test_the_two_twists_are_mirror_images() -> None:
    left, right = POSES["twist_left"], POSES["twist_right"]
    assert isinstance(left, Steps) and isinstance(right, Steps)
    for mine, theirs in zip(left.panels, right.panels, strict=True):
        axis = mine.head[0]
        assert theirs.head == pytest.approx(mine.head)
        for line, other in zip(mine.moving, theirs.moving, strict=True):
            mirrored = [c for x, y in line for c in (2 * axis - x, y)]
            assert mirrored == pytest.approx([c for point in other for c in point])
    knee = 1
    for steps in (left, right):  # the knees come down out of the start, toward the viewer
        start, lowered = steps.panels
        knee_y = lowered.moving[0][knee][1]
        assert knee_y < min(y for _, y in start.moving[0])
        assert knee_y < start.moving[0][knee][1] - 1.0


def test_the_readme_pictures_are_the_ones_the_bot_draws() -> None:
    docs = sorted(DOCS.glob("*.png"))
    assert {"knee_to_chest", "twist_left"} <= {path.stem for path in docs}
    for path in docs:
        assert path.stem in POSES, path
        assert path.read_bytes() == picture_png(path.stem), (
            "regenerate docs/pictures with back_care_guide.pictures.picture_png")
