"""`telecbt init`, `unlock`, `lock` and `paths`: getting into a store."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import (
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    kdf,
    passphrase,
    store_option,
    unlocked,
)
from telecbt_cli.commands.output import emit_fields, emit_json, emit_text, say


def init(
    store: StoreOpt = None,
    admin: Annotated[str, typer.Option("--admin", help="Name of the first admin user.")] = "admin",
    tz: Annotated[Optional[str], typer.Option(
        "--timezone", metavar="<zone>", show_default=False,
        help="This device's time zone, e.g. Africa/Nairobi (default: the system's; `telecbt settings` changes it).")] = None,
    passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a new encrypted store and its first admin; prints the recovery key once."""
    from telecbt_cli.core.store import zones
    from telecbt_cli.core.store.paths import resolve_store_dir
    from telecbt_cli.core.store.unlock import create_store
    from telecbt_cli.core.store.vault import check_new_location

    store_dir = resolve_store_dir(store_option(store))
    check_new_location(store_dir)
    if tz is not None:
        zones.check_zone(tz)  # before the passphrase is asked for
    from telecbt_cli.commands.i18n import t

    secret = passphrase(passphrase_file, passphrase_fd, prompt=t("cli.init.choose", admin=admin), confirm=True)
    created = create_store(store_dir, admin, secret, kdf())
    access = created.access
    try:
        if tz is not None:
            zones.set_device_zone(access, tz)
        info = {"store": str(store_dir), "store_id": access.store.store_id, "device_id": access.store.device_id,
                "admin": access.user, "timezone": zones.device_zone_name(access.store)}
    finally:
        access.close()
    if json_out:
        emit_json({**info, "recovery_key": created.recovery_key})
        return
    say(t("cli.init.created", store=store_dir, admin=access.user, zone=info["timezone"]), style="green")
    say(t("cli.init.recovery_key"), style="bold")
    groups = created.recovery_key.split("-")
    for i in range(0, len(groups), 4):
        emit_text("-".join(groups[i : i + 4]))


def unlock(
    store: StoreOpt = None,
    user: UserOpt = None,
    passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None,
    ttl: Annotated[str, typer.Option("--ttl", help="How long the session lasts: 90s, 15m, 8h, 1d.")] = "15m",
    json_out: JsonOpt = False,
) -> None:
    """Unlock once and print a session token for TELECBT_SESSION (for scripts and batch jobs)."""
    from telecbt_cli.core.store import sessions

    seconds = sessions.parse_ttl(ttl)
    from telecbt_cli.core.store.localtime import staff_time
    from telecbt_cli.core.store.timeparse import iso_utc
    from telecbt_cli.core.store.zones import device_zone

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        token, expires = sessions.create(access, seconds)
        who = access.user
        zone = device_zone(access.store)
    moment = datetime.fromtimestamp(expires, timezone.utc)
    until = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    if json_out:
        emit_json({"token": token, "user": who, "expires": until})
        return
    emit_text(token)
    from telecbt_cli.commands.i18n import t

    say(t("cli.init.session", user=who, until=staff_time(iso_utc(moment), zone)))


def lock(json_out: JsonOpt = False) -> None:
    """End every session on this computer (session tokens stop working at once)."""
    from telecbt_cli.core.store.sessions import lock_all

    count = lock_all()
    if json_out:
        emit_json({"sessions_ended": count})
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.init.ended_one" if count == 1 else "cli.init.ended", count=count))


def paths(json_out: JsonOpt = False) -> None:
    """Show where telecbt keeps stores, sessions and state on this computer."""
    from telecbt_cli.core.store import paths as p

    data = {
        "home_override": str(p.home_dir()) if p.home_dir() else None,
        "default_store": str(p.resolve_store_dir(None)),
        "demo_store": str(p.demo_store_dir()),
        "data_dir": str(p.data_dir()),
        "state_dir": str(p.state_dir()),
        "sessions_dir": str(p.sessions_dir()),
    }
    if json_out:
        emit_json(data)
    else:
        from telecbt_cli.commands.i18n import t

        emit_fields([(t(f"cli.paths.{k}"), v or "-") for k, v in data.items()])


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(unlock)
    app.command()(lock)
    app.command()(paths)
