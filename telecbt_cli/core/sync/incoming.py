"""Rows arriving in a bundle, checked with the rules local writes follow, before anything is written.

A trusted device is not trusted to be right: a bug, an old version or a tampered laptop can
send a row that the CLI would refuse (a 3 MiB name, a birth year that is not a number, pain 99).
Each incoming row is checked for:

- the shape of every synchronised row: text ids, a hybrid-logical-clock stamp made by the
  device named in `device_id`, ISO times, `deleted` 0 or 1;
- each column's declared type (TEXT, INTEGER, REAL), NOT NULL, and a length bound;
- the rules of the module that writes the table locally (`check_stored*` in patients,
  diary, messages, appointments, plans): the same functions, not a second copy;
- JSON text columns: they parse, and hold the kind of value their writer stores.

A failing row refuses its bundle (the import is one transaction, so nothing is written). The
message names the table, the row id and the rule, never the value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from operator import itemgetter

from telecbt_cli.core.care import appointments, diary, messages, plans
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.store.errors import IntegrityError, Term, UsageError
from telecbt_cli.core.store.textsafe import inert

#: Any text column; tables' own rules are tighter (a name: 2,000 characters).
MAX_TEXT = 1 << 20
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_HLC = re.compile(r"\d{13}\.\d{5}\.([0-9A-Za-z_-]{1,64})")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)")
_INT64 = (-(1 << 63), (1 << 63) - 1)
#: Well-formed device and patient ids remembered per import (a cache, bounded so memory stays flat at any size).
KNOWN_IDS = 4096

#: table -> the function its writer uses for stored rows (raises UsageError).
RULES: dict[str, Callable[[dict], None]] = {
    "patients": patients.check_stored,
    "consents": patients.check_stored_consent,
    "diary_entries": diary.check_stored,
    "messages": messages.check_stored,
    "appointments": appointments.check_stored,
    "goals": plans.check_stored_goal,
}
#: JSON text columns not already checked by RULES: column -> the kinds of value it may hold.
JSON_SHAPES: dict[str, dict[str, tuple[type, ...]]] = {
    "measure_responses": {"answers": (dict,), "subscales": (dict, type(None))},
    "runs": {"history": (list,), "answers": (dict,)},
    "plans": {"sessions": (list,)},
    "goals": {"notes": (list,)},
    "homework": {"text": (dict, str)},
    "appointments": {"fidelity": (list, type(None))},
    "patient_flags": {"detail": (dict,)},
}


_KINDS = {"TEXT": "text", "INTEGER": "a whole number", "REAL": "a number"}
_TEXT_TYPES = {str, type(None)}
#: The words a column kind is said with (`values.column_kind`), for a rule break shown in the reader's language.
_KIND_WORDS = {"text": "text", "a whole number": "whole", "a number": "number"}
_WHOLE_TYPES = {int, type(None)}
_REAL_TYPES = {int, float, type(None)}


def _fits(kind: str, value: object) -> bool:
    """A value that is not text fits an INTEGER or REAL column (bool is not a number here)."""
    if type(value) is int:
        return _INT64[0] <= value <= _INT64[1]
    return kind == "a number" and type(value) is float and math.isfinite(value)


#: Column declarations per table, read once per process: every store it opens has this version's schema.
_SPECS: dict[str, list[tuple[str, str, bool]]] = {}


def values_of(names: tuple[str, ...] | list[str]) -> Callable[[dict], tuple]:
    """A function giving a row's values for `names` as a tuple, in C (KeyError when one is missing)."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda row: (row[name],)
    return lambda row: ()


class RowChecker:
    """Checks rows of one store's tables; column declarations are read once per table."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self._columns = _SPECS
        self._names: dict[str, list[str]] = {}
        self._groups: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._ids: set[str] = set()  # device and patient ids already seen well-formed

    def columns(self, table: str) -> list[str]:
        if table not in self._names:
            self._names[table] = [name for name, _, _ in self._spec(table)]
        return self._names[table]

    def _spec(self, table: str) -> list[tuple[str, str, bool]]:
        """(column, kind, not null) per column, from the table's declaration."""
        if table not in self._columns:
            self._columns[table] = [(name, _KINDS.get(str(declared).upper(), "text"), bool(notnull))
                                    for _, name, declared, notnull, _, _ in self.conn.execute(f"PRAGMA table_info({table})")]
        return self._columns[table]

    def _id(self, value: object) -> bool:
        """A well-formed id; the few ids that repeat (devices, patients) are matched once."""
        if value in self._ids:
            return True
        if isinstance(value, str) and _ID.fullmatch(value):
            if len(self._ids) < KNOWN_IDS:
                self._ids.add(value)
            return True
        return False

    def check(self, table: str, row: dict) -> None:
        """IntegrityError naming the table, row and rule when `row` breaks one."""
        ident = row.get("id")
        try:
            self._check(table, row)
        except UsageError as error:
            where = ident if isinstance(ident, str) and _ID.fullmatch(ident) else "?"
            shown = inert(str(error))[:200]
            raise IntegrityError("the bundle holds a {table} row ({where}) that this store refuses: {problem}. "
                                 "Nothing was imported from it", key="errors.sync_rows.refused", table=table,
                                 where=where, problem=error if shown == str(error) else shown) from None

    def _types_fit(self, table: str, row: dict) -> bool:
        """The declared types, NOT NULL and the text bound for a whole row at once (C loops via itemgetter and
        map); False sends the row through the column-by-column loop, which says what is wrong."""
        if table not in self._groups:
            spec = self._spec(table)
            groups = tuple(tuple(n for n, kind, _ in spec if kind == wanted)
                           for wanted in ("text", "a whole number", "a number")) + (
                tuple(n for n, _, notnull in spec if notnull),)
            self._groups[table] = tuple((names, values_of(names)) for names in groups)
        (text, texts_of), (whole, wholes_of), (real, reals_of), (required, required_of) = self._groups[table]
        try:
            texts, wholes, reals, needed = texts_of(row), wholes_of(row), reals_of(row), required_of(row)
        except KeyError:  # a column the sender's version did not have: NULL, as the column loop reads it
            get = row.get
            texts, wholes, reals, needed = (tuple(map(get, names)) for names in (text, whole, real, required))
        if None in needed:
            return False
        if not set(map(type, texts)) <= _TEXT_TYPES or max(map(len, filter(None, texts)), default=0) > MAX_TEXT:
            return False
        if not set(map(type, wholes)) <= _WHOLE_TYPES or not set(map(type, reals)) <= _REAL_TYPES:
            return False
        numbers = list(filter(None, wholes + reals))
        try:
            return not numbers or (_INT64[0] <= min(numbers) and max(numbers) <= _INT64[1]
                                   and all(map(math.isfinite, numbers)))
        except OverflowError:
            return False

    def _check(self, table: str, row: dict) -> None:
        longest = None  # a text over MAX_TEXT: reported after the table's own rules, which say it better
        get = row.get
        for name, kind, notnull in () if self._types_fit(table, row) else self._spec(table):
            value = get(name)
            if value is None:
                if notnull:
                    raise UsageError("{name} is missing", key="errors.sync_rows.missing", name=name)
            elif type(value) is str:
                if kind != "text":
                    raise UsageError("{name} must be {kind}", key="errors.sync_rows.kind", name=name,
                                     kind=Term(f"values.column_kind.{_KIND_WORDS[kind]}", kind))
                if len(value) > MAX_TEXT:
                    longest = name
            elif kind == "text" or not _fits(kind, value):
                raise UsageError("{name} must be {kind}", key="errors.sync_rows.kind", name=name,
                                     kind=Term(f"values.column_kind.{_KIND_WORDS[kind]}", kind))
        if not isinstance(row.get("id"), str) or not _ID.fullmatch(row["id"]) or not self._id(row["device_id"]):
            raise UsageError("its id or device id is not an id", key="errors.sync_rows.not_an_id")
        stamp = _HLC.fullmatch(row["hlc"])
        if stamp is None or stamp.group(1) != row["device_id"]:
            raise UsageError("its version stamp (hlc) is malformed or names another device", key="errors.sync_rows.stamp")
        if not (_TIME.fullmatch(row["created_at"]) and _TIME.fullmatch(row["updated_at"])):
            raise UsageError("its created or updated time is not an ISO time", key="errors.sync_rows.times")
        if row["deleted"] not in (0, 1):
            raise UsageError("deleted must be 0 or 1", key="errors.sync_rows.deleted")
        if "patient_id" in row and table != "patients" and not self._id(row["patient_id"]):
            raise UsageError("its patient id is not an id", key="errors.sync_rows.patient_id")
        rule = RULES.get(table)
        if rule is not None:
            rule(row)
        if longest is not None:
            raise UsageError("{name} is longer than {mib} MiB", key="errors.sync_rows.too_long", name=longest,
                             mib=MAX_TEXT // 2**20)
        for column, kinds in JSON_SHAPES.get(table, {}).items():
            text = row.get(column)
            if text is None:
                continue
            try:
                value = json.loads(text)
            except (ValueError, RecursionError):
                raise UsageError("{column} is not valid JSON", key="errors.sync_rows.not_json", column=column) from None
            if not isinstance(value, kinds):
                raise UsageError("{column} does not hold the expected kind of value", key="errors.sync_rows.shape",
                                 column=column)
