"""Kazakh and Russian are equal: every key in both, same placeholders, Kazakh letters."""

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.paths import LOCALES
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


NUMBERS = (1, 2, 5, 11, 21)
RUSSIAN_FORMS = {  # what each number reads as, in order of NUMBERS
    "book-limit": ["предстоящая запись", "предстоящие записи", "предстоящих записей", "предстоящих записей"],
    "limit-questions": ["до {n} вопроса", "до {n} вопросов", "до {n} вопросов", "до {n} вопросов"],
    "limit-cancellations": ["до {n} записи", "до {n} записей", "до {n} записей", "до {n} записей"],
    "limit-bookings": ["до {n} раза", "до {n} раз", "до {n} раз", "до {n} раз"],
}


def test_russian_plural_forms_are_right_for_1_2_5_11_21():
    russian = compile_translations()["ru"]
    assert [russian.plural(n) for n in NUMBERS] == [0, 1, 2, 2, 0]
    for key, forms in RUSSIAN_FORMS.items():
        for n, form in zip(NUMBERS, [*forms, forms[0]], strict=True):  # 21 reads as 1
            text = russian.ngettext(key, key, n).format(count=n)
            assert form.format(n=n) in text, (key, n, text)
    kazakh = compile_translations()["kk"]  # a Kazakh noun after a number does not change
    assert kazakh.ngettext("book-limit", "book-limit", 5) == kazakh.ngettext("book-limit", "book-limit", 1)


def plural_keys() -> set[str]:
    return {m.id[0] for m in read_catalogues()["ru"] if m.pluralizable}


def test_plural_entries_have_every_form_and_their_files_say_how_many():
    assert set(RUSSIAN_FORMS) <= plural_keys()
    for language, catalogue in read_catalogues().items():
        wanted = Catalog(locale=language).num_plurals
        for message in (m for m in catalogue if m.pluralizable):
            assert len(message.string) == wanted and all(message.string), (language, message.id)
        for po_path in sorted((LOCALES / language / "LC_MESSAGES").glob("*.po")):
            with po_path.open("rb") as handle:
                file = read_po(handle, locale=language)
            if any(m.pluralizable for m in file if m.id):
                assert "Plural-Forms" in po_path.read_text(encoding="utf-8"), po_path
                assert file.num_plurals == wanted, po_path


def test_plural_entries_are_never_read_without_their_number():
    """gettext on a plural entry gives its key back: each is read through plural(key, n)."""
    root = Path(__file__).parents[1]
    sources = [p for folder in ("bot", "handlers") for p in (root / folder).rglob("*.py")]
    code = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    for key in plural_keys():
        assert f'_("{key}")' not in code, key
