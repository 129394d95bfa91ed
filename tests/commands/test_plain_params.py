"""Issue 19 (memory and start-up of every command): plain option values are read without pydantic,
to the same result and the same error as Typer's own converter (commands/params.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer import _coercion
from typer.models import ArgumentInfo, OptionInfo

from telecbt_cli import cli  # noqa: F401  (installs the plain converter)
from telecbt_cli.commands import params


def outcome(runtime, value):
    """What a converter makes of `value`: the value and its type, or the error's kind and words."""
    try:
        converted = runtime._coerce_value(value, param=None, ctx=None)
    except Exception as error:  # BadParameter (Typer's words) or a pydantic error that escaped
        return "error", type(error).__name__, getattr(error, "message", str(error))
    return "value", type(converted).__name__, repr(converted)  # repr: nan equals nan


def both(annotation, info):
    descriptor = _coercion.resolve_type_descriptor(annotation, info)
    from typer import core

    assert getattr(core.build_runtime_param, "_telecbt_plain", False)  # the CLI's import installed it
    return core.build_runtime_param(descriptor), _coercion.build_runtime_param(descriptor)


CASES = [
    (str, OptionInfo(), ["Ana", "", " two words ", "naïve ✓", "--looks-like-an-option", b"bytes"]),
    (int, OptionInfo(), ["12", " 12 ", "+3", "-0", "007", "1_000", "1.0", "1.5", "", "abc", "0x10", "٣", 5]),
    (float, OptionInfo(), ["1.5", "2", " .5 ", "-3.", "1e3", "nan", "abc", "", 4]),
    (bool, OptionInfo(), [True, False, "yes", "0", "maybe"]),
    (Path, OptionInfo(), ["store", "", " x ", "~/q", "-", "a/b/../c"]),
    (list[str], OptionInfo(), [("a", "b"), (), ["x"]]),
    (list[Path], ArgumentInfo(), [("a", "b/c"), ()]),
    (int, OptionInfo(min=1, max=10), ["5", "0", "11", "abc"]),  # bounded: Typer's own converter
]


@pytest.mark.parametrize(("annotation", "info", "values"), CASES, ids=lambda c: getattr(c, "__name__", None))
def test_plain_values_convert_as_typer_does(annotation, info, values):
    ours, typers = both(annotation, info)
    for value in values:
        assert outcome(ours, value) == outcome(typers, value), (annotation, value)


def test_paths_are_checked_as_typer_checks_them(tmp_path):
    (tmp_path / "file").write_text("x")
    for info in (OptionInfo(exists=True), OptionInfo(exists=True, dir_okay=False), OptionInfo(file_okay=False),
                 OptionInfo(resolve_path=True)):
        ours, typers = both(Path, info)
        for value in (str(tmp_path / "missing"), str(tmp_path / "file"), str(tmp_path), "rel/../x"):
            assert outcome(ours, value) == outcome(typers, value), (info, value)
    ours, _ = both(Path, OptionInfo(exists=True))
    assert outcome(ours, str(tmp_path / "missing"))[:2] == ("error", "BadParameter")


def test_only_plain_kinds_are_taken():
    assert params.plain_kind(str, OptionInfo()) is str
    assert params.plain_kind(list[Path], OptionInfo()) == ("list", Path)
    assert params.plain_kind(int, OptionInfo(min=0)) is None  # Typer says which bound was broken
    assert params.plain_kind(int, OptionInfo(parser=int)) is None
    assert params.plain_kind(tuple[int, int], OptionInfo()) is None
    assert params.install() is True  # a second call changes nothing


def test_commands_with_plain_options_never_load_pydantic(created, store_dir, pass_file, tmp_path):
    """A patient added (str, int, path options) and a bundle exported (a list, a path, a flag) in one process:
    pydantic is not imported, and each command did its work."""
    created.access.close()
    import pyrage

    recipient = str(pyrage.x25519.Identity.generate().to_public())
    out = tmp_path / "all.tcb"
    code = "\n".join([
        "import sys",
        "from telecbt_cli.cli import main",
        "def run(*argv):",
        "    sys.argv = ['telecbt', *argv]",
        "    try:",
        "        main()",
        "    except SystemExit as end:",
        "        print('exit', end.code)",
        f"run('patient', 'add', '--name', 'Ana', '--birth-year', '1970', '--language', 'es', '--store', {str(store_dir)!r},"
        f" '--passphrase-file', {str(pass_file)!r}, '--json')",
        f"run('bundle', 'export', '--to', {recipient!r}, '--all', '--out', {str(out)!r}, '--store', {str(store_dir)!r},"
        f" '--passphrase-file', {str(pass_file)!r})",
        "print('pydantic loaded:', 'pydantic' in sys.modules)",
    ])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={**os.environ, "TELECBT_KDF_LOG2N": "10"})
    lines = [line for line in done.stdout.splitlines() if line.startswith(("exit", "pydantic"))]
    assert lines == ["exit 0", "exit 0", "pydantic loaded: False"], done.stdout + done.stderr
    assert '"birth_year": 1970' in done.stdout
    assert out.stat().st_size > 0


def test_a_bad_whole_number_is_still_refused_in_typers_words(cli_store, pass_file):
    from tests.commands.clirun import invoke

    result = invoke("patient", "add", "--name", "Ana", "--birth-year", "19x0", "--passphrase-file", str(pass_file))
    assert result.exit_code == 2
    assert "Invalid value for '--birth-year'" in result.stderr and "valid integer" in result.stderr
    result = invoke("patient", "add", "--name", "Ana", "--birth-year", "1970", "--passphrase-file", str(pass_file),
                    "--json")
    assert result.exit_code == 0 and '"birth_year": 1970' in result.stdout

