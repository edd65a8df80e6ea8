"""Small-cell suppression for statistics: no count below the threshold is shown, and none can be
worked out by subtracting the shown ones from a shown total."""
from __future__ import annotations

from collections.abc import Mapping


COMPLEMENT = "*"  # hidden only because it would give a small count away


def hidden(minimum: int) -> str:
    return f"<{minimum}"


def suppress(cells: Mapping[str, int], minimum: int, total: int | None = None) -> dict[str, str]:
    """Counts as text; those below `minimum` (but above 0) become "<minimum".

    When the parts add up to a shown `total`, one hidden part could be computed from the others,
    so the smallest remaining part is hidden too, as "*" (complementary suppression). A zero is shown:
    it reveals nobody.
    """
    shown = {key: str(value) for key, value in cells.items()}
    small = [key for key, value in cells.items() if 0 < value < minimum]
    for key in small:
        shown[key] = hidden(minimum)
    if total is not None and len(small) == 1 and total >= minimum:
        others = sorted((value, key) for key, value in cells.items() if key != small[0] and value > 0)
        if others:
            shown[others[0][1]] = COMPLEMENT
    return shown


def count(value: int, minimum: int) -> str:
    return hidden(minimum) if 0 < value < minimum else str(value)


def ratio(part: int, whole: int, minimum: int) -> str:
    """A percentage only when both counts are big enough to show."""
    if whole <= 0 or 0 < part < minimum or whole < minimum:
        return "—" if whole <= 0 else hidden(minimum)
    return f"{round(100 * part / whole)}%"
