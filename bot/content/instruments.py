"""Psychometric instruments: content loader, validation and scoring engine.

Pure Python (no aiogram, no DB): handlers, reports and charts all call the same
exhaustively tested code, and a content mistake fails loudly at start-up instead
of silently mis-scoring a teacher's answers.

One TOML file per instrument in ``bot/content/instruments/<key>.toml``; adding an
instrument means adding a file (the file name must equal its ``key``).

File format (``phq9.toml`` is the annotated example)::

    key, order, abbreviation, source          plain values
    name, intro, translation                  {kk, ru} texts
    [option_sets.<set>]  min, max             declared value range
    [[option_sets.<set>.options]]             value, label.{kk,ru}; PUBLISHED order
    [[items]]     key, option_set, text.{kk,ru}, reversed (default false)
    [[scales]]    key, name, items, method ("sum" | "mean"), multiplier (1),
                  decimals (0), band_step (1), min, max, band_source
    [[scales.bands]]  min, max, key, label, meaning, severity (0..3), recommend
    [[safety]]    key, item XOR scale, op (> >= < <= ==), value, recommend

Scoring rules:
* a reversed item scores ``set.min + set.max - value`` (CBI: 100 - v, PSS: 4 - v);
  the item is found by its key, never by position;
* scale = sum or mean of its item scores, times ``multiplier``, rounded half-up
  to ``decimals`` (``decimals = 0`` gives an ``int``);
* bands are written as the published inclusive ranges (CBI "0-49, 50-74, 75-99,
  100"), contiguous with ``next.min == prev.max + band_step``.  A score is put in
  the LAST band whose ``min`` <= score, i.e. half-open ``[min, next.min)``, so a
  mean such as 49.9 falls in 0-49 and never in a gap;
* item safety rules compare the raw answer (before reversal) and fire at once,
  see :meth:`Instrument.safety_triggered_by`; scale rules compare the reported
  score;
* recommendations are plain keys: ``booking``, ``groups`` or ``exercise:<id>``.
"""

from __future__ import annotations

import math
import operator
import tomllib
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "DEFAULT_DIR",
    "LANGS",
    "AnswerError",
    "Band",
    "Instrument",
    "InstrumentError",
    "Item",
    "L10n",
    "Lang",
    "Option",
    "OptionSet",
    "Result",
    "SafetyRule",
    "Scale",
    "ScaleResult",
    "language",
    "load_instrument",
    "load_instruments",
]

Lang = Literal["kk", "ru"]
LANGS: tuple[Lang, ...] = ("kk", "ru")
DEFAULT_DIR = Path(__file__).resolve().parent / "instruments"


def language(code: str) -> Lang:
    """A locale code (e.g. the user's) as one of the languages every text is written in."""
    for lang in LANGS:
        if code == lang:
            return lang
    raise ValueError(f"unsupported language {code!r}")


class InstrumentError(ValueError):
    """A content file is invalid; names the file and the field path (0-based indexes)."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file, self.path, self.message = file, path, message
        super().__init__(f"{file}: {path}: {message}" if path else f"{file}: {message}")


class AnswerError(ValueError):
    """Answers do not fit the instrument (missing, unknown item, value not offered)."""


def _fail(path: str, message: str) -> PydanticCustomError:
    # Cross-field problems travel through pydantic with a sub-path in ctx, so the
    # final message gets the full location, e.g. "items[6].option_set".
    return PydanticCustomError("content", "{msg}", {"msg": message, "path": path})


def _int_if_integral(v: float) -> float:
    # Keep 0..27 as ints so they display as "27", not "27.0".
    return int(v) if v.is_integer() else v


Key = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Text = Annotated[StrictStr, Field(min_length=1)]
Number = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_int_if_integral)]
RecommendationKey = Annotated[
    StrictStr, Field(pattern=r"^(booking|groups|exercise:[a-z0-9][a-z0-9_-]{0,15})$")
]
Severity = Annotated[StrictInt, Field(ge=0, le=3)]


class _Content(BaseModel):
    # extra="forbid" turns a typo such as `reverse = true` into an error instead
    # of a silently unreversed item.
    model_config = ConfigDict(frozen=True, extra="forbid")


class L10n(_Content):
    """A text in both languages; call it with the language: ``item.text("kk")``."""

    kk: StrictStr
    ru: StrictStr

    @field_validator("kk", "ru")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("empty text")
        return v

    def __call__(self, lang: Lang) -> str:
        if lang == "kk":
            return self.kk
        if lang == "ru":
            return self.ru
        raise ValueError(f"unsupported language {lang!r}")


class Option(_Content):
    value: StrictInt
    label: L10n


class OptionSet(_Content):
    min: StrictInt
    max: StrictInt
    options: tuple[Option, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> OptionSet:
        if self.min >= self.max:
            raise _fail("max", f"max {self.max} must be greater than min {self.min}")
        seen: set[int] = set()
        for i, opt in enumerate(self.options):
            if not self.min <= opt.value <= self.max:
                raise _fail(
                    f"options[{i}].value", f"{opt.value} outside declared range {self.min}..{self.max}"
                )
            if opt.value in seen:
                raise _fail(f"options[{i}].value", f"duplicate option value {opt.value}")
            seen.add(opt.value)
        return self

    @property
    def values(self) -> frozenset[int]:
        return frozenset(o.value for o in self.options)

    def reverse(self, value: int) -> int:
        return self.min + self.max - value

    @property
    def reversible(self) -> bool:
        # Reversal must land on an offered value, otherwise scores drift off the scale.
        return all(self.reverse(v) in self.values for v in self.values)


class Item(_Content):
    key: Key
    text: L10n
    option_set: Key
    reversed: StrictBool = False


class Band(_Content):
    min: Number
    max: Number
    key: Key
    label: L10n
    meaning: L10n
    severity: Severity
    recommend: tuple[RecommendationKey, ...] = ()


class Scale(_Content):
    key: Key
    name: L10n
    items: tuple[Key, ...] = Field(min_length=1)
    method: Literal["sum", "mean"]
    multiplier: Annotated[Number, Field(gt=0)] = 1
    decimals: Annotated[StrictInt, Field(ge=0, le=3)] = 0
    band_step: Annotated[Number, Field(gt=0)] = 1
    min: Number
    max: Number
    bands: tuple[Band, ...] = Field(min_length=1)
    band_source: Text

    @model_validator(mode="after")
    def _check(self) -> Scale:
        seen_items: set[str] = set()
        for i, key in enumerate(self.items):
            if key in seen_items:
                raise _fail(f"items[{i}]", f"item {key!r} listed twice")
            seen_items.add(key)
        if self.min >= self.max:
            raise _fail("max", f"max {self.max} must be greater than min {self.min}")
        # Bands must tile [min, max] exactly: no gap, no overlap, in ascending order.
        if not math.isclose(self.bands[0].min, self.min):
            raise _fail(
                "bands[0].min", f"first band starts at {self.bands[0].min}, scale starts at {self.min}"
            )
        seen_bands: set[str] = set()
        for i, band in enumerate(self.bands):
            if band.key in seen_bands:
                raise _fail(f"bands[{i}].key", f"duplicate band key {band.key!r}")
            seen_bands.add(band.key)
            if band.min > band.max:
                raise _fail(f"bands[{i}].max", f"band max {band.max} below its min {band.min}")
            if i and not math.isclose(band.min, self.bands[i - 1].max + self.band_step):
                prev = self.bands[i - 1].max
                kind = "gap" if band.min > prev + self.band_step else "overlap"
                raise _fail(
                    f"bands[{i}].min",
                    f"{kind}: band starts at {band.min} but previous band ends at {prev} (band_step {self.band_step})",
                )
        if not math.isclose(self.bands[-1].max, self.max):
            last = len(self.bands) - 1
            raise _fail(
                f"bands[{last}].max", f"last band ends at {self.bands[last].max}, scale ends at {self.max}"
            )
        return self

    def band_for(self, score: float) -> Band:
        """Band of a reported score: the last band whose min <= score (half-open)."""
        if not self.min <= score <= self.max:
            raise ValueError(f"score {score} outside {self.key} range {self.min}..{self.max}")
        return next(b for b in reversed(self.bands) if score >= b.min)

    def thresholds(self, lang: Lang) -> list[tuple[float, str]]:
        """Band boundaries for charts: (lower bound, label) of every band but the first."""
        return [(b.min, b.label(lang)) for b in self.bands[1:]]


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


class SafetyRule(_Content):
    key: Key
    item: Key | None = None
    scale: Key | None = None
    op: Literal[">", ">=", "<", "<=", "=="]
    value: Number
    recommend: tuple[RecommendationKey, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> SafetyRule:
        if (self.item is None) == (self.scale is None):
            raise _fail("item", "a safety rule needs exactly one of 'item' or 'scale'")
        return self

    def fires(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)


class ScaleResult(BaseModel):
    """One scale of a stored result; texts are embedded so history reads as shown."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    name: L10n
    score: int | float
    min: int | float
    max: int | float
    band: str
    band_label: L10n
    band_meaning: L10n
    severity: int


class Result(BaseModel):
    """Outcome of :meth:`Instrument.score`; ``to_dict``/``from_dict`` give plain JSON data."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    instrument: str
    scales: dict[str, ScaleResult]
    safety: bool
    safety_rules: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()

    @property
    def max_severity(self) -> int:
        return max(s.severity for s in self.scales.values())

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        return cls.model_validate(data)


def _round_half_up(x: Fraction, decimals: int) -> int | float:
    # Exact arithmetic plus half-up rounding: 12.25 shows as 12.3 (not banker's
    # 12.2), and the number shown is the one classified into a band.
    q = abs(x) * 10**decimals
    n = math.floor(q + Fraction(1, 2)) * (1 if x >= 0 else -1)
    return n if decimals == 0 else n / 10**decimals


def _dedupe(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


class Instrument(_Content):
    key: Key
    order: StrictInt
    abbreviation: Text
    name: L10n
    intro: L10n
    source: Text
    translation: L10n
    option_sets: dict[Key, OptionSet] = Field(min_length=1)
    items: tuple[Item, ...] = Field(min_length=1)
    scales: tuple[Scale, ...] = Field(min_length=1)
    safety: tuple[SafetyRule, ...] = ()

    _items: dict[str, Item] = PrivateAttr(default_factory=dict)
    _scales: dict[str, Scale] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Instrument:
        items = self._checked_items()
        scales = self._checked_scales(items)
        self._check_safety(items, scales)
        self._items, self._scales = items, scales
        return self

    def _checked_items(self) -> dict[str, Item]:
        items: dict[str, Item] = {}
        for i, item in enumerate(self.items):
            if item.key in items:
                raise _fail(f"items[{i}].key", f"duplicate item key {item.key!r}")
            if not item.key.startswith(f"{self.key}_"):
                # Globally unique item keys let answers of all instruments share storage.
                raise _fail(f"items[{i}].key", f"item key {item.key!r} must start with '{self.key}_'")
            opts = self.option_sets.get(item.option_set)
            if opts is None:
                raise _fail(f"items[{i}].option_set", f"unknown option set {item.option_set!r}")
            if item.reversed and not opts.reversible:
                raise _fail(
                    f"items[{i}].reversed",
                    f"option set {item.option_set!r} is not symmetric over {opts.min}..{opts.max}, cannot reverse",
                )
            items[item.key] = item
        return items

    def _checked_scales(self, items: dict[str, Item]) -> dict[str, Scale]:
        """Every item in some scale; each scale's declared range the one its items produce."""
        scales: dict[str, Scale] = {}
        used: set[str] = set()
        for s, scale in enumerate(self.scales):
            if scale.key in scales:
                raise _fail(f"scales[{s}].key", f"duplicate scale key {scale.key!r}")
            for j, key in enumerate(scale.items):
                if key not in items:
                    raise _fail(f"scales[{s}].items[{j}]", f"unknown item {key!r}")
            used.update(scale.items)
            # The declared range must be what the items can actually produce: this
            # catches a forgotten item, a wrong multiplier or a wrong method.
            lows = [min(self.option_sets[items[k].option_set].values) for k in scale.items]
            highs = [max(self.option_sets[items[k].option_set].values) for k in scale.items]
            for field, values, declared in (("min", lows, scale.min), ("max", highs, scale.max)):
                expected = self._aggregate(scale, values)
                if not math.isclose(expected, declared):
                    raise _fail(f"scales[{s}].{field}", f"declared {declared} but the items give {expected}")
            scales[scale.key] = scale
        for i, item in enumerate(self.items):
            if item.key not in used:
                raise _fail(f"items[{i}]", f"item {item.key!r} is not used by any scale")
        return scales

    def _check_safety(self, items: dict[str, Item], scales: dict[str, Scale]) -> None:
        """Unique rules, each on a known item (firing for some options, not all) or scale (within range)."""
        rule_keys: set[str] = set()
        for r, rule in enumerate(self.safety):
            if rule.key in rule_keys:
                raise _fail(f"safety[{r}].key", f"duplicate safety rule key {rule.key!r}")
            rule_keys.add(rule.key)
            if rule.item is not None:
                if rule.item not in items:
                    raise _fail(f"safety[{r}].item", f"unknown item {rule.item!r}")
                values = sorted(self.option_sets[items[rule.item].option_set].values)
                fired = [v for v in values if rule.fires(v)]
                if not fired or len(fired) == len(values):
                    raise _fail(
                        f"safety[{r}].value",
                        f"rule fires for {fired} of option values {values}; check op/value",
                    )
            else:
                target = scales.get(rule.scale or "")
                if target is None:
                    raise _fail(f"safety[{r}].scale", f"unknown scale {rule.scale!r}")
                if not target.min <= rule.value <= target.max:
                    raise _fail(
                        f"safety[{r}].value", f"{rule.value} outside scale range {target.min}..{target.max}"
                    )

    @staticmethod
    def _aggregate(scale: Scale, values: list[int]) -> int | float:
        raw = Fraction(sum(values)) if scale.method == "sum" else Fraction(sum(values), len(values))
        return _round_half_up(raw * Fraction(scale.multiplier), scale.decimals)

    # -- lookups ---------------------------------------------------------------

    def item(self, key: str) -> Item:
        try:
            return self._items[key]
        except KeyError:
            raise AnswerError(f"{self.key}: unknown item {key!r}") from None

    def scale(self, key: str) -> Scale:
        return self._scales[key]

    def scales_of(self, item: Item | str) -> list[Scale]:
        key = item if isinstance(item, str) else item.key
        return [s for s in self.scales if key in s.items]

    def options_for(self, item: Item | str) -> tuple[Option, ...]:
        """Answer options of an item, in the instrument's published order."""
        it = self.item(item) if isinstance(item, str) else item
        return self.option_sets[it.option_set].options

    # -- scoring ---------------------------------------------------------------

    def _checked_value(self, item: Item, value: object) -> int:
        allowed = self.option_sets[item.option_set].values
        # bool is an int subclass; True must not pass as the answer "1".
        if type(value) is not int or value not in allowed:
            raise AnswerError(f"{self.key}: {item.key}: {value!r} is not one of {sorted(allowed)}")
        return value

    def item_score(self, item: Item | str, value: int) -> int:
        """Contribution of one answer to its scales (reversal applied)."""
        it = self.item(item) if isinstance(item, str) else item
        v = self._checked_value(it, value)
        return self.option_sets[it.option_set].reverse(v) if it.reversed else v

    def safety_triggered_by(self, item_key: str, value: int) -> bool:
        """True if this single answer must open the safety screen NOW.

        Call it after every answer, before showing the next question: PHQ-9 item 9
        above 0 must interrupt the questionnaire whatever the running total.
        """
        v = self._checked_value(self.item(item_key), value)
        return any(r.item == item_key and r.fires(v) for r in self.safety)

    def score(self, answers: Mapping[str, int]) -> Result:
        """Score a complete set of answers ``{item_key: option value}``."""
        missing = [i.key for i in self.items if i.key not in answers]
        if missing:
            raise AnswerError(f"{self.key}: missing answers for {missing}")
        unknown = sorted(set(answers) - self._items.keys())
        if unknown:
            raise AnswerError(f"{self.key}: answers for unknown items {unknown}")
        item_scores = {i.key: self.item_score(i, answers[i.key]) for i in self.items}

        results: dict[str, ScaleResult] = {}
        recommendations: list[str] = []
        for scale in self.scales:
            score = self._aggregate(scale, [item_scores[k] for k in scale.items])
            band = scale.band_for(score)
            recommendations.extend(band.recommend)
            results[scale.key] = ScaleResult(
                key=scale.key,
                name=scale.name,
                score=score,
                min=scale.min,
                max=scale.max,
                band=band.key,
                band_label=band.label,
                band_meaning=band.meaning,
                severity=band.severity,
            )

        fired = [
            r
            for r in self.safety
            if r.fires(answers[r.item] if r.item is not None else results[r.scale or ""].score)
        ]
        return Result(
            instrument=self.key,
            scales=results,
            safety=bool(fired),
            safety_rules=tuple(r.key for r in fired),
            # Safety next steps first: they are the ones that must not be missed.
            recommendations=_dedupe([k for r in fired for k in r.recommend] + recommendations),
        )


# -- loading -------------------------------------------------------------------


def _loc_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_instrument(path: Path) -> Instrument:
    """Load and validate one file; raises :class:`InstrumentError`."""
    name = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise InstrumentError(name, "", f"invalid TOML: {e}") from None
    try:
        instrument = Instrument.model_validate(data)
    except ValidationError as e:
        # The first error is the real one; later ones are often knock-on effects
        # (a rejected band also empties the band list), so they are not reported.
        err = e.errors()[0]
        where = _loc_path(tuple(err["loc"]))
        sub = (err.get("ctx") or {}).get("path", "")
        where = ".".join(p for p in (where, sub) if p).replace(".[", "[")
        raise InstrumentError(name, where, err["msg"]) from None
    if instrument.key != path.stem:
        raise InstrumentError(name, "key", f"key {instrument.key!r} must match the file name {path.stem!r}")
    return instrument


def load_instruments(directory: Path | None = None) -> dict[str, Instrument]:
    """All ``*.toml`` instruments of ``directory``, ordered for display by (order, key)."""
    directory = DEFAULT_DIR if directory is None else directory
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise InstrumentError(str(directory), "", "no instrument files (*.toml) found")
    instruments = [load_instrument(f) for f in files]
    instruments.sort(key=lambda i: (i.order, i.key))
    return {i.key: i for i in instruments}
