"""Where telecbt keeps its files: one place, platformdirs plus a TELECBT_HOME override."""

from __future__ import annotations

import os
from pathlib import Path

from telecbt_cli.core.store.errors import NotFoundError

APP_NAME = "telecbt"
DB_NAME = "telecbt.db"
KEYFILE_NAME = "telecbt.keys"
KEYFILE_COPY_NAME = "telecbt.keys.copy"
FAILED_UNLOCKS_NAME = "failed-unlocks.jsonl"
SIGNIN_DELAYS_NAME = "sign-in-delays.json"


def home_dir() -> Path | None:
    """The TELECBT_HOME override, if set: every other path then lives under it."""
    value = os.environ.get("TELECBT_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = home_dir()
    if home:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def state_dir() -> Path:
    home = home_dir()
    if home:
        return home / "state"
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def runtime_dir() -> Path:
    """Short-lived secrets (session files); the OS runtime dir where one exists."""
    home = home_dir()
    if home:
        return home / "run"
    import warnings

    import platformdirs

    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (e.g. over su): platformdirs falls back and warns
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))


def default_store_dir() -> Path:
    return data_dir() / "store"


def demo_store_dir() -> Path:
    return data_dir() / "demo"


def sessions_dir() -> Path:
    """The OS runtime dir (cleared at logout/reboot) when usable, else the state dir."""
    home = home_dir()
    if home:
        return home / "run" / "sessions"
    runtime = runtime_dir()
    parent = runtime.parent
    if runtime.is_dir() or (parent.is_dir() and os.access(parent, os.W_OK)):
        return runtime / "sessions"
    return state_dir() / "sessions"


def resolve_store_dir(store: str | os.PathLike[str] | None) -> Path:
    """The store folder: the explicit option, then TELECBT_STORE, then the default."""
    if store:
        return Path(store).expanduser()
    env = os.environ.get("TELECBT_STORE")
    if env:
        return Path(env).expanduser()
    return default_store_dir()


def db_file(store_dir: Path) -> Path:
    return store_dir / DB_NAME


def keyfile_paths(store_dir: Path) -> tuple[Path, Path]:
    return store_dir / KEYFILE_NAME, store_dir / KEYFILE_COPY_NAME


def failed_unlocks_file(store_dir: Path) -> Path:
    return store_dir / FAILED_UNLOCKS_NAME


def signin_delays_file(store_dir: Path) -> Path:
    return store_dir / SIGNIN_DELAYS_NAME


def require_store_dir(store_dir: Path) -> None:
    if store_dir.is_file():
        raise NotFoundError("{path} is a file, not a telecbt store folder", key="errors.store.is_file",
                            path=str(store_dir))
    if not store_dir.exists():
        raise NotFoundError(
            "no telecbt store at {path}. Create one with `telecbt init` "
            "or point to one with --store / TELECBT_STORE.", key="errors.store.missing", path=str(store_dir)
        )
