"""`telecbt settings`: this device's settings (its time zone)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import JsonOpt, PassFdOpt, PassFileOpt, StoreOpt, UserOpt, unlocked
from telecbt_cli.commands.output import emit_fields, emit_json, say
from telecbt_cli.core.store.errors import UsageError

def settings(
    timezone: Annotated[Optional[str], typer.Option(
        "--timezone", metavar="<zone>", show_default=False,
        help="Set this device's time zone, e.g. Africa/Nairobi (admin). Staff see every time in it.")] = None,
    system_timezone: Annotated[bool, typer.Option(
        "--system-timezone", help="Follow the system's time zone again (admin).")] = False,
    store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Show this device's settings, or change its time zone (never sent to other devices)."""
    from datetime import datetime, timezone as utc_zone

    from telecbt_cli.core.store import zones
    from telecbt_cli.core.store.localtime import local_iso, staff_time
    from telecbt_cli.core.store.timeparse import iso_utc

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        if timezone is not None and system_timezone:
            access.require("manage")
            raise UsageError("give one of --timezone and --system-timezone", key="errors.settings.one_zone")
        if timezone is not None or system_timezone:
            info = zones.set_device_zone(access, timezone)
        else:
            info = zones.device_zone_info(access.store)
        zone = zones.device_zone(access.store)
    now = iso_utc(datetime.now(utc_zone.utc))
    if json_out:
        emit_json({**info, "now": now, "now_local": local_iso(now, zone)})
        return
    from telecbt_cli.commands.i18n import t

    if timezone is not None or system_timezone:
        say(t("cli.settings.zone_now_system" if system_timezone else "cli.settings.zone_now", zone=info["timezone"]),
            style="green")
    emit_fields([(t("cli.settings.time_zone"), f"{info['timezone']} ({t('cli.settings.source_' + info['source'])})"),
                 (t("cli.settings.system_zone"), info["system"] or t("cli.settings.unknown")),
                 (t("cli.settings.local_time"), staff_time(now, zone))])


def register(app: typer.Typer) -> None:
    app.command()(settings)
