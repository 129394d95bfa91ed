"""Loading content: built-in files plus a clinic's folders, validated, cached as JSON.

Parsing and validating every TOML file takes tens of milliseconds on an old laptop;
a command should not pay that each time. The validated result is cached in the state
folder under a key made of every file's path, size and modification time, so an edit
to any file (or a new telecbt version) rebuilds it.

Content sits just above `core.store` and imports only three modules of it: `errors`, because a
broken content file must reach every interface as the project's own `ContentError` (each UI
maps it to its message and exit code), `paths`, because the cache belongs in the one state
folder that `paths` decides for every file telecbt writes, and `fsutil`, whose crash-safe write
puts the cache in place whole.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from telecbt_cli import __version__
from telecbt_cli.content.languages import DECIMAL, LANGS
from telecbt_cli.core.store.errors import Codes, ContentError, Figures, Joined, NotFoundError, Said, Term

if TYPE_CHECKING:
    from telecbt_cli.content.validate import Problem

BUILTIN_DIR = Path(__file__).resolve().parent
SECTIONS = {"modules": "module", "courses": "course", "instruments": "instrument", "rules": "rules"}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def content_dirs(option: str | os.PathLike[str] | None = None) -> list[Path]:
    """Extra content folders: the --content option, else TELECBT_CONTENT_PATH (os.pathsep list)."""
    value = str(option) if option else os.environ.get("TELECBT_CONTENT_PATH", "")
    return [Path(part).expanduser() for part in value.split(os.pathsep) if part.strip()]


def resolve_lang(preferred: str | None, override: str | None = None) -> str:
    """--lang wins, then the patient's preferred language, then English."""
    for candidate in (override, preferred):
        if candidate:
            base = candidate.split("-")[0].lower()
            if base in LANGS:
                return base
    return "en"


def zone_place(zone: tzinfo, moment: datetime | None = None) -> str:
    """The place a zone is named after, as people say it: `Africa/Nairobi` -> Nairobi,
    `America/New_York` -> New York; a zone with no place (UTC, Etc/GMT-3) by its abbreviation or offset."""
    key = getattr(zone, "key", None) or ""
    if "/" in key and not key.startswith("Etc/"):
        return key.rsplit("/", 1)[-1].replace("_", " ")
    name = (moment.tzname() if moment is not None else zone.tzname(None)) or key or "UTC"
    return f"UTC{name}" if name[:1] in "+-" else name


def pick(text: dict | None, lang: str) -> str:
    """One language of a text table, falling back to English."""
    if not text:
        return ""
    return text.get(lang) or text.get("en") or ""


@dataclass
class Catalog:
    """Validated content: modules, courses, instruments, UI strings and program settings."""

    entries: dict[str, dict[str, dict]] = field(default_factory=dict)
    locales: dict[str, dict[str, str]] = field(default_factory=dict)
    program: dict = field(default_factory=dict)

    def get(self, kind: str, ident: str) -> dict:
        found = self.entries.get(kind, {}).get(ident)
        if found is None:
            known = ", ".join(sorted(self.entries.get(kind, {}))) or Term("errors.content_catalog.none", "none")
            what = Term(f"values.content.{kind}", kind) if kind in ("module", "instrument", "course") else kind
            raise NotFoundError("no {kind} named {ident!r} (known: {known})", key="errors.content_item.no_such",
                                kind=what, ident=ident, known=known)
        return found

    def all(self, kind: str) -> list[dict]:
        return [self.entries[kind][k] for k in sorted(self.entries.get(kind, {}))]

    def text(self, key: str, lang: str, **values: object) -> str:
        """A UI string in `lang` (English if missing), with {placeholders} filled; numbers are
        written the way `lang` writes them (20,5 in Spanish)."""
        table = self.locales.get(lang) or self.locales.get("en", {})
        template = table.get(key) or self.locales.get("en", {}).get(key) or key
        shown = {k: self.number(v, lang) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                 for k, v in values.items()}
        return template.format(**shown) if values else template

    def error(self, error: BaseException, lang: str) -> str:
        """What went wrong, in `lang`: the error's locale key and values (words in them translated
        too), or its own message when it has no key."""
        key = getattr(error, "key", None)
        if not key or key not in self.locales.get("en", {}):
            return str(error)
        return self.phrase(key, lang, getattr(error, "values", None) or {})

    def phrase(self, key: str, lang: str, values: dict) -> str:
        """A UI string in `lang` with its values, the words among them (`Term`) and errors inside it
        (`week 3 of the series: <why>`) translated too."""
        return self.text(key, lang, **{name: self.render(value, lang) for name, value in values.items()})

    def render(self, value: object, lang: str) -> object:
        """A value made in core, in `lang`: a `Said` sentence or `Joined` sentences, a `Term`, `Figures`, an error;
        anything else as it is (numbers are written by `text`)."""
        if isinstance(value, Said):
            known = value.key in self.locales.get("en", {})
            return self.phrase(value.key, lang, value.values) if known else str(value)
        if isinstance(value, Joined):
            return value.sep.join(str(self.render(part, lang)) for part in value.parts)
        if isinstance(value, Term):
            return self.text(value.key, lang)
        if isinstance(value, Figures):
            return self.figures(value, lang)
        if isinstance(value, Codes):
            return self.codes(value, lang)
        if isinstance(value, BaseException):
            return self.error(value, lang)
        return value

    def codes(self, value: Codes, lang: str) -> str:
        """The codes a user must type, each with its word in `lang` beside it when that differs (`phone (teléfono)`);
        in English the codes alone, as they read."""
        if lang == "en":
            return str(value)
        english = self.locales.get("en", {})
        shown = []
        for code in value.codes:
            key = f"values.{value.kind}.{code.replace('-', '_')}"
            word = self.text(key, lang) if key in english else code
            shown.append(code if word == code else f"{code} ({word})")
        return ", ".join(shown)

    @staticmethod
    def figures(value: Figures, lang: str) -> str:
        """Figures with `lang`'s decimal mark; where that is a comma, a semicolon parts them."""
        mark = DECIMAL.get(lang, ".")
        if mark == ".":
            return str(value)
        return "; ".join(re.sub(r"(?<=\d)\.(?=\d)", mark, part) for part in value.parts)

    def number(self, value: float | int | None, lang: str) -> str:
        """A number written the way `lang` writes it (decimal comma in Spanish)."""
        if value is None:
            return "-"
        if isinstance(value, int):
            return str(value)
        text = str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
        return text.replace(".", DECIMAL.get(lang, "."))

    def date(self, iso: str | None, lang: str, with_time: bool = False, zone: tzinfo | None = None) -> str:
        """An ISO date, or a stored UTC time seen in `zone`, in the locale's date format; with a
        time and a zone, the zone is named as a patient reads it (`03/12/2026 10:00 (hora de Nairobi)`)."""
        if not iso:
            return "-"
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        if zone is not None and moment.tzinfo is not None:
            moment = moment.astimezone(zone)
        shown = moment.strftime(self.text("format.datetime" if with_time else "format.date", lang))
        if with_time and zone is not None:
            shown += f" ({self.zone_name(zone, lang, moment)})"
        return shown

    def when(self, iso: str, lang: str, zone: tzinfo, labelled: bool = True) -> str:
        """A stored UTC time as a patient reads it, in their zone and saying which:
        `Thu 3 Dec, 10:00 (Nairobi time)`, `jue 3 dic, 10:00 (hora de Nairobi)`; without the zone's
        name when `labelled` is False (a screen that names it once, see `zone_name`)."""
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)
        weekdays = [w.strip() for w in self.text("format.weekdays", lang).split(",")]
        months = [m.strip() for m in self.text("format.months", lang).split(",")]
        return self.text("format.patient_time" if labelled else "format.patient_time_short", lang,
                         weekday=weekdays[moment.weekday()], day=str(moment.day), month=months[moment.month - 1],
                         time=f"{moment:%H:%M}", zone=self.zone_name(zone, lang, moment))

    def zone_name(self, zone: tzinfo, lang: str, moment: datetime | None = None) -> str:
        """A zone as patients say it: `Nairobi time`, `hora de Nairobi`."""
        return self.text("format.zone_time", lang, place=zone_place(zone, moment))

    def day(self, iso: str | None, lang: str) -> str:
        """A date as a chart label: month and day, in the locale's order (11-30, 30/11)."""
        if not iso:
            return "-"
        from datetime import date

        return date.fromisoformat(iso[:10]).strftime(self.text("format.day", lang))

    def crisis(self, lang: str) -> str:
        """The program's crisis guidance: the clinic's own text and phone, else the built-in text.

        A clinic phone missing from the clinic's text is added on a line of its own, so the
        number it set is always shown.
        """
        crisis = self.program.get("crisis") or {}
        custom = pick(crisis.get("text"), lang).strip()
        phone = (crisis.get("phone") or "").strip()
        if not custom:
            return self.text("safety.crisis_body", lang, phone=phone or self.text("safety.default_phone", lang))
        if phone and phone not in custom:
            return f"{custom}\n{self.text('safety.crisis_phone', lang, phone=phone)}"
        return custom


def _files(root: Path) -> list[Path]:
    found = []
    for section in (*SECTIONS, "locales"):
        folder = root / section
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.toml")))
    if (root / "program.toml").is_file():
        found.append(root / "program.toml")
    return found


def _signature(roots: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256(__version__.encode())
    for root in roots:
        digest.update(str(root).encode())
        for path in _files(root):
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def _read(path: Path, problems: list["Problem"]) -> dict | None:
    import tomllib

    from telecbt_cli.content.validate import Problem

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        problems.append(Problem(str(path), "", f"is not valid TOML: {error}", "cli.content_problem.toml",
                                {"error": str(error)}))
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(str(path), "", f"cannot be read ({error.__class__.__name__})", "cli.content_problem.unreadable",
                                {"error": error.__class__.__name__}))
    return None


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def build(roots: list[Path]) -> tuple[Catalog, list["Problem"]]:
    """Parse and validate every file under `roots` (built-in first); never raises on bad content."""
    from telecbt_cli.content.validate import Checker, Problem
    from telecbt_cli.content.validate_instruments import check_instrument_text

    problems: list[Problem] = []
    catalog = Catalog(entries={kind: {} for kind in SECTIONS.values()})
    texts: list[tuple[Path, dict]] = []
    raw_locales: dict[str, tuple[Path, dict]] = {}
    for root in roots:
        if not root.is_dir():
            problems.append(Problem(str(root), "", "is not a folder", "cli.content_problem.not_folder"))
            continue
        for path in _files(root):
            data = _read(path, problems)
            if data is None:
                continue
            section = path.parent.name if path.name != "program.toml" else ""
            if section == "locales":
                raw_locales[path.stem] = (path, data)
            elif path.name == "program.toml":
                catalog.program = data
            elif section == "instruments" and path.name.endswith(".text.toml"):
                texts.append((path, data))
            else:
                _add_entry(catalog, SECTIONS[section], path, data, problems)
    _check_locales(catalog, raw_locales, problems)
    for path, data in texts:
        checker = Checker(str(path))
        base = catalog.entries["instrument"].get(str(data.get("instrument")))
        check_instrument_text(checker, data, base)
        problems.extend(checker.problems)
        if not checker.problems and base is not None:
            _merge_text(base, data)
    for course in catalog.all("course"):
        for i, module in enumerate(course.get("sessions", [])):
            if module not in catalog.entries["module"]:
                problems.append(Problem(course["_file"], f"sessions[{i}]", f"names no module {module!r}",
                                        "cli.content_problem.no_module", {"module": module}))
            elif catalog.entries["module"][module].get("phase") == "practice":
                problems.append(Problem(course["_file"], f"sessions[{i}]",
                                        f"names {module!r}, a practice module (those are not course sessions)",
                                        "cli.content_problem.practice_session", {"module": module}))
        for ident in course.get("measures") or {}:
            if ident not in catalog.entries["instrument"]:
                problems.append(Problem(course["_file"], f"measures.{ident}", f"names no questionnaire {ident!r}",
                                        "cli.content_problem.no_questionnaire", {"ident": ident}))
    for ruleset in catalog.all("rules"):
        for i, rule in enumerate(ruleset.get("rules", [])):
            if rule.get("module") and rule["module"] not in catalog.entries["module"]:
                problems.append(Problem(ruleset["_file"], f"rules[{i}].module", f"names no module {rule['module']!r}",
                                        "cli.content_problem.no_module", {"module": rule["module"]}))
            if rule.get("instrument") and rule["instrument"] not in catalog.entries["instrument"]:
                problems.append(Problem(ruleset["_file"], f"rules[{i}].instrument",
                                        f"names no questionnaire {rule['instrument']!r}",
                                        "cli.content_problem.no_questionnaire", {"ident": rule["instrument"]}))
    _check_program(catalog.program, problems)
    return catalog, problems


def _add_entry(catalog: Catalog, kind: str, path: Path, data: dict, problems: list["Problem"]) -> None:
    from telecbt_cli.content.validate import (
        Checker,
        Problem,
        check_course,
        check_module,
        check_rules,
    )
    from telecbt_cli.content.validate_instruments import check_instrument

    checker = Checker(str(path))
    checks = {"module": check_module, "course": check_course, "instrument": check_instrument, "rules": check_rules}
    checks[kind](checker, data, path.stem)
    problems.extend(checker.problems)
    ident = data.get("id")
    if not isinstance(ident, str):
        return
    existing = catalog.entries[kind].get(ident)
    if existing is not None:
        problems.append(Problem(str(path), "id", f"duplicate {kind} id {ident!r} (also in {existing['_file']})",
                                "cli.content_problem.duplicate_kind",
                                {"kind": Term(f"values.content.{kind}", kind), "ident": ident, "other": existing["_file"]}))
        return
    catalog.entries[kind][ident] = {**data, "_file": str(path)}


def _check_locales(catalog: Catalog, raw: dict[str, tuple[Path, dict]], problems: list["Problem"]) -> None:
    from telecbt_cli.content.validate import Problem

    flat = {lang: _flatten(data) for lang, (_, data) in raw.items()}
    reference = flat.get("en")
    if reference is None:
        problems.append(Problem("locales/en.toml", "", "is missing: English UI strings are the reference",
                                "cli.content_problem.en_missing"))
        return
    for lang in LANGS:
        if lang not in flat:
            problems.append(Problem(f"locales/{lang}.toml", "", "is missing", "cli.content_problem.missing"))
    for lang, strings in flat.items():
        path = str(raw[lang][0])
        for key in sorted(set(reference) - set(strings)):
            problems.append(Problem(path, key, "is missing (present in en.toml)", "cli.content_problem.locale_missing"))
        for key in sorted(set(strings) - set(reference)):
            problems.append(Problem(path, key, "is extra (not in en.toml)", "cli.content_problem.locale_extra"))
        for key, value in strings.items():
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(path, key, "must be non-empty text", "cli.content_problem.empty_text"))
            elif key in reference and set(_PLACEHOLDER.findall(value)) != set(_PLACEHOLDER.findall(str(reference[key]))):
                problems.append(Problem(path, key, "has different {placeholders} from en.toml", "cli.content_problem.placeholders"))
        catalog.locales[lang] = {k: str(v) for k, v in strings.items()}


def _check_program(program: dict, problems: list["Problem"]) -> None:
    from telecbt_cli.content.validate import Checker

    crisis = program.get("crisis")
    if crisis is None:
        return
    checker = Checker("program.toml")
    if checker.keys(crisis, "crisis", {"phone", "text"}, set()):
        if "text" in crisis:
            checker.text(crisis["text"], "crisis.text")
        if "phone" in crisis and not isinstance(crisis["phone"], str):
            checker.add("crisis.phone", "must be text", key="cli.content_problem.text")
    problems.extend(checker.problems)


def _merge_text(base: dict, data: dict) -> None:
    """Put a clinic's licensed item text into the built-in instrument (scoring unchanged)."""
    by_id = {item["id"]: item for item in data["items"]}
    base["items"] = [{**item, **{k: v for k, v in by_id[item["id"]].items() if k != "id"}} for item in base["items"]]
    for key in ("title", "recall", "instructions"):
        if key in data:
            base[key] = data[key]
    for name, options in (data.get("option_sets") or {}).items():
        base["option_sets"][name] = options
    base["items_included"] = True
    base["licence_holder"] = data["licence_holder"]


def _cache_dir() -> Path:
    from telecbt_cli.core.store.paths import state_dir

    return state_dir() / "content-cache"


class _LazyCatalog(Catalog):
    """UI strings at once; modules, questionnaires and settings on first use.

    The terminal UI needs only its strings to draw the sign-in screen, and parsing the
    whole cached catalog costs a visible part of its start-up on an old laptop.
    """

    def __init__(self, locales: dict, extra: list[Path] | None) -> None:
        self.locales = locales
        self._extra, self._full = extra, None

    def _load_full(self) -> Catalog:
        if self._full is None:
            self._full = load(self._extra)
        return self._full

    @property
    def entries(self) -> dict:  # type: ignore[override]
        return self._load_full().entries

    @property
    def program(self) -> dict:  # type: ignore[override]
        return self._load_full().program


def load_for_ui(extra: list[Path] | None = None) -> Catalog:
    """Like `load`, but only the UI strings are read now (the rest when first needed)."""
    roots = [BUILTIN_DIR, *(extra or [])]
    key = _signature([r for r in roots if r.is_dir()]) if all(r.is_dir() for r in roots) else None
    if key is not None:
        try:
            locales = json.loads((_cache_dir() / f"{key}.locales.json").read_text(encoding="utf-8"))
            if _whole_locales(locales):
                return _LazyCatalog(locales, extra)
        except (OSError, ValueError):
            pass
    return load(extra)


def load(extra: list[Path] | None = None) -> Catalog:
    """The validated catalog (cached); ContentError listing the problems if any file is bad."""
    roots = [BUILTIN_DIR, *(extra or [])]
    key = _signature([r for r in roots if r.is_dir()]) if all(r.is_dir() for r in roots) else None
    cache = _cache_dir() / f"{key}.json" if key else None
    if cache is not None:
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if _whole_locales(data["locales"]) and isinstance(data["entries"], dict):
                return Catalog(data["entries"], data["locales"], data["program"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    catalog, problems = build(roots)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:10])
        if len(problems) > 10:
            raise ContentError("the content has {count} problem(s):\n  {shown}\n  … and {more} more\n"
                               "Run `telecbt content validate` to see them all.", key="errors.content_catalog.problems_more",
                               count=len(problems), shown=shown, more=len(problems) - 10)
        raise ContentError("the content has {count} problem(s):\n  {shown}\nRun `telecbt content validate` to see them all.",
                           key="errors.content_catalog.problems", count=len(problems), shown=shown)
    if cache is not None:
        _write_cache(cache, catalog)
    return catalog


def _whole_locales(locales: object) -> bool:
    """Whether a cached file holds UI strings (language -> key -> text), English among them."""
    return isinstance(locales, dict) and isinstance(locales.get("en"), dict) and bool(locales["en"])


def _write_cache(cache: Path, catalog: Catalog) -> None:
    """The catalog, and its UI strings alone (for `load_for_ui`), each written whole and then put in place
    (`fsutil.atomic_write`: a temporary file of this process's own, so processes that start together after
    the content changed cannot put one's catalog under the other's name), and caches of other contents removed."""
    from telecbt_cli.core.store.errors import StorageError
    from telecbt_cli.core.store.fsutil import atomic_write

    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        for old in cache.parent.glob("*.json"):
            if not old.name.startswith(f"{cache.stem}."):
                old.unlink(missing_ok=True)
        atomic_write(cache.with_suffix(".locales.json"), json.dumps(catalog.locales).encode("utf-8"),
                     sync_folder=False)
        atomic_write(cache, json.dumps({"entries": catalog.entries, "locales": catalog.locales,
                                        "program": catalog.program}).encode("utf-8"), sync_folder=False)
    except (OSError, StorageError):
        pass  # only a cache: the next start builds it again
