"""One Router per feature, built fresh for every dispatcher (tests build many)."""

from aiogram import Router

from bot.telegram.dispatch import route_presses_by_prefix
from bot.telegram.filters import ConsentGate
from handlers.common import about, chat, errors, fallback, mutes, questions, safety, settings, start
from handlers.coordinator import cabinet as coordinator
from handlers.coordinator import invites as staff
from handlers.coordinator import staff as staff_admin
from handlers.psychologist import availability, duty
from handlers.psychologist import cabinet as psychologist
from handlers.psychologist import practice as psychologist_practice
from handlers.teacher import booking, drawings, groups, library, mood, mybookings, nudges, relax, selfcheck
from handlers.teacher import practice as teacher_practice


async def _lead_to_start(event, data) -> None:
    await start.greet(event, data.get("user"), data["role"], data["i18n"], data["i18n"].current_locale)


def build_routers() -> list[Router]:
    """In order: what works for everyone, then consented features, then the fallback."""
    gate = ConsentGate(_lead_to_start)
    # chat first: while a live chat is open, a participant's messages go to the other side whatever
    # screen or state they were in (its filter matches only them; /start, /menu, /sos are handled
    # above it). chat-outside last: it explains stray messages around a chat, before the fallback.
    features = [
        settings.create_command_router(),  # /settings, before any feature's text handler takes it
        chat.create_router(),
        safety.create_consented_router(),  # its plan-writing state before any other feature's text handler
        settings.create_router(),
        staff.create_router(),
        selfcheck.create_router(),
        relax.create_router(),
        library.create_router(),
        drawings.create_router(),
        mood.create_router(),
        booking.create_router(),
        mybookings.create_router(),
        psychologist.create_router(),
        availability.create_router(),
        duty.create_router(),
        psychologist_practice.create_router(),
        teacher_practice.create_router(),
        groups.create_router(),
        coordinator.create_router(),
        staff_admin.create_router(),
        nudges.create_router(),
        questions.create_router(),
        mutes.create_router(),
        chat.create_outside_router(),
    ]
    for router in features:
        router.message.middleware(gate)
        router.callback_query.middleware(gate)
    return route_presses_by_prefix(
        [
            errors.create_router(),
            safety.create_router(),
            start.create_router(),
            about.create_router(),
            *features,
            fallback.create_router(),
        ]
    )
