"""One term per concept: no catalogue text uses a word the glossary (tests/data/glossary.toml)
rules out, each concept's term is in use, and a prompt naming a button names it as it is labelled."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.config import LANGUAGES
from bot.telegram.i18n import read_catalogues

GLOSSARY = tomllib.loads((Path(__file__).parent / "data" / "glossary.toml").read_text(encoding="utf-8"))
CATALOGUES = read_catalogues()
QUOTED = re.compile(r"«([^«»{}]+)»")
EMOJI = re.compile(r"^[^\w«]+")


def texts(language: str) -> dict[str, str]:
    """Every msgstr (each plural form), by key."""
    found = {}
    for message in CATALOGUES[language]:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            found[key] = "\n".join(forms)
    return found


def misuses(text: str, concept: dict) -> list[str]:
    lowered = text.lower()
    for phrase in concept.get("except", []):
        lowered = lowered.replace(phrase.lower(), " ")
    return [word for word in concept["not"] if re.search(r"(?<!\w)" + re.escape(word.lower()), lowered)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_term_per_concept(language):
    catalogue = texts(language)
    found = [
        f"{key}: {name} is «{concept['term']}», not {words}"
        for key, text in catalogue.items()
        for name, concept in GLOSSARY[language].items()
        if (words := misuses(text, concept))
    ]
    assert found == []
    everything = "\n".join(catalogue.values()).lower()
    unused = [concept["term"] for concept in GLOSSARY[language].values() if concept["term"] not in everything]
    assert unused == [], "a glossary term the catalogues no longer use"


def test_the_glossary_catches_what_it_rules_out():
    kazakh = GLOSSARY["kk"]
    assert misuses("«Жазылу» түймесін басыңыз", kazakh["button"]) == ["түйме"]
    assert misuses("Топтық сабағы болдырылмады", kazakh["group-session"]) == ["сабағ"]
    assert misuses("Сабақ арасында бір минут", kazakh["group-session"]) == []
    assert misuses("Продолжить опрос", GLOSSARY["ru"]["self-check"] | {"not": ["опрос"]}) == ["опрос"]
    assert misuses("Короткий опросник", GLOSSARY["ru"]["self-check"]) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_prompt_names_a_button_by_its_whole_label(language):
    """«Тот же текст» for a button labelled «Тот же текст для всех» sends the reader looking."""
    catalogue = texts(language)
    labels = {
        EMOJI.sub("", text).strip() for text in catalogue.values() if "\n" not in text and len(text) < 60
    }
    cut = [
        f"{key}: «{name}» is «{label}»"
        for key, text in catalogue.items()
        for name in QUOTED.findall(text)
        if name not in labels
        for label in labels
        if label.startswith(name) and label != name
    ]
    assert cut == []
