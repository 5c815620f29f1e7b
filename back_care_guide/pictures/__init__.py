"""Drawings of the positions, made by the project and rendered once per process."""

from __future__ import annotations

from functools import lru_cache

from back_care_guide.pictures.poses import POSES, render

__all__ = ["POSES", "picture_png"]


@lru_cache(maxsize=len(POSES))
def picture_png(name: str) -> bytes:
    """The PNG of a position (about 0.1 s the first time; then from memory)."""
    return render(name)
