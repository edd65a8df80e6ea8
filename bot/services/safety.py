"""Crisis, distress and concern for someone else, in free text, however it is spelled.

The rules are locale data (`locales/<lang>/safety.toml`), reviewable by a clinician and checked at
start: every rule carries examples that must fire it. Both languages' rules apply to every message
(teachers mix Russian and Kazakh). A message goes through:

1. Words: lower case; Latin words transliterated to Cyrillic (Russian "ne hochu zhit", informal
   Kazakh "olgim keledi", the Kazakh Latin alphabets "ólgim", "ölgım"); then a *skeleton* that
   both spellings share: Kazakh letters folded (ә→а, ө→о, ү/ұ→у, қ→к, ғ→г, ң→н, і→и, һ→х), ы/й→и,
   я→иа, ю→иу (as Latin writes them), э→е, щ and сч→ш, ц→тс, soft and hard signs dropped, repeated letters once ("нееет" = "нет").
2. Forms: the skeleton of the word and of each Russian lemma pymorphy3 gives it ("повешусь" →
   "повеситься"), so inflection, aspect and word order do not matter.
3. Stems: a rule's slot matches a word when a form begins with one of its stems, or, for stems of
   eight letters or more, differs from it by one letter (a typo: "самоубиство", "суецид").
4. Rules: all slots of a rule on different words close together (fillers such as "мне", "уже"
   not counted), a "!" slot only right after a negation ("не хочу жить"; Kazakh negates inside the
   word, so its stems carry it). Idiom rules run first and take their words out of play
   ("умираю со смеху", "убить время", "күлгеннен өлдім").
5. Who: a crisis about a student or another adult ("ученик сказал, что хочет умереть", "оқушым
   өлгім келеді деп айтты") is a concern for someone else, not the writer's own crisis — unless
   the writer speaks of themself as well.
"""

from __future__ import annotations

import enum
import itertools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pymorphy3
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rapidfuzz.distance import OSA

from bot.config import LANGUAGES
from bot.paths import LOCALES

RULES_FILE = "safety.toml"
FUZZY_FROM = (
    8  # stems this long tolerate one wrong, missing, extra or swapped letter (shorter: too many neighbours)
)
COMMA_DISTANCE = 1  # a comma between two words counts as one more word between them
DEFAULT_WINDOW = 3


class Kind(enum.StrEnum):
    CRISIS = "crisis"  # the writer may be in danger: the safety screen
    CONCERN = "concern"  # the writer worries about a student or another person
    DISTRESS = "distress"  # the writer is struggling, no sign of danger


class About(enum.StrEnum):
    SELF = "self"
    STUDENT = "student"
    OTHER = "other"


@dataclass(frozen=True)
class Signal:
    kind: Kind
    about: About
    rule: str  # the rule that fired, for review and tests


# -- words -------------------------------------------------------------------------------------

_LATIN_MULTI = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("ya", "я"),
    ("yu", "ю"),
    ("yo", "ё"),
    ("gh", "г"),
]
_LATIN_ONE = dict(
    zip(
        "abvgdezijklmnoprstufhcyqxw'",
        [
            "а",
            "б",
            "в",
            "г",
            "д",
            "е",
            "з",
            "и",
            "ж",
            "к",
            "л",
            "м",
            "н",
            "о",
            "п",
            "р",
            "с",
            "т",
            "у",
            "ф",
            "х",
            "ц",
            "ы",
            "к",
            "х",
            "у",
            "",
        ],
        strict=True,
    )
)
# The Kazakh Latin alphabets (2017, 2018, 2021) and their diacritics.
_LATIN_ONE.update(
    {
        "á": "ә",
        "ä": "ә",
        "ó": "ө",
        "ö": "ө",
        "ú": "ү",
        "ü": "ү",
        "ū": "ұ",
        "ý": "у",
        "ı": "ы",
        "ş": "ш",
        "ç": "ч",
        "ğ": "ғ",
        "ǵ": "ғ",
        "ñ": "ң",
        "ń": "ң",
        "ś": "ш",
        "é": "е",
    }
)
_LATIN_WORD = re.compile(r"[a-záäóöúüūýışçğǵñńśé']+")
_FOLD = str.maketrans(
    {
        "ә": "а",
        "ө": "о",
        "ү": "у",
        "ұ": "у",
        "қ": "к",
        "ғ": "г",
        "ң": "н",
        "і": "и",
        "һ": "х",
        "ё": "е",
        "э": "е",
        "ы": "и",
        "й": "и",
        "щ": "ш",
        "ц": "тс",
        "ь": "",
        "ъ": "",
        "я": "иа",
        "ю": "иу",
    }
)
_REPEATS = re.compile(r"(.)\1+")
# Words, commas (they weaken how close two words are) and sentence ends.
_TOKENS = re.compile(r"[\w'’]+|[,;:—–-]|[.!?\n]+|[«»\"“”„]|[😂🤣😅😆😄😁😹]|\){3,}")
LAUGHTER = "lol"  # a laughing emoji or ")))" becomes this word: rules may use "=lol" (a joke)
_QUOTES = set('«»"“”„')
_MORPH = pymorphy3.MorphAnalyzer()


_VOWELS = set("aeiouyáäóöúüūýıé")


# Latin letters typed inside Cyrillic words look the same: "олiп", "озiмдi" (a Latin i for і).
_HOMOGLYPHS = str.maketrans(
    {"i": "і", "a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "k": "к"}
)
_CYRILLIC = re.compile(r"[а-яёәөүұқғңіһ]")


def transliterate(word: str) -> str:
    """A Latin word as Cyrillic ("ho4u" too: chat Russian writes ч as 4); other words as they are."""
    if _CYRILLIC.search(word):
        return word.translate(_HOMOGLYPHS)
    if not _LATIN_WORD.fullmatch(word.replace("4", "")) or word.isdigit():
        return word
    word = word.replace("4", "ch")
    # "j" is ж (Kazakh Latin, "zhit" typed "jit"), but й after a vowel before a consonant: "ujti", "moj"
    word = "".join(
        "й"
        if char == "j" and i and word[i - 1] in _VOWELS and (i + 1 == len(word) or word[i + 1] not in _VOWELS)
        else char
        for i, char in enumerate(word)
    )
    for latin, cyrillic in _LATIN_MULTI:
        word = word.replace(latin, cyrillic)
    return "".join(_LATIN_ONE.get(char, char) for char in word)


def skeleton(word: str) -> str:
    return _REPEATS.sub(r"\1", word.replace("сч", "щ").translate(_FOLD))


@dataclass(frozen=True)
class Word:
    surface: str  # lower case, Cyrillic
    forms: tuple[str, ...]  # skeletons of the word and of its lemmas
    persons: frozenset[str]  # "1per", "3per" when a parse is a verb in that person
    cases: frozenset[str] = frozenset()  # "datv" when the first parse is a dative ("детям", "маме")
    known: bool = False  # in the Russian dictionary (else, most likely, Kazakh)


@lru_cache(maxsize=65536)
def analyse(raw: str) -> Word:
    surface = transliterate(raw.replace("’", "'").strip("'"))
    forms = [skeleton(surface)]
    persons: set[str] = set()
    cases: set[str] = set()
    known = False
    if re.fullmatch(r"[а-яё-]+", surface):  # Russian letters only: worth asking the dictionary
        known = _MORPH.word_is_known(surface)
        parses = _MORPH.parse(surface)[:3]
        for parse in parses:
            forms.append(skeleton(parse.normal_form))
            # A known verb's person, not a pronoun's ("мне") nor a guess for an unknown word ("ночю").
            if parse.tag.person and parse.tag.POS == "VERB" and known:
                persons.add(str(parse.tag.person))
        if parses and parses[0].tag.case:
            cases.add(str(parses[0].tag.case))
    return Word(surface, tuple(dict.fromkeys(forms)), frozenset(persons), frozenset(cases), known)


@dataclass(frozen=True)
class Token:
    word: Word
    position: float  # words counted without fillers, commas adding COMMA_DISTANCE
    sentence: int
    negated: bool  # right after a negation word
    quoted: bool  # inside quotation marks: someone's words, maybe not the writer's


# -- rules -------------------------------------------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    slots: tuple[str, ...] = Field(min_length=1)
    window: int = Field(DEFAULT_WINDOW, ge=0, le=16)
    ordered: bool = False
    across: bool = False  # the slots may be in different sentences ("Письма написала. Кошку отдала.")
    examples: tuple[str, ...] = Field(min_length=1)


class _Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fillers: tuple[str, ...] = ()  # exact words not counted between two slots
    negations: tuple[str, ...] = ()  # exact words that negate the next word
    self: tuple[str, ...] = ()  # exact words: the writer as the subject ("я", "мен", "өзімді")
    third: tuple[str, ...] = ()  # exact words: someone else as the subject ("он", "ол", "өзін")
    third_endings: tuple[str, ...] = ()  # word endings of another person's wish (kk "-ғысы", "-гісі")
    self_endings: tuple[str, ...] = ()  # word endings of the writer's own verb or wish (kk "-мын", "-гім")
    dative_endings: tuple[str, ...] = ()  # kk "балаларыма", "анама": to someone, not about them
    role_endings: tuple[str, ...] = ()  # kk "завучпын", "мұғаліммін": the writer's own role, not someone else
    witness: tuple[str, ...] = ()  # stems: the writer saw or found it ("көрдім", "таптым"): not their own act
    student: tuple[str, ...] = ()  # stems: a student, a child of the class
    other: tuple[str, ...] = ()  # stems: another adult
    reported: tuple[str, ...] = ()  # stems: someone else said or wrote it


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lexicon: _Lexicon = _Lexicon()
    words: dict[str, tuple[str, ...]] = {}
    idiom: tuple[_Rule, ...] = ()
    crisis: tuple[_Rule, ...] = ()
    distress: tuple[_Rule, ...] = ()

    @field_validator("words")
    @classmethod
    def _stems(cls, words: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, stems in words.items():
            if not stems or any(not stem.strip() for stem in stems):
                raise ValueError(f"words.{name}: needs stems, none empty")
        return words


@dataclass(frozen=True)
class _Slot:
    negated: bool | None  # True: right after a negation ("!"); False: not after one ("+"); None: either
    stems: tuple[str, ...]  # prefixes of a form; several words separated by spaces
    exact: tuple[str, ...] = ()  # whole forms ("=нет")

    words: frozenset[str] = frozenset()  # the one-word stems, for a set intersection
    phrases: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", frozenset(stem for stem in self.stems if " " not in stem))
        object.__setattr__(
            self, "phrases", tuple(tuple(stem.split(" ")) for stem in self.stems if " " in stem)
        )


@dataclass(frozen=True)
class _Compiled:
    id: str
    slots: tuple[_Slot, ...]
    window: int
    ordered: bool
    across: bool


class RulesError(ValueError):
    """The safety rules are not valid data (the bot refuses to start)."""


def _compile_slot(text: str, words: dict[str, tuple[str, ...]], where: str) -> _Slot:
    negated = {"!": True, "+": False}.get(text[:1])
    names = text[1:] if negated is not None else text
    stems: list[str] = []
    for name in names.split("|"):
        if name.startswith("@"):
            if name[1:] not in words:
                raise RulesError(f"{where}: unknown word group {name!r}")
            stems += words[name[1:]]
        elif name[:1] in "!+":
            raise RulesError(
                f"{where}: {text!r}: '!' and '+' apply to the whole slot, write them once in front"
            )
        elif name:
            stems.append(name)
        else:
            raise RulesError(f"{where}: empty alternative in slot {text!r}")
    prefixes = tuple(dict.fromkeys(_phrase(stem) for stem in stems if not stem.startswith("=")))
    exact = tuple(dict.fromkeys(_phrase(stem[1:]) for stem in stems if stem.startswith("=")))
    return _Slot(negated, prefixes, exact)


def _phrase(stem: str) -> str:
    """A stem's skeleton; several words ("кесіп жүрмін", "өз-өзіме") stay separated by spaces."""
    return " ".join(
        skeleton(transliterate(part)) for part in re.split(r"[\s-]+", stem.lower().strip()) if part
    )


@dataclass(frozen=True)
class _Scope:
    """Where a rule matched: its words, their sentence and what follows them there."""

    tokens: list[Token]
    words: list[Token]
    sentence: list[Token]
    after: list[Token]
    low: float
    high: float

    @classmethod
    def of(cls, tokens: list[Token], matched: tuple[int, ...]) -> _Scope:
        words = [tokens[i] for i in matched]
        sentence = [t for t in tokens if t.sentence == words[0].sentence]
        low, high = min(t.position for t in words), max(t.position for t in words)
        return cls(tokens, words, sentence, [t for t in sentence if t.position > high], low, high)


class Detector:
    def __init__(self, files: Iterable[RuleFile]) -> None:
        files = list(files)
        self.fillers = frozenset(w for f in files for w in f.lexicon.fillers)
        self.negations = frozenset(skeleton(w) for f in files for w in f.lexicon.negations)
        self.markers = {
            name: tuple(skeleton(transliterate(s)) for f in files for s in getattr(f.lexicon, name))
            for name in (
                "self",
                "third",
                "third_endings",
                "self_endings",
                "dative_endings",
                "role_endings",
                "student",
                "other",
                "reported",
                "witness",
            )
        }
        self.rules: dict[str, list[_Compiled]] = {"idiom": [], "crisis": [], "distress": []}
        for _number, rule_file in enumerate(files):
            for kind in self.rules:
                for rule in getattr(rule_file, kind):
                    where = f"{kind} {rule.id}"
                    slots = tuple(_compile_slot(s, rule_file.words, where) for s in rule.slots)
                    self.rules[kind].append(_Compiled(rule.id, slots, rule.window, rule.ordered, rule.across))
        self._index()
        self._examples = [
            (kind, rule.id, example)
            for f in files
            for kind in self.rules
            for rule in getattr(f, kind)
            for example in rule.examples
        ]

    # -- words of a message --

    def tokens(self, text: str) -> list[Token]:
        tokens: list[Token] = []
        position, sentence, negate, quoted = 0.0, 0, False, False
        for piece in _TOKENS.findall(text.lower()):
            if piece in _QUOTES:
                quoted = piece != "»" and (piece == "«" or not quoted)
                continue
            if piece[0] in "😂🤣😅😆😄😁😹)":
                piece = LAUGHTER
            elif piece[0] in ".!?\n":
                if (
                    not quoted
                ):  # «Я скоро повешусь, и вы все пожалеете». Что делать? — one quote, one sentence
                    sentence, negate = sentence + 1, False
                continue
            if piece in ",;:—–-":
                position += COMMA_DISTANCE
                continue
            word = analyse(piece)
            if word.surface in self.fillers:
                continue
            tokens.append(Token(word, position, sentence, negate, quoted))
            # "не хочу", "нет желания": the next word is negated, and as close as if the negation
            # were part of it ("сил нет" is matched by its own rule)
            negate = word.forms[0] in self.negations
            position += 0 if negate else 1
        return tokens

    # -- matching --

    def _index(self) -> None:
        """Every stem word of every rule, for a look-up per word instead of a comparison per stem:
        prefixes exactly, long stems also through their one-letter deletions (symmetric delete),
        confirmed by the edit distance."""
        words = {
            part
            for kind in self.rules.values()
            for rule in kind
            for slot in rule.slots
            for stem in slot.stems
            for part in stem.split(" ")
        }
        self._stems = frozenset(words)
        self._deletions: dict[str, set[str]] = {}
        for stem in words:
            if len(stem) >= FUZZY_FROM:
                for variant in {stem, *(stem[:i] + stem[i + 1 :] for i in range(len(stem)))}:
                    self._deletions.setdefault(variant, set()).add(stem)
        self._longest = max((len(stem) for stem in words), default=0)
        self._matched: dict[str, frozenset[str]] = {}

    def _stems_of(self, form: str) -> frozenset[str]:
        """The rule stems this form begins with, or begins with but for one letter."""
        found = self._matched.get(form)
        if found is not None:
            return found
        hits = {form[:n] for n in range(1, len(form) + 1) if form[:n] in self._stems}
        for n in range(FUZZY_FROM - 1, min(len(form), self._longest + 1) + 1):
            prefix = form[:n]
            for variant in {prefix, *(prefix[:i] + prefix[i + 1 :] for i in range(n))}:
                for stem in self._deletions.get(variant, ()):
                    if stem not in hits and any(
                        OSA.distance(form[:m], stem, score_cutoff=1) <= 1
                        for m in (len(stem) - 1, len(stem), len(stem) + 1)
                        if 0 < m <= len(form)
                    ):
                        hits.add(stem)
        found = frozenset(hits)
        if len(self._matched) < 200_000:  # bounded: a flood of random words cannot grow it forever
            self._matched[form] = found
        return found

    def _analysed(self, tokens: list[Token]) -> list[tuple[frozenset[str], frozenset[str]]]:
        """Per token: the stems its forms begin with, and those of its forms after a written-together
        negation ("нехочу", "неохота")."""
        analysed = []
        for token in tokens:
            forms = token.word.forms
            joined = [form[2:] for form in forms if form.startswith(("не", "ни")) and len(form) > 3]
            analysed.append(
                (
                    frozenset().union(*map(self._stems_of, forms)),
                    frozenset().union(*map(self._stems_of, joined)) if joined else frozenset(),
                )
            )
        return analysed

    def _slot_matches(
        self, tokens: list[Token], stems: list[tuple[frozenset[str], frozenset[str]]], index: int, slot: _Slot
    ) -> bool:
        token = tokens[index]
        if slot.negated is False and token.negated:
            return False
        own, joined = stems[index]
        available = joined if slot.negated and not token.negated else own
        forms = token.word.forms if available is own else ()
        if slot.exact and any(form in slot.exact for form in forms):
            return True
        if not slot.words.isdisjoint(available):
            return True
        for first, *rest in slot.phrases:
            following = range(index + 1, index + 1 + len(rest))
            if (
                first in available
                and following.stop <= len(tokens)
                and all(
                    tokens[i].sentence == token.sentence and part in stems[i][0]
                    for i, part in zip(following, rest, strict=True)
                )
            ):
                return True
        return False

    def _find(
        self,
        rule: _Compiled,
        tokens: list[Token],
        taken: set[int],
        stems: list[tuple[frozenset[str], frozenset[str]]] | None = None,
    ) -> tuple[int, ...] | None:
        stems = self._analysed(tokens) if stems is None else stems
        candidates = []
        for slot in rule.slots:
            found = [
                i for i in range(len(tokens)) if i not in taken and self._slot_matches(tokens, stems, i, slot)
            ]
            if not found:
                return None
            candidates.append(found[:8])
        for combination in itertools.product(*candidates):
            if len(set(combination)) < len(combination):
                continue
            chosen = [tokens[i] for i in combination]
            if not rule.across and len({token.sentence for token in chosen}) > 1:
                continue
            positions = [token.position for token in chosen]
            if max(positions) - min(positions) > rule.window:
                continue
            if rule.ordered and positions != sorted(positions):
                continue
            return combination
        return None

    def _has(self, tokens: Iterable[Token], name: str) -> bool:
        """Any of the tokens begins with (or, for exact-word lists, is) one of the marker list's entries."""
        entries = self.markers[name]
        if name in ("self", "third"):
            return any(token.word.forms[0] in entries for token in tokens)
        if name in ("third_endings", "self_endings", "dative_endings", "role_endings"):
            # Kazakh endings, on words the Russian dictionary does not know ("всем" ends like "өлсем")
            return any(not token.word.known and token.word.forms[0].endswith(entries) for token in tokens)
        # Short stems match whole words only: "дос" (a friend) is not the start of "достали".
        return any(
            form in entries or form.startswith(tuple(e for e in entries if len(e) >= 4))
            for token in tokens
            for form in token.word.forms[:1]
        )

    def _about(self, tokens: list[Token], matched: tuple[int, ...]) -> About:
        """The writer, unless the words are someone else's. Someone else must be named (a student,
        another person, "он"/"ол"); the words are then theirs when quoted or reported ("... деп
        айтты", "сказал, что хочет"), the writer's own when in the first person ("хочу", "өлгім",
        "отырмын"). Otherwise the nearest subject before them decides: "я"/"мен" (unless only
        witnessing: "я нашла", "көрдім"), or the student or person named there."""
        scope = _Scope.of(tokens, matched)
        named = [t for t in tokens if not self._addressee(t)]
        if not (
            self._has(named, "student") or self._has(named, "other") or self._has(scope.sentence, "third")
        ):
            return About.SELF
        if self._reported_after(scope) or self._said_before(scope):
            return self._speaker(scope)
        if self._first_person(scope):
            return About.SELF
        if any(self._reported(scope.sentence, i) for i in range(len(scope.sentence))) or self._third_person(
            scope.words
        ):
            return self._speaker(scope)
        return self._whose(scope.sentence, scope.high + 1) or About.SELF

    def _speaker(self, scope: _Scope) -> About:
        """Whose words they are: the subject nearest before them, else whoever is named at all."""
        return (
            self._whose(scope.sentence, scope.low)
            or self._whose(scope.tokens, scope.low, anyone=True)
            or About.OTHER
        )

    def _reported_after(self, scope: _Scope) -> bool:
        """Quoted, or followed by "деп айтты" / "сказал" — unless "деп ойлаймын", "деп отырмын":
        the writer's own thought, not someone's words."""
        if any(t.quoted for t in scope.words):
            return True
        after = scope.after
        reported = [i for i in range(len(after[:3])) if self._reported(after, i)]
        if not reported:
            return False
        own_thought = any(self._has(after[i + 1 : i + 2], "self_endings") for i in reported) or (
            reported[-1] == len(after) - 1
            and after[-1].word.forms[0] == "деп"
            and self._has([t for t in scope.sentence if t not in scope.words], "self_endings")
        )
        return not own_thought

    def _said_before(self, scope: _Scope) -> bool:
        """ "сказал, что хочет ..." within three words before, not said by "я"/"мен"."""
        sentence = scope.sentence
        said = [
            i
            for i, t in enumerate(sentence)
            if scope.low - 3 <= t.position < scope.low and self._reported(sentence, i)
        ]
        return bool(said) and not self._has(sentence[max(0, said[0] - 2) : said[0]], "self")

    def _first_person(self, scope: _Scope) -> bool:
        """A first-person form around the words; Kazakh puts the verb last ("қоштасу хатын жаздым"),
        so its ending may follow them. Not when the writer only witnessed ("көрдім")."""
        near = [t for t in scope.sentence if scope.low - 3 <= t.position <= scope.high]
        verb = [t for t in scope.after if t.position <= scope.high + 2]
        return not self._has(verb, "witness") and (
            self._has([*near, *verb], "self_endings")
            or any("1per" in t.word.persons and "3per" not in t.word.persons for t in near)
        )

    def _third_person(self, words: list[Token]) -> bool:
        return any("3per" in t.word.persons and "1per" not in t.word.persons for t in words) or self._has(
            words, "third_endings"
        )

    def _reported(self, tokens: list[Token], index: int) -> bool:
        """ "сказал", "деп", "жазды" — but not "жаздым" (I wrote), nor "жазып қойдым" (I wrote it down)."""
        token, following = tokens[index], tokens[index + 1 : index + 2]
        return (
            self._has([token], "reported")
            and not self._has([token], "self_endings")
            and not self._has(following, "self_endings")
        )

    def _whose(self, tokens: list[Token], before: float, *, anyone: bool = False) -> About | None:
        """The nearest subject before `before`: the writer ("я", "мен", not a witness), a student,
        another person or a pronoun for one. `anyone`: fall back to whoever is named at all."""
        candidates = [t for t in tokens if (t.position < before or anyone) and not t.quoted]
        pronoun = False  # "он", "өзін": someone named further back, or an unnamed other
        for index in range(len(candidates) - 1, -1, -1):
            token = candidates[index]
            if (
                not (anyone or pronoun)
                and self._has([token], "self")
                and not self._has(candidates[index + 1 : index + 2], "witness")
            ):
                return About.SELF
            if not self._addressee(token):
                if self._has([token], "student"):
                    return About.STUDENT
                if self._has([token], "other"):
                    return About.OTHER
                pronoun = pronoun or self._has([token], "third")
        return About.OTHER if anyone or pronoun else None

    def _addressee(self, token: Token) -> bool:
        """ "балаларыма", "детям", "мамане": someone written to or for, not the one the words are about;
        "завучпын": the writer's own role."""
        if token.word.forms[0] in self.markers["student"] or token.word.forms[0] in self.markers["other"]:
            return False  # a form the lexicon names as it is ("балам": my child, not Russian "балам")
        if token.word.known:  # a Russian word: its case from the dictionary
            return "datv" in token.word.cases
        return self._has([token], "dative_endings") or self._has([token], "role_endings")

    def classify(self, text: str | None) -> Signal | None:
        if not text:
            return None
        tokens = self.tokens(text)
        stems = self._analysed(tokens)
        taken: set[int] = set()
        for rule in self.rules["idiom"]:
            while (found := self._find(rule, tokens, taken, stems)) is not None:
                taken.update(found)
        concern = None
        for rule in self.rules["crisis"]:
            found = self._find(rule, tokens, taken, stems)
            if found is None:
                continue
            about = self._about(tokens, found)
            if about is About.SELF:
                return Signal(Kind.CRISIS, About.SELF, rule.id)
            concern = concern or Signal(Kind.CONCERN, about, rule.id)
        if concern is not None:
            return concern
        for rule in self.rules["distress"]:
            if self._find(rule, tokens, taken, stems) is not None:
                return Signal(Kind.DISTRESS, About.SELF, rule.id)
        return None

    def problems(self) -> list[str]:
        """Examples that do not fire their own rule (a broken rule, caught at start)."""
        expected = {"idiom": None, "crisis": Kind.CRISIS, "distress": Kind.DISTRESS}
        found = []
        for kind, rule_id, example in self._examples:
            tokens = self.tokens(example)
            rule = next(r for r in self.rules[kind] if r.id == rule_id)
            if self._find(rule, tokens, set()) is None:
                found.append(f"{kind} {rule_id}: example {example!r} does not fire it")
            elif (
                kind == "idiom"
                and (signal := self.classify(example)) is not None
                and signal.kind is Kind.CRISIS
            ):
                found.append(f"idiom {rule_id}: example {example!r} still raises {signal.rule}")
            elif expected[kind] is not None and (signal := self.classify(example)) is None:
                found.append(f"{kind} {rule_id}: example {example!r} is masked by an idiom")
        return found


def load_rules(locales: Path = LOCALES) -> list[RuleFile]:
    files = []
    for language in LANGUAGES:
        path = locales / language / RULES_FILE
        try:
            files.append(RuleFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8"))))
        except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
            raise RulesError(f"{path}: {error}") from None
    return files


@lru_cache(maxsize=1)
def detector(locales: Path = LOCALES) -> Detector:
    """The rules of every language, validated: a rule whose examples do not fire it stops the start."""
    built = Detector(load_rules(locales))
    if problems := built.problems():
        raise RulesError("safety rules:\n  " + "\n  ".join(problems))
    return built


def classify(text: str | None) -> Signal | None:
    return detector().classify(text)


def is_crisis(text: str | None) -> bool:
    signal = classify(text)
    return signal is not None and signal.kind is Kind.CRISIS
