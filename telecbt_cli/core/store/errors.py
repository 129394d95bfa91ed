"""The project's exception types and the stable exit code each one maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in the README and never renumbered."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    REFUSED = 5
    INTEGRITY = 6
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # what a shell shows for `cat` when the reader of a pipe stops (128 + SIGPIPE)


def _rebuilt(cls: type, text: str, attrs: dict) -> str:
    made = str.__new__(cls, text)
    made.__dict__.update(attrs)
    return made


class _Worded(str):
    """A text that carries what a UI needs to say it in another language; it survives pickling (an
    error raised in a helper process reaches the parent whole, key and words included)."""

    def __reduce__(self) -> tuple:
        return _rebuilt, (type(self), str(self), dict(self.__dict__))


class Term(_Worded):
    """A word inside an error message that is translated too (a status, a kind of record).

    It reads as its English word, so `str(error)` stays English; a UI looks up `key`."""

    key: str

    def __new__(cls, key: str, english: str) -> "Term":
        word = super().__new__(cls, english)
        word.key = key
        return word


class Figures(_Worded):
    """A list of figures inside a message (`11-25 4.5, 11-26 5`): it reads in English, and a UI
    writes each figure's decimal mark the reader's way (`11-25 4,5; 11-26 5` in Spanish)."""

    parts: tuple[str, ...]

    def __new__(cls, parts: list[str]) -> "Figures":
        text = super().__new__(cls, ", ".join(parts))
        text.parts = tuple(parts)
        return text


class Said(_Worded):
    """A sentence built in core for a reader (why a row was skipped, how dates were read): it reads as
    its English template filled in, and a UI says `key` with `values` in the reader's language
    (`Catalog.render`); values may be `Said`, `Joined`, `Term` or `Figures` themselves."""

    key: str
    values: dict

    def __new__(cls, english: str, key: str, **values: object) -> "Said":
        said = super().__new__(cls, english.format(**values))
        said.key, said.values = key, values
        return said


class Joined(_Worded):
    """Sentences said one after another (`a; b`), each in the reader's language when a UI renders it."""

    parts: tuple
    sep: str

    def __new__(cls, parts: list, sep: str = "; ") -> "Joined":
        joined = super().__new__(cls, sep.join(parts))
        joined.parts, joined.sep = tuple(parts), sep
        return joined


class Codes(_Worded):
    """Codes a user types (roles, modes, statuses) listed in a message: they read as the codes (`video, phone`),
    and a UI in another language puts each one's word beside it (`phone (teléfono)`, from `values.<kind>`)."""

    kind: str
    codes: tuple[str, ...]

    def __new__(cls, kind: str, codes: tuple[str, ...] | list[str]) -> "Codes":
        listed = super().__new__(cls, ", ".join(codes))
        listed.kind, listed.codes = kind, tuple(codes)
        return listed


class TelecbtError(Exception):
    """Base of every error a user can see; the message says what to do next.

    Raised with `key` (a locale string, `errors.…`) and the values its {placeholders} take,
    the message is that English template filled in: each UI shows the same key in the
    reader's language (`Catalog.error`). The English here and in en.toml are the same text
    (tests/content/test_error_keys.py checks).
    """

    exit_code: ExitCode = ExitCode.ERROR
    key: str | None = None
    values: dict = {}

    def __init__(self, message: str = "", *args: object, key: str | None = None, **values: object) -> None:
        if key is not None:
            self.key, self.values = key, values
            message = message.format(**values)
        super().__init__(message, *args)


class UsageError(TelecbtError):
    """A value given by the user is not acceptable."""

    exit_code = ExitCode.USAGE


class AuthError(TelecbtError):
    """Locked store, wrong passphrase, missing secret, expired or forged session."""

    exit_code = ExitCode.AUTH


class WrongPassphrase(AuthError):
    """No key slot opened with the passphrase given (UIs can say so in the user's language)."""


class NotFoundError(TelecbtError):
    """A store, user or patient that does not exist."""

    exit_code = ExitCode.NOT_FOUND


class PermissionDenied(TelecbtError):
    """The signed-in user's role does not allow this action."""

    exit_code = ExitCode.REFUSED


class IntegrityError(TelecbtError):
    """Corrupt or tampered data: database, key file, audit chain, bundle."""

    exit_code = ExitCode.INTEGRITY


class StoreExistsError(TelecbtError):
    """Refusing to overwrite an existing store."""


class StoreVersionError(TelecbtError):
    """The store was written by a newer telecbt."""


class StorageError(TelecbtError):
    """The disk refused a write (full, read-only, removed)."""


class ContentError(TelecbtError):
    """A content file is malformed; the message names the file and key."""


class ConsentRequired(TelecbtError):
    """Clinical data cannot be recorded without active consent."""

    exit_code = ExitCode.REFUSED


def recognise(text: str | None, templates: dict[str, str], section: str,
              kind: type[TelecbtError] = TelecbtError) -> TelecbtError | None:
    """A message kept as English text (in a list or a table) as the keyed error it was made from: the first
    of `templates` ({kind: English template}) it matches, keyed `section.kind`; None when none does."""
    import re

    for name, template in templates.items():
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>.*)", re.escape(template))
        found = re.fullmatch(pattern, text or "", re.S)
        if found:
            return kind(template, key=f"{section}.{name}", **found.groupdict())
    return None


def exit_code_for(error: BaseException) -> int:
    """The exit code a UI should use for an exception."""
    if isinstance(error, TelecbtError):
        return int(error.exit_code)
    if isinstance(error, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.ERROR)
