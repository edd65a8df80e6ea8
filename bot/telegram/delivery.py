"""The one place that sends a message to a user (or a group) outside an update: reminders, broadcasts.

    result = await delivery.send_message(bot, chat_id, text, reply_markup=markup,
                                         user_id=user.id, sessions=app.sessions)
    if result.outcome is Outcome.SENT: ...

What it does with Telegram's answers:
- 429 (TelegramRetryAfter): waits `retry_after` and tries again, up to `policy.max_flood_waits`
  times; a wait longer than `policy.max_retry_after` is not slept through here (it would hold a
  worker for minutes) but returned as RETRYABLE with `retry_after` set, so the caller reschedules.
- 5xx and network errors: bounded exponential backoff with jitter (`policy.attempts` tries), then
  RETRYABLE. A network timeout may hide a message Telegram did deliver, so a retry after one can
  duplicate it; that is the price of not losing messages and is why the number of tries is small.
- 403 (blocked, deactivated, kicked) and "chat not found": BLOCKED at once, never retried. When
  `user_id` and `sessions` are given the user is marked inactive and their pending reminders stop,
  in one committed transaction (bot.services.accounts.record_blocked).
- Any other 400: REJECTED (our request is wrong; retrying cannot help), logged as an error.
- A group migrated to a supergroup: retried once in the new chat; `result.chat_id` tells the caller.

Nothing here logs chat ids or text: only the internal user id, the method name and the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.accounts import record_blocked

log = logging.getLogger("demeu.delivery")

_GONE = (
    "chat not found",
    "user not found",
    "bot was blocked",
    "user is deactivated",
    "bot was kicked",
    "peer_id_invalid",
    "have no rights to send",
)


class Outcome(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"  # the recipient is gone for good; do not try again
    RETRYABLE = "retryable"  # transient trouble outlasted the retries; try again later
    REJECTED = "rejected"  # Telegram refused the request itself (a bug); retrying cannot help


@dataclass(frozen=True)
class Policy:
    attempts: int = 4  # tries for 5xx / network errors
    base_delay: float = 0.5  # first backoff, doubled each try, with +-25 % jitter
    max_delay: float = 8.0
    max_flood_waits: int = 5  # 429s slept through per message
    max_retry_after: float = 60.0  # longer flood waits go back to the caller
    request_timeout: int | None = None  # seconds per HTTP request; None: the bot session's default (60)


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    result: Any = None  # what the method returned (a Message for sendMessage) when SENT
    chat_id: int | str | None = None  # where it went: differs from the request after a group migration
    retry_after: float | None = None  # set when RETRYABLE because of a long flood wait
    error: str | None = None  # exception class name, for the caller's records (never the text)

    @property
    def sent(self) -> bool:
        return self.outcome is Outcome.SENT


def _gone(error: Exception) -> bool:
    if isinstance(error, TelegramForbiddenError):
        return True
    return isinstance(error, (TelegramBadRequest, TelegramNotFound)) and any(
        phrase in error.message.lower() for phrase in _GONE
    )


async def deliver(
    bot: Bot,
    method: TelegramMethod[Any],
    *,
    user_id: int | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> Result:
    """Call any sending method (SendMessage, SendPhoto, CopyMessage...) with the rules above."""
    chat_id = getattr(method, "chat_id", None)
    failures = flood_waits = 0
    migrated = False
    name = type(method).__name__
    while True:
        try:
            result = await bot(method, request_timeout=policy.request_timeout)
            return Result(Outcome.SENT, result, chat_id)
        except TelegramRetryAfter as error:
            flood_waits += 1
            if flood_waits > policy.max_flood_waits or error.retry_after > policy.max_retry_after:
                log.warning("%s user=%s: flood wait %ss, handing back", name, user_id, error.retry_after)
                return Result(
                    Outcome.RETRYABLE, chat_id=chat_id, retry_after=error.retry_after, error="RetryAfter"
                )
            await asyncio.sleep(error.retry_after)
        except TelegramMigrateToChat as error:
            if migrated:
                return Result(Outcome.REJECTED, chat_id=chat_id, error=type(error).__name__)
            migrated = True
            chat_id = error.migrate_to_chat_id
            method = method.model_copy(update={"chat_id": chat_id})
        except (TelegramServerError, TelegramNetworkError) as error:
            failures += 1
            if failures >= policy.attempts:
                log.warning("%s user=%s: %s after %d tries", name, user_id, type(error).__name__, failures)
                return Result(Outcome.RETRYABLE, chat_id=chat_id, error=type(error).__name__)
            delay = min(policy.max_delay, policy.base_delay * 2 ** (failures - 1))
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
        except (TelegramForbiddenError, TelegramBadRequest, TelegramNotFound) as error:
            if _gone(error):
                log.info("%s user=%s: recipient gone (%s)", name, user_id, type(error).__name__)
                if user_id is not None and sessions is not None:
                    try:
                        await mark_blocked(sessions, user_id)
                    except Exception:  # the outcome still stands; the next try will mark them again
                        log.exception("user=%s: could not mark inactive", user_id)
                return Result(Outcome.BLOCKED, chat_id=chat_id, error=type(error).__name__)
            log.error("%s user=%s: rejected by Telegram (%s)", name, user_id, type(error).__name__)
            return Result(Outcome.REJECTED, chat_id=chat_id, error=type(error).__name__)


async def send_message(
    bot: Bot,
    chat_id: int | str,
    text: str,
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
    user_id: int | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    policy: Policy = DEFAULT_POLICY,
    **options: Any,
) -> Result:
    """sendMessage through deliver(); `options` are SendMessage's other fields."""
    method = SendMessage(chat_id=chat_id, text=text, reply_markup=reply_markup, **options)
    return await deliver(bot, method, user_id=user_id, sessions=sessions, policy=policy)


async def mark_blocked(sessions: async_sessionmaker[AsyncSession], user_id: int) -> None:
    """Mark the user inactive and stop their pending work, in one transaction of its own."""
    async with sessions() as session:
        await record_blocked(session, user_id)
        await session.commit()
