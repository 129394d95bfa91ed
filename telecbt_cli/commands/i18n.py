"""The command line in the reader's language: error messages from the locale catalog.

The reader's language is TELECBT_LANG, else the one chosen in the terminal UI's Settings,
else English (`core.store.settings.reader_lang`). The UI strings are read only when an
error with a locale key is shown, so a quiet success never pays for them.
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
    """The UI strings: the built-in locales plus the clinic's (TELECBT_CONTENT_PATH)."""
    from telecbt_cli.content.catalog import content_dirs, load_for_ui

    return load_for_ui(content_dirs())


def error_text(error: BaseException) -> str:
    """An error's message in the reader's language (its locale key), else as raised."""
    if not getattr(error, "key", None):
        return str(error)  # no strings to load for an error without a key
    try:
        return catalog().error(error, reader())
    except Exception:  # a broken clinic locale or a bad TELECBT_LANG must not hide the error itself
        return str(error)


def reset() -> None:
    """Forget the language and strings (tests change TELECBT_LANG between in-process runs)."""
    reader.cache_clear()
    catalog.cache_clear()
