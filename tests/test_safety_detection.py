"""The crisis detector on the labelled corpus (tests/data/crisis_corpus.tsv), and the pieces that
make it robust: spellings, inflection, typos, idioms, who the words are about, rules as data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.services import safety
from bot.services.safety import About, Kind

CORPUS = Path(__file__).parent / "data" / "crisis_corpus.tsv"
# What each class of the corpus must get: the screen its writer needs.
EXPECTED = {
    "crisis": (Kind.CRISIS, About.SELF),
    "student": (Kind.CONCERN, About.STUDENT),
    "other": (Kind.CONCERN, About.OTHER),
    "distress": (Kind.DISTRESS, About.SELF),
    "idiom": None,
    "neutral": None,
}
# The targets: crisis recall at least 0.97, idiom false alarms at most 0.05.
CRISIS_RECALL = 0.97
IDIOM_FALSE_ALARMS = 0.05
# Our own floors for the other classes, below which a change is a regression.
FLOORS = {"student": 0.90, "other": 0.90, "distress": 0.90, "neutral": 0.97}


def corpus() -> list[tuple[str, str, str, str]]:
    lines = [line.rstrip("\n") for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rows = [tuple(line.split("\t")) for line in lines[1:] if line.strip() and not line.startswith("#")]
    assert all(len(row) == 4 for row in rows)
    return rows


def outcome(text: str) -> tuple[Kind, About] | None:
    signal = safety.classify(text)
    return (signal.kind, signal.about) if signal else None


def test_corpus_recall_and_false_alarms_per_class(capsys):
    rows = corpus()
    counts = Counter(row[0] for row in rows)
    assert counts["crisis"] >= 150 and sum(counts.values()) >= 300, "the corpus keeps its size"
    hits, alarms, crisis_alarms, by_spelling = Counter(), Counter(), Counter(), Counter()
    missed = []
    for label, lang, spelling, text in rows:
        got = outcome(text)
        if got == EXPECTED[label]:
            hits[label] += 1
            if label == "crisis":
                by_spelling[(lang, spelling)] += 1
        elif EXPECTED[label] is not None:
            missed.append((label, text, got))
        if EXPECTED[label] is None and got is not None:
            alarms[label] += 1
            crisis_alarms[label] += got[0] is Kind.CRISIS
            missed.append((label, text, got))
    report = [
        f"{label:9} {hits[label] / n:.3f} of {n}"
        + (
            f", false alarms {alarms[label] / n:.3f} (crisis {crisis_alarms[label] / n:.3f})"
            if EXPECTED[label] is None
            else ""
        )
        for label, n in sorted(counts.items())
    ]
    with capsys.disabled():
        print("\ncrisis corpus:\n  " + "\n  ".join(report))
    detail = "\n".join(report) + "\n" + "\n".join(map(str, missed))
    assert hits["crisis"] / counts["crisis"] >= CRISIS_RECALL, detail
    assert alarms["idiom"] / counts["idiom"] <= IDIOM_FALSE_ALARMS, detail
    for label, floor in FLOORS.items():
        rate = hits[label] / counts[label]
        assert rate >= floor, f"{label}: {rate:.3f} < {floor}\n{detail}"


@pytest.mark.parametrize(
    "text",
    [
        "ne hochu zhit",
        "hochu umeret'",
        "ho4u umeret",
        "olgim keledi",
        "ólgim keledi",
        "ölgım keledı",
        "олгим келеди",
        "омир сургим келмейди",
        "ózime qol jumsagym keledi",
        "олiп кетсем гой",
    ],
)
def test_latin_transliteration_and_kazakh_without_its_letters(text):
    assert outcome(text) == (Kind.CRISIS, About.SELF)


@pytest.mark.parametrize(
    "text",
    [
        "думаю о самоубийстве",
        "жить не хочу",
        "хочу сдохнуть",
        "повешусь",
        "выпью все таблетки",
        "режу руки",
        "өлгім келді",
        "өмірден кеткім келеді",
        "жить больше не хочется",
        "не хочется мне жить",
    ],
)
def test_inflection_and_word_order(text):
    assert outcome(text) == (Kind.CRISIS, About.SELF)


@pytest.mark.parametrize(
    "text", ["думаю о самоубиствe", "суецид", "пакончу с собой", "жить нехочу", "неее хочу жить"]
)
def test_common_misspellings(text):
    assert outcome(text) == (Kind.CRISIS, About.SELF)


@pytest.mark.parametrize(
    "text",
    [
        "умираю со смеху",
        "эти отчёты меня убивают",
        "убить время",
        "смертельно хочу спать",
        "күлгеннен өлдім",
        "жұмыстан кеткім келеді",
        "надо повесить объявление",
        "выпила таблетку от головы",
        "хочу жить спокойнее",
        "Балалармен жұмыс істегім келеді",
        "",
    ],
)
def test_idioms_and_harmless_words_do_not_alarm(text):
    assert outcome(text) is None


def test_someone_else_is_a_concern_unless_the_writer_speaks_of_themself():
    assert outcome("ученик сказал, что хочет умереть") == (Kind.CONCERN, About.STUDENT)
    assert outcome("оқушым өлгім келеді деп айтты") == (Kind.CONCERN, About.STUDENT)
    assert outcome("моя коллега говорит, что не хочет жить") == (Kind.CONCERN, About.OTHER)
    # The writer in crisis too: their own screen comes first.
    assert outcome("ученик сказал, что хочет умереть, а я и сама не хочу жить") == (Kind.CRISIS, About.SELF)


def test_distress_without_crisis_words():
    for text in ("мне очень плохо, не знаю что делать", "я не справляюсь", "қатты қиналып жүрмін"):
        assert outcome(text) == (Kind.DISTRESS, About.SELF), text


def test_a_rule_whose_example_does_not_fire_stops_the_start(tmp_path):
    for language in ("kk", "ru"):
        (tmp_path / language).mkdir()
        (tmp_path / language / safety.RULES_FILE).write_text(
            '[[crisis]]\nid = "broken"\nslots = ["хоч", "умер"]\nexamples = ["совсем другое"]\n',
            encoding="utf-8",
        )
    safety.detector.cache_clear()
    try:
        with pytest.raises(safety.RulesError, match="broken"):
            safety.detector(tmp_path)
    finally:
        safety.detector.cache_clear()


def test_rules_syntax_errors_name_the_rule(tmp_path):
    rule_file = safety.RuleFile.model_validate(
        {"crisis": [{"id": "bad", "slots": ["хоч|!умер"], "examples": ["хочу умереть"]}]}
    )
    with pytest.raises(safety.RulesError, match="bad"):
        safety.Detector([rule_file])
