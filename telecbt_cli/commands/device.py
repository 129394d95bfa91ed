"""`telecbt device …`: this device's identity and the devices it trusts."""

from __future__ import annotations

from typing import Annotated

import typer

from telecbt_cli.commands.common import (
    CsvOpt,
    JsonOpt,
    PassFdOpt,
    PassFileOpt,
    StoreOpt,
    UserOpt,
    YesOpt,
    binary_to_stdout,
    confirm,
    one_format,
    unlocked,
)
from telecbt_cli.commands.output import (
    emit_csv,
    emit_fields,
    emit_json,
    emit_table,
    emit_text,
    say,
)

app = typer.Typer(help="Device identity and trusted peers: show, trust, list, revoke, export-identity.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def show(card: Annotated[bool, typer.Option("--card", help="Print only the one-line device card to give to a peer.")] = False,
         store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
         passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Show this device's id, public signing key, age recipient and fingerprint (never a secret)."""
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        info = devices.identity(access)
    if json_out:
        emit_json(info)
    elif card:
        emit_text(info["card"])
    else:
        from telecbt_cli.commands.i18n import t

        emit_fields([(t(f"cli.device_show.{name}"), info[name])
                     for name in ("device_id", "recipient", "signing_public", "fingerprint", "card")])


@app.command()
def trust(
    card: Annotated[str, typer.Argument(help="The peer's device card ('-' reads it from standard input).")],
    label: Annotated[str, typer.Option("--label", help="A name for the peer, e.g. 'Kisumu hub'.")],
    role: Annotated[str, typer.Option("--role", help="hub or field.")] = "field",
    yes: YesOpt = False, store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
    passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False,
) -> None:
    """Trust a peer device (admin). Compare the fingerprint with the peer over the phone first."""
    import sys

    from telecbt_cli.core.sync import devices

    text = sys.stdin.readline() if card == "-" else card
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        from telecbt_cli.commands.i18n import t, value

        peer = devices.parse_card(text)
        say(t("cli.device_trust.fingerprint", device=peer["device_id"], fingerprint=peer["fingerprint"]), style="bold")
        confirm(t("cli.device_trust.confirm"), yes)
        row = devices.trust(access, text, label, role)
    emit_json(row) if json_out else say(t("cli.device_trust.done", label=label, role=value("device_role", role)),
                                        style="green")


@app.command("list")
def list_(store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
          passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False) -> None:
    """List trusted devices with what each has acknowledged."""
    from telecbt_cli.core.sync import devices

    from telecbt_cli.core.store.zones import device_zone

    one_format(json_out, csv_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        rows = devices.peers(access)
        zone = device_zone(access.store)
    if json_out:
        emit_json(rows)
        return
    if csv_out:
        emit_csv(rows, ["id", "label", "role", "fingerprint", "recipient", "trusted_at", "revoked_at", "acked_seq",
                        "sent_seq"], zone=zone)
        return
    from telecbt_cli.commands.i18n import columns, t, value

    emit_table([{**r, "role": value("device_role", r["role"]),
                 "state": value("device", "revoked" if r["revoked_at"] else "backwards" if r["warning"] else "trusted")}
                for r in rows],
               columns("device", ["label", "role", "id", "fingerprint", "acked_seq", "state"]), empty=t("cli.device.empty"))
    from telecbt_cli.commands.i18n import error_text
    from telecbt_cli.core.sync.devices import rollback_described

    for r in rows:
        if r["warning"]:
            said = rollback_described(r["warning"])
            notice = f"{r['label']} {error_text(said) if said else r['warning']}"
            say(t("cli.signin.warning", notice=notice), style="yellow")


@app.command()
def revoke(device: Annotated[str, typer.Argument(help="Device label, or its id (a unique start or end of it will do).")], yes: YesOpt = False,
           store: StoreOpt = None, user: UserOpt = None, passphrase_file: PassFileOpt = None,
           passphrase_fd: PassFdOpt = None, json_out: JsonOpt = False) -> None:
    """Stop trusting a device: its bundles are refused from now on (admin)."""
    from telecbt_cli.core.sync import devices

    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        from telecbt_cli.commands.i18n import t

        access.require("manage")
        confirm(t("cli.device_trust.revoke_confirm", device=device), yes)
        row = devices.revoke(access, device)
    emit_json(row) if json_out else say(t("cli.device_trust.revoked", device=device), style="green")


@app.command("export-identity")
def export_identity(out: Annotated[str, typer.Option("--out", metavar="<path>", help="File (mode 0600), or folder (existing, or ending in /), to write the secret age identity to; '-' writes it to standard output (not a terminal).")],
                    force: Annotated[bool, typer.Option("--force", help="Replace an existing file named by --out.")] = False,
                    yes: YesOpt = False, store: StoreOpt = None, user: UserOpt = None,
                    passphrase_file: PassFileOpt = None, passphrase_fd: PassFdOpt = None,
                    json_out: JsonOpt = False) -> None:
    """Write this device's SECRET age identity to a file, to open bundles with the standard `age` tool (admin)."""
    import sys

    from telecbt_cli.core.store import audit
    from telecbt_cli.core.store.fsutil import atomic_write, output_path
    from telecbt_cli.core.sync import devices

    from telecbt_cli.commands.i18n import t

    if out == "-":
        binary_to_stdout(t("cli.device_trust.identity"), json_out)
    with unlocked(store, user, passphrase_file, passphrase_fd) as access:
        access.require("manage")
        target = None if out == "-" else output_path(out, f"telecbt-{access.store.device_id}.agekey", force)
        confirm(t("cli.device_trust.identity_confirm"), yes)
        secret = (str(devices.age_identity(access)) + "\n").encode()
        if target is None:
            sys.stdout.buffer.write(secret)
            sys.stdout.buffer.flush()
        else:
            atomic_write(target, secret, mode=0o600)
        audit.append(access.store, access.user, "device.export_identity")
    if json_out:
        emit_json({"path": str(target), "mode": "0600"})
    elif target is not None:
        say(t("cli.device_trust.identity_written", path=target), style="yellow")
