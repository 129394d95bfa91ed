"""telecbt in pipes (issue 16, point 1): a closed stdout ends quietly, headings travel with
their data, and piped tables never wrap."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from telecbt_cli.core.store.errors import ExitCode
from tests.commands.clirun import invoke, invoke_json
from tests.conftest import ADMIN, run_telecbt, telecbt_cmd


def _with_closed_stdout(*args: str, env: dict) -> subprocess.CompletedProcess:
    """telecbt writing into a pipe whose reader has already gone (as after `head -1` exits)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([*telecbt_cmd(), *args], stdin=subprocess.DEVNULL, stdout=write_end,
                              stderr=subprocess.PIPE, env={**os.environ, **env}, timeout=60)
    finally:
        os.close(write_end)


@pytest.fixture
def piped_store(tmp_path: Path, pass_file: Path) -> dict:
    store = tmp_path / "s"
    assert run_telecbt("init", "--store", str(store), "--admin", ADMIN, "--passphrase-file", str(pass_file),
                       "--json").returncode == 0
    env = {"TELECBT_STORE": str(store), "TELECBT_USER": ADMIN}
    for i in range(3):
        assert run_telecbt("patient", "add", "--name", f"Piped {i}", "--passphrase-file", str(pass_file),
                           env=env).returncode == 0
    return {**env, "PASS": str(pass_file)}


@pytest.mark.slow
def test_a_closed_stdout_ends_quietly_like_cat(piped_store):
    """Guards the finding: `telecbt -h | head -3` ended in 'unexpected problem (BrokenPipeError) …
    rolled back', exit 1. Now: no message at all, exit 141, and completed work is kept."""
    pw = ["--passphrase-file", piped_store["PASS"]]
    for args in (["-h"], ["patient", "-h"], ["patient", "list", "--csv", *pw], ["patient", "list", *pw],
                 ["patient", "add", "--name", "Saved anyway", "--json", *pw]):
        done = _with_closed_stdout(*args, env=piped_store)
        assert (done.returncode, done.stderr) == (int(ExitCode.OUTPUT_CLOSED), b""), args
    listed = run_telecbt("patient", "list", "--json", *pw, env=piped_store)
    assert "Saved anyway" in [p["display_name"] for p in json.loads(listed.stdout)]


@pytest.mark.slow
def test_head_in_a_real_shell_pipeline(piped_store):
    """The same through `| head -1` in a shell: the first line arrives, nothing else is said."""
    cmd = " ".join(telecbt_cmd())
    script = (f'{cmd} -h | head -1; echo "help=${{PIPESTATUS[0]}}" >&2; '
              f'{cmd} patient list --csv --passphrase-file "{piped_store["PASS"]}" | head -1; '
              'echo "csv=${PIPESTATUS[0]}" >&2')
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **piped_store})
    lines = done.stdout.splitlines()
    assert lines[1].startswith("code,display_name,"), done.stdout
    statuses = dict(line.split("=") for line in done.stderr.split())
    # 0 when everything fitted in the pipe before head left, 141 when it had not: never 1.
    assert statuses["help"] in ("0", "141") and statuses["csv"] in ("0", "141"), done.stderr


def test_headings_that_belong_to_the_data_go_to_stdout(cli_store, pass_file):
    """Guards the finding: `store info` printed 'Key slots:' on stderr, out of order in `less`."""
    shown = invoke("store", "info", "--passphrase-file", str(pass_file))
    assert shown.exit_code == 0 and shown.stderr == ""
    lines = shown.stdout.splitlines()
    slots = lines.index("Key slots:")
    assert lines[slots + 1].split() == ["kind", "label", "created"]
    assert lines[slots + 2].split()[:2] == ["user", ADMIN]
    code = invoke_json("patient", "add", "--name", "Ana", "--passphrase-file", str(pass_file))["code"]
    plan = invoke("plan", "show", code, "--passphrase-file", str(pass_file)).stdout.splitlines()
    assert "Goals:" in plan and "Homework:" in plan


def test_piped_tables_do_not_wrap_cells(cli_store, pass_file):
    """Guards the finding: piped tables wrapped long cells onto extra lines (COLUMNS or 80 wide)."""
    long_name = "Maria " + "de los Angeles " * 8 + "Fernandez"
    invoke("patient", "add", "--name", long_name, "--passphrase-file", str(pass_file))
    invoke("patient", "add", "--name", "Bo", "--passphrase-file", str(pass_file))
    shown = invoke("patient", "list", "--passphrase-file", str(pass_file), env={"COLUMNS": "40"})
    lines = shown.stdout.splitlines()
    assert len(lines) == 3 and lines[0].split() == ["code", "name", "born", "sex", "lang", "status"]
    row = next(line for line in lines if long_name in line)
    assert row.endswith("active") and not row.endswith(" ")
    assert lines[1].index("en") == lines[2].index("en")  # columns stay aligned
    users = invoke("user", "list", "--passphrase-file", str(pass_file)).stdout
    assert users.splitlines()[1].split()[:4] == [ADMIN, "admin", "no", "yes"]
    as_csv = list(csv.DictReader(io.StringIO(invoke("user", "list", "--csv", "--passphrase-file",
                                                    str(pass_file)).stdout)))
    assert (as_csv[0]["disabled"], as_csv[0]["can_unlock"]) == ("no", "yes")
