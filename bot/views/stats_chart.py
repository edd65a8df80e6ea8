"""PNG chart of coordinators' statistics: consultations by part of the period (days of a month,
months of a quarter or year), and self-check bands.

Same rules as bot/views/charts.py: a standalone Figure on the Agg canvas (no pyplot, no global state),
rendered by the caller in a worker thread. It draws only numbers that already went through
small-cell suppression: a hidden value (None) gets no bar, only its "×" mark, and hidden bands
are drawn together as one grey "hidden" part, so no single small count can be read off.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from bot.views.charts import DPI, FONT, LINE_COLOR

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Labels", "render_stats_chart"]

WIDTH_PX, HEIGHT_PX = 900, 900
HIDDEN_COLOR = "#c8c8c8"
BAND_COLORS = ("#4caf7d", "#9ccc65", "#ffca28", "#ff8a50", "#e53935")


@dataclass(frozen=True)
class Labels:
    title: str
    bars: str  # the upper panel's title
    bands: str  # the lower panel's title
    hidden: str  # "×": the mark of a hidden count, and the legend of hidden bands
    empty: str  # "no data" in a panel with nothing to draw


def _colors(count: int) -> list[str]:
    if count <= len(BAND_COLORS):
        step = (len(BAND_COLORS) - 1) / max(count - 1, 1)
        return [BAND_COLORS[round(i * step)] for i in range(count)]
    return [BAND_COLORS[i % len(BAND_COLORS)] for i in range(count)]


def _empty(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        fontsize=12,
        fontfamily=FONT,
        color="#777777",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def render_stats_chart(
    labels: Labels,
    bars: list[tuple[str, int | None]],
    bands: list[tuple[str, int, list[tuple[str, int | None]]]],
) -> bytes:
    """`bars`: (label, count or None if hidden); `bands`: (row label, results, [(band, count or None)])."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # on first use, as in bot/views/charts.py
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(labels.title, fontsize=14, fontfamily=FONT, x=0.02, ha="left")
    # Only the panels with something to draw; with nothing at all, "no data" once.
    panels = [
        (title, draw, ratio)
        for title, draw, ratio, drawn in (
            (labels.bars, partial(_bars, labels=labels, bars=bars), 1.0, has_bars(bars)),
            (labels.bands, partial(_bands, labels=labels, bands=bands), 1.2, bool(bands)),
        )
        if drawn
    ]
    axes = fig.subplots(
        max(len(panels), 1), 1, squeeze=False, height_ratios=[r for *_rest, r in panels] or None
    )
    for ax in axes[:, 0]:
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if not panels:
        _empty(axes[0, 0], labels.empty)
    for ax, (title, draw, _ratio) in zip(axes[:, 0], panels, strict=False):
        ax.set_title(title, fontsize=12, fontfamily=FONT, loc="left")
        draw(ax)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def has_bars(bars: list[tuple[str, int | None]]) -> bool:
    """A count above zero, or a hidden one, to draw."""
    return any(value is None or value > 0 for _label, value in bars)


def _bars(ax: Axes, labels: Labels, bars: list[tuple[str, int | None]]) -> None:
    """One bar a part; a hidden one gets no bar, only its mark."""
    from matplotlib.ticker import MaxNLocator

    xs = list(range(len(bars)))
    ax.bar(xs, [value or 0 for _label, value in bars], color=LINE_COLOR, width=0.7)
    for x, (_label, value) in zip(xs, bars, strict=True):
        if value is None:
            ax.text(
                x, 0, labels.hidden, ha="center", va="bottom", fontsize=8, fontfamily=FONT, color="#777777"
            )
    ax.set_xticks(xs, [label for label, _value in bars], rotation=30 if len(bars) > 6 else 0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9, labelfontfamily=FONT)


def _bands(ax: Axes, labels: Labels, bands: list[tuple[str, int, list[tuple[str, int | None]]]]) -> None:
    """One row a scale: shares of its (shown) total; whatever is hidden is one grey part at the end."""
    for row, (_label, total, cells) in enumerate(bands):
        left = 0.0
        for (name, value), color in zip(cells, _colors(len(cells)), strict=True):
            if value:
                width = value / total
                ax.barh(row, width, left=left, color=color, height=0.6)
                if width > 0.07:
                    ax.text(
                        left + width / 2, row, name, ha="center", va="center", fontsize=7, fontfamily=FONT
                    )
                left += width
        if any(value is None for _name, value in cells) and left < 1:
            ax.barh(row, 1 - left, left=left, color=HIDDEN_COLOR, height=0.6)
            middle = left + (1 - left) / 2
            ax.text(middle, row, labels.hidden, ha="center", va="center", fontsize=7, fontfamily=FONT)
    ax.set_yticks(range(len(bands)), [label for label, _total, _cells in bands])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0%", "25%", "50%", "75%", "100%"])
    ax.tick_params(labelsize=9, labelfontfamily=FONT)
