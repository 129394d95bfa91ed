"""Layer rules: core imports no UI library; each core package imports only the layers below it;
no module imports another module's private names; `telecbt --help` stays light."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "telecbt_cli"

#: The layers, lowest first. A module may import its own layer and any layer below it.
LAYERS = ("telecbt_cli.core.store", "telecbt_cli.content", "telecbt_cli.core.clinical",
          "telecbt_cli.core.care", "telecbt_cli.core.sync")
#: The only modules of core that content may import (its docstring in catalog.py says why).
CONTENT_MAY_IMPORT = {"telecbt_cli.core.store.errors", "telecbt_cli.core.store.paths", "telecbt_cli.core.store.fsutil"}
#: Above every layer: no layer may import these.
INTERFACES = ("telecbt_cli.commands", "telecbt_cli.tui", "telecbt_cli.cli", "telecbt_cli.entry")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(source: str, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every import in `source`, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join(anchor + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
    return found


def _layer(name: str) -> int | None:
    for rank, layer in enumerate(LAYERS):
        if name == layer or name.startswith(layer + "."):
            return rank
    return None


def layer_violations(sources: dict[str, str]) -> list[str]:
    """Imports that go up the layers (or into an interface) in the given {module: source}."""
    problems = []
    for module, source in sources.items():
        rank = _layer(module)
        if rank is None:
            continue
        for target, names in _imports(source, module):
            candidates = [target] + [f"{target}.{n}" for n in names]
            for name in candidates:
                if name.startswith(INTERFACES):
                    problems.append(f"{module} imports the interface {name}")
                    break
                if module.startswith("telecbt_cli.content") and name.startswith("telecbt_cli.core"):
                    if name not in CONTENT_MAY_IMPORT and target not in CONTENT_MAY_IMPORT:
                        problems.append(f"{module} imports {name}: content may import only {sorted(CONTENT_MAY_IMPORT)}")
                    break
                other = _layer(name)
                if other is not None and other > rank:
                    problems.append(f"{module} ({LAYERS[rank]}) imports {name} ({LAYERS[other]}), a higher layer")
                    break
    return problems


def private_imports(sources: dict[str, str]) -> list[str]:
    """Imports of another module's private names (`_x`) or of a private module, from our own code."""
    problems = []
    for module, source in sources.items():
        for target, names in _imports(source, module):
            if not target.startswith(("telecbt_cli", "tests")):
                continue
            if any(part.startswith("_") and not part.startswith("__") for part in target.split(".")):
                problems.append(f"{module} imports the private module {target}")
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    problems.append(f"{module} imports the private name {target}.{name}")
    return problems


def _sources(*folders: Path) -> dict[str, str]:
    return {_module_name(path, ROOT): path.read_text(encoding="utf-8")
            for folder in folders for path in sorted(folder.rglob("*.py"))}


def test_each_layer_imports_only_the_layers_below_it():
    assert layer_violations(_sources(PACKAGE)) == []


def test_the_layer_check_catches_an_upward_import():
    """The rule above can fail: a store module reaching into care, content reaching into clinical."""
    fake = {
        "telecbt_cli.core.store.vault": "from telecbt_cli.core.care import diary\n",
        "telecbt_cli.core.clinical.engine": "def f():\n    from telecbt_cli.core.sync.bundles import x\n",
        "telecbt_cli.content.catalog": "from telecbt_cli.core.clinical.scoring import score\n",
        "telecbt_cli.core.care.diary": "from ..sync import bundles\n",
        "telecbt_cli.core.sync.fhir": "from telecbt_cli.commands.output import say\n",
        "telecbt_cli.core.care.plans": "from telecbt_cli.core.clinical import patients\nfrom ..store import audit\n",
    }
    problems = layer_violations(fake)
    assert len(problems) == 5, problems
    assert not any(p.startswith("telecbt_cli.core.care.plans") for p in problems)


def test_no_module_imports_a_private_name():
    sources = _sources(PACKAGE, ROOT / "tests", ROOT / "scripts")
    assert private_imports(sources) == []
    assert private_imports({"tests.x": "from telecbt_cli.core.care.plans import _find\n",
                            "tests.y": "from telecbt_cli.commands import _output\n"}) != []


def test_every_core_package_says_what_it_holds():
    for package in sorted((PACKAGE / "core").iterdir()):
        if (package / "__init__.py").exists():
            doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
            assert doc and "Import" in doc, f"{package.name}/__init__.py needs a docstring saying what it may import"


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_imports_no_ui_library():
    code = "import importlib, pkgutil, telecbt_cli.core as c\n" \
           "for m in pkgutil.walk_packages(c.__path__, 'telecbt_cli.core.'):\n    importlib.import_module(m.name)"
    loaded = _modules_after(code)
    assert "telecbt_cli.core.sync.fhir" in loaded  # the walk reached the subpackages
    # click is not checked: sqlite-utils itself imports it.
    for ui in ("typer", "rich", "textual"):
        assert not any(name == ui or name.startswith(ui + ".") for name in loaded), ui


def test_help_does_not_load_heavy_modules():
    code = "import sys\nfrom telecbt_cli.cli import app\nsys.argv=['telecbt','--help']\n" \
           "try:\n    app()\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    for heavy in ("textual", "sqlcipher3", "cryptography", "sqlite_utils"):
        assert not any(name == heavy or name.startswith(heavy + ".") for name in loaded), heavy
