"""PNG line charts of score history (questionnaires) and of the 30-day mood log.

Built on ``matplotlib.figure.Figure`` with the Agg canvas and never on pyplot:
pyplot keeps a global registry of open figures (a leak in a long-running bot)
and is not safe to use from several threads, while a standalone Figure is an
ordinary object that is garbage-collected after use.  Callers run
:func:`render_history_chart` in a worker thread (``asyncio.to_thread``).
No global ``rcParams`` are changed; fonts are set per text element instead.
matplotlib is imported on the first chart, not at start: it is 40 MB of a bot that
mostly never draws.
"""

from __future__ import annotations

import io
import textwrap
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["render_history_chart"]

# DejaVu Sans ships with matplotlib and covers Cyrillic and the Kazakh letters
# (ә ғ қ ң ө ұ ү һ і), so labels never turn into empty boxes whatever the host has.
FONT = "DejaVu Sans"
WIDTH_PX, HEIGHT_PX, DPI = 800, 450, 100  # reads well on a phone, small to send
LINE_COLOR = "#2f6db5"
THRESHOLD_COLOR = "#8a8a8a"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def render_history_chart(
    *,
    title: str,
    points: list[tuple[datetime, float]],
    y_range: tuple[float, float],
    thresholds: list[tuple[float, str]],
    y_label: str,
) -> bytes:
    """Render a score history as PNG bytes (800x450).

    ``points`` may come in any order and may be timezone-aware: dates are shown
    as dd.mm in the timezone of the points, one point a day (the day's latest). ``thresholds`` are drawn as dashed
    horizontal lines with their labels; those outside ``y_range`` are skipped.
    """
    if not points:
        raise ValueError("no points to draw")
    y_min, y_max = y_range
    if not y_min < y_max:
        raise ValueError(f"invalid y_range {y_range}")

    points = latest_of_each_day(points)
    dates = [p[0] for p in points]
    ys = [float(p[1]) for p in points]

    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs = [float(mdates.date2num(day)) for day in dates]  # matplotlib's day numbers: what its axes take
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()

    _value_axis(ax, y_min, y_max)
    _thresholds(ax, thresholds, y_min, y_max)

    ax.plot(
        xs, ys, color=LINE_COLOR, linewidth=2.2, marker="o", markersize=6 if len(xs) > 12 else 8, zorder=3
    )
    # The latest value is what the teacher looks for first.
    ax.annotate(
        _fmt(ys[-1]),
        (xs[-1], ys[-1]),
        xytext=(0, 9),
        textcoords="offset points",
        ha="center",
        fontsize=12,
        fontweight="bold",
        fontfamily=FONT,
        color=LINE_COLOR,
        zorder=4,
    )
    _date_axis(ax, dates)

    ax.set_title("\n".join(textwrap.wrap(title, 60)), fontsize=14, fontfamily=FONT, loc="left")
    ax.set_ylabel(y_label, fontsize=11, fontfamily=FONT)
    ax.tick_params(labelsize=11, labelfontfamily=FONT)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def latest_of_each_day(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """In time order, one point a day (the day's latest): several results of one day would
    otherwise stand as a vertical line. The history list above the chart keeps them all."""
    by_day: dict[date, tuple[datetime, float]] = {}
    for point in sorted(points, key=lambda p: p[0]):
        by_day[point[0].date()] = point
    return list(by_day.values())


def _value_axis(ax: Axes, y_min: float, y_max: float) -> None:
    from matplotlib.ticker import MaxNLocator

    span = y_max - y_min
    ax.set_ylim(y_min - span * 0.03, y_max + span * 0.06)  # keep lines at the limits visible
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))  # scores and mood are whole numbers
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _thresholds(ax: Axes, thresholds: list[tuple[float, str]], y_min: float, y_max: float) -> None:
    """Dashed lines with their labels, those inside the range only."""
    span = y_max - y_min
    for value, label in thresholds:
        if not y_min <= value <= y_max:
            continue
        ax.axhline(value, color=THRESHOLD_COLOR, linestyle="--", linewidth=1.2, zorder=1)
        near_top = value > y_max - span * 0.08
        ax.text(
            0.995,
            value,
            f"{label} · {_fmt(value)}",
            # x in axes fraction, y in data: the label sticks to the right edge.
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="top" if near_top else "bottom",
            fontsize=10,
            fontfamily=FONT,
            color="#555555",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            zorder=2,
        )


def _date_axis(ax: Axes, dates: list[datetime]) -> None:
    """Dates as dd.mm in the timezone of the points."""
    from matplotlib import dates as mdates

    def x(moment: datetime) -> float:
        return float(mdates.date2num(moment))

    tz = dates[0].tzinfo
    if dates[-1] - dates[0] < timedelta(days=1):
        # A lone point (or a single day): one date, right under it, in a window
        # wide enough not to look like a zoomed-in glitch.
        ax.set_xlim(x(dates[0] - timedelta(days=3)), x(dates[-1] + timedelta(days=3)))
        ax.set_xticks([x(dates[0])])
    else:
        pad = (dates[-1] - dates[0]) * 0.05
        ax.set_xlim(x(dates[0] - pad), x(dates[-1] + pad))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=tz, minticks=2, maxticks=7))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m", tz=tz))
