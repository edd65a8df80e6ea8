"""The self-help library (bot/content/library.toml): the list, "what may help now" after a self-check
result, and a reading paged in one message edited in place."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.content.library import Reading, library
from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder, button, with_nav
from bot.telegram.ui import show

Action = cb.LibraryAction
LIST = cb.Library(a=Action.LIST)


def reading_buttons(
    builder: KeyboardBuilder, readings: list[Reading], language: str, origin: cb.Library
) -> None:
    for reading in readings:
        builder.row(
            button(
                "📖 " + reading.name(language),
                cb.Library(a=Action.READ, r=reading.id, i=origin.i, n=origin.n),
            )
        )


def page_text(reading: Reading, number: int, language: str) -> str:
    """One screen: the title, the page, where one is; the sources on the last page."""
    total = len(reading.page)
    parts = [
        "<b>" + escape(reading.name(language)) + "</b>",
        escape(reading.text(number, language)),
        _("library-page").format(n=number + 1, total=total),
    ]
    if number == total - 1:
        sources = "\n".join("• " + escape(source.cite()) for source in reading.source)
        parts.append(_("library-sources") + "\n" + sources + "\n\n" + _("library-note"))
    return "\n\n".join(parts)


async def show_list(query: CallbackQuery, i18n: I18n) -> None:
    builder = KeyboardBuilder()
    reading_buttons(builder, list(library()), i18n.current_locale, LIST)
    await show(query, _("library-title"), with_nav(builder, cb.Menu(item=cb.Section.RELAX)))


async def may_help(query: CallbackQuery, callback_data: cb.Library, i18n: I18n) -> None:
    """After a self-check result: the readings for that questionnaire; Back returns to the result."""
    builder = KeyboardBuilder()
    reading_buttons(builder, library().for_instrument(callback_data.i), i18n.current_locale, callback_data)
    builder.row(button(_("library-all"), LIST))
    back = cb.SelfCheck(action=cb.SelfCheckAction.RESULT, inst=callback_data.i, n=callback_data.n)
    await show(query, _("library-help-title"), with_nav(builder, back))


async def read(query: CallbackQuery, callback_data: cb.Library, i18n: I18n) -> None:
    reading = library().get(callback_data.r)
    if reading is None:  # a button from an older library
        return await show_list(query, i18n)
    number = min(max(callback_data.p, 0), len(reading.page) - 1)
    turn = []
    if number > 0:
        turn.append(button(_("library-prev"), callback_data.model_copy(update={"p": number - 1})))
    if number < len(reading.page) - 1:
        turn.append(button(_("library-next"), callback_data.model_copy(update={"p": number + 1})))
    builder = KeyboardBuilder()
    builder.row(*turn)
    origin = cb.Library(a=Action.HELP, i=callback_data.i, n=callback_data.n) if callback_data.n else LIST
    await show(query, page_text(reading, number, i18n.current_locale), with_nav(builder, origin))


def create_router() -> Router:
    router = Router(name="library")
    press = router.callback_query.register
    press(show_list, cb.Library.filter(F.a == Action.LIST))
    press(may_help, cb.Library.filter(F.a == Action.HELP))
    press(read, cb.Library.filter(F.a == Action.READ))
    return router
