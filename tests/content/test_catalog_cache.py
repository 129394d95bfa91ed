"""The content cache (content/catalog.py) is shared by every telecbt process on the machine: the kiosk,
the staff app and scripted commands may all start at once after the content changed (an upgrade, a
clinic's edit). Whatever they do at once, the cache they leave must hold what it claims: a torn or
swapped file would put raw keys (`cli.bundle_io.imported`, seen when two imports started together) on every screen until the content changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

LOADER = """
import os, sys, time
from pathlib import Path
start = Path(sys.argv[1])
while not start.exists():
    time.sleep(0.001)
from telecbt_cli.content.catalog import load_for_ui
print(load_for_ui([]).text("cli.failure.interrupted", "en"))
"""


def test_processes_building_the_cache_at_once_leave_it_whole(tmp_path):
    env = {**os.environ, "TELECBT_HOME": str(tmp_path / "home")}
    cache = tmp_path / "home" / "state" / "content-cache"
    for round_ in range(6):
        start = tmp_path / f"go-{round_}"
        children = [subprocess.Popen([sys.executable, "-c", LOADER, str(start)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for _ in range(6)]
        time.sleep(0.5)  # every child imported and waiting
        start.touch()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert out.strip() == "Interrupted: nothing more was changed.", out
        [strings] = cache.glob("*.locales.json")
        [whole] = [p for p in cache.glob("*.json") if p != strings]
        locales = json.loads(strings.read_text(encoding="utf-8"))
        assert set(locales) >= {"en", "es"} and "cli.failure.interrupted" in locales["en"], sorted(locales)[:5]
        assert set(json.loads(whole.read_text(encoding="utf-8"))) == {"entries", "locales", "program"}
        assert not [p for p in cache.iterdir() if "tmp" in p.name], "a writer's temporary file was left behind"
        # what the next process reads from the cache
        again = subprocess.run([sys.executable, "-c", LOADER, str(start)], env=env, capture_output=True, text=True)
        assert again.stdout.strip() == "Interrupted: nothing more was changed.", again.stdout
        for path in cache.iterdir():
            path.unlink()


def test_a_cache_file_holding_the_wrong_thing_is_rebuilt(tmp_path, monkeypatch):
    """A cache left torn or swapped by an older telecbt (the whole catalog under the UI strings' name) is
    not believed: the strings are read from the content again."""
    from telecbt_cli.content import catalog

    monkeypatch.setenv("TELECBT_HOME", str(tmp_path / "home"))
    catalog.load([])
    [strings] = (tmp_path / "home" / "state" / "content-cache").glob("*.locales.json")
    whole = strings.with_name(strings.name.replace(".locales.json", ".json"))
    strings.write_text(whole.read_text(encoding="utf-8"), encoding="utf-8")  # the swap two writers made
    assert catalog.load_for_ui([]).text("cli.failure.interrupted", "es") == \
        catalog.load([]).locales["es"]["cli.failure.interrupted"] != "cli.failure.interrupted"
    whole.write_text('{"entries": {}, "locales": {"program": 1}, "program": {}}', encoding="utf-8")
    assert catalog.load([]).text("cli.failure.interrupted", "en") == "Interrupted: nothing more was changed."
