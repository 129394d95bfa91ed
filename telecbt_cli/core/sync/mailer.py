"""Email: SMTP settings, the outbox of bundles and reminders, and .eml files to send by hand.

Every email waits in the `outbox` table until `send_due` hands it to the mail server,
one connection per batch. A row is marked sent only after the server accepted the
whole message; a refusal, a timeout or a dropped connection leaves it queued with a
growing pause before the next try (1 min, 5 min, 30 min, 2 h, then every 12 h) and
after 8 failed tries it is marked failed (`retry` queues it again).

Reminder rows (written by `appointments`) are updated through `records`, stamped and
logged like every record. Bundle rows cannot be: the change log keeps each row as JSON,
and an attachment is bytes (several MB of them). They are written with the same stamps
but no change-log entry; the outbox never travels in bundles anyway (emails leave from
the device that queued them). A bundle row's attachment is dropped once sent: `telecbt
bundle export` makes a new bundle at any time.

The SMTP password is never stored, logged, shown or put in an error message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telecbt_cli.core.store import audit, records
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.clock import now_iso
from telecbt_cli.core.store.errors import StorageError, Term, UsageError, recognise
from telecbt_cli.core.store.ids import uuid7
from telecbt_cli.core.store.timeparse import iso_utc
from telecbt_cli.core.sync import parts

if TYPE_CHECKING:
    import ssl
    from email.message import EmailMessage

SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_SIZE_LIMIT = 5_000_000
MIN_SIZE_LIMIT = 16_384
MAX_ATTEMPTS = 8
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
           timedelta(hours=12))
#: The EHLO name: an address literal, so smtplib does not look up (and reveal) this laptop's name.
HELO_NAME = "[127.0.0.1]"
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]{1,64}@[^@\s<>(),;:\"\[\]\\]{1,190}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_LISTED = ("o.id, o.kind, o.channel, o.address, o.subject, o.attachment_name, length(o.attachment) AS size, "
           "o.bundle_id, o.status, o.attempts, o.last_error, o.send_after, o.next_attempt_at, o.created_at, "
           "o.updated_at, p.code AS patient")


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: where a password may travel without TLS."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: What an address is, as an error names it (`values.mail_address`).
EMAIL_ADDRESS = Term("values.mail_address.email", "the email address")
SENDER_ADDRESS = Term("values.mail_address.sender", "the sender address (TELECBT_SMTP_FROM)")
#: parts.split's reasons (plain ValueErrors), matched back to their keys (`errors.mail_split`).
SPLIT_REASONS = {
    "bad_id": "a bundle id is letters, digits, '-' and '_' (up to 128)",
    "no_room": "a size limit of {limit} bytes leaves no room for data after the part header: "
               "use a limit of at least a few kilobytes",
    "too_many": "the bundle would need {count} parts: raise the size limit",
}


def check_address(address: str | None, what: str = EMAIL_ADDRESS) -> str:
    """A bare address (name@example.org), or a UsageError."""
    value = (address or "").strip()
    if not _ADDRESS.fullmatch(value):
        raise UsageError("{what} must look like name@example.org", key="errors.mail_settings.address", what=what)
    return value


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send. Build it with `from_env()`; `tls_context` lets tests trust their own CA."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    size_limit: int = DEFAULT_SIZE_LIMIT
    timeout: float = 30
    tls_context: "ssl.SSLContext | None" = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.host or any(ch.isspace() for ch in self.host):
            raise UsageError("the mail server name (TELECBT_SMTP_HOST) is empty or has spaces",
                             key="errors.mail_settings.host")
        if self.security not in SECURITY:
            raise UsageError("TELECBT_SMTP_SECURITY must be one of {codes}", key="errors.mail_settings.security",
                             codes=", ".join(SECURITY))
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise UsageError("TELECBT_SMTP_PORT must be a port number (1-65535)", key="errors.mail_settings.port")
        check_address(self.sender, SENDER_ADDRESS)
        if self.size_limit < MIN_SIZE_LIMIT:
            raise UsageError("TELECBT_BUNDLE_SIZE_LIMIT must be at least {least} bytes", key="errors.mail_settings.small",
                             least=MIN_SIZE_LIMIT)
        if self.timeout <= 0:
            raise UsageError("the SMTP timeout must be above 0 seconds", key="errors.mail_settings.timeout")
        if bool(self.username) != bool(self.password):
            raise UsageError("give both TELECBT_SMTP_USER and a password (TELECBT_SMTP_PASSWORD or "
                             "TELECBT_SMTP_PASSWORD_FILE), or neither", key="errors.mail_settings.login")
        if self.username and self.security == "none" and not is_loopback(self.host):
            raise UsageError("TELECBT_SMTP_SECURITY=none would send the SMTP password in clear over the "
                             "network: use starttls or tls", key="errors.mail_settings.clear")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None,
                 tls_context: "ssl.SSLContext | None" = None) -> "MailSettings":
        """Settings from TELECBT_SMTP_* and TELECBT_BUNDLE_SIZE_LIMIT (see the README)."""
        env = os.environ if environ is None else environ
        host = (env.get("TELECBT_SMTP_HOST") or "").strip()
        if not host:
            raise UsageError("no mail server is set: set TELECBT_SMTP_HOST and TELECBT_SMTP_FROM "
                             "(and TELECBT_SMTP_USER with TELECBT_SMTP_PASSWORD_FILE if the server needs a login)",
                             key="errors.mail.no_server")
        security = (env.get("TELECBT_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in SECURITY:
            raise UsageError("TELECBT_SMTP_SECURITY must be one of {codes}", key="errors.mail_settings.security",
                             codes=", ".join(SECURITY))
        port_text = (env.get("TELECBT_SMTP_PORT") or "").strip()
        try:
            port = int(port_text) if port_text else DEFAULT_PORTS[security]
        except ValueError:
            raise UsageError("TELECBT_SMTP_PORT must be a port number (1-65535)", key="errors.mail_settings.port") from None
        username = (env.get("TELECBT_SMTP_USER") or "").strip() or None
        password = env.get("TELECBT_SMTP_PASSWORD") or None
        password_file = (env.get("TELECBT_SMTP_PASSWORD_FILE") or "").strip()
        if password is None and password_file:
            password = read_password(Path(password_file).expanduser())
        sender = (env.get("TELECBT_SMTP_FROM") or "").strip() or (username if username and "@" in username else "")
        if not sender:
            raise UsageError("set TELECBT_SMTP_FROM to the address emails come from", key="errors.mail.no_from")
        size_limit = parse_size(env.get("TELECBT_BUNDLE_SIZE_LIMIT"), DEFAULT_SIZE_LIMIT)
        timeout_text = (env.get("TELECBT_SMTP_TIMEOUT") or "").strip()
        try:
            timeout = float(timeout_text) if timeout_text else 30.0
        except ValueError:
            raise UsageError("TELECBT_SMTP_TIMEOUT is a number of seconds", key="errors.mail_settings.timeout_text") from None
        return cls(host, port, security, username, password, sender, size_limit, timeout, tls_context)


def read_password(path: Path, what: str = Term("values.password_file.smtp", "SMTP password file"),
                  env: str = "TELECBT_SMTP_PASSWORD_FILE") -> str:
    """The first line of a password file (a mail server's password)."""
    try:
        line = path.read_text(encoding="utf-8").split("\n", 1)[0].removesuffix("\r")
    except (OSError, UnicodeDecodeError):
        raise UsageError("cannot read the {what} {path} ({env})", key="errors.mail_settings.unreadable", what=what,
                         path=path, env=env) from None
    if not line:
        raise UsageError("the {what} {path} is empty: the password goes on its first line",
                         key="errors.mail_settings.empty", what=what, path=path)
    return line


def parse_size(text: str | None, default: int) -> int:
    """'5000000', '5M', '500k', '5MB' -> bytes (decimal units, as mail providers state their limits)."""
    value = (text or "").strip().upper().removesuffix("B")
    if not value:
        return default
    scale = {"K": 1000, "M": 1000**2, "G": 1000**3}.get(value[-1], 1)
    try:
        number = float(value[:-1] if scale > 1 else value)
    except ValueError:
        raise UsageError("TELECBT_BUNDLE_SIZE_LIMIT is a size in bytes, such as 5000000 or 5M",
                         key="errors.mail_settings.size") from None
    size = int(number * scale)
    if size < MIN_SIZE_LIMIT:
        raise UsageError("TELECBT_BUNDLE_SIZE_LIMIT must be at least {least} bytes", key="errors.mail_settings.small",
                             least=MIN_SIZE_LIMIT)
    return size


# --- times --------------------------------------------------------------------------

def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _moment(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if isinstance(now, str):
        parsed = _parse_time(now)
        if parsed is None:
            raise UsageError("{now!r} is not an ISO date and time", key="errors.mail_settings.time", now=now)
        return parsed
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def backoff(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failed try (1-based)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


# --- messages -----------------------------------------------------------------------

def bundle_body(bundle_id: str, index: int, count: int) -> str:
    files = "the attachment" if count == 1 else f"the attachments of all {count} emails"
    return (
        f"This email carries {'a telecbt bundle' if count == 1 else f'part {index} of {count} of a telecbt bundle'} "
        f"({bundle_id}).\n\n"
        f"To import it: save {files} into one folder (in any order), then run\n\n"
        "    telecbt bundle import FOLDER\n\n"
        "The bundle is encrypted for the receiving device and signed by the sending one: it opens\n"
        "only there, and holds no readable patient data.\n"
    )


def _subject(bundle_id: str, index: int, count: int) -> str:
    return f"telecbt bundle {bundle_id[:8]} part {index} of {count}"


def _build(sender: str | None, address: str, subject: str, body: str, attachment_name: str | None,
           attachment: bytes | None, bundle_id: str | None) -> "EmailMessage":
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    if sender:
        msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    # An explicit domain: make_msgid would otherwise look up this laptop's name.
    domain = sender.rsplit("@", 1)[-1] if sender and "@" in sender else "telecbt.invalid"
    msg["Message-ID"] = make_msgid("telecbt", domain=domain)
    if bundle_id:
        msg["X-Telecbt-Bundle"] = bundle_id
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                           filename=attachment_name or "attachment.bin")
    return msg


def _eml_bytes(msg: "EmailMessage") -> bytes:
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def _base64_size(size: int) -> int:
    """Bytes of `size` bytes in base64 as email carries it: lines of 76 characters, each ending CRLF."""
    chars = 4 * -(-size // 3)
    return chars + 2 * -(-chars // 76)


#: Headers vary a little from one email to the next (the sender, the Message-ID, the Date).
HEADER_MARGIN = 256


def attachment_room(limit: int, address: str, bundle_id: str) -> int:
    """The largest attachment (a bundle or a part) whose email, as sent, stays within `limit` bytes.

    The email is measured as it goes on the wire: headers with the longest sender, subject
    and part name there can be, the text, the MIME boundaries, and base64 (4 bytes for 3,
    plus a line break every 76). So a 5 MB limit means emails of at most 5 MB, not 5 MB
    attachments that base64 makes into 6.8 MB emails.
    """
    longest = "x" * 64 + "@" + "y" * 190
    last = parts.MAX_PARTS
    frame = len(_eml_bytes(_build(longest, address, _subject(bundle_id, last, last), bundle_body(bundle_id, last, last),
                                  parts.part_name(bundle_id, last, last), b"", bundle_id)))
    budget = limit - frame - HEADER_MARGIN - len("X-Unsent: 1\r\n")
    room = max(budget * 57 // 78, 0)
    while room > 0 and _base64_size(room) > budget:
        room -= 1
    if room < 1024:
        raise UsageError("a size limit of {limit} bytes leaves no room for the bundle after the email's "
                         "headers: use a limit of at least {least} bytes", key="errors.mail_settings.no_room",
                         limit=limit, least=MIN_SIZE_LIMIT)
    return room


# --- the outbox table ---------------------------------------------------------------

def _listing(access: Access, where: str = "", params: tuple = ()) -> list[dict]:
    return access.store.rows(
        f"SELECT {_LISTED} FROM outbox o LEFT JOIN patients p ON p.id = o.patient_id WHERE o.deleted = 0"
        f"{' AND ' + where if where else ''} ORDER BY o.created_at, o.id", params)


def list_outbox(access: Access) -> list[dict]:
    """Every email, oldest first, without attachment bytes (`size` says how big the attachment is)."""
    access.require("read")
    return _listing(access)


def _insert_local(access: Access, values: dict) -> str:
    """A bundle row: stamped like a record but kept off the change log (see the module doc)."""
    store = access.store
    now = now_iso()
    row = {"id": uuid7(), **values, "created_at": now, "updated_at": now, "device_id": store.device_id,
           "hlc": store.next_hlc(), "deleted": 0}
    columns = list(row)
    store.conn.execute(f"INSERT INTO outbox ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                       [row[c] for c in columns])
    return row["id"]


def _update(access: Access, row: dict, changes: dict) -> None:
    store = access.store
    with store.write():
        if row["kind"] == "bundle":
            values = {**changes, "updated_at": now_iso(), "hlc": store.next_hlc()}
            assignments = ", ".join(f"{column} = ?" for column in values)
            store.conn.execute(f"UPDATE outbox SET {assignments} WHERE id = ?", [*values.values(), row["id"]])
        else:
            records.update(store, "outbox", row["id"], changes)


def queue_bundle(access: Access, bundle: bytes, bundle_id: str, address: str, limit: int) -> list[dict]:
    """Queue one email per part of the bundle, each at most `limit` bytes as sent (see `attachment_room`)."""
    access.require("write")
    address = check_address(address)
    pieces = _split(bundle, bundle_id, address, limit)
    now = now_iso()
    store = access.store
    ids = []
    with store.write():
        for index, (name, data) in enumerate(pieces, 1):
            ids.append(_insert_local(access, {
                "patient_id": None, "message_id": None, "appointment_id": None, "kind": "bundle",
                "channel": "email", "address": address, "subject": _subject(bundle_id, index, len(pieces)),
                "body": bundle_body(bundle_id, index, len(pieces)), "send_after": now, "status": "queued",
                "attempts": 0, "attachment_name": name, "attachment": data, "bundle_id": bundle_id,
                "last_error": None, "next_attempt_at": now}))
        audit.append(store, access.user, "outbox.queue",
                     detail={"kind": "bundle", "bundle": bundle_id, "parts": len(pieces), "bytes": len(bundle)})
    return _listing(access, f"o.id IN ({', '.join('?' for _ in ids)})", tuple(ids))


def _split(bundle: bytes, bundle_id: str, address: str, limit: int) -> list[tuple[str, bytes]]:
    """The bundle in pieces that fit `limit` as emails; parts.split's reasons keyed (UsageError)."""
    try:
        return parts.split(bundle, bundle_id, attachment_room(limit, address, bundle_id))
    except ValueError as error:
        why = recognise(str(error), SPLIT_REASONS, "errors.mail_split", UsageError) or str(error)
        raise UsageError("{why}", key="errors.mail_split.any", why=why) from None


def write_eml(access: Access, bundle: bytes, bundle_id: str, folder: Path, address: str, limit: int) -> list[Path]:
    """One .eml file per part in `folder`, each at most `limit` bytes, to open and send from any mail client."""
    from telecbt_cli.core.store.fsutil import atomic_write

    access.require("read")
    address = check_address(address)
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError("folder {folder} does not exist", key="errors.sync_transport.no_folder", folder=folder)
    pieces = _split(bundle, bundle_id, address, limit)
    sender = (os.environ.get("TELECBT_SMTP_FROM") or "").strip()
    sender = sender if _ADDRESS.fullmatch(sender) else ""
    written = []
    for index, (name, data) in enumerate(pieces, 1):
        msg = _build(sender or None, address, _subject(bundle_id, index, len(pieces)),
                     bundle_body(bundle_id, index, len(pieces)), name, data, bundle_id)
        msg["X-Unsent"] = "1"  # Outlook and others open it as a draft, ready to send
        path = folder / f"{name}.eml"
        atomic_write(path, _eml_bytes(msg), 0o600)
        written.append(path)
    audit.append(access.store, access.user, "outbox.eml",
                 detail={"bundle": bundle_id, "files": len(written), "bytes": len(bundle)})
    return written


def retry(access: Access, ident: str | None = None) -> list[dict]:
    """Queue failed emails again (all, or one by id or the end of its id), to be sent at the next `send`."""
    access.require("write")
    if ident:
        rows = _listing(access, "o.id = ?", (records.resolve_id(access.store, "outbox", ident, "outbox email"),))
        status = rows[0]["status"]
        if status == "sent":
            raise UsageError("that email was already sent", key="errors.mail.already_sent")
        if status == "cancelled":
            raise UsageError("that email was cancelled (its session was cancelled)", key="errors.mail.cancelled")
        if status == "no_address":
            raise UsageError("that reminder has no address: the patient had no email when it was queued",
                             key="errors.mail.no_address")
        if rows[0]["kind"] == "bundle" and rows[0]["size"] is None:
            raise UsageError("that email's attachment is gone: export the bundle again", key="errors.mail.gone")
    else:
        rows = _listing(access, "o.status = 'failed'")
    now = now_iso()
    for row in rows:
        _update(access, row, {"status": "queued", "attempts": 0, "next_attempt_at": now})
    if rows:
        audit.append(access.store, access.user, "outbox.retry", detail={"emails": len(rows)})
    ids = tuple(row["id"] for row in rows)
    return _listing(access, f"o.id IN ({', '.join('?' for _ in ids)})", ids) if ids else []


# --- sending ------------------------------------------------------------------------

def _scrub(text: str, settings: MailSettings, limit: int = 160) -> str:
    """A server's words made safe to store: one line, short, and never the password."""
    clean = _CONTROL.sub(" ", text).strip()
    if settings.password:
        clean = clean.replace(settings.password, "***")
    return clean[:limit]


def _reply(error: Exception, settings: MailSettings) -> str:
    code, text = getattr(error, "smtp_code", None), getattr(error, "smtp_error", b"")
    recipients = getattr(error, "recipients", None)
    if code is None and isinstance(recipients, dict) and recipients:
        code, text = next(iter(recipients.values()))
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return _scrub(f"{code} {text}" if code is not None else str(text or ""), settings)


def _timed_out(error: BaseException | None) -> bool:
    """smtplib reports a read timeout as SMTPServerDisconnected; the timeout is its context."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, TimeoutError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _connect_error(settings: MailSettings, error: BaseException) -> StorageError:
    """What went wrong reaching the server: host:port and the kind of failure, nothing else."""
    import smtplib
    import socket
    import ssl

    where, values = settings.where, {}
    if _timed_out(error):
        kind, values = "timeout", {"seconds": f"{settings.timeout:g}"}
    elif isinstance(error, smtplib.SMTPAuthenticationError):
        kind, values = "login", {"code": error.smtp_code}
    elif isinstance(error, smtplib.SMTPNotSupportedError):
        kind = "unsupported"
    elif isinstance(error, smtplib.SMTPServerDisconnected):
        kind = "closed"
    elif isinstance(error, smtplib.SMTPResponseException):
        kind, values = "refused_code", {"code": error.smtp_code}
    elif isinstance(error, smtplib.SMTPException):
        kind, values = "failed", {"name": error.__class__.__name__}
    elif isinstance(error, ssl.SSLCertVerificationError):
        kind = "certificate"
    elif isinstance(error, ssl.SSLError):
        kind = "handshake"
    elif isinstance(error, ConnectionRefusedError):
        return StorageError("mail server {where} refused the connection: check TELECBT_SMTP_PORT. Nothing was sent; "
                            "the emails stay queued", key="errors.mail.refused", where=where)
    elif isinstance(error, socket.gaierror):
        kind = "not_found"
    elif isinstance(error, OSError):
        kind, values = "unreachable", {"why": error.strerror or error.__class__.__name__}
    else:
        kind, values = "failed", {"name": error.__class__.__name__}
    return StorageError(CONNECT_REASONS[kind] + ". Nothing was sent; the emails stay queued",
                        key=f"errors.mail_connect.{kind}", where=where, **values)


#: What went wrong reaching the mail server (`errors.mail_connect.…`; each message ends "Nothing was sent; …").
CONNECT_REASONS = {
    "timeout": "mail server {where} did not answer within {seconds} s",
    "login": "mail server {where} refused the user name or password ({code}): check TELECBT_SMTP_USER and the password",
    "unsupported": "mail server {where} does not offer what telecbt needs (STARTTLS or login): check "
                   "TELECBT_SMTP_SECURITY and the port",
    "closed": "mail server {where} closed the connection: check the port and TELECBT_SMTP_SECURITY (465 is usually "
              "tls, 587 starttls)",
    "refused_code": "mail server {where} refused the connection ({code})",
    "failed": "mail server {where} failed ({name})",
    "certificate": "mail server {where} presented a TLS certificate that cannot be trusted: check the server name",
    "handshake": "mail server {where} failed the TLS handshake: check the port and TELECBT_SMTP_SECURITY (465 is "
                 "usually tls, 587 starttls)",
    "not_found": "mail server {where} could not be found: check TELECBT_SMTP_HOST, or whether this computer is online",
    "unreachable": "mail server {where} could not be reached ({why})",
}
#: Why an email was not sent, as the outbox keeps it (`last_error`, English), and its key: `stored_reason`
#: finds the key and values again so a UI shows the reason in the reader's language.
STORED_REASONS = {
    "refused": "refused by the server: {reply}",
    "timeout": "no answer within {seconds} s while sending",
    "lost": "the connection was lost while sending",
    "conversation": "the conversation failed ({name}) while sending",
    "no_attachment": "the attachment is missing: export the bundle again",
    "invalid": "the address or subject is not valid",
}
#: Why a send stopped part-way (`send_due`'s `error`; the unsent emails stay queued).
STOPPED_REASONS = {
    "closed": "mail server {where} closed the connection; the unsent emails stay queued",
    "timeout": "mail server {where}: no answer within {seconds} s while sending; the unsent emails stay queued",
    "lost": "mail server {where}: the connection was lost while sending; the unsent emails stay queued",
    "conversation": "mail server {where}: the conversation failed ({name}) while sending; the unsent emails stay queued",
}


def _stored(kind: str, **values: object) -> str:
    return STORED_REASONS[kind].format(**values)


def stored_reason(text: str | None) -> StorageError | None:
    """An outbox row's `last_error` as a keyed error (`errors.mail_stored.…`), so a UI can word it; None if unknown."""
    return recognise(text, STORED_REASONS, "errors.mail_stored", StorageError)


def _connect(settings: MailSettings):
    import smtplib
    import ssl

    context = settings.tls_context or ssl.create_default_context()
    client = None
    try:
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=HELO_NAME,
                                      timeout=settings.timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, local_hostname=HELO_NAME, timeout=settings.timeout)
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                raise smtplib.SMTPNotSupportedError("no STARTTLS")
            client.starttls(context=context)
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password or "")
        return client
    except (smtplib.SMTPException, OSError, ValueError) as error:
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
        raise _connect_error(settings, error) from None


def _due_rows(access: Access, moment: datetime) -> tuple[list[dict], int]:
    cursor = access.store.conn.execute(
        "SELECT id, kind, channel, address, subject, body, attachment_name, bundle_id, status, attempts, "
        "send_after, next_attempt_at FROM outbox WHERE status = 'queued' AND deleted = 0 AND channel = 'email' "
        "ORDER BY created_at, id")
    names = [d[0] for d in cursor.description]
    due, waiting = [], 0
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        after = _parse_time(row["send_after"])
        retry_at = _parse_time(row["next_attempt_at"])
        if (after and after > moment) or (retry_at and retry_at > moment):
            waiting += 1
        else:
            due.append(row)
    return due, waiting


def _after_failure(access: Access, row: dict, moment: datetime, reason: str) -> str:
    attempts = (row["attempts"] or 0) + 1
    if attempts >= MAX_ATTEMPTS:
        _update(access, row, {"status": "failed", "attempts": attempts, "last_error": reason, "next_attempt_at": None})
        return "failed"
    _update(access, row, {"attempts": attempts, "last_error": reason,
                          "next_attempt_at": iso_utc(moment + backoff(attempts))})
    return "retrying"


def send_due(access: Access, settings: MailSettings, now: datetime | str | None = None) -> dict:
    """Send every queued email that is due, over one connection.

    Returns counts: due, sent, retrying (failed this time, tried again later), failed (gave
    up after MAX_ATTEMPTS), waiting (queued, not yet due), no_address, and `error` when the
    connection was lost part-way (the rest stay queued). Raises StorageError, changing
    nothing, when the server cannot be reached at all.
    """
    import smtplib

    access.require("write")
    moment = _moment(now)
    due, waiting = _due_rows(access, moment)
    no_address = access.store.conn.execute(
        "SELECT count(*) FROM outbox WHERE status = 'no_address' AND deleted = 0").fetchone()[0]
    result: dict[str, Any] = {"due": len(due), "sent": 0, "retrying": 0, "failed": 0, "waiting": waiting,
                              "no_address": no_address, "error": None}
    if not due:
        return result
    client = _connect(settings)
    try:
        for row in due:
            attachment = None
            if row["kind"] == "bundle":
                attachment = access.store.conn.execute("SELECT attachment FROM outbox WHERE id = ?",
                                                       (row["id"],)).fetchone()[0]
                if attachment is None:
                    result["failed"] += 1
                    _update(access, row, {"status": "failed", "last_error": _stored("no_attachment"),
                                          "next_attempt_at": None})
                    continue
            try:
                address = check_address(row["address"])
                message = _build(settings.sender, address, row["subject"], row["body"],
                                 row["attachment_name"], attachment, row["bundle_id"])
            except (UsageError, ValueError, TypeError):
                # Trying again will not help: fix the address, then `retry`.
                _update(access, row, {"status": "failed", "attempts": (row["attempts"] or 0) + 1,
                                      "last_error": _stored("invalid"), "next_attempt_at": None})
                result["failed"] += 1
                continue
            if getattr(client, "sock", None) is None:  # the server hung up after its last reply
                result["cause"] = StorageError(STOPPED_REASONS["closed"], key="errors.mail_stopped.closed",
                                               where=settings.where)
                result["error"] = str(result["cause"])
                break
            try:
                client.send_message(message, from_addr=settings.sender, to_addrs=[address])
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException,
                    smtplib.SMTPNotSupportedError) as error:
                reply = _reply(error, settings) or error.__class__.__name__
                result[_after_failure(access, row, moment, _stored("refused", reply=reply))] += 1
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                # SMTPException is an OSError too: whatever is left here lost the conversation. The
                # server may or may not hold the message; it is not marked sent, so it goes again.
                if _timed_out(error):
                    kind, values = "timeout", {"seconds": f"{settings.timeout:g}"}
                elif isinstance(error, smtplib.SMTPServerDisconnected) or not isinstance(error, smtplib.SMTPException):
                    kind, values = "lost", {}
                else:
                    kind, values = "conversation", {"name": error.__class__.__name__}
                result[_after_failure(access, row, moment, _stored(kind, **values))] += 1
                result["cause"] = StorageError(STOPPED_REASONS[kind], key=f"errors.mail_stopped.{kind}", where=settings.where,
                                               **values)
                result["error"] = str(result["cause"])
                break
            else:
                changes: dict[str, Any] = {"status": "sent", "last_error": None, "next_attempt_at": None}
                if row["kind"] == "bundle":
                    changes["attachment"] = None
                _update(access, row, changes)
                result["sent"] += 1
    finally:
        try:
            if result["error"]:
                client.close()  # the conversation is broken: QUIT would only wait for another timeout
            else:
                client.quit()
        except Exception:
            try:
                client.close()
            except Exception:
                pass
    audit.append(access.store, access.user, "outbox.send",
                 detail={k: result[k] for k in ("due", "sent", "retrying", "failed")})
    return result
