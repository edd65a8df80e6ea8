"""One Router per feature, built fresh for every dispatcher (tests build many)."""
from aiogram import Router

from bot.filters import ConsentGate
from handlers import errors, fallback, settings, staff, start, urgent


async def _lead_to_start(event, data) -> None:
    await start.greet(event, data.get("user"), data["role"], data["i18n"], data["i18n"].current_locale)


def build_routers() -> list[Router]:
    """In order: what works for everyone, then consented features, then the fallback."""
    gate = ConsentGate(_lead_to_start)
    features = [settings.create_router(), staff.create_router()]
    for router in features:
        router.message.middleware(gate)
        router.callback_query.middleware(gate)
    return [errors.create_router(), urgent.create_router(), start.create_router(), *features, fallback.create_router()]
