"""Small-cell suppression for statistics, over every figure that adds up to another one.

A *cell* is one count shown somewhere (a region's PHQ-9 "mild" in October). A *group* is an exact
sum: a total and its parts (the bands of a scale add up to the results; the regions and the
teachers without a region add up to the country; the months add up to their quarter). Whoever
sees the shown cells can solve these sums, so `protect` hides cells until, in every group:

- a shown total's hidden parts add up to 0 or to at least the minimum (never "two hidden cells
  and the total give both away");
- a hidden total is never the plain sum of shown parts;
- a hidden total of a breakdown on screen hides its parts too (a hidden number is not split);

and then checks all groups at once, as linear equations (an attacker with every screen, every
region and every period can solve them together): no small count, and no band holding a whole
scale's results, may be worked out exactly. Further cells are hidden smallest first until all of
this holds. Every hidden cell shows the same mark, whatever the reason, so a hidden count's
reason (small, or hidden for another's sake) does not narrow it down either. A zero is shown:
it reveals nobody.

Cells already published (an earlier month) are fixed: they are neither hidden nor revealed now;
only the `new` cells (the period being published) may be hidden to protect them.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass

HIDDEN = "×"  # the one mark of every hidden count
# Elimination runs modulo this prime, not over the rationals: exact integers, many times faster,
# and the same answer unless the prime divides a determinant of these sums of ±1 (for 61 bits and
# the sizes here, never found; tests/test_coordinator_stats.py compares it with the rationals).
PRIME = 2**61 - 1


@dataclass(frozen=True)
class Group:
    total: Hashable
    parts: tuple[Hashable, ...]
    # A breakdown shown under its total: when the total is hidden, so are its parts.
    breakdown: bool = False
    # Parts that are results about people (self-check bands): never all in one part.
    dominance: bool = False

    @property
    def members(self) -> tuple[Hashable, ...]:
        return (self.total, *self.parts)


def protect(
    values: Mapping[Hashable, int],
    groups: Iterable[Group],
    minimum: int,
    *,
    new: Collection[Hashable],
    hidden: Collection[Hashable] = (),
    never_shown: Collection[Hashable] = (),
) -> set[Hashable]:
    """The cells to hide. `hidden`: cells hidden before (fixed, with the rest of the old cells
    shown); `never_shown`: cells no screen has (teachers without a region), which still are parts
    of their groups. Deterministic: the same input gives the same cells."""
    never_shown = set(never_shown)
    new = set(new)
    groups = [g for g in groups if all(m in values for m in g.members)]
    # A cell no screen has counts as known when it is 0 (as if the attacker guessed it): the safe side.
    hide = set(hidden) | {c for c in new if (c in never_shown and values[c]) or 0 < values[c] < minimum}
    secret = {c for c, value in values.items() if 0 < value < minimum}  # must never be worked out
    for group in groups:
        nonzero = [p for p in group.parts if values[p]]
        if group.dominance and len(nonzero) == 1:
            # Everybody in one band: hidden with another band, so that a teacher known to have
            # taken it cannot be placed; and it must stay unknown like a small count.
            secret.add(nonzero[0])
            if nonzero[0] in new:
                hide |= {nonzero[0], next(p for p in group.parts if not values[p])}
    touching = [g for g in groups if any(m in new for m in g.members)]

    def smallest(cells: Iterable[Hashable], zeros: bool = False) -> Hashable | None:
        """The smallest new cell still on a screen (nonzero ones first; zeros only if allowed).
        Hiding a cell no screen has would protect nothing."""
        candidates = [
            c
            for c in cells
            if c in new and c not in hide and c not in never_shown and (zeros or values[c] > 0)
        ]
        return min(candidates, key=lambda c: (values[c] == 0, values[c], repr(c)), default=None)

    def fix(group: Group) -> Hashable | None:
        """The next cell to hide for this group's sake, or None if it is safe."""
        if group.total in hide:
            if group.breakdown and (cell := smallest(group.parts)) is not None:
                return cell
            if values[group.total] and not any(p in hide for p in group.parts):
                return smallest(group.parts, zeros=True)
            return None
        if 0 < sum(values[p] for p in group.parts if p in hide) < minimum:
            cell = smallest(group.parts)
            return cell if cell is not None else smallest([group.total])
        return None

    member_of: dict[Hashable, list[Group]] = defaultdict(list)
    for group in groups:
        for cell in group.members:
            member_of[cell].append(group)

    def breaking(proof: Mapping[Group, int]) -> Hashable | None:
        """The smallest new cell still shown whose hiding breaks this proof: its weights in the
        proof's equations do not cancel out, so they no longer add up to the exposed cell alone."""
        weight: dict[Hashable, int] = defaultdict(int)
        for group, w in proof.items():
            for cell, sign in ((group.total, -1), *((p, 1) for p in group.parts)):
                weight[cell] = (weight[cell] + sign * w) % PRIME
        return smallest([c for c, w in weight.items() if w], zeros=True)

    def nearest(cell: Hashable) -> Hashable:
        """The cell to hide for an exposed one: the smallest new one still shown in its groups, or
        else in the groups of the hidden cells around it, and so on outwards: the equations that
        give it away go through hidden cells. (At worst the whole new period gets hidden, which
        adds no equation about the old cells.)"""
        seen, frontier = {cell}, [cell]
        while frontier:
            around = [m for c in frontier for g in member_of[c] for m in g.members]
            choice = smallest(around, zeros=True)
            if choice is not None:
                return choice
            frontier = [m for m in dict.fromkeys(around) if m in hide and m not in seen]
            seen.update(frontier)
        choice = smallest((m for g in touching for m in g.members), zeros=True)
        if choice is None:
            raise AssertionError("a small count follows from figures published before")
        return choice

    equations: Equations | None = None  # built once the groups' own rules hold, then kept up

    def conceal(cell: Hashable) -> None:
        hide.add(cell)
        if equations is not None:
            equations.hide(cell)

    while True:
        changed = False
        for group in touching:
            while (cell := fix(group)) is not None:
                conceal(cell)
                changed = True
        if changed:
            continue
        if equations is None:
            equations = Equations(groups, hide)
        proofs = equations.determined()
        exposed = sorted(proofs.keys() & secret, key=repr)
        if not exposed:
            return hide
        for cell in exposed:
            if (proof := equations.proof(cell)) is not None:  # an earlier choice may have freed it
                choice = breaking(proof)
                conceal(choice if choice is not None else nearest(cell))


@dataclass(frozen=True)
class _Empty:
    """The key of a row with nothing left in it (pivot rows go by their pivot cell)."""

    n: int


class Equations:
    """The groups as linear equations in the hidden cells (the shown cells being known), kept in
    reduced row echelon form as cells get hidden. Each row has its proof: the weights of the
    groups whose equations add up to it (modulo PRIME).

    A hidden cell is determined when its row has no other unknown in it. The cheap part first,
    exactly: an equation with one unknown gives it; an unknown found in one equation only lets
    that equation hold whatever the others are, so that equation is taken last. The rest goes
    through Gauss-Jordan elimination. Rows that reduce to nothing are kept too (with their
    proofs): when one more cell is hidden, its weight in them tells whether it is determined.
    """

    def __init__(self, groups: Iterable[Group], hidden: Collection[Hashable]) -> None:
        self.groups = list(groups)
        self.signs: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)  # cell -> (group, sign)
        for n, group in enumerate(self.groups):
            for cell, sign in ((group.total, -1), *((p, 1) for p in group.parts)):
                self.signs[cell].append((n, sign))
        self.hidden = set(hidden)
        self.rows: dict[Hashable, dict[Hashable, int]] = {}  # pivot -> its row (pivot coefficient 1)
        self.proofs: dict[Hashable, dict[int, int]] = {}  # pivot or _Empty -> its proof
        self.uses: dict[int, set[Hashable]] = defaultdict(set)  # group -> the rows whose proof has it
        self.containing: dict[Hashable, set[Hashable]] = defaultdict(set)  # cell -> pivots whose row has it
        self.empties = 0
        # A group with no hidden cell is a row with nothing in it; it is made one only when one of
        # its cells gets hidden.
        equations = {n: row for n, group in enumerate(self.groups) if (row := self._row(group))}
        self.idle = set(range(len(self.groups))) - set(equations)
        where: dict[Hashable, set[int]] = defaultdict(set)
        for n, row in equations.items():
            for cell in row:
                where[cell].add(n)
        alive, queue = set(equations), deque(sorted(equations))
        singles: list[int] = []
        aside: list[tuple[int, Hashable]] = []  # (equation, its lone unknown)
        while queue:
            n = queue.popleft()
            if n not in alive:
                continue
            row = equations[n]
            if len(row) == 1:
                (cell,) = row
                alive.discard(n)
                singles.append(n)
                for other in where.pop(cell) - {n}:
                    del equations[other][cell]
                    queue.append(other)
            elif len(row) > 1 and (lone := next((c for c in row if len(where[c]) == 1), None)) is not None:
                alive.discard(n)
                aside.append((n, lone))
                for cell in row:
                    where[cell].discard(n)
                    queue.extend(where[cell])
        # In this order each reduction is short: a single's other cells are singles already,
        # and a lone cell is in no row but its own.
        for n in singles:
            self._add(n)
        for n in sorted(alive):
            self._add(n)
        for n, lone in reversed(aside):
            self._add(n, lone)

    def _row(self, group: Group) -> dict[Hashable, int]:
        row: dict[Hashable, int] = {}
        for cell, sign in ((group.total, -1), *((p, 1) for p in group.parts)):
            if cell in self.hidden:
                row[cell] = (row.get(cell, 0) + sign) % PRIME
        return {c: v for c, v in row.items() if v}

    def _empty(self, proof: dict[int, int]) -> _Empty:
        key = _Empty(self.empties)
        self.empties += 1
        self._prove(key, proof)
        return key

    def _prove(self, key: Hashable, proof: dict[int, int]) -> None:
        self.proofs[key] = proof
        for n in proof:
            self.uses[n].add(key)

    def _take(self, key: Hashable, other: Hashable, factor: int) -> None:
        """proof of key -= factor * proof of other, keeping `uses` true."""
        proof = self.proofs[key]
        for n, value in self.proofs[other].items():
            result = (proof.get(n, 0) - factor * value) % PRIME
            if result:
                if n not in proof:
                    self.uses[n].add(key)
                proof[n] = result
            elif n in proof:
                del proof[n]
                self.uses[n].discard(key)

    def _add(self, n: int, pivot: Hashable | None = None) -> None:
        """Equation n, reduced by the rows there are; what is left is a row of its own."""
        row, key = self._row(self.groups[n]), self._empty({n: 1})
        for other in [c for c in row if c in self.rows]:
            factor = row[other]
            _subtract(row, self.rows[other], factor)
            self._take(key, other, factor)
        if row:
            if pivot not in row:
                pivot = min(row, key=lambda c: (len(self.containing[c]), repr(c)))
            self._pivot(pivot, row, key)

    def _pivot(self, pivot: Hashable, row: dict[Hashable, int], key: Hashable) -> None:
        """Make `pivot` the pivot of this row (its proof under `key` so far) and take it out of the others."""
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        proof = self.proofs.pop(key)
        for n in proof:
            self.uses[n].discard(key)
        self._prove(pivot, {n: v * inverse % PRIME for n, v in proof.items()})
        row = {c: v * inverse % PRIME for c, v in row.items()}
        for other in list(self.containing[pivot]):
            target, factor = self.rows[other], self.rows[other][pivot]
            for cell in target:
                if cell != other:
                    self.containing[cell].discard(other)
            _subtract(target, row, factor)
            self._take(other, pivot, factor)
            for cell in target:
                if cell != other:
                    self.containing[cell].add(other)
        self.rows[pivot] = row
        for cell in row:
            if cell != pivot:
                self.containing[cell].add(pivot)

    def hide(self, cell: Hashable) -> None:
        """One more unknown: every row gets it with the weight its proof gives it."""
        if cell in self.hidden:
            return
        self.hidden.add(cell)
        occurs = self.signs.get(cell, [])
        for n, _sign in occurs:
            if n in self.idle:
                self.idle.discard(n)
                self._empty({n: 1})
        weights = {}
        for key in sorted({k for n, _sign in occurs for k in self.uses[n]}, key=repr):
            proof = self.proofs[key]
            if w := sum(proof.get(n, 0) * sign for n, sign in occurs) % PRIME:
                weights[key] = w
        for key, w in weights.items():
            if key in self.rows:
                self.rows[key][cell] = w
                self.containing[cell].add(key)
        found = next((key for key in weights if isinstance(key, _Empty)), None)
        if found is None:
            return  # free: no combination of the equations leaves it alone
        own = weights[found]
        for key, w in weights.items():
            if key != found and isinstance(key, _Empty):
                self._take(key, found, w * pow(own, PRIME - 2, PRIME) % PRIME)
        self._pivot(cell, {cell: own}, found)

    def proof(self, cell: Hashable) -> dict[Group, int] | None:
        """The weights of the groups that give this cell's value, if they do."""
        if len(self.rows.get(cell, ())) != 1:
            return None
        return {self.groups[n]: w for n, w in self.proofs[cell].items()}

    def determined(self) -> dict[Hashable, dict[Group, int]]:
        """The hidden cells whose value follows, each with the weights of the groups that give it."""
        return {
            cell: {self.groups[n]: w for n, w in self.proofs[cell].items()}
            for cell, row in self.rows.items()
            if len(row) == 1
        }


def _subtract(row: dict, other: Mapping, factor: int) -> None:
    """row -= factor * other, modulo PRIME, dropping zeros."""
    for key, value in other.items():
        result = (row.get(key, 0) - factor * value) % PRIME
        if result:
            row[key] = result
        else:
            row.pop(key, None)


def at_least(value: int, minimum: int, fewer: str) -> str:
    """An exact count to show alone (a broadcast's audience): `fewer` ("fewer than 5") below the
    minimum, except 0, which reveals nobody."""
    return fewer if 0 < value < minimum else str(value)
