"""The command line in the reader's language: error messages, table headings and status words
from the locale catalog (`cli.…`, `values.…`).

The reader's language is TELECBT_LANG, else the one chosen in the terminal UI's Settings,
else English (`core.store.settings.reader_lang`). The UI strings are read only when a
command prints words, so `--json`, `--csv` and a quiet success never pay for them.
"""

from __future__ import annotations

from functools import cache

from telecbt_cli.content.catalog import Catalog


@cache
def reader() -> str:
    """The reader's language code (en, es)."""
    from telecbt_cli.content.languages import LANGS
    from telecbt_cli.core.store.settings import reader_lang

    return reader_lang(LANGS)


@cache
def catalog() -> Catalog:
    """The UI strings: the built-in locales plus the clinic's (TELECBT_CONTENT_PATH), or those a
    quick start has loaded already (`adopt`)."""
    if _adopted:
        return _adopted[0]
    from telecbt_cli.content.catalog import content_dirs, load_for_ui

    return load_for_ui(content_dirs())


#: The catalog a quick start (the kiosk) loaded for its screens: reused, never read twice.
_adopted: list[Catalog] = []


def adopt(loaded: Catalog) -> None:
    """Use `loaded` (the kiosk's catalog, its clinic's folder included) for the words said before its screen."""
    _adopted[:] = [loaded]
    catalog.cache_clear()


def loaded() -> bool:
    """Whether the UI strings are at hand already (read, or adopted): a quick start asks before using them."""
    return bool(_adopted) or catalog.cache_info().currsize > 0


def t(key: str, **values: object) -> str:
    """A heading or message (`cli.…`) in the reader's language."""
    return catalog().text(key, reader(), **values)


def t_or(key: str, english: str, **values: object) -> str:
    """`t`, or the English given when the strings cannot be read (a last message must still show)."""
    try:
        return t(key, **values)
    except Exception:
        return english.format(**values)


def value(kind: str, raw: object) -> str:
    """A stored status or kind (no_show, in-person, assigned) as words; an unknown one as stored."""
    key = f"values.{kind}.{str(raw).replace('-', '_')}"
    return t(key) if key in catalog().locales.get("en", {}) else str(raw)


def said(text: object) -> str:
    """A sentence core built (`Said`, `Joined`: a skipped row's reason) in the reader's language; other text as it is."""
    return str(catalog().render(text, reader()))


def columns(section: str, keys: list[str]) -> list[tuple[str, str]]:
    """(field, heading) pairs for `emit_table`, each heading from `cli.<section>.col_<field>`."""
    return [(key, t(f"cli.{section}.col_{key}")) for key in keys]


def error_text(error: BaseException) -> str:
    """An error's message in the reader's language (its locale key), else as raised."""
    if not getattr(error, "key", None):
        return str(error)  # no strings to load for an error without a key
    try:
        text = catalog().error(error, reader())
        step = getattr(error, "step_id", None)  # an answer that does not fit its step (core.clinical.answers)
        return t("cli.answer.step", step=step, message=text) if step else text
    except Exception:  # a broken clinic locale or a bad TELECBT_LANG must not hide the error itself
        return str(error)


def reset() -> None:
    """Forget the language and strings (tests change TELECBT_LANG between in-process runs)."""
    reader.cache_clear()
    catalog.cache_clear()
    _adopted.clear()
