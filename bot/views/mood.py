"""The mood check-in's scale, shared by the mood screen and the daily mood nudge."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.telegram import callbacks as cb
from bot.telegram.keyboards import KeyboardBuilder

SCORES = range(1, 6)


def score_buttons(builder: KeyboardBuilder) -> None:
    """One tap per score, the good end on top, as people read a scale."""
    for score in reversed(SCORES):
        builder.button(
            text=_(f"mood-score-{score}"), callback_data=cb.Mood(action=cb.MoodAction.SCORE, value=score)
        )
