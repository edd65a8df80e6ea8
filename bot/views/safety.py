"""The safety screens' texts and keyboards, shared by the handlers and the check-in reminder.
Render inside an i18n context (the current locale)."""

from __future__ import annotations

import html

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.content import lines
from bot.telegram.callbacks import Book, Menu, Relax, Safe, SafeAction
from bot.telegram.keyboards import KeyboardBuilder, button, nav_row
from storage.models import SafetyPlan
from storage.models.safety import PLAN_STEPS

GROUNDING = "grounding"  # the exercise offered after "I am safe" (bot/content/exercises.toml)


def earliest_button() -> InlineKeyboardButton:
    return button(_("book-earliest"), Book(a="soon"))


def _rows(builder: KeyboardBuilder, *buttons: InlineKeyboardButton) -> None:
    for each in buttons:
        builder.row(each)


def answers(builder: KeyboardBuilder) -> None:
    """ "Are you safe right now?": yes, not sure, no."""
    builder.row(
        button(_("safety-answer-yes"), Safe(a=SafeAction.SAFE)),
        button(_("safety-answer-unsure"), Safe(a=SafeAction.UNSURE)),
    )
    builder.row(button(_("safety-answer-no"), Safe(a=SafeAction.DANGER)))


def alarm(
    settings: Settings, go_back: InlineKeyboardButton | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """The first reply to a crisis message, wherever the teacher typed it."""
    text = "\n\n".join((_("safety-alarm"), lines.text(settings.support.crisis_lines), _("safety-ask")))
    builder = KeyboardBuilder()
    answers(builder)
    _rows(
        builder,
        button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
        button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
    )
    if go_back is not None:
        builder.row(go_back)
    builder.row(*nav_row())
    return text, builder.as_markup()


def _checkin(builder: KeyboardBuilder) -> None:
    builder.row(
        button(_("safety-checkin-yes"), Safe(a=SafeAction.CHECKIN_YES)),
        button(_("safety-checkin-no"), Safe(a=SafeAction.CHECKIN_NO)),
    )


def answered(answer: SafeAction, settings: Settings) -> tuple[str, InlineKeyboardMarkup]:
    """What follows "Are you safe right now?": yes → what may help; not sure → the plan, lines and
    the duty psychologist; no → 112 and 103 first, then the lines. Each ends with the check-in offer."""
    builder = KeyboardBuilder()
    others = [number for number in settings.support.crisis_lines if number not in ("112", "103")]
    if answer is SafeAction.SAFE:
        parts = [_("safety-yes")]
        _rows(
            builder,
            button(_("safety-grounding"), Relax(action="card", value=GROUNDING)),
            button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
            earliest_button(),
            button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
        )
    elif answer is SafeAction.UNSURE:
        parts = [_("safety-unsure"), lines.text(settings.support.crisis_lines)]
        _rows(
            builder,
            button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
            button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
            earliest_button(),
        )
    else:
        parts = [_("safety-danger"), _("safety-more-lines") + "\n" + lines.text(others)]
        _rows(
            builder,
            button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
            button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
        )
    parts.append(_("safety-checkin-ask"))
    _checkin(builder)
    builder.row(*nav_row())
    return "\n\n".join(parts), builder.as_markup()


def checkin() -> tuple[str, InlineKeyboardMarkup]:
    """The message a day after a safety screen, for those who asked for it: the same choices."""
    builder = KeyboardBuilder()
    answers(builder)
    _rows(
        builder,
        button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
        button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
    )
    builder.row(*nav_row())
    return f"{_('checkin-message')}\n\n<b>{_('checkin-ask')}</b>", builder.as_markup()


def concern(about_student: bool, settings: Settings) -> tuple[str, InlineKeyboardMarkup]:
    """For a teacher worried about a student (150 first) or another person: lines and how to talk."""
    key = "concern-student" if about_student else "concern-other"
    text = _(key).format(lines=lines.text(settings.support.concern_lines))
    builder = KeyboardBuilder()
    _rows(
        builder,
        button(_("concern-ask-button"), Menu(item="ask")),
        button(_("distress-talk"), Menu(item="book")),
    )
    builder.row(*nav_row())
    return text, builder.as_markup()


def distress() -> tuple[str, InlineKeyboardMarkup]:
    """A warm reply, not "did not understand", to someone who is struggling."""
    builder = KeyboardBuilder()
    _rows(
        builder,
        button(_("distress-talk"), Menu(item="book")),
        button(_("distress-ask"), Menu(item="ask")),
        button(_("safety-grounding"), Relax(action="card", value=GROUNDING)),
        button(_("menu-sos"), Menu(item="sos")),
    )
    builder.row(*nav_row())
    return _("distress-text"), builder.as_markup()


def plan(row: SafetyPlan | None) -> tuple[str, InlineKeyboardMarkup]:
    parts = [_("plan-title")]
    builder = KeyboardBuilder()
    for number in range(1, PLAN_STEPS + 1):
        title = _(f"plan-step-{number}")
        written = row.step(number) if row is not None else None
        body = html.escape(written, quote=False) if written else f"<i>{_('plan-empty')}</i>"
        parts.append(f"<b>{number}. {title}</b>\n{body}")
        builder.button(
            text=_("plan-edit-button").format(n=number, title=title),
            callback_data=Safe(a=SafeAction.STEP, n=number),
        )
    builder.adjust(1)
    if row is not None and any(row.step(n) for n in range(1, PLAN_STEPS + 1)):
        builder.row(button(_("plan-clear-button"), Safe(a=SafeAction.CLEAR)))
    builder.row(*nav_row(Menu(item="sos")))
    return "\n\n".join(parts), builder.as_markup()


def urgent(settings: Settings) -> tuple[str, InlineKeyboardMarkup]:
    """Urgent help from the menu or /sos: the lines, and the safety plan, the duty psychologist,
    the earliest consultation and the screen for a worry about someone else, one tap each."""
    text = f"{_('urgent-intro')}\n\n{lines.text(settings.support.crisis_lines)}\n\n{_('urgent-outro')}"
    builder = KeyboardBuilder()
    _rows(
        builder,
        button(_("safety-plan-button"), Safe(a=SafeAction.PLAN)),
        button(_("safety-handoff-button"), Safe(a=SafeAction.HANDOFF)),
        earliest_button(),
        button(_("safety-concern-button"), Safe(a=SafeAction.CONCERN)),
    )
    builder.row(*nav_row())
    return text, builder.as_markup()
