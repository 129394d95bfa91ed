"""Numbered, append-only schema migrations. Never edit one that has shipped: add the next."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from telecbt_cli.core.store.errors import StoreVersionError

if TYPE_CHECKING:
    from sqlite_utils import Database

MIGRATION_SET = "telecbt"
_STEPS: list[tuple[str, Callable[["Database"], None]]] = []


def migration(name: str) -> Callable:
    """Register the next step; names are unique and never reused."""

    def register(fn: Callable[["Database"], None]) -> Callable[["Database"], None]:
        if any(existing == name for existing, _ in _STEPS):
            raise ValueError(f"migration {name} is registered twice")
        _STEPS.append((name, fn))
        return fn

    return register

#: Columns every synchronised record carries (DESIGN.md, "Records and sync").
SYNC_COLUMNS = """
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    device_id TEXT NOT NULL,
    hlc TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
"""


def _append_only(db: "Database", table: str) -> None:
    for verb in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


@migration("m001_initial")
def m001_initial(db: "Database") -> None:
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        f"""CREATE TABLE users (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'chw', 'viewer')),
            disabled INTEGER NOT NULL DEFAULT 0,
            {SYNC_COLUMNS})"""
    )
    db.execute(
        f"""CREATE TABLE patients (
            id TEXT PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            birth_year INTEGER,
            sex TEXT,
            language TEXT NOT NULL,
            phone TEXT,
            email TEXT,
            caregiver_name TEXT,
            caregiver_contact TEXT,
            notes TEXT,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
            {SYNC_COLUMNS})"""
    )
    db.execute(
        f"""CREATE TABLE consents (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            action TEXT NOT NULL CHECK (action IN ('given', 'withdrawn')),
            method TEXT,
            version TEXT,
            witness TEXT,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX consents_patient ON consents (patient_id, recorded_at)")
    db.execute(
        """CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            user_name TEXT,
            device_id TEXT NOT NULL,
            action TEXT NOT NULL,
            patient_id TEXT,
            detail TEXT,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX audit_patient ON audit_log (patient_id)")
    db.execute(
        """CREATE TABLE change_log (
            seq INTEGER PRIMARY KEY,
            change_id TEXT NOT NULL UNIQUE,
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
            hlc TEXT NOT NULL,
            device_id TEXT NOT NULL,
            at TEXT NOT NULL,
            data TEXT NOT NULL)"""
    )
    _append_only(db, "audit_log")
    _append_only(db, "change_log")


def known_names() -> list[str]:
    return [name for name, _ in _STEPS]


def applied_names(conn) -> list[str]:
    """Steps recorded in the database, read with plain SQL (no sqlite-utils import)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
    ).fetchone()
    if not exists:
        return []
    rows = conn.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ? ORDER BY id", (MIGRATION_SET,)
    ).fetchall()
    return [row[0] for row in rows]


def apply(conn) -> None:
    """Bring the schema up to date; refuse a store written by a newer telecbt.

    The common case (nothing pending) costs one query. Pending steps run through
    sqlite-utils' Migrations: each step and its record in one transaction.
    """
    applied = applied_names(conn)
    unknown = [name for name in applied if name not in known_names()]
    if unknown:
        raise StoreVersionError(
            "this store was written by a newer telecbt (schema step {step}): "
            "upgrade telecbt to open it; nothing was changed", key="errors.store_open.newer_schema", step=unknown[-1]
        )
    if len(applied) == len(_STEPS):
        return
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    runner = Migrations(MIGRATION_SET)
    for name, fn in _STEPS:
        runner(name=name)(fn)
    runner.apply(Database(conn))


def version(conn) -> int:
    return len(applied_names(conn))


@migration("m002_runs_measures_alerts")
def m002_runs_measures_alerts(db: "Database") -> None:
    db.execute(
        f"""CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            kind TEXT NOT NULL CHECK (kind IN ('module', 'instrument')),
            content_id TEXT NOT NULL,
            content_version TEXT NOT NULL,
            lang TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'abandoned')),
            position TEXT,
            history TEXT NOT NULL,
            answers TEXT NOT NULL,
            started_by TEXT NOT NULL,
            started_at TEXT NOT NULL,
            completed_at TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX runs_patient ON runs (patient_id, content_id, status)")
    db.execute(
        f"""CREATE TABLE measure_responses (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            run_id TEXT NOT NULL,
            instrument_id TEXT NOT NULL,
            instrument_version TEXT NOT NULL,
            lang TEXT NOT NULL,
            answers TEXT NOT NULL,
            total REAL,
            band TEXT,
            subscales TEXT,
            responder INTEGER,
            prorated INTEGER NOT NULL DEFAULT 0,
            recorded_by TEXT NOT NULL,
            completed_at TEXT NOT NULL,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX responses_patient ON measure_responses (patient_id, instrument_id, completed_at)")
    db.execute(
        f"""CREATE TABLE safety_alerts (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            rule_id TEXT NOT NULL,
            content_id TEXT NOT NULL,
            source_id TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged')),
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            acknowledged_at TEXT,
            acknowledged_by TEXT,
            note TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX alerts_patient ON safety_alerts (patient_id, status)")


@migration("m003_care_workflow")
def m003_care_workflow(db: "Database") -> None:
    db.execute(
        f"""CREATE TABLE diary_entries (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            entry_at TEXT NOT NULL,
            pain INTEGER CHECK (pain BETWEEN 0 AND 10),
            locations TEXT,
            mood INTEGER CHECK (mood BETWEEN 0 AND 10),
            sleep_hours REAL CHECK (sleep_hours BETWEEN 0 AND 24),
            sleep_quality INTEGER CHECK (sleep_quality BETWEEN 0 AND 10),
            activity_min INTEGER CHECK (activity_min BETWEEN 0 AND 1440),
            steps INTEGER CHECK (steps BETWEEN 0 AND 100000),
            triggers TEXT,
            coping TEXT,
            meds TEXT,
            note TEXT,
            source TEXT NOT NULL,
            supersedes TEXT REFERENCES diary_entries(id),
            recorded_by TEXT NOT NULL,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX diary_patient_time ON diary_entries (patient_id, entry_at)")
    db.execute("CREATE INDEX diary_supersedes ON diary_entries (supersedes)")
    db.execute(
        f"""CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL UNIQUE REFERENCES patients(id),
            course TEXT NOT NULL,
            sessions TEXT NOT NULL,
            caregiver_involved INTEGER NOT NULL DEFAULT 0,
            notes TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute(
        f"""CREATE TABLE goals (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            text TEXT NOT NULL,
            measure TEXT,
            target_date TEXT,
            status TEXT NOT NULL CHECK (status IN ('active', 'achieved', 'revised', 'dropped')),
            progress INTEGER,
            notes TEXT NOT NULL,
            {SYNC_COLUMNS})"""
    )
    db.execute(
        f"""CREATE TABLE homework (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            module_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            text TEXT NOT NULL,
            assigned_at TEXT NOT NULL,
            due_date TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('assigned', 'done')),
            done_at TEXT,
            note TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX homework_patient ON homework (patient_id, due_date)")
    db.execute(
        f"""CREATE TABLE appointments (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            scheduled_at TEXT NOT NULL,
            minutes INTEGER NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('video', 'phone', 'in-person', 'kiosk')),
            module_id TEXT,
            module_version TEXT,
            clinician TEXT,
            link TEXT,
            status TEXT NOT NULL CHECK (status IN ('scheduled', 'attended', 'no_show', 'cancelled')),
            recorded_at TEXT,
            recorded_by TEXT,
            notes TEXT,
            feedback INTEGER CHECK (feedback BETWEEN 1 AND 5),
            fidelity TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX appointments_time ON appointments (scheduled_at)")
    db.execute("CREATE INDEX appointments_patient ON appointments (patient_id, scheduled_at)")
    db.execute(
        f"""CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            direction TEXT NOT NULL CHECK (direction IN ('to_patient', 'from_patient')),
            kind TEXT NOT NULL CHECK (kind IN ('message', 'reminder')),
            sender TEXT NOT NULL,
            body TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            read_at TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX messages_patient ON messages (patient_id, sent_at)")
    db.execute(
        f"""CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            patient_id TEXT REFERENCES patients(id),
            message_id TEXT REFERENCES messages(id),
            appointment_id TEXT,
            channel TEXT NOT NULL,
            address TEXT,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            send_after TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'no_address', 'sent', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            {SYNC_COLUMNS})"""
    )


@migration("m004_report_indexes")
def m004_report_indexes(db: "Database") -> None:
    """Covering indexes so program reports read indexes only (measured: 7 s -> under 1 s on 365k diary rows)."""
    db.execute("DROP INDEX IF EXISTS diary_patient_time")
    db.execute("CREATE INDEX diary_cover ON diary_entries (patient_id, entry_at, deleted)")
    db.execute("CREATE INDEX homework_due ON homework (due_date, patient_id, status, deleted)")
    db.execute("DROP INDEX IF EXISTS responses_patient")
    db.execute("CREATE INDEX responses_cover ON measure_responses "
               "(patient_id, instrument_id, completed_at, total, deleted)")
    db.execute("DROP INDEX IF EXISTS appointments_time")
    db.execute("CREATE INDEX appointments_window ON appointments "
               "(scheduled_at, patient_id, status, clinician, feedback, deleted)")


@migration("m005_sync")
def m005_sync(db: "Database") -> None:
    """Peers, what was applied from whom, and versions that lost a last-writer-wins merge."""
    db.execute(
        """CREATE TABLE peers (
            id TEXT PRIMARY KEY,
            label TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('hub', 'field')),
            signing_public TEXT NOT NULL,
            recipient TEXT NOT NULL,
            trusted_at TEXT NOT NULL,
            revoked_at TEXT,
            acked_seq INTEGER NOT NULL DEFAULT 0,
            sent_seq INTEGER NOT NULL DEFAULT 0,
            received TEXT NOT NULL DEFAULT '[]')"""
    )
    db.execute(
        """CREATE TABLE applied_changes (
            change_id TEXT PRIMARY KEY,
            bundle_id TEXT NOT NULL,
            applied_at TEXT NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE bundles_seen (
            bundle_id TEXT PRIMARY KEY,
            source_device TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            changes INTEGER NOT NULL,
            applied INTEGER NOT NULL)"""
    )
    db.execute(
        """CREATE TABLE conflicts (
            id INTEGER PRIMARY KEY,
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            kept_hlc TEXT NOT NULL,
            lost_hlc TEXT NOT NULL,
            lost_data TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            detected_at TEXT NOT NULL,
            UNIQUE (table_name, row_id, lost_hlc))"""
    )
    # The version a change replaced: equal to what the receiver holds = a clean update, else concurrent.
    db.execute("ALTER TABLE change_log ADD COLUMN base_hlc TEXT")


@migration("m006_outbox_attachments")
def m006_outbox_attachments(db: "Database") -> None:
    """Bundles travel by email through the same outbox as reminders."""
    db.execute("ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'reminder'")
    db.execute("ALTER TABLE outbox ADD COLUMN attachment_name TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN attachment BLOB")
    db.execute("ALTER TABLE outbox ADD COLUMN bundle_id TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN last_error TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT")
    db.execute("CREATE INDEX outbox_status ON outbox (status, next_attempt_at)")


@migration("m007_patient_pins")
def m007_patient_pins(db: "Database") -> None:
    """Kiosk PINs: device-local (never in the change log or a bundle), so no sync columns."""
    db.execute(
        """CREATE TABLE patient_pins (
            patient_id TEXT PRIMARY KEY REFERENCES patients(id),
            pin_hash BLOB NOT NULL,
            salt BLOB NOT NULL,
            kdf_log2n INTEGER NOT NULL,
            kdf_r INTEGER NOT NULL,
            kdf_p INTEGER NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_at TEXT,
            set_at TEXT NOT NULL,
            set_by TEXT NOT NULL)"""
    )


@migration("m008_patient_flags")
def m008_patient_flags(db: "Database") -> None:
    """Findings kept on a patient from an assessment (a red flag, "not suitable now"), synchronised.

    A completed intake raises them; the next completed intake clears them (status 'cleared', the
    row kept) and raises its own. `detail` is JSON: the answers the finding rests on, by step id.
    """
    db.execute(
        f"""CREATE TABLE patient_flags (
            id TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL REFERENCES patients(id),
            flag_id TEXT NOT NULL,
            content_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{{}}',
            status TEXT NOT NULL CHECK (status IN ('active', 'cleared')),
            raised_at TEXT NOT NULL,
            raised_by TEXT NOT NULL,
            cleared_at TEXT,
            cleared_by TEXT,
            {SYNC_COLUMNS})"""
    )
    db.execute("CREATE INDEX flags_patient ON patient_flags (patient_id, status)")


@migration("m009_patient_timezone")
def m009_patient_timezone(db: "Database") -> None:
    """Each patient's time zone (an IANA name), synchronised with the patient. Empty for patients
    enrolled before: they are shown in the reading device's zone until someone sets theirs."""
    db.execute("ALTER TABLE patients ADD COLUMN timezone TEXT")


@migration("m010_change_log_via")
def m010_change_log_via(db: "Database") -> None:
    """The peer an imported change arrived from (NULL for local writes), so it is never sent back to it."""
    db.execute("ALTER TABLE change_log ADD COLUMN via TEXT")


@migration("m011_waiting_changes")
def m011_waiting_changes(db: "Database") -> None:
    """Changes from a bundle whose parent row (patient, corrected diary entry) has not arrived yet.

    Device-local: never in the change log, so never in a bundle. Applied and removed when the parent comes.
    """
    db.execute(
        """CREATE TABLE waiting_changes (
            change_id TEXT PRIMARY KEY,
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            op TEXT NOT NULL,
            hlc TEXT NOT NULL,
            base_hlc TEXT,
            data TEXT NOT NULL,
            needs_table TEXT NOT NULL,
            needs_id TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            via TEXT,
            received_at TEXT NOT NULL)"""
    )
    db.execute("CREATE INDEX waiting_needs ON waiting_changes (needs_table, needs_id)")


@migration("m012_peer_heads")
def m012_peer_heads(db: "Database") -> None:
    """The newest audit head and change counter each peer's bundles showed, and a warning when one went back.

    `seen_head` is JSON (`audit_seq`, `audit_hash`, `to_seq`, `created`); `rollback` is JSON
    describing the first bundle that went backwards, kept until the device is trusted again.
    """
    db.execute("ALTER TABLE peers ADD COLUMN seen_head TEXT")
    db.execute("ALTER TABLE peers ADD COLUMN rollback TEXT")


@migration("m013_applied_ranges")
def m013_applied_ranges(db: "Database") -> None:
    """Which bundle applied which changes, as runs of change-log numbers instead of a row per change.

    An import writes its changes to the change log in one transaction, so their `seq` numbers run
    without gaps: one row per run (`first_seq` to `last_seq`) says what a row per change said, and
    a year imported at once no longer writes a second table and index as large as the log's own
    ids (issue 19: about 5 % of a large import's time). Existing rows become runs.
    """
    db.execute(
        """CREATE TABLE applied_ranges (
            bundle_id TEXT NOT NULL,
            first_seq INTEGER NOT NULL,
            last_seq INTEGER NOT NULL,
            applied_at TEXT NOT NULL,
            PRIMARY KEY (bundle_id, first_seq),
            CHECK (first_seq <= last_seq))"""
    )
    db.execute(
        """INSERT INTO applied_ranges (bundle_id, first_seq, last_seq, applied_at)
           SELECT bundle_id, min(seq), max(seq), min(applied_at) FROM (
               SELECT a.bundle_id, a.applied_at, c.seq,
                      c.seq - row_number() OVER (PARTITION BY a.bundle_id ORDER BY c.seq) AS run
               FROM applied_changes a JOIN change_log c USING (change_id))
           GROUP BY bundle_id, run"""
    )
    db.execute("DROP TABLE applied_changes")
