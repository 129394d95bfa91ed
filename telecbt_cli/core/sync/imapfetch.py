"""Fetching bundles from the hub's mailbox over IMAP: read, import, then move each message out of the way.

A run logs in (TLS, STARTTLS, or plain on loopback only), reads every message of the
folder (INBOX by default) without marking it read, imports the bundle attachments it
finds, and only then moves each message: imported ones to `telecbt-imported`, ones whose
bundle was refused to `telecbt-failed` (so a bad bundle is not downloaded again on every
run over a slow link; move it back to try again). Messages without a bundle, and parts of
a bundle whose other parts have not arrived yet, stay where they are. Importing before
moving makes a run safe to repeat after a dropped connection: a bundle imported twice
changes nothing, and the message is moved the next time.

The password is never stored, logged, shown or put in an error message; the server's own
words are not repeated either (they may echo what was sent).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import AuthError, NotFoundError, StorageError, TelecbtError, Term, UsageError
from telecbt_cli.core.store.textsafe import inert
from telecbt_cli.core.sync import bundles, mailfiles, parts
from telecbt_cli.core.sync.mailer import is_loopback, read_password

if TYPE_CHECKING:
    import imaplib
    from collections.abc import Callable
    import ssl

SECURITY = ("tls", "starttls", "none")
DEFAULT_PORTS = {"tls": 993, "starttls": 143, "none": 143}
DEFAULT_FOLDER = "INBOX"
DONE_FOLDER = "telecbt-imported"
FAILED_FOLDER = "telecbt-failed"
#: Messages read in one run add up to at most this; the rest wait for the next run.
RUN_BYTES = 256 * 2**20
_FOLDER_NAME = re.compile(r"[ -~]{1,200}")
_PART_NAME = re.compile(r"(?P<bundle>[A-Za-z0-9][A-Za-z0-9_-]{0,127})\.part(?P<index>\d+)of(?P<count>\d+)\.tcbp")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _folder(name: str, what: str) -> str:
    if not _FOLDER_NAME.fullmatch(name or ""):
        raise UsageError("the {what} folder name must be plain ASCII letters, digits and punctuation "
                         "(up to 200 characters)", key="errors.imap_settings.folder",
                         what=Term(f"values.imap_folder.{what}", what))
    return name


@dataclass(frozen=True)
class ImapSettings:
    """Where the hub's mailbox is and how to log in. `tls_context` lets tests trust their own CA."""

    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    folder: str = DEFAULT_FOLDER
    done_folder: str = DONE_FOLDER
    failed_folder: str = FAILED_FOLDER
    timeout: float = 60
    tls_context: "ssl.SSLContext | None" = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.host or any(ch.isspace() for ch in self.host):
            raise UsageError("the mail server name (--host or TELECBT_IMAP_HOST) is empty or has spaces",
                             key="errors.imap_settings.host")
        if self.security not in SECURITY:
            raise UsageError("the IMAP security (--security or TELECBT_IMAP_SECURITY) is one of {codes}",
                             key="errors.imap_settings.security", codes=", ".join(SECURITY))
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise UsageError("the IMAP port (--port or TELECBT_IMAP_PORT) is a number from 1 to 65535",
                             key="errors.imap_settings.port")
        if not self.username or any(ch.isspace() or ord(ch) < 32 for ch in self.username):
            raise UsageError("give the mailbox user name (--user-name or TELECBT_IMAP_USER)", key="errors.fetch.user")
        if not self.password:
            raise AuthError("no mailbox password: use --password-file, TELECBT_IMAP_PASSWORD_FILE or "
                            "TELECBT_IMAP_PASSWORD", key="errors.fetch.password")
        if self.security == "none" and not is_loopback(self.host):
            raise UsageError("--security none would send the mailbox password in clear over the network: "
                             "use tls or starttls", key="errors.imap_settings.clear")
        names = [_folder(self.folder, "mailbox"), _folder(self.done_folder, "imported"),
                 _folder(self.failed_folder, "failed")]
        if len(set(names)) != 3:
            raise UsageError("the mailbox, imported and failed folders must be three different folders",
                             key="errors.imap_settings.same_folder")
        if self.timeout <= 0:
            raise UsageError("the IMAP timeout must be above 0 seconds", key="errors.imap_settings.timeout")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, options: dict[str, Any], password: str | None, environ: dict[str, str] | None = None,
                 tls_context: "ssl.SSLContext | None" = None,
                 ask: "Callable[[], str] | None" = None) -> "ImapSettings":
        """Options given on the command line win over TELECBT_IMAP_* variables (docs/email.md).

        The password: `password`, else TELECBT_IMAP_PASSWORD_FILE, else TELECBT_IMAP_PASSWORD,
        else `ask()`, called only once every other setting has been found valid."""
        env = os.environ if environ is None else environ

        def pick(key: str, default: str = "") -> str:
            value = options.get(key)
            return str(value).strip() if value not in (None, "") else (env.get(f"TELECBT_IMAP_{key.upper()}") or default).strip()

        host = pick("host")
        if not host:
            raise UsageError("no mailbox server is set: give --host or set TELECBT_IMAP_HOST", key="errors.fetch.no_server")
        security = pick("security", "tls").lower()
        if security not in SECURITY:
            raise UsageError("the IMAP security (--security or TELECBT_IMAP_SECURITY) is one of {codes}",
                             key="errors.imap_settings.security", codes=", ".join(SECURITY))
        try:
            port = int(pick("port") or DEFAULT_PORTS[security])
            timeout = float(pick("timeout") or 60)
        except ValueError:
            raise UsageError("TELECBT_IMAP_PORT is a port number and TELECBT_IMAP_TIMEOUT a number of seconds",
                             key="errors.imap_settings.numbers") from None
        if password is None and (env.get("TELECBT_IMAP_PASSWORD_FILE") or "").strip():
            from pathlib import Path

            password = read_password(Path(env["TELECBT_IMAP_PASSWORD_FILE"].strip()).expanduser(),
                                     Term("values.password_file.imap", "IMAP password file"),
                                     "TELECBT_IMAP_PASSWORD_FILE")
        if password is None:
            password = env.get("TELECBT_IMAP_PASSWORD") or None
        values = (host, port, security, pick("user"))
        rest = (pick("folder", DEFAULT_FOLDER), pick("done_folder", DONE_FOLDER),
                pick("failed_folder", FAILED_FOLDER), timeout, tls_context)
        if password is None and ask is not None:
            cls(*values, "not asked yet", *rest)  # a wrong setting is said before the password is asked for
            password = ask()
        return cls(*values, password or "", *rest)


# --- the conversation ---------------------------------------------------------------

def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _problem(settings: ImapSettings, error: BaseException, doing: str) -> StorageError:
    """What went wrong with the server, in plain words; never its reply, never the password."""
    import imaplib
    import socket
    import ssl

    values: dict = {}
    if isinstance(error, (TimeoutError, socket.timeout)):
        kind, values = "timeout", {"seconds": f"{settings.timeout:g}"}
    elif isinstance(error, ssl.SSLCertVerificationError):
        kind = "certificate"
    elif isinstance(error, ssl.SSLError):
        kind = "handshake"
    elif isinstance(error, ConnectionRefusedError):
        kind = "refused"
    elif isinstance(error, socket.gaierror):
        kind = "not_found"
    elif isinstance(error, (imaplib.IMAP4.abort, ConnectionError, EOFError)):
        kind = "closed"
    elif isinstance(error, OSError):
        kind, values = "unreachable", {"why": error.strerror or error.__class__.__name__}
    else:
        kind, values = "failed", {"name": error.__class__.__name__}
    return StorageError(PROBLEMS[kind] + " while {doing}. Bundles imported before that stay imported; run "
                        "`telecbt bundle fetch` again: nothing is imported twice", key=f"errors.imap.{kind}",
                        where=settings.where, doing=Term(f"values.imap_doing.{doing.replace(' ', '_')}", doing),
                        **values)


#: What went wrong with the mailbox server (`errors.imap.…`; each message goes on "while {doing}. Bundles …").
PROBLEMS = {
    "timeout": "mailbox server {where} did not answer within {seconds} s",
    "certificate": "mailbox server {where} presented a TLS certificate that cannot be trusted: check the server name",
    "handshake": "mailbox server {where} failed the TLS handshake: check the port and --security (993 is usually "
                 "tls, 143 starttls)",
    "refused": "mailbox server {where} refused the connection: check the port",
    "not_found": "mailbox server {where} could not be found: check the server name, or whether this computer is online",
    "closed": "mailbox server {where} closed the connection",
    "unreachable": "mailbox server {where} could not be reached ({why})",
    "failed": "mailbox server {where} failed ({name})",
}


def _ok(reply: tuple, what: str) -> list:
    import imaplib

    typ, data = reply
    if typ != "OK":
        raise imaplib.IMAP4.error(what)
    return data


def _connect(settings: ImapSettings) -> "imaplib.IMAP4":
    import imaplib
    import ssl

    context = settings.tls_context or ssl.create_default_context()
    client = None
    try:
        if settings.security == "tls":
            client = imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context, timeout=settings.timeout)
        else:
            client = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
            if settings.security == "starttls":
                if "STARTTLS" not in client.capabilities:
                    raise UsageError("mailbox server {where} does not offer STARTTLS: use --security tls "
                                     "(usually port 993); the password was not sent", key="errors.imap.no_starttls",
                                     where=settings.where)
                client.starttls(ssl_context=context)
        if "LOGINDISABLED" in client.capabilities:
            raise UsageError("mailbox server {where} refuses passwords without TLS: use --security "
                             "tls or starttls", key="errors.imap.login_disabled", where=settings.where)
        try:
            if settings.password.isascii() and settings.username.isascii():
                client.login(settings.username, settings.password)
            else:
                plain = f"\0{settings.username}\0{settings.password}".encode()
                client.authenticate("PLAIN", lambda _challenge: plain)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            raise AuthError("mailbox server {where} refused the user name or password: check "
                            "--user-name and the password", key="errors.fetch.login", where=settings.where) from None
        return client
    except TelecbtError:
        _close(client)
        raise
    except (imaplib.IMAP4.error, OSError, EOFError) as error:
        _close(client)
        raise _problem(settings, error, "connecting") from None


def _close(client: "imaplib.IMAP4 | None", polite: bool = False) -> None:
    if client is None:
        return
    try:
        if polite:
            client.logout()
        else:
            client.shutdown()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


def _capabilities(client: "imaplib.IMAP4") -> set[str]:
    """Asked again after login: servers announce MOVE and UIDPLUS only then."""
    data = _ok(client.capability(), "CAPABILITY")
    return {word.upper() for word in (data[0] or b"").decode("ascii", "replace").split()}


def _uids(client: "imaplib.IMAP4") -> list[tuple[int, int]]:
    """(uid, size) of every message not already marked deleted, oldest first."""
    found = (_ok(client.uid("SEARCH", None, "UNDELETED"), "SEARCH")[0] or b"").split()
    sized = []
    for start in range(0, len(found), 500):
        batch = b",".join(found[start:start + 500]).decode()
        for item in _ok(client.uid("FETCH", batch, "(RFC822.SIZE)"), "FETCH"):
            line = item[0] if isinstance(item, tuple) else item
            uid, size = _UID.search(line or b""), _SIZE.search(line or b"")
            if uid and size:
                sized.append((int(uid.group(1)), int(size.group(1))))
    return sorted(sized)


def _body(client: "imaplib.IMAP4", uid: int) -> bytes:
    for item in _ok(client.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH"):
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    raise StorageError("the mailbox server sent no content for message UID {uid}", key="errors.imap_settings.no_body",
                       uid=uid)


def _subject(raw: bytes) -> str:
    from email.parser import BytesHeaderParser
    from email.policy import default

    try:
        subject = BytesHeaderParser(policy=default).parsebytes(raw).get("subject") or ""
    except Exception:  # a malformed header: the message is still named by its UID
        subject = ""
    return inert(str(subject))[:80]


def _ensure_folder(client: "imaplib.IMAP4", name: str) -> None:
    listed = _ok(client.list('""', _quoted(name)), "LIST")
    if not any(listed):
        client.create(_quoted(name))
        if not any(_ok(client.list('""', _quoted(name)), "LIST")):
            raise StorageError("the folder {name!r} cannot be made on the mailbox server: make it in a mail "
                               "program, or choose another with --done-folder/--failed-folder",
                               key="errors.imap_settings.no_folder", name=name)


def _move(client: "imaplib.IMAP4", uids: list[int], folder: str, caps: set[str]) -> None:
    """MOVE where the server has it; else COPY, mark deleted, and expunge those messages only (UIDPLUS)."""
    _ensure_folder(client, folder)
    for start in range(0, len(uids), 200):
        batch = ",".join(str(uid) for uid in uids[start:start + 200])
        if "MOVE" in caps:
            _ok(client.uid("MOVE", batch, _quoted(folder)), "MOVE")
            continue
        _ok(client.uid("COPY", batch, _quoted(folder)), "COPY")
        _ok(client.uid("STORE", batch, "+FLAGS.SILENT", r"(\Deleted)"), "STORE")
        if "UIDPLUS" in caps:
            _ok(client.uid("EXPUNGE", batch), "EXPUNGE")
    if "MOVE" not in caps and "UIDPLUS" not in caps:
        _ok(client.expunge(), "EXPUNGE")


# --- importing ----------------------------------------------------------------------

@dataclass
class _Message:
    uid: int
    size: int
    subject: str = ""
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    bundles: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    causes: list[tuple[str | None, TelecbtError]] = field(default_factory=list)  # (attachment, error) per error
    waiting: bool = False

    @property
    def status(self) -> str:
        if self.errors:
            return "failed"
        if not self.attachments:
            return "no_bundle"
        return "waiting" if self.waiting else "imported"


def _import_all(access: Access, messages: list[_Message], dry_run: bool, passphrase: str | None) -> None:
    """Import every whole bundle once, and every bundle whose parts have all arrived (parts may
    come in different messages); record on each message what became of its attachments."""
    done: dict[bytes, tuple[dict | None, TelecbtError | None]] = {}

    def run(data: bytes) -> tuple[dict | None, TelecbtError | None]:
        digest = hashlib.sha256(data).digest()
        if digest not in done:
            try:
                done[digest] = (bundles.import_bundle(access, data, dry_run, passphrase), None)
            except TelecbtError as error:
                done[digest] = (None, error)
        return done[digest]

    groups: dict[str, list[tuple[_Message, str, bytes]]] = {}
    for message in messages:
        for name, data in message.attachments:
            if not name.lower().endswith(parts.PART_SUFFIX):
                result, error = run(data)
                message.bundles += [result] if result else []
                if error:
                    message.errors.append(f"{name}: {error}")
                    message.causes.append((name, error))
                continue
            match = _PART_NAME.fullmatch(name)
            groups.setdefault(match.group("bundle") if match else name, []).append((message, name, data))
    for members in groups.values():
        files = {name: data for _, name, data in members}
        counts = {int(m.group("count")) for m in map(_PART_NAME.fullmatch, files) if m}
        indexes = {int(m.group("index")) for m in map(_PART_NAME.fullmatch, files) if m}
        owners = {id(message): message for message, _, _ in members}.values()
        if len(counts) == 1 and indexes < set(range(1, max(counts) + 1)):
            for message in owners:
                message.waiting = True  # the other parts are still on their way
            continue
        assembled, problems = parts.assemble(files)
        result, error = run(assembled[0]) if assembled and not problems else (None, None)
        causes = [(None, p["cause"]) for p in problems] if problems else [(None, error)] if error else []
        for message in owners:
            message.bundles += [result] if result else []
            if causes:
                message.errors.append("; ".join(str(cause) for _, cause in causes))
                message.causes += causes


def fetch(access: Access, settings: ImapSettings, dry_run: bool = False, passphrase: str | None = None) -> dict:
    """Import the bundles waiting in the mailbox folder, then move the messages (see the module doc).

    Returns {"server", "folder", "messages": [{"uid", "subject", "status", "bundles", "errors",
    "moved_to"}], "imported", "failed", "waiting", "no_bundle", "left"}; `left` counts messages
    kept for the next run (RUN_BYTES). Raises AuthError for a refused login, StorageError
    when the conversation fails; what was imported before stays imported.
    """
    import imaplib

    access.require("write")
    client = _connect(settings)
    doing, polite = "reading the mailbox", False
    try:
        typ, _ = client.select(_quoted(settings.folder))
        if typ != "OK":
            raise NotFoundError("there is no folder {folder!r} in the mailbox: check --folder",
                                key="errors.imap.no_folder", folder=settings.folder)
        caps = _capabilities(client)
        messages, total, left = [], 0, 0
        for uid, size in _uids(client):
            if size > mailfiles.MAX_MESSAGE_BYTES or total + size > RUN_BYTES:
                left += 1
                continue
            total += size
            raw = _body(client, uid)
            messages.append(_Message(uid, size, _subject(raw), mailfiles.bundle_attachments(raw)))
        doing = "importing"
        _import_all(access, messages, dry_run, passphrase)
        moved: dict[str, list[int]] = {}
        if not dry_run:
            doing = "moving the messages"
            for status, folder in (("imported", settings.done_folder), ("failed", settings.failed_folder)):
                moved[folder] = [m.uid for m in messages if m.status == status]
                if moved[folder]:
                    _move(client, moved[folder], folder, caps)
        polite = True
    except TelecbtError:
        raise
    except (imaplib.IMAP4.error, OSError, EOFError) as error:
        raise _problem(settings, error, doing) from None
    finally:
        _close(client, polite)
    where = {uid: folder for folder, uids in moved.items() for uid in uids}
    rows = [{"uid": m.uid, "subject": m.subject, "status": m.status, "bundles": m.bundles, "errors": m.errors,
             "moved_to": where.get(m.uid), "causes": m.causes} for m in messages]
    result: dict[str, Any] = {"server": settings.where, "folder": settings.folder, "dry_run": dry_run,
                              "messages": rows, "left": left}
    for status in ("imported", "failed", "waiting", "no_bundle"):
        result[status] = sum(1 for m in messages if m.status == status)
    audit.append(access.store, access.user, "bundle.fetch",
                 detail={k: result[k] for k in ("imported", "failed", "waiting", "no_bundle", "left", "dry_run")})
    return result
