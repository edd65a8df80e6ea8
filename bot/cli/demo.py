"""`python -m bot seed-demo [--remove]`: clearly marked demo data so a newcomer can try booking
without any staff. Features add a DemoPart to PARTS; parts are seeded in order (later parts can
use `context.psychologists`, e.g. as facilitators) and removed in reverse order.

Demo psychologists are users with negative Telegram ids (real ids are positive, so they never
collide with a person); messages to them fail quietly and mark them inactive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.workers import groups as group_sessions
from storage.models import PsychologistProfile
from storage.models.base import utcnow
from storage.repo import booking as repo
from storage.repo import users


@dataclass
class DemoContext:
    settings: Settings
    now: datetime
    psychologists: list[PsychologistProfile] = field(default_factory=list)


@dataclass(frozen=True)
class DemoPart:
    name: str
    seed: Callable[[AsyncSession, DemoContext], Awaitable[str]]  # returns a one-line summary
    remove: Callable[[AsyncSession, DemoContext], Awaitable[str]]


DEMO_DAYS = 14
DEMO_TIMES = (time(10, 0), time(11, 0), time(15, 0), time(16, 0))
FIRST_DEMO_ID = -900_001

# name, languages, formats, regions, address, bio kk, bio ru
PSYCHOLOGISTS = [
    (
        "Айгерім (ДЕМО)",
        "kk",
        "video,chat",
        "KZ-75",
        None,
        "Демо-профиль: бұл нағыз психолог емес. Қазақ тілінде кеңес береді.",
        "Демо-профиль: это не настоящий психолог. Консультирует на казахском.",
    ),
    (
        "Анна (ДЕМО)",
        "ru",
        "video,office",
        "KZ-71",
        "Өрлеу филиалы, Астана, 204-кабинет (ДЕМО)",
        "Демо-профиль: бұл нағыз психолог емес. Орыс тілінде кеңес береді.",
        "Демо-профиль: это не настоящий психолог. Консультирует на русском.",
    ),
    (
        "Дәурен (ДЕМО)",
        "kk,ru",
        "office,chat",
        "KZ-61",
        "Өрлеу филиалы, Түркістан, 12-кабинет (ДЕМО)",
        "Демо-профиль: бұл нағыз психолог емес. Екі тілде кеңес береді.",
        "Демо-профиль: это не настоящий психолог. Консультирует на двух языках.",
    ),
    (
        "Ольга (ДЕМО)",
        "ru",
        "chat,video",
        "KZ-75",
        None,
        "Демо-профиль: бұл нағыз психолог емес.",
        "Демо-профиль: это не настоящий психолог.",
    ),
]


async def _seed_psychologists(session: AsyncSession, context: DemoContext) -> str:
    existing = {p.display_name: p for p in await repo.demo_profiles(session)}
    tz, rules = context.settings.tz, context.settings.booking
    added = 0
    for number, (name, languages, formats, regions, address, bio_kk, bio_ru) in enumerate(PSYCHOLOGISTS):
        profile = existing.get(name)
        if profile is None:
            user = await users.create(session, FIRST_DEMO_ID - number, languages.split(",")[0])
            user.role, user.consent_at = "psychologist", context.now
            profile = await repo.ensure_profile(session, user)
            profile.display_name, profile.languages, profile.formats, profile.regions = (
                name,
                languages,
                formats,
                regions,
            )
            profile.address, profile.bio_kk, profile.bio_ru = address, bio_kk, bio_ru
            profile.video_link = "https://meet.example.org/demeu-demo" if "video" in formats else None
            profile.demo, profile.published = True, True
        context.psychologists.append(profile)
        today = context.now.astimezone(tz).date()
        for offset in range(1, DEMO_DAYS + 1):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for index, at in enumerate(DEMO_TIMES):
                fmt = profile.format_list[(index + offset) % len(profile.format_list)]
                if await repo.add_slot(
                    session, profile, datetime.combine(day, at, tz), rules.default_duration_min, fmt
                ):
                    added += 1
    return f"demo psychologists: {len(context.psychologists)}, new slots: {added}"


async def _remove_psychologists(session: AsyncSession, context: DemoContext) -> str:
    return f"demo psychologists removed: {await repo.remove_demo(session)} (with their slots and bookings)"


PARTS: list[DemoPart] = [DemoPart("psychologists", _seed_psychologists, _remove_psychologists)]
PARTS.append(
    DemoPart("group sessions", group_sessions.seed_demo, group_sessions.remove_demo)
)  # led by the above


async def seed(session: AsyncSession, settings: Settings) -> list[str]:
    context = DemoContext(settings, utcnow())
    return [await part.seed(session, context) for part in PARTS]


async def remove(session: AsyncSession, settings: Settings) -> list[str]:
    context = DemoContext(settings, utcnow())
    return [await part.remove(session, context) for part in reversed(PARTS)]
