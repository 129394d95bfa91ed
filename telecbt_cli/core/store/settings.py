"""Explicit settings read from the environment, and the settings a person chooses in the UI, in one place."""

from __future__ import annotations

import json
import os
from pathlib import Path

from telecbt_cli.core.store.crypto import DEFAULT_LOG2N, MIN_LOG2N, KdfParams
from telecbt_cli.core.store.errors import UsageError


def kdf_params() -> KdfParams:
    """scrypt cost for new slots. TELECBT_KDF_LOG2N lowers it for tests; never in production."""
    value = os.environ.get("TELECBT_KDF_LOG2N")
    if not value:
        return KdfParams(DEFAULT_LOG2N)
    try:
        log2n = int(value)
    except ValueError:
        raise UsageError("TELECBT_KDF_LOG2N must be a whole number, not {value!r}", key="errors.env_settings.kdf_whole",
                         value=value) from None
    if not MIN_LOG2N <= log2n <= 22:
        raise UsageError("TELECBT_KDF_LOG2N must be between {low} and 22", key="errors.env_settings.kdf_range", low=MIN_LOG2N)
    return KdfParams(log2n)


def ui_settings_file() -> Path:
    from telecbt_cli.core.store.paths import state_dir

    return state_dir() / "tui-settings.json"


def load_ui_settings() -> dict:
    """What staff chose in the terminal UI's Settings (language, look, idle lock); no patient data."""
    try:
        data = json.loads(ui_settings_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_ui_settings(changes: dict) -> None:
    """Remember `changes` with the other choices; a read-only home only means they are not remembered."""
    path = ui_settings_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**load_ui_settings(), **changes}), encoding="utf-8")
    except OSError:
        pass


def reader_lang(known: tuple[str, ...]) -> str:
    """The language people read messages in: TELECBT_LANG, else the one chosen in the terminal UI
    (F2, saved for this account), else English. A TELECBT_LANG not in `known` is refused."""
    value = os.environ.get("TELECBT_LANG", "").strip().lower()
    if value:
        base = value.replace("_", "-").split("-")[0]
        if base not in known:
            raise UsageError("TELECBT_LANG must be one of {langs}, not {value!r}", key="errors.env_settings.lang",
                             langs=", ".join(known), value=value)
        return base
    chosen = load_ui_settings().get("lang")
    return chosen if chosen in known else "en"
