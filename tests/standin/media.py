"""Recognising uploaded images by their bytes (PNG and JPEG) and reading their size;
checking uploaded documents."""

from __future__ import annotations

import mimetypes
import struct

from .errors import ApiError, bad_request

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # what a bot may upload
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        (segment,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(segment)
    return None


def check_photo(data: bytes) -> tuple[str, int, int]:
    """(mime type, width, height) of a photo upload, or the 400 Telegram would give."""
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise bad_request("file is too big")
    if data.startswith(PNG_MAGIC):
        mime, size = "image/png", _png_size(data)
    elif data.startswith(JPEG_MAGIC):
        mime, size = "image/jpeg", _jpeg_size(data)
    else:
        raise bad_request("IMAGE_PROCESS_FAILED")
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width <= 0 or height <= 0 or width + height > 10000:
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    if max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")
    return mime, width, height


def check_document(data: bytes, filename: str, content_type: str) -> str:
    """The mime type Telegram gives a document upload, or the error it would answer.

    Telegram goes by the file name's extension, then by what the client said.
    """
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    return mimetypes.guess_type(filename)[0] or content_type or "application/octet-stream"


def scaled(width: int, height: int, limit: int) -> tuple[int, int]:
    """The size Telegram gives a photo whose longer side is capped at ``limit``."""
    longest = max(width, height)
    if longest <= limit:
        return width, height
    return max(1, width * limit // longest), max(1, height * limit // longest)
