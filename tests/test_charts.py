from __future__ import annotations

import asyncio
import io
import struct
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from matplotlib import image as mpimg

from bot.views.charts import latest_of_each_day, render_history_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALMATY = timezone(timedelta(hours=5))
THRESHOLDS = [(5, "Жеңіл деңгей"), (10, "Орташа деңгей"), (15, "Орташадан жоғары"), (20, "Ауыр деңгей")]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def points(n: int, *, tz: timezone | None = ALMATY) -> list[tuple[datetime, float]]:
    start = datetime(2026, 1, 10, 19, 30, tzinfo=tz)
    return [(start + timedelta(days=14 * i), float((i * 7) % 28)) for i in range(n)]


def render(pts: list[tuple[datetime, float]], **kwargs: object) -> bytes:
    args: dict = {
        "title": "Депрессия белгілерін тексеру (PHQ-9) — Ұйқы, қуат, көңіл-күй",
        "points": pts,
        "y_range": (0, 27),
        "thresholds": THRESHOLDS,
        "y_label": "Балл",
    }
    args.update(kwargs)
    return render_history_chart(**args)


@pytest.mark.parametrize("n", [1, 2, 20])
def test_renders_a_valid_png(n: int) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = render(points(n))
    assert png_size(data) == (800, 450)
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (450, 800)
    assert pixels.std() > 0  # something was actually drawn
    # A missing glyph (Kazakh or Cyrillic letter) makes matplotlib warn.
    assert not [w for w in caught if "missing from" in str(w.message)]


def test_naive_datetimes_same_day_points_and_unsorted_input() -> None:
    pts = points(5, tz=None)
    same_day = [(datetime(2026, 3, 1, 9), 40.0), (datetime(2026, 3, 1, 18), 60.0)]
    for data in (
        render(list(reversed(pts))),
        render(
            same_day,
            y_range=(0, 100),
            thresholds=[(50, "Умеренный"), (75, "Высокий"), (100, "Очень высокий")],
        ),
        render(points(30), y_range=(1, 5), thresholds=[], y_label="Көңіл-күй"),
    ):
        assert png_size(data) == (800, 450)
    # Two results of one day would stand as a vertical line: the day's latest is drawn.
    next_day = (datetime(2026, 3, 2, 8), 55.0)
    assert latest_of_each_day([next_day, same_day[1], same_day[0]]) == [same_day[1], next_day]


def test_rejects_empty_history_and_bad_range() -> None:
    with pytest.raises(ValueError):
        render([])
    with pytest.raises(ValueError):
        render(points(2), y_range=(10, 10))


async def test_renders_concurrently_in_threads() -> None:
    results = await asyncio.gather(*(asyncio.to_thread(render, points(n)) for n in (1, 5, 20, 20, 3, 8)))
    assert all(png_size(r) == (800, 450) for r in results)


@pytest.mark.parametrize("n", [1, 20])
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_every_instrument_scale_charts_with_its_band_thresholds(n: int, lang: str) -> None:
    """The charts the self-check history sends: each real scale, its range and band lines, fractional scores."""
    from bot.content.instruments import load_instruments

    for instrument in load_instruments().values():
        for scale in instrument.scales:
            span = scale.max - scale.min
            pts = [(t, scale.min + span * ((i * 37) % 101) / 100) for i, (t, _v) in enumerate(points(n))]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = render_history_chart(
                    title=f"{instrument.name(lang)} ({instrument.abbreviation}) — {scale.name(lang)}",
                    points=pts,
                    y_range=(scale.min, scale.max),
                    thresholds=scale.thresholds(lang),
                    y_label="Балл",
                )
            assert png_size(data) == (800, 450), (instrument.key, scale.key)
            assert not [w for w in caught if "missing from" in str(w.message)]
