"""`telecbt patient …`: the patient registry and consent."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    RawOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    YesOpt,
    confirm,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import (
    emit_csv,
    emit_fields,
    emit_json,
    emit_table,
    say,
)
from telecbt_cli.core.store.errors import UsageError
from telecbt_cli.core.store.ids import parse_patient_code

app = typer.Typer(
    help="Patients: add, list, show, edit, archive, consent, pin. "
    "Tip: `patient add` with no options asks for each field, so names stay out of shell history.",
    no_args_is_help=True,
    add_completion=False,
)
pin_app = typer.Typer(help="Kiosk PINs: set, unlock, status.", no_args_is_help=True, add_completion=False)
app.add_typer(pin_app, name="pin")

CodeArg = Annotated[str, typer.Argument(help="Patient code, e.g. 7K3M-9Q4M (case and dash optional).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Name or alias.", show_default=False)]
YearOpt = Annotated[Optional[int], typer.Option("--birth-year", help="Year of birth.", show_default=False)]
SexOpt = Annotated[Optional[str], typer.Option("--sex", help="female, male, other or unknown.", show_default=False)]
LangOpt = Annotated[Optional[str], typer.Option("--language", help="Preferred language code: en, es, ...", show_default=False)]
PhoneOpt = Annotated[Optional[str], typer.Option("--phone", help="Phone number.", show_default=False)]
EmailOpt = Annotated[Optional[str], typer.Option("--email", help="Email address.", show_default=False)]
CgNameOpt = Annotated[Optional[str], typer.Option("--caregiver-name", help="Caregiver's name.", show_default=False)]
CgContactOpt = Annotated[Optional[str], typer.Option("--caregiver-contact", help="Caregiver's phone or email.", show_default=False)]
TzOpt = Annotated[Optional[str], typer.Option(
    "--timezone", metavar="<zone>", show_default=False,
    help="The patient's time zone, e.g. Africa/Nairobi (default: this device's). Reminders use it.")]
NotesOpt = Annotated[Optional[str], typer.Option("--notes", help="Free-text notes.", show_default=False)]
InputOpt = Annotated[Optional[Path], typer.Option(
    "--input", help="Read the fields as a JSON object from this file ('-' = standard input).", show_default=False)]

_LIST_COLUMNS = [("code", "code"), ("display_name", "name"), ("birth_year", "born"), ("sex", "sex"),
                 ("language", "lang"), ("status", "status")]
_FIELD_LABELS = [
    ("code", "code"), ("display_name", "name"), ("birth_year", "year of birth"), ("sex", "sex"),
    ("language", "language"), ("timezone", "time zone"), ("phone", "phone"), ("email", "email"),
    ("caregiver_name", "caregiver"),
    ("caregiver_contact", "caregiver contact"), ("notes", "notes"), ("status", "status"),
    ("created_at", "enrolled"), ("updated_at", "updated"), ("id", "record id"),
]
#: The fields `patient add` asks for, in order; each prompt is `cli.patient_add.ask_<field>`.
_PROMPTS = ["display_name", "birth_year", "sex", "language", "phone", "email", "caregiver_name",
            "caregiver_contact", "notes", "timezone"]


def _read_input(path: Path) -> dict:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise UsageError("{path} does not exist", key="errors.patient_input.missing", path=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError("{path} does not hold a JSON object of patient fields", key="errors.patient_input.not_json",
                         path=str(path)) from None
    if not isinstance(data, dict):
        raise UsageError("--input must hold a JSON object, e.g. {example}", key="errors.patient_input.not_object",
                         example='{"name": "Ana", "birth_year": 1970}')
    aliases = {"name": "display_name"}
    return {aliases.get(k, k): v for k, v in data.items()}


def _ask_fields(zone: str = "") -> dict:
    """Prompt on stderr for each field, checked as it is typed: a refused value is asked for again,
    and nothing typed before it is lost. Empty answers skip a field (the name is required; the time
    zone is then `zone`, this device's)."""
    from telecbt_cli.commands.i18n import error_text, t
    from telecbt_cli.commands.output import error
    from telecbt_cli.core.clinical.patients import check_field

    values: dict = {}
    for key in _PROMPTS:
        label = t(f"cli.patient_add.ask_{key}")
        while key not in values:
            sys.stderr.write(t("cli.patient_add.ask_or_enter", label=label, zone=zone)
                             if key == "timezone" and zone else f"{label}: ")
            sys.stderr.flush()
            answer = sys.stdin.readline()
            if not answer:
                return values
            answer = answer.rstrip("\n")
            if not answer.strip() and key != "display_name":
                break
            try:
                values[key] = check_field(key, answer)
            except UsageError as problem:
                error(t("cli.patient_add.again", problem=error_text(problem)))
    return values


def _fields(values: dict):
    from telecbt_cli.core.clinical.patients import PatientFields

    known = {f for f in PatientFields.__dataclass_fields__}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UsageError("unknown patient field(s): {names}", key="errors.patient_input.unknown",
                         names=", ".join(unknown))
    if values.get("birth_year") not in (None, ""):
        try:
            values["birth_year"] = int(values["birth_year"])
        except (TypeError, ValueError):
            raise UsageError("year of birth must be a number such as 1968",
                             key="errors.patient_fields.birth_year_number") from None
    return PatientFields(**values)


def _show(patient: dict, json_out: bool, zone, zone_name: str) -> None:
    from telecbt_cli.core.store.localtime import staff_time

    if json_out:
        emit_json(patient)
        return
    from telecbt_cli.commands.i18n import t, value

    shown = {**patient, "created_at": staff_time(patient["created_at"], zone),
             "updated_at": staff_time(patient["updated_at"], zone), "status": value("patient", patient.get("status")),
             "timezone": patient["timezone"] or t("cli.patient.zone_of_device", zone=zone_name)}
    emit_fields([(t(f"cli.patient.field_{key}"), shown.get(key) if shown.get(key) is not None else "-")
                 for key, _ in _FIELD_LABELS])
    consent = patient.get("consent")
    if consent is not None:
        current = consent["current"]
        state = (t("cli.patient.consent_active", method=current["method"], version=current["version"],
                   when=staff_time(current["recorded_at"], zone)) if current else t("cli.patient.consent_none"))
        emit_fields([(t("cli.patient.field_consent"), state)])
    if patient.get("flags"):
        from telecbt_cli.commands.content_opts import load_catalog
        from telecbt_cli.core.clinical.flags import describe

        catalog = load_catalog(None)
        for flag in patient["flags"]:
            found = describe(catalog, flag, "en")
            emit_fields([("flag", f"{found['label']} ({staff_time(found['raised_at'], zone)}, {found['content_id']}): "
                                  f"{found['message']}"),
                         *[("", f"- {detail}") for detail in found["details"]]])
    if patient.get("open_safety_alerts"):
        say(t("cli.patient.open_alerts", count=patient["open_safety_alerts"], code=patient["code"]), style="bold red")


@app.command()
def add(
    name: NameOpt = None, birth_year: YearOpt = None, sex: SexOpt = None, language: LangOpt = None,
    phone: PhoneOpt = None, email: EmailOpt = None, caregiver_name: CgNameOpt = None,
    caregiver_contact: CgContactOpt = None, notes: NotesOpt = None, timezone: TzOpt = None,
    input_file: InputOpt = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Enrol a patient; prints the new patient code (say it back to the patient)."""
    from telecbt_cli.core.clinical import patients

    given = {"display_name": name, "birth_year": birth_year, "sex": sex, "language": language, "phone": phone,
             "email": email, "caregiver_name": caregiver_name, "caregiver_contact": caregiver_contact,
             "notes": notes, "timezone": timezone}
    values = {k: v for k, v in given.items() if v is not None}
    if input_file is not None:
        values = {**_read_input(input_file), **values}
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")
        if "display_name" not in values:
            if not sys.stdin.isatty():
                raise UsageError("give the patient's name with --name or --input FILE", key="errors.patient_input.name")
            from telecbt_cli.core.store.zones import device_zone_name

            values.update(_ask_fields(device_zone_name(access.store)))
        patient = patients.add_patient(access, _fields(values))
    if json_out:
        emit_json(patient)
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.patient_add.enrolled", code=patient["code"]), style="green")


@app.command("list")
def list_(
    search: Annotated[Optional[str], typer.Option("--search", "-s", help="Match name, code, phone or email.")] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived patients.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False, raw: RawOpt = False,
) -> None:
    """List patients (active ones unless --archived)."""
    from telecbt_cli.core.clinical import patients

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out, raw)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = patients.list_patients(access, search, include_archived=archived)
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
    elif csv_out:
        emit_csv(rows, [key for key, _ in _FIELD_LABELS], raw, zone)
    else:
        from telecbt_cli.commands.i18n import columns, t, value

        emit_table([{**r, "status": value("patient", r.get("status"))} for r in rows],
                   columns("patient", [key for key, _ in _LIST_COLUMNS]), empty=t("cli.patient.empty"))


@app.command()
def show(code: CodeArg, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
         passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Show one patient's record and consent (the read is audited)."""
    from telecbt_cli.core.clinical import patients

    from telecbt_cli.core.store.zones import device_zone, device_zone_name

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        patient = patients.get_patient(access, code)
        zone, zone_name = device_zone(access.store), device_zone_name(access.store)
    _show(patient, json_out, zone, zone_name)


@app.command()
def edit(
    code: CodeArg,
    name: NameOpt = None, birth_year: YearOpt = None, sex: SexOpt = None, language: LangOpt = None,
    phone: PhoneOpt = None, email: EmailOpt = None, caregiver_name: CgNameOpt = None,
    caregiver_contact: CgContactOpt = None, notes: NotesOpt = None, timezone: TzOpt = None,
    input_file: InputOpt = None,
    clear: Annotated[Optional[list[str]], typer.Option(
        "--clear", help="Empty a field, e.g. --clear phone (repeatable).")] = None,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Change registry fields of a patient; the previous values stay in the change log."""
    from telecbt_cli.core.clinical import patients

    given = {"display_name": name, "birth_year": birth_year, "sex": sex, "language": language, "phone": phone,
             "email": email, "caregiver_name": caregiver_name, "caregiver_contact": caregiver_contact,
             "notes": notes, "timezone": timezone}
    values = {k: v for k, v in given.items() if v is not None}
    if input_file is not None:
        values = {**_read_input(input_file), **values}
    clear_fields = [{"name": "display_name"}.get(c.replace("-", "_"), c.replace("-", "_")) for c in clear or []]
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        patient = patients.edit_patient(access, code, _fields(values), clear_fields)
    if json_out:
        emit_json(patient)
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.patient_add.updated", code=patient["code"]), style="green")


@app.command()
def archive(code: CodeArg, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
            passphrase_fd: PassFdOpt = None, yes: YesOpt = False, json_out: JsonOpt = False) -> None:
    """Archive a patient: off the active list, nothing deleted."""
    from telecbt_cli.core.clinical import patients

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")
        patients.patient_id_for(access, code)
        from telecbt_cli.commands.i18n import t

        confirm(t("cli.patient_add.archive_ask", code=parse_patient_code(code)), yes)
        patient = patients.archive_patient(access, code)
    if json_out:
        emit_json(patient)
    else:
        say(t("cli.patient_add.archived", code=patient["code"]), style="green")


@app.command()
def consent(
    code: CodeArg,
    method: Annotated[Optional[str], typer.Option("--method", help="verbal, written or kiosk.")] = None,
    version: Annotated[Optional[str], typer.Option("--version", help="Version of the consent form used.")] = None,
    witness: Annotated[Optional[str], typer.Option("--witness", help="Name of a witness, if any.")] = None,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Record that the patient withdrew consent.")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Record consent (or its withdrawal); the full history is kept."""
    from telecbt_cli.core.clinical import patients

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if withdraw and (method or version or witness):
            raise UsageError("--withdraw takes no --method, --version or --witness", key="errors.consent.withdraw_alone")
        if not withdraw and (not method or not version):
            raise UsageError("give --method and --version to record consent, or --withdraw", key="errors.consent.needs")
        if withdraw:
            state = patients.withdraw_consent(access, code)
        else:
            state = patients.record_consent(access, code, method or "", version or "", witness)
    shown = parse_patient_code(code) or code
    if json_out:
        emit_json(state)
        return
    from telecbt_cli.commands.i18n import t, value

    if state["active"]:
        say(t("cli.patient_add.consent_given", method=value("consent", method), version=version, code=shown),
            style="green")
    else:
        say(t("cli.patient_add.consent_withdrawn", code=shown), style="yellow")


PinFileOpt = Annotated[Optional[Path], typer.Option(
    "--pin-file", show_default=False,
    help="Read the new PIN from the first line of this file; '-' reads standard input. "
         "Without it the PIN is asked for twice, hidden, on the terminal.")]


def _read_pin(pin_file: Path | None, code: str) -> str:
    """The new PIN from --pin-file, or asked twice on the terminal; never from an argument value."""
    from telecbt_cli.core.care.pins import check_pin_format

    if pin_file is not None:
        try:
            text = sys.stdin.readline() if str(pin_file) == "-" else pin_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError("PIN file {path} does not exist", key="errors.pin.file_missing", path=str(pin_file)) from None
        except (OSError, UnicodeDecodeError):
            raise UsageError("cannot read PIN file {path}", key="errors.pin.file_unreadable", path=str(pin_file)) from None
        pin = text.split("\n", 1)[0].strip()
        if not pin:
            if str(pin_file) == "-":
                raise UsageError("standard input is empty: it should hold the PIN on its first line",
                                 key="errors.pin.stdin_empty")
            raise UsageError("{path} is empty: it should hold the PIN on its first line", key="errors.pin.file_empty",
                             path=str(pin_file))
        return check_pin_format(pin)
    if not sys.stdin.isatty():
        raise UsageError("no PIN given and no terminal to ask on: use --pin-file FILE, or --pin-file - "
                         "to read it from standard input", key="errors.pin.no_terminal")
    import getpass

    from telecbt_cli.commands.i18n import t

    pin = check_pin_format(getpass.getpass(t("cli.patient_add.pin_ask", code=code), stream=sys.stderr))
    if getpass.getpass(t("cli.patient_add.pin_repeat"), stream=sys.stderr) != pin:
        raise UsageError("the two PINs differ: nothing was changed", key="errors.pin.differ")
    return pin


@pin_app.command("set")
def pin_set(code: CodeArg, pin_file: PinFileOpt = None, store: StoreOpt = None, user: UserOpt = None,
            passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Set or replace a patient's kiosk PIN (4 to 8 digits); clears failures and any lock."""
    from telecbt_cli.core.care import pins
    from telecbt_cli.core.clinical import patients

    if pin_file is not None and str(pin_file) == "-" and passphrase_file is not None and str(passphrase_file) == "-":
        raise UsageError("--pin-file and --passphrase-file cannot both read standard input", key="errors.pin.two_stdin")
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("write")
        patients.patient_id_for(access, code)  # an unknown code fails before the PIN is asked for
        canonical = parse_patient_code(code) or code
        pins.set_pin(access, code, _read_pin(pin_file, canonical))
    if json_out:
        emit_json({"code": canonical, "set": True, "locked": False})
        return
    from telecbt_cli.commands.i18n import t

    say(t("cli.patient_add.pin_set", code=canonical), style="green")


@pin_app.command("unlock")
def pin_unlock(code: CodeArg, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
               passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Unlock a kiosk PIN after too many wrong tries (the PIN stays the same)."""
    from telecbt_cli.core.care import pins

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        pins.unlock_pin(access, code)
    if json_out:
        emit_json({"code": parse_patient_code(code), "locked": False})
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.patient_add.pin_unlocked", code=parse_patient_code(code)), style="green")


@pin_app.command("status")
def pin_status(code: CodeArg, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
               passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Show whether a kiosk PIN is set, wrong tries since the last sign-in, and the lock."""
    from telecbt_cli.core.care import pins
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        status = pins.pin_status(access, code)
        zone = device_zone(access.store)
    if json_out:
        emit_json(status)
        return
    from telecbt_cli.commands.i18n import t

    emit_fields([("PIN", t("cli.pin.set" if status["set"] else "cli.pin.not_set")),
                 (t("cli.pin.set_at"), staff_time(status["set_at"], zone)),
                 (t("cli.pin.tries"), t("cli.pin.tries_of", failures=status["failures"], most=pins.MAX_FAILURES)),
                 (t("cli.pin.locked"), t("cli.pin.locked_yes") if status["locked"] else t("cli.common.no"))])
