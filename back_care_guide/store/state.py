"""A user's state as the runtime keeps it: the conversation with its timers, and the profile."""

from __future__ import annotations

from back_care_guide.store.base import Transaction
from back_care_guide.store.records import Conversation, Profile


async def load_user_state(tx: Transaction, user_id: int) -> tuple[Conversation | None, Profile | None]:
    """The user's conversation (with its timers) and profile, if stored."""
    conversation = await tx.conversations.get(user_id)
    if conversation is not None:
        conversation.timers = await tx.timers.for_user(user_id)
    return conversation, await tx.profiles.get(user_id)


async def save_user_state(tx: Transaction, conversation: Conversation, profile: Profile) -> None:
    """Write state, context, prompt, timers and profile (in ``tx``, so together)."""
    await tx.conversations.save(conversation)
    await tx.timers.replace(conversation.user_id, conversation.timers)
    await tx.profiles.save(profile)
