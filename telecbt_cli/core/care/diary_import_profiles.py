"""Known export formats as data: header signature -> columns, units, date format, rows per day.

A CSV is recognised from its header line alone (no hand mapping). Each profile lists
the headers that must all be there, where each diary field comes from (several
columns are added up), the unit, how dates are written, and how the maker writes more
than one row per day. Anything not recognised is read as a generic diary CSV, whose
column names come from the alias lists below. Formats: docs/diary-import.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from telecbt_cli.core.care.diary_import_values import UNITS, ImportFileError, echo


@dataclass(frozen=True)
class Source:
    """Where one diary field comes from: a unit (see UNITS) and the columns added up for it."""

    unit: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """One maker's export format."""

    key: str
    name: str
    signature: tuple[str, ...]             # normalised headers that must all be present
    date_column: str
    sources: tuple[Source, ...]
    date_kind: str = "text"                # "text", or "epoch_ms" (midnight UTC of the day)
    date_order: str | None = None          # the maker's documented order of numeric dates
    maker: str = ""
    person_column: str | None = None       # files that can hold several people (Fitabase)
    combined: tuple[str, str] | None = None  # (column, value) of the row totalling all devices
    not_worn: tuple[tuple[str, str], ...] = ()  # all these cells equal: the tracker was not worn
    not_worn_reason: str = ""


PROFILES: tuple[Profile, ...] = (
    Profile(
        key="fitbit-daily-activity", name="Fitbit daily activity (Fitabase)", maker="Fitbit",
        signature=("id", "activitydate", "totalsteps", "veryactiveminutes", "fairlyactiveminutes",
                   "lightlyactiveminutes", "sedentaryminutes"),
        date_column="activitydate", date_order="MDY", person_column="id",
        sources=(Source("steps", ("totalsteps",)),
                 Source("activity_min", ("veryactiveminutes", "fairlyactiveminutes"))),
        not_worn=(("totalsteps", "0"), ("sedentaryminutes", "1440")),
        not_worn_reason="the tracker was not worn that day (0 steps and 1440 sedentary minutes)"),
    Profile(
        key="fitbit-daily-sleep", name="Fitbit daily sleep (Fitabase)", maker="Fitbit",
        signature=("id", "sleepday", "totalsleeprecords", "totalminutesasleep", "totaltimeinbed"),
        date_column="sleepday", date_order="MDY", person_column="id",
        sources=(Source("sleep_minutes", ("totalminutesasleep",)),)),
    Profile(
        key="google-fit-daily", name="Google Fit daily activity metrics (Takeout)", maker="Google Fit",
        signature=("date", "move_minutes_count", "step_count"),
        date_column="date",
        sources=(Source("steps", ("step_count",)), Source("activity_min", ("move_minutes_count",)))),
    Profile(
        key="samsung-step-daily-trend", name="Samsung Health daily steps (step_daily_trend)", maker="Samsung Health",
        signature=("day_time", "count", "source_type"),
        date_column="day_time", date_kind="epoch_ms", combined=("source_type", "-2"),
        sources=(Source("steps", ("count",)),)),
)

#: The generic CSV: recognised headers per unit, best first (normalised: see norm_header).
GENERIC_DATE = ("date", "day", "datetime", "timestamp", "start", "start_date", "fecha", "dia")
GENERIC_UNITS: dict[str, tuple[str, ...]] = {
    "pain": ("pain", "dolor"),
    "mood": ("mood", "animo", "estado_de_animo"),
    "sleep_hours": ("sleep_hours", "sleep", "hours_slept", "horas_sueno", "horas_de_sueno", "sueno"),
    "sleep_minutes": ("sleep_minutes", "asleep_min", "minutes_asleep", "sleep_min", "minutos_de_sueno",
                      "minutos_sueno"),
    "sleep_quality": ("sleep_quality", "calidad_sueno", "calidad_del_sueno", "calidad_de_sueno"),
    "activity_min": ("activity_min", "active_minutes", "exercise_minutes", "minutos_actividad",
                     "minutos_activos", "minutos_de_actividad", "minutos_de_ejercicio"),
    "steps": ("steps", "step_count", "stepcount", "pasos", "numero_de_pasos"),
}
GENERIC_NOTE = ("note", "notes", "nota", "notas")
#: What `--map COLUMN=FIELD` accepts.
MAP_FIELDS = ("date", *UNITS, "note", "ignore")


def norm_header(name: str) -> str:
    """Case, accents, spaces and punctuation ignored; Samsung's `com.samsung….` prefixes dropped."""
    text = unicodedata.normalize("NFKD", name.replace("\ufeff", "").strip())
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    if text.startswith("com.samsung."):
        text = text.rsplit(".", 1)[-1]
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


@dataclass
class Layout:
    """Which column feeds what, for one file."""

    profile: Profile | None                 # None: the generic CSV
    date: int
    sources: list[tuple[str, list[int]]]    # (unit, column indices added up)
    note: int | None = None
    person: int | None = None
    combined: tuple[int, str] | None = None
    not_worn: list[tuple[int, str]] = field(default_factory=list)
    date_kind: str = "text"                 # the profile's, unless --map chose another date column


def _header_list(headers: list[str], limit: int = 20) -> str:
    shown = [f"'{echo(h)}'" for h in headers if h.strip()]
    if not shown:
        return "none"
    return ", ".join(shown[:limit]) + (f" and {len(shown) - limit} more" if len(shown) > limit else "")


def recognise(headers: list[str]) -> Profile | None:
    """The first profile whose signature headers are all in `headers`."""
    names = {norm_header(h) for h in headers}
    return next((p for p in PROFILES if set(p.signature) <= names), None)


def _index(normed: list[str], name: str, taken: set[int]) -> int | None:
    return next((i for i, n in enumerate(normed) if n == name and i not in taken), None)


def _profile_layout(profile: Profile, normed: list[str]) -> Layout:
    def at(name: str) -> int:
        index = _index(normed, name, set())
        assert index is not None  # the signature guarantees it
        return index

    sources = [(s.unit, [at(c) for c in s.columns]) for s in profile.sources
               if all(_index(normed, c, set()) is not None for c in s.columns)]
    return Layout(profile, at(profile.date_column), sources,
                  person=at(profile.person_column) if profile.person_column else None,
                  combined=(at(profile.combined[0]), profile.combined[1]) if profile.combined else None,
                  not_worn=[(at(c), v) for c, v in profile.not_worn], date_kind=profile.date_kind)


def _generic_layout(headers: list[str], normed: list[str], mapping: dict[str, str]) -> Layout:
    taken = {i for i, n in enumerate(normed) if n in mapping}
    date = next((i for alias in GENERIC_DATE if (i := _index(normed, alias, taken)) is not None), None)
    if date is None and "date" not in mapping.values():
        raise ImportFileError(
            "No date column found. Recognised date headers: {known}. Headers in the file: {found}. "
            "Rename the date column, or name it with --map COLUMN=date, and import again.",
            key="errors.import_file.no_date", known=", ".join(GENERIC_DATE), found=_header_list(headers))
    if date is not None:
        taken.add(date)
    sources: list[tuple[str, list[int]]] = []
    for unit, aliases in GENERIC_UNITS.items():
        fld = UNITS[unit][0]
        if any(UNITS[u][0] == fld for u, _ in sources):
            continue  # an hours column wins over a minutes column
        index = next((i for alias in aliases if (i := _index(normed, alias, taken)) is not None), None)
        if index is not None:
            taken.add(index)
            sources.append((unit, [index]))
    note = next((i for alias in GENERIC_NOTE if (i := _index(normed, alias, taken)) is not None), None)
    return Layout(None, date if date is not None else -1, sources, note=note)


def _apply_mapping(layout: Layout, normed: list[str], headers: list[str], mapping: dict[str, str]) -> None:
    for name, target in mapping.items():
        index = _index(normed, norm_header(name), set())
        if index is None:
            raise ImportFileError(
                "--map names a column '{name}' that is not in the file. Headers in the file: {found}.",
                key="errors.import_file.map_column", name=echo(name), found=_header_list(headers))
        layout.sources = [(u, cols) for u, cols in layout.sources if index not in cols]
        if layout.note == index:
            layout.note = None
        if target == "date":
            layout.date, layout.date_kind = index, "text"
        elif target == "note":
            layout.note = index
        elif target != "ignore":
            fld = UNITS[target][0]
            layout.sources = [(u, cols) for u, cols in layout.sources if UNITS[u][0] != fld]
            layout.sources.append((target, [index]))


def build_layout(headers: list[str], mapping: dict[str, str] | None = None) -> Layout:
    """The layout for a header line: a known profile, else the generic CSV; `--map` applied last."""
    normed = [norm_header(h) for h in headers]
    mapping = mapping or {}
    profile = recognise(headers)
    layout = _profile_layout(profile, normed) if profile else \
        _generic_layout(headers, normed, {norm_header(k): v for k, v in mapping.items()})
    _apply_mapping(layout, normed, headers, mapping)
    if layout.date < 0 or layout.date in {i for _, cols in layout.sources for i in cols}:
        raise ImportFileError("--map must name exactly one date column, different from the data columns.")
    if not layout.sources:
        recognised = [alias for aliases in GENERIC_UNITS.values() for alias in aliases]
        raise ImportFileError(
            "No diary data column found. Recognised data headers: {known}. Headers in the file: {found}. "
            "Rename at least one data column, or name it with --map COLUMN=FIELD, and import again.",
            key="errors.import_file.no_data", known=", ".join(recognised), found=_header_list(headers))
    return layout


def parse_mapping(items: list[str]) -> dict[str, str]:
    """['Pasos dados=steps', …] -> {'Pasos dados': 'steps'}; ValueError naming the bad item."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        target = target.strip().lower().replace("-", "_")
        if not sep or not column.strip() or target not in MAP_FIELDS:
            raise ValueError(f"--map {item!r} must be COLUMN=FIELD, where FIELD is one of {', '.join(MAP_FIELDS)}")
        out[column.strip()] = target
    return out
