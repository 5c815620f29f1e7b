"""The drawings of the positions: every one the flow names renders to a phone-sized PNG."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from back_care_guide.flow.loader import FlowBundle
from back_care_guide.pictures import POSES, picture_png

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


def test_every_picture_renders_phone_sized() -> None:
    for name in POSES:
        width, height = size(picture_png(name))
        assert 600 <= width <= 1280 and 300 <= height <= 1280, (name, width, height)


def test_the_two_twists_are_mirror_images() -> None:
    left, right = POSES["twist_left"], POSES["twist_right"]
    axis = left.head[0]
    mirrored = [c for x, y in left.moving[0] for c in (2 * axis - x, y)]
    assert mirrored == pytest.approx([c for point in right.moving[0] for c in point])


def test_the_readme_pictures_are_the_ones_the_bot_draws() -> None:
    for name in ("knee_to_chest", "twist_left"):
        assert (DOCS / f"{name}.png").read_bytes() == picture_png(name), (
            "regenerate docs/pictures with back_care_guide.pictures.picture_png")
