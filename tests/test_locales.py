"""Kazakh and Russian are equal: every key in both, same placeholders, Kazakh letters."""

import re

from bot.telegram.i18n import catalogue_problems, compile_translations, read_catalogues

KAZAKH_LETTERS = re.compile("[әғқңөұүһі]", re.IGNORECASE)


def test_every_key_translated_in_both_with_same_placeholders():
    assert catalogue_problems(read_catalogues()) == []


def test_problems_are_reported(tmp_path):
    for language, text in (
        ("kk", 'msgid "a"\nmsgstr "{x} бар"\n\nmsgid "b"\nmsgstr "ә"\n'),
        ("ru", 'msgid "a"\nmsgstr "{y} есть"\n'),
    ):
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "t.po").write_text(text, encoding="utf-8")
    problems = catalogue_problems(read_catalogues(tmp_path))
    assert any("a: placeholders differ" in p for p in problems)
    assert "ru: b has no translation" in problems


def test_kazakh_is_written_with_kazakh_letters():
    catalogue = read_catalogues()["kk"]
    long_texts = [m.string for m in catalogue if m.id and len(m.string) > 40]
    assert long_texts
    without = [text for text in long_texts if not KAZAKH_LETTERS.search(text)]
    assert without == []


def test_catalogues_compile():
    translations = compile_translations()
    assert translations["kk"].gettext("nav-back") != translations["ru"].gettext("nav-back")
