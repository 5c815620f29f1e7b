"""Inline-button payloads: short, versioned, and naming the prompt they belong to.

``v1|<seq>|<choice>``: ``seq`` numbers the user's prompts, so a press on an older or
foreign message is recognised and answered with "this question has moved on".
Choice ids are at most 24 characters (the flow schema enforces it), so the payload is
always far below Telegram's 64-byte limit.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "v1"
MAX_BYTES = 64


@dataclass(frozen=True, slots=True)
class Payload:
    seq: int
    choice: str


def encode(seq: int, choice: str) -> str:
    data = f"{VERSION}|{seq}|{choice}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data longer than 64 bytes")
    return data


def decode(data: str | None) -> Payload | None:
    """The payload, or None for anything this version did not produce."""
    if not data:
        return None
    parts = data.split("|")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1].isdigit() or not parts[2]:
        return None
    return Payload(int(parts[1]), parts[2])
