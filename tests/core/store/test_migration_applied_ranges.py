"""m013: a store that recorded a row per applied change keeps the same facts as runs of change-log numbers."""

from __future__ import annotations

import os

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from telecbt_cli.core.store import db as dbmod
from telecbt_cli.core.store import schema


def _log(conn, seq: int) -> str:
    change_id = f"diary_entries:row{seq}:1795000000000.{seq:05d}.dev"
    conn.execute("INSERT INTO change_log (seq, change_id, table_name, row_id, op, hlc, device_id, at, data) "
                 "VALUES (?, ?, 'diary_entries', ?, 'insert', ?, 'dev', '2026-11-30T08:00:00.000Z', '{}')",
                 (seq, change_id, f"row{seq}", f"1795000000000.{seq:05d}.dev"))
    return change_id


def test_applied_changes_become_runs(tmp_path):
    conn = dbmod.connect(tmp_path / "old.db", os.urandom(32), create=True)
    try:
        before = Migrations(schema.MIGRATION_SET)
        for name, step in schema._STEPS:  # the store as telecbt wrote it before m013
            if name == "m013_applied_ranges":
                break
            before(name=name)(step)
        before.apply(Database(conn))
        assert "m013_applied_ranges" not in schema.applied_names(conn)
        # bundle A applied 1-2 and (a later import) 4-5, B applied 3; 6 is a local write; 7 came from A again
        owners = {1: "A", 2: "A", 3: "B", 4: "A", 5: "A", 6: None, 7: "A"}
        for seq, bundle in owners.items():
            change_id = _log(conn, seq)
            if bundle:
                conn.execute("INSERT INTO applied_changes (change_id, bundle_id, applied_at) VALUES (?, ?, ?)",
                             (change_id, bundle, f"2026-11-30T0{seq}:00:00.000Z"))
        schema.apply(conn)
        assert schema.version(conn) == len(schema.known_names())
        runs = conn.execute("SELECT bundle_id, first_seq, last_seq, applied_at FROM applied_ranges "
                            "ORDER BY first_seq").fetchall()
        assert runs == [("A", 1, 2, "2026-11-30T01:00:00.000Z"), ("B", 3, 3, "2026-11-30T03:00:00.000Z"),
                        ("A", 4, 5, "2026-11-30T04:00:00.000Z"), ("A", 7, 7, "2026-11-30T07:00:00.000Z")]
        gone = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'applied_changes'").fetchone()[0]
        assert gone == 0
    finally:
        conn.close()
