"""A strict in-repo stand-in for the Telegram Bot API (see :mod:`tests.standin.server`)."""

from .client import TestUser
from .errors import ApiError
from .faults import FloodControl
from .models import CallbackQueryRecord, ChatInfo, Event, StoredMessage, UserInfo
from .recorder import WaitTimeout
from .remote import RemoteError, RemoteStandin, spawn_standin
from .server import DEFAULT_TOKEN, BotApiStandin
from .transcript import Transcript, TranscriptMessage
from .webhook import SECRET_HEADER, DeliveryAttempt

__all__ = [
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "ApiError",
    "BotApiStandin",
    "CallbackQueryRecord",
    "ChatInfo",
    "DeliveryAttempt",
    "Event",
    "FloodControl",
    "RemoteError",
    "RemoteStandin",
    "StoredMessage",
    "TestUser",
    "Transcript",
    "TranscriptMessage",
    "UserInfo",
    "WaitTimeout",
    "spawn_standin",
]
