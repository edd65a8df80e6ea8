"""One Router per feature, built fresh for every dispatcher (tests build many)."""
from aiogram import Router

from bot.filters import ConsentGate
from handlers import (
    availability, booking, chat, coordinator, errors, fallback, groups, mood, mybookings, nudges, psychologist,
    questions, relax, selfcheck, settings, staff, staff_admin, start, urgent,
)


async def _lead_to_start(event, data) -> None:
    await start.greet(event, data.get("user"), data["role"], data["i18n"], data["i18n"].current_locale)


def build_routers() -> list[Router]:
    """In order: what works for everyone, then consented features, then the fallback."""
    gate = ConsentGate(_lead_to_start)
    # chat first: while a live chat is open, a participant's messages go to the other side whatever
    # screen or state they were in (its filter matches only them; /start, /menu, /sos are handled
    # above it). chat-outside last: it explains stray messages around a chat, before the fallback.
    features = [
        chat.create_router(),
        settings.create_router(), staff.create_router(),
        selfcheck.create_router(), relax.create_router(), mood.create_router(),
        booking.create_router(), mybookings.create_router(), psychologist.create_router(), availability.create_router(),
        groups.create_router(), coordinator.create_router(), staff_admin.create_router(),
        nudges.create_router(), questions.create_router(),
        chat.create_outside_router(),
    ]
    for router in features:
        router.message.middleware(gate)
        router.callback_query.middleware(gate)
    return [errors.create_router(), urgent.create_router(), start.create_router(), *features, fallback.create_router()]
