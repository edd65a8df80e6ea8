"""Coordinators: create and cancel group sessions, broadcast announcements, anonymous statistics.

Only coordinators (and admins) get here: the router is gated with staff_only, so a forged
"co" button from anyone else is refused before any handler runs. A coordinator of one region
sees and reaches only that region.
"""

from __future__ import annotations

from aiogram import F, Router

from bot.telegram import callbacks as cb
from bot.telegram.filters import staff_only
from handlers.coordinator import broadcasts, capacity, coverage, groups, reports, stats
from handlers.coordinator.home import Action, fresh_menu, home


def create_router() -> Router:
    router = staff_only(Router(name="coordinator"), "coordinator")
    press = router.callback_query.register
    press(home, cb.Menu.filter(F.item == cb.Section.COORDINATOR))
    press(home, cb.Coord.filter(F.a == Action.HOME))
    press(fresh_menu, cb.Coord.filter(F.a == Action.MENU))
    broadcasts.register(router)
    groups.register(router)
    stats.register(router)
    reports.register(router)
    coverage.register(router)
    capacity.register(router)
    return router
