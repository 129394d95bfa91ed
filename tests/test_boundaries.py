"""Layer rules: core imports no UI library; `telecbt --help` stays light."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_imports_no_ui_library():
    code = "import importlib, pkgutil, telecbt_cli.core as c\n" \
           "for m in pkgutil.iter_modules(c.__path__):\n    importlib.import_module('telecbt_cli.core.' + m.name)"
    loaded = _modules_after(code)
    # click is not checked: sqlite-utils itself imports it.
    for ui in ("typer", "rich", "textual"):
        assert not any(name == ui or name.startswith(ui + ".") for name in loaded), ui


def test_help_does_not_load_heavy_modules():
    code = "import sys\nfrom telecbt_cli.cli import app\nsys.argv=['telecbt','--help']\n" \
           "try:\n    app()\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    for heavy in ("textual", "sqlcipher3", "cryptography", "sqlite_utils"):
        assert not any(name == heavy or name.startswith(heavy + ".") for name in loaded), heavy
