"""Hostile bundles (issue 12, points 5, 6 and 8): each attack reproduced against real stores.

5. A bundle is judged before it costs anything: a small file that expands enormously, nested
   JSON, huge numbers: refused as integrity failures (exit 6), and the rest of a folder imports.
6. Trusted is not unchecked: rows from a trusted, correctly signing device that the CLI would
   refuse are refused, and the store does not change.
8. Reading is bounded before trusting: the size comes from fstat before any read; links,
   devices and pipes in an import folder are skipped and reported, never followed.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
import zstandard

from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.errors import IntegrityError
from telecbt_cli.core.store.ids import new_patient_code
from telecbt_cli.core.sync import bundles, devices
from telecbt_cli.core.sync.transport import import_paths
from tests.conftest import run_telecbt
from tests.core.sync.sites import Site, linked
from tests.security import hostile


@pytest.fixture
def sites(tmp_path):
    """A field laptop and a hub that trust each other."""
    with linked(tmp_path, "field", "hub") as made:
        yield made


def counts(site: Site) -> dict:
    conn = site.access.store.conn
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("patients", "diary_entries", "messages", "change_log", "applied_ranges", "bundles_seen")}


def good_bundle(site: Site, receiver: Site, name: str) -> bytes:
    """A real bundle from `site` holding one new patient called `name` (and its consent)."""
    p = patients.add_patient(site.access, PatientFields(display_name=name))
    patients.record_consent(site.access, p["code"], "verbal", "v1")
    out = io.BytesIO()
    bundles.export_bundle(site.access, out, [devices.identity(receiver.access)["recipient"]], None,
                          patient_codes=[p["code"]])
    return out.getvalue()


def patient_row(sender, **values) -> dict:
    fields = {"code": new_patient_code(), "display_name": "Hostile", "birth_year": 1970, "sex": None,
              "language": "en", "phone": None, "email": None, "caregiver_name": None, "caregiver_contact": None,
              "notes": None, "status": "active"}
    return hostile.row(sender, "patients", **{**fields, **values})


def hub_names(site: Site) -> list[str]:
    return sorted(r[0] for r in site.access.store.conn.execute("SELECT display_name FROM patients"))


def cli_import(hub: Site, *paths: Path):
    return run_telecbt("bundle", "import", *map(str, paths), "--json", "--store", str(hub.access.store.dir),
                       env={"TELECBT_PASSPHRASE": "admin passphrase"}, timeout=120)


# --- 5. judged before it costs anything -------------------------------------------------------------

def test_a_small_file_that_expands_to_a_gigabyte_is_refused_early_and_the_folder_goes_on(sites, tmp_path):
    """Issue 12.5: a 96 KiB unsigned file expanding to 1 GiB of tiny lines took 5 minutes to refuse."""
    field, hub = sites
    folder = tmp_path / "inbox"
    folder.mkdir()
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    parts = [compressor.compress(hostile.line({"header": hostile.header(field.access)}))]
    filler = b"{}\n" * (1 << 20)
    for _ in range(342):  # 3 MiB a time: 1 GiB of lines after a header that names a trusted device
        parts.append(compressor.compress(filler))
    parts.append(compressor.flush())
    import pyrage

    bomb = pyrage.encrypt(b"".join(parts), [pyrage.x25519.Recipient.from_str(devices.identity(hub.access)["recipient"])])
    assert len(bomb) < 200 * 1024
    (folder / "a-bomb.tcb").write_bytes(bomb)
    (folder / "b-good.tcb").write_bytes(good_bundle(field, hub, "After The Bomb"))
    result = cli_import(hub, folder)
    assert result.returncode == 6, result.stderr
    reports = {r["file"]: r for r in json.loads(result.stdout)}
    assert "expands far beyond its size" in reports["a-bomb.tcb"]["error"]  # stopped at the ratio bound
    assert reports["b-good.tcb"]["ok"] and hub_names(hub) == ["After The Bomb"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("attack", ["nested header", "huge number in manifest", "NaN in manifest",
                                    "signed nested change", "signed huge number", "signed repeated key"])
def test_nested_json_and_huge_numbers_are_integrity_failures_not_crashes(sites, attack):
    """Issue 12.5: these ended in RecursionError or ValueError (exit 1) and stopped the folder."""
    field, hub = sites
    head = hostile.header(field.access)
    body: list[bytes] = []
    extra: dict = {}
    if attack == "nested header":
        payload = b'{"header":' + nested(100_000).encode() + b"}\n"
    else:
        row = patient_row(field.access)
        if attack == "signed nested change":
            line = hostile.change_line("patients", row).replace(b'"notes":null', b'"notes":' + nested(50_000).encode())
        elif attack == "signed huge number":
            line = hostile.change_line("patients", row).replace(b'"birth_year":1970', b'"birth_year":' + b"9" * 5000)
        elif attack == "signed repeated key":
            line = hostile.change_line("patients", row).replace(b'"code":', b'"display_name":"Other","code":')
        else:
            line = hostile.change_line("patients", row)
            extra = {"huge number in manifest": {"to_seq": 10 ** 4000}, "NaN in manifest": {"to_seq": float("nan")}}[
                attack]
        body = [line]
        payload = hostile.signed_payload(field.access, head, body, **extra)
        if attack == "huge number in manifest":
            payload = payload.replace(str(10 ** 4000).encode(), b"9" * 5000)
    before = counts(hub)
    with pytest.raises(IntegrityError):
        hub.import_(hostile.seal(hub.access, payload))
    assert counts(hub) == before


def test_hostile_lines_in_a_folder_give_exit_6_and_the_good_bundle_still_imports(sites, tmp_path):
    field, hub = sites
    folder = tmp_path / "inbox"
    folder.mkdir()
    head = hostile.header(field.access)
    deep = hostile.change_line("patients", patient_row(field.access)).replace(b'"notes":null',
                                                                               b'"notes":' + nested(50_000).encode())
    (folder / "a-nested.tcb").write_bytes(hostile.seal(hub.access, hostile.signed_payload(field.access, head, [deep])))
    (folder / "b-good.tcb").write_bytes(good_bundle(field, hub, "Good Patient"))
    result = cli_import(hub, folder)
    assert result.returncode == 6, result.stderr
    reports = {r["file"]: r for r in json.loads(result.stdout)}
    assert not reports["a-nested.tcb"]["ok"] and "Traceback" not in result.stderr
    assert reports["b-good.tcb"]["ok"] and hub_names(hub) == ["Good Patient"]


# --- 6. trusted is not unchecked --------------------------------------------------------------------

BAD_ROWS = {
    "a 3 MiB name": ("patients", {"display_name": "N" * (3 << 20)}, "display name is longer"),
    "a birth year that is text": ("patients", {"birth_year": "1968"}, "birth_year must be a whole number"),
    "a birth year with a fraction": ("patients", {"birth_year": 1968.5}, "birth_year must be a whole number"),
    "a birth year in the future": ("patients", {"birth_year": 2999}, "year of birth"),
    "an unknown sex": ("patients", {"sex": "robot"}, "sex must be one of"),
    "a bad patient code": ("patients", {"code": "NOT-ACODE"}, "patient code"),
    "a version stamp of another device": ("patients", {"hlc": "1795000000000.00000.someone-else"}, "hlc"),
    "deleted 2": ("patients", {"deleted": 2}, "deleted must be 0 or 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_rows_from_a_trusted_device_are_checked_like_local_writes(sites, case):
    """Issue 12.6: a trusted device's bundle could carry rows the CLI refuses."""
    field, hub = sites
    table, values, rule = BAD_ROWS[case]
    row = patient_row(field.access)
    row.update(values)
    payload = hostile.signed_payload(field.access, hostile.header(field.access), [hostile.change_line(table, row)])
    before = counts(hub)
    with pytest.raises(IntegrityError) as refused:
        hub.import_(hostile.seal(hub.access, payload))
    message = str(refused.value)
    assert rule in message and "patients row" in message and len(message) < 600
    assert "NNNN" not in message
    assert counts(hub) == before


DIARY = {"pain": 4, "locations": "[]", "mood": None, "sleep_hours": None, "sleep_quality": None, "activity_min": None,
         "steps": None, "triggers": "[]", "coping": "[]", "meds": "[]", "note": None, "source": "manual",
         "supersedes": None, "recorded_by": "alice", "entry_at": "2026-11-29T08:00:00.000Z"}


@pytest.mark.parametrize("values,rule", [
    ({"pain": 99}, "pain must be from 0 to 10"),
    ({"pain": 4.5}, "pain must be a whole number"),
    ({"pain": None}, "needs a pain rating"),
    ({"locations": '["elbow"]'}, "unknown body region"),
    ({"locations": "not json"}, "locations is not a list"),
    ({"note": "x" * 2001}, "note is longer"),
    ({"source": "telepathy"}, "source must be one of"),
    ({"entry_at": "2026-12-30T08:00:00.000Z"}, "in the future"),  # a month after the row was written
])
def test_diary_rows_from_a_trusted_device_follow_the_diary_rules(sites, values, rule):
    """Issue 12.6 (pain 99): the same checks as `telecbt diary add`, and nothing is written."""
    field, hub = sites
    patient = patient_row(field.access)
    entry = hostile.row(field.access, "diary_entries", patient_id=patient["id"], **{**DIARY, **values})
    payload = hostile.signed_payload(field.access, hostile.header(field.access),
                                     [hostile.change_line("patients", patient),
                                      hostile.change_line("diary_entries", entry)])
    before = counts(hub)
    with pytest.raises(IntegrityError, match=rule):
        hub.import_(hostile.seal(hub.access, payload))
    assert counts(hub) == before


def test_a_good_hand_made_bundle_imports(sites):
    """The helper makes bundles the importer accepts: the refusals above are the rows, not the helper."""
    field, hub = sites
    patient = patient_row(field.access, display_name="Fine")
    entry = hostile.row(field.access, "diary_entries", patient_id=patient["id"], **DIARY)
    payload = hostile.signed_payload(field.access, hostile.header(field.access),
                                     [hostile.change_line("patients", patient),
                                      hostile.change_line("diary_entries", entry)])
    assert hub.import_(hostile.seal(hub.access, payload))["inserted"] == 2
    assert hub_names(hub) == ["Fine"]
    # the row has no `timezone` (as from a version before m009): stored as NULL, the rest as sent
    assert "timezone" not in patient
    stored = hub.access.store.conn.execute("SELECT timezone, birth_year, code FROM patients").fetchone()
    assert tuple(stored) == (None, 1970, patient["code"])


def test_an_invalid_row_from_the_command_line_gives_exit_6(sites, tmp_path):
    field, hub = sites
    row = patient_row(field.access, display_name="N" * (3 << 20))
    path = tmp_path / "big-name.tcb"
    path.write_bytes(hostile.seal(hub.access, hostile.signed_payload(field.access, hostile.header(field.access),
                                                                     [hostile.change_line("patients", row)])))
    result = cli_import(hub, path)
    assert result.returncode == 6 and "display name is longer than 2000" in result.stdout
    assert "NNNNNNNN" not in result.stdout + result.stderr
    assert counts(hub)["patients"] == 0


# --- 8. bounded before trusting ---------------------------------------------------------------------

def test_a_3_gib_file_is_refused_from_its_size_before_any_read(sites, tmp_path):
    """Issue 12.8: a 3 GiB file was read whole (3.1 GiB of memory) before the size limit applied.

    The import runs with its address space capped at 1.5 GiB: reading the file would fail."""
    import resource
    import subprocess

    from tests.conftest import telecbt_cmd

    field, hub = sites
    folder = tmp_path / "inbox"
    folder.mkdir()
    with open(folder / "a-huge.tcb", "wb") as huge:
        huge.truncate(3 * 2**30)  # sparse: no disk used
    (folder / "b-good.tcb").write_bytes(good_bundle(field, hub, "Next In Line"))

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**29, 3 * 2**29))

    result = subprocess.run([*telecbt_cmd(), "bundle", "import", str(folder), "--json", "--store",
                             str(hub.access.store.dir)], capture_output=True, text=True, timeout=120, preexec_fn=cap,
                            env={**os.environ, "TELECBT_PASSPHRASE": "admin passphrase"})
    assert result.returncode == 6, result.stderr
    results = {r["file"]: r for r in json.loads(result.stdout)}
    assert "larger than 512 MiB" in results["a-huge.tcb"]["error"]
    assert results["b-good.tcb"]["ok"] and hub_names(hub) == ["Next In Line"]


def test_links_devices_and_pipes_in_a_folder_are_skipped_and_reported(sites, tmp_path):
    """Issue 12.8: never followed, never opened; the regular bundle beside them imports."""
    field, hub = sites
    elsewhere = tmp_path / "elsewhere.tcb"
    elsewhere.write_bytes(good_bundle(field, hub, "Behind A Link"))
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "link.tcb").symlink_to(elsewhere)
    (folder / "zero.tcb").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.tcb")
    expected = {"link.tcb", "zero.tcb", "pipe.tcb"}
    if os.geteuid() == 0:
        os.mknod(folder / "null.tcb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        expected.add("null.tcb")
    (folder / "good.tcb").write_bytes(good_bundle(field, hub, "Regular File"))
    results = {r["file"]: r for r in import_paths(hub.access, [folder])}
    assert results["good.tcb"]["ok"]
    skipped = {name for name, r in results.items() if r.get("skipped")}
    assert skipped == expected
    assert "symbolic link" in results["link.tcb"]["error"] and "pipe" in results["pipe.tcb"]["error"]
    assert hub_names(hub) == ["Regular File"]  # the linked bundle was not followed


def test_a_pipe_named_on_the_command_line_is_refused_without_waiting(sites, tmp_path):
    field, hub = sites
    os.mkfifo(tmp_path / "pipe.tcb")
    [result] = import_paths(hub.access, [tmp_path / "pipe.tcb"])
    assert not result["ok"] and "not a regular file" in result["error"] and result["exit_code"] == 6
