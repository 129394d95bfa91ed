"""Running `telecbt` in-process through Typer's runner, on real stores on disk."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from telecbt_cli.cli import app

runner = CliRunner()


def invoke(*args: str, input: str | bytes | None = None, env: dict | None = None) -> Any:
    """One command; the result has exit_code, stdout, stderr (and stdout_bytes)."""
    return runner.invoke(app, list(args), input=input, env=env)


def invoke_json(*args: str, env: dict | None = None) -> Any:
    """One command with --json that must succeed; its parsed document."""
    result = invoke(*args, "--json", env=env)
    assert result.exit_code == 0, (args, result.stderr)
    return json.loads(result.stdout)
