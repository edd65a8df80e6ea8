"""Anonymous conversations: live chat sessions and one-off questions to a psychologist.

Relay only: what people write is copied between their Telegram chats by the bot and
never stored. These rows hold who talks to whom (internal user ids), when, and the
state; a question keeps only the message id of the teacher's own message, which the bot
copies to the psychologist who takes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.booking import RATING_SIZE
from storage.types import EncryptedJSON, UTCDateTime

CHAT_STATUSES = ("planned", "open", "closed")
QUESTION_STATUSES = ("open", "taken", "answered")
FLAG_SIZE = 16


class ChatSession(Base):
    """A live chat between a teacher and a psychologist, open from starts_at until ends_at
    (plus the configured grace) or until either side ends it."""

    __tablename__ = "chat_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    psychologist_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The booking it was made for; a plain integer so this table stands alone. Unique: one chat per booking.
    booking_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    # The question it grew out of, when a psychologist invited the teacher to talk live.
    question_id: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default="planned", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A side that opened the menu or a command during the chat: their messages are not relayed
    # until they press "Back to the chat" (handlers/common/chat.py).
    teacher_away: Mapped[bool] = mapped_column(Boolean, default=False)
    psychologist_away: Mapped[bool] = mapped_column(Boolean, default=False)
    # 1 helped, 0 not really: the teacher's answer to "did it help?", nothing more; sealed in every
    # chat, None (not answered) included.
    rating: Mapped[int | None] = mapped_column(EncryptedJSON(RATING_SIZE))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def away(self, user_id: int) -> bool:
        return self.teacher_away if user_id == self.teacher_id else self.psychologist_away


class AnonQuestion(Base):
    """One anonymous question; exactly one psychologist takes it (a conditional UPDATE)."""

    __tablename__ = "anon_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    psychologist_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    region: Mapped[str | None] = mapped_column(String(8))
    # The teacher's message in their own chat with the bot: copied on take, never read into the database.
    message_id: Mapped[int] = mapped_column(Integer)
    # A crisis phrase was typed: a health signal, so encrypted and padded; ordering by it is done in Python.
    urgent: Mapped[bool] = mapped_column(EncryptedJSON(FLAG_SIZE), default=False)
    # A crisis hand-off ("ask a psychologist to write to me now"): no message to copy, a live chat
    # opens when taken. Sealed too, so a hand-off row looks like any question.
    handoff: Mapped[bool] = mapped_column(EncryptedJSON(FLAG_SIZE), default=False)
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The teacher may reply to the answer until then.
    reply_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
