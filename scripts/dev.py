"""Set up a local virtual environment and run the demo or the tests (works on Linux, macOS, Windows).

    python3 scripts/dev.py demo [telecbt demo options]
    python3 scripts/dev.py test [pytest options]

Only the Python standard library is needed to start: this script creates `.venv`
beside the project, installs telecbt into it (with the test extra for `test`), then
runs the command. Running it again reuses the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_venv(extra: str | None) -> None:
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extra}]" if extra else "."
    marker = VENV / f".installed-{extra or 'base'}"
    pyproject = ROOT / "pyproject.toml"
    if marker.exists() and marker.stat().st_mtime >= pyproject.stat().st_mtime:
        return
    print(f"Installing telecbt{'[' + extra + ']' if extra else ''} ...", file=sys.stderr)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", target], check=True, cwd=ROOT)
    marker.touch()


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print("telecbt needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    task, rest = argv[0], argv[1:]
    if task == "demo":
        ensure_venv(None)
        return subprocess.run([str(PYTHON), "-m", "telecbt_cli", "demo", *rest], cwd=ROOT).returncode
    ensure_venv("test")
    if not any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in rest):
        # Three workers (pytest-xdist): most tests wait on subprocesses, terminals and servers
        # rather than the CPU, so three share two cores well (7 minutes instead of 15 here).
        rest = ["-n", "3", *rest]
    return subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
