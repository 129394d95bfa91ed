"""The email outbox against real SMTP servers on 127.0.0.1: plain, STARTTLS, implicit TLS,
login, refusals, dropped connections, timeouts, parts that reassemble, .eml files."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import ipaddress
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import pytest
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from telecbt_cli.content import catalog as cat
from telecbt_cli.core.care import appointments, diary
from telecbt_cli.core.clinical import patients
from telecbt_cli.core.clinical.patients import PatientFields
from telecbt_cli.core.store.errors import NotFoundError, StorageError, UsageError
from telecbt_cli.core.sync import bundles, devices, mailer, parts
from tests.conftest import ADMIN_PASS
from tests.core.sync.sites import Site

HOST = "127.0.0.1"
SENDER = "field@clinic.example"
TO = "hub@clinic.example"
USER = "field-laptop"
PASSWORD = "Sm7p-SENTINEL-pa55-4417"
CATALOG, _ = cat.build([cat.BUILTIN_DIR])
NOW = dt.datetime.now(dt.timezone.utc)


# --- certificates: a test CA and a server certificate for 127.0.0.1 ---------------------

@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only the test CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = tmp_path_factory.mktemp("tls")
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=2)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "telecbt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


# --- servers ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class Sink:
    """Keeps every message; or answers DATA with `reply`; or hangs up when DATA is done."""

    def __init__(self, reply: str | None = None, hang_up: bool = False) -> None:
        self.messages: list = []
        self.reply, self.hang_up = reply, hang_up

    async def handle_DATA(self, server, session, envelope):
        if self.hang_up:
            server.transport.close()
            return "250 OK"
        if self.reply:
            return self.reply
        self.messages.append(envelope)
        return "250 OK"

    def parsed(self) -> list:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.messages]


def check_password(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[Callable[..., tuple[Sink, int]]]:
    """Start aiosmtpd servers on 127.0.0.1; all stop when the test ends."""
    running: list[Controller] = []

    def start(sink: Sink | None = None, **options) -> tuple[Sink, int]:
        sink = sink or Sink()
        port = free_port()
        controller = Controller(sink, hostname=HOST, port=port, server_hostname="mail.test", **options)
        controller.start()
        running.append(controller)
        return sink, port

    yield start
    for controller in running:
        controller.stop()


class ScriptedServer:
    """A raw socket server for failures aiosmtpd will not stage: silence, or a cut mid-message."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(4)
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            if self.mode == "silent":
                self.stop.wait(10)
                return
            stream = conn.makefile("rb")
            conn.sendall(b"220 scripted ESMTP\r\n")
            while line := stream.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-scripted\r\n250 8BITMIME\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    stream.read(200)  # part of the message, then:
                    if self.mode == "stall":
                        self.stop.wait(10)
                    return  # "drop": close mid-message
                else:
                    conn.sendall(b"250 OK\r\n")

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=15)


@pytest.fixture
def scripted() -> Iterator[Callable[[str], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(mode: str) -> ScriptedServer:
        servers.append(ScriptedServer(mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def settings_for(port: int, security: str = "none", tls_context=None, username=None, password=None,
                 timeout: float = 5) -> mailer.MailSettings:
    return mailer.MailSettings(HOST, port, security, username, password, SENDER, timeout=timeout,
                               tls_context=tls_context)


# --- data ---------------------------------------------------------------------------

@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    made = Site(tmp_path, "field")
    yield made
    made.access.close()


def _enrol(site: Site, name: str = "Ana", email_address: str | None = None) -> str:
    p = patients.add_patient(site.access, PatientFields(display_name=name, language="en", email=email_address))
    patients.record_consent(site.access, p["code"], "verbal", "v1")
    return p["code"]


def _queue_small(site: Site, bundle_id: str = "0190f0aa-1234-7abc-8def-0123456789ab") -> list[dict]:
    return mailer.queue_bundle(site.access, b"age-encryption.org/v1 pretend bundle", bundle_id, TO, 5_000_000)


def _rows(site: Site) -> list[dict]:
    return mailer.list_outbox(site.access)


def _export(sender: Site, receiver: Site) -> tuple[bytes, str]:
    out = io.BytesIO()
    manifest = bundles.export_bundle(sender.access, out, [devices.identity(receiver.access)["recipient"]],
                                     receiver.id)
    return out.getvalue(), manifest["bundle_id"]


# --- tests --------------------------------------------------------------------------

def test_plain_smtp_sends_a_queued_bundle_once(site, smtp):
    sink, port = smtp()
    (row,) = _queue_small(site)
    assert row["kind"] == "bundle" and row["status"] == "queued" and row["attempts"] == 0
    assert row["subject"] == "telecbt bundle 0190f0aa part 1 of 1" and row["size"] == 36
    assert row["attachment_name"] == "0190f0aa-1234-7abc-8def-0123456789ab.tcb"
    result = mailer.send_due(site.access, settings_for(port))
    assert result == {"due": 1, "sent": 1, "retrying": 0, "failed": 0, "waiting": 0, "no_address": 0, "error": None}
    (msg,) = sink.parsed()
    assert sink.messages[0].mail_from == SENDER and sink.messages[0].rcpt_tos == [TO]
    assert msg["Subject"] == "telecbt bundle 0190f0aa part 1 of 1" and msg["X-Telecbt-Bundle"].endswith("89ab")
    assert "telecbt bundle import FOLDER" in msg.get_body(("plain",)).get_content()
    (attachment,) = msg.iter_attachments()
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_filename() == row["attachment_name"]
    assert attachment.get_content() == b"age-encryption.org/v1 pretend bundle"
    (after,) = _rows(site)
    assert after["status"] == "sent" and after["size"] is None  # the copy is dropped once sent
    assert mailer.send_due(site.access, settings_for(port))["due"] == 0
    assert len(sink.messages) == 1
    # Bundle rows stay on this device: not in the change log, so never inside the next bundle.
    logged = site.access.store.conn.execute("SELECT count(*) FROM change_log WHERE table_name = 'outbox'")
    assert logged.fetchone()[0] == 0
    actions = [r[0] for r in site.access.store.conn.execute("SELECT action FROM audit_log ORDER BY seq")]
    assert actions[-2:] == ["outbox.queue", "outbox.send"]


def test_starttls_with_login(site, smtp, tls):
    server_ctx, client_ctx = tls
    sink, port = smtp(tls_context=server_ctx, require_starttls=True, authenticator=check_password,
                      auth_required=True, auth_require_tls=True)
    _queue_small(site)
    result = mailer.send_due(site.access, settings_for(port, "starttls", client_ctx, USER, PASSWORD))
    assert result["sent"] == 1 and len(sink.messages) == 1


def test_starttls_refuses_a_certificate_it_cannot_trust(site, smtp, tls):
    server_ctx, _ = tls
    sink, port = smtp(tls_context=server_ctx, require_starttls=True)
    _queue_small(site)
    with pytest.raises(StorageError, match=rf"{HOST}:{port} presented a TLS certificate that cannot be trusted"):
        mailer.send_due(site.access, settings_for(port, "starttls"))  # the system CAs do not know the test CA
    assert _rows(site)[0]["status"] == "queued" and _rows(site)[0]["attempts"] == 0 and sink.messages == []


def test_starttls_missing_on_the_server_is_an_error_not_a_fallback(site, smtp):
    sink, port = smtp()
    _queue_small(site)
    with pytest.raises(StorageError, match="does not offer what telecbt needs"):
        mailer.send_due(site.access, settings_for(port, "starttls"))
    assert sink.messages == [] and _rows(site)[0]["status"] == "queued"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_login(site, smtp, tls):
    server_ctx, client_ctx = tls
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here the whole socket is TLS.
    sink, port = smtp(ssl_context=server_ctx, authenticator=check_password, auth_required=True,
                      auth_require_tls=False)
    _queue_small(site)
    result = mailer.send_due(site.access, settings_for(port, "tls", client_ctx, USER, PASSWORD))
    assert result["sent"] == 1 and len(sink.messages) == 1


def test_the_password_is_never_shown_stored_or_raised(site, smtp, tls, capfd, monkeypatch, tmp_path):
    server_ctx, client_ctx = tls
    sink, port = smtp(tls_context=server_ctx, require_starttls=True, authenticator=check_password,
                      auth_required=True)
    _queue_small(site)
    wrong = mailer.MailSettings(HOST, port, "starttls", USER, PASSWORD + "-wrong", SENDER, tls_context=client_ctx)
    with pytest.raises(StorageError) as caught:
        mailer.send_due(site.access, wrong)
    text = str(caught.value)
    assert f"{HOST}:{port}" in text and "refused the user name or password" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    good = settings_for(port, "starttls", client_ctx, USER, PASSWORD)
    assert PASSWORD not in repr(good) and PASSWORD not in str(good)
    # Refusals at DATA quote the server; a server echoing the password is scrubbed.
    sink.reply = f"550 5.7.1 not today {PASSWORD}"
    result = mailer.send_due(site.access, good)
    assert result["retrying"] == 1
    (row,) = _rows(site)
    assert row["last_error"].startswith("refused by the server: 550") and "***" in row["last_error"]
    # From the environment, by file, through the command line.
    secret = tmp_path / "smtp.pass"
    secret.write_text(PASSWORD + "\n")
    env = {"TELECBT_SMTP_HOST": HOST, "TELECBT_SMTP_PORT": str(port), "TELECBT_SMTP_USER": USER,
           "TELECBT_SMTP_PASSWORD_FILE": str(secret), "TELECBT_SMTP_FROM": SENDER}
    from_env = mailer.MailSettings.from_env(env, tls_context=client_ctx)
    assert from_env.password == PASSWORD and from_env.security == "starttls" and PASSWORD not in repr(from_env)
    everything = repr(site.access.store.conn.execute("SELECT * FROM outbox").fetchall())
    everything += repr(site.access.store.conn.execute("SELECT * FROM audit_log").fetchall())
    everything += repr(site.access.store.conn.execute("SELECT * FROM change_log").fetchall())
    out, err = capfd.readouterr()
    assert PASSWORD not in everything + out + err + text


def test_a_large_bundle_travels_in_parts_and_imports_into_another_store(tmp_path, smtp):
    field, hub = Site(tmp_path, "field"), Site(tmp_path, "hub")
    try:
        for site in (field, hub):
            for other in (field, hub):
                if other is not site:
                    devices.trust(site.access, devices.identity(other.access)["card"], other.name, "field")
        code = _enrol(field)
        with field.access.store.write():
            for i in range(200):
                diary.add_entry(field.access, code, {"pain": i % 10, "note": f"entry {i} " + os.urandom(300).hex()})
        raw, bundle_id = _export(field, hub)
        limit = max(mailer.MIN_SIZE_LIMIT, len(raw) // 5)  # the limit counts the whole email (issue 14.3)
        queued = mailer.queue_bundle(field.access, raw, bundle_id, TO, limit)
        assert len(queued) >= 4
        assert [r["subject"] for r in queued] == [f"telecbt bundle {bundle_id[:8]} part {i} of {len(queued)}"
                                                  for i in range(1, len(queued) + 1)]
        assert all(r["size"] <= limit for r in queued)
        sink, port = smtp()
        assert mailer.send_due(field.access, settings_for(port))["sent"] == len(queued)
        files = {}
        for msg in reversed(sink.parsed()):  # the order they arrive in does not matter
            (attachment,) = msg.iter_attachments()
            files[attachment.get_filename()] = attachment.get_content()
        assembled, problems = parts.assemble(files)
        assert problems == [] and assembled == [raw]
        stats = hub.import_(assembled[0])
        assert stats["inserted"] == 202  # patient, consent, 200 diary entries
        notes = hub.access.store.conn.execute("SELECT count(*) FROM diary_entries WHERE note LIKE 'entry %'")
        assert notes.fetchone()[0] == 200
    finally:
        field.access.close()
        hub.access.close()


def test_a_refusing_server_leaves_the_row_queued_with_a_pause(site, smtp):
    sink, port = smtp(Sink(reply="550 5.7.1 policy says no"))
    _queue_small(site)
    before = dt.datetime.now(dt.timezone.utc)
    result = mailer.send_due(site.access, settings_for(port))
    assert result["retrying"] == 1 and result["sent"] == 0 and result["error"] is None
    (row,) = _rows(site)
    assert row["status"] == "queued" and row["attempts"] == 1
    assert row["last_error"] == "refused by the server: 550 5.7.1 policy says no"
    retry_at = dt.datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
    assert before + dt.timedelta(seconds=55) < retry_at < before + dt.timedelta(minutes=2)
    # Not due again until the pause is over.
    assert mailer.send_due(site.access, settings_for(port)) | {"error": None} == {
        "due": 0, "sent": 0, "retrying": 0, "failed": 0, "waiting": 1, "no_address": 0, "error": None}


def test_backoff_grows_and_gives_up_after_eight_tries_then_retry(site, smtp):
    sink, port = smtp(Sink(reply="451 4.3.0 try later"))
    (queued,) = _queue_small(site)
    moment = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=1)
    pauses = []
    for attempt in range(1, 9):
        result = mailer.send_due(site.access, settings_for(port), now=moment)
        (row,) = _rows(site)
        assert row["attempts"] == attempt
        if attempt < 8:
            assert result["retrying"] == 1 and row["status"] == "queued"
            nxt = dt.datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
            pauses.append(nxt - moment)
            moment = nxt
        else:
            assert result["failed"] == 1 and row["status"] == "failed"
    assert [p.total_seconds() for p in pauses] == [60, 300, 1800, 7200, 43200, 43200, 43200]
    assert mailer.send_due(site.access, settings_for(port), now=moment + dt.timedelta(days=9))["due"] == 0
    sink.reply = None
    with pytest.raises(UsageError, match="at least 6"):
        mailer.retry(site.access, "ab")
    with pytest.raises(UsageError, match="is not an id"):
        mailer.retry(site.access, "zzzzzzzz")
    with pytest.raises(NotFoundError):
        mailer.retry(site.access, "000000000000")
    (again,) = mailer.retry(site.access, queued["id"][-8:].upper())
    assert again["status"] == "queued" and again["attempts"] == 0
    assert mailer.send_due(site.access, settings_for(port))["sent"] == 1
    with pytest.raises(UsageError, match="already sent"):
        mailer.retry(site.access, queued["id"])
    assert mailer.retry(site.access) == []


def test_a_connection_dropped_mid_message_leaves_the_row_queued(site, scripted):
    server = scripted("drop")
    _queue_small(site)
    _queue_small(site, "0190f0aa-5678-7abc-8def-0123456789ab")
    result = mailer.send_due(site.access, settings_for(server.port))
    assert result["sent"] == 0 and result["retrying"] == 1 and "connection was lost" in result["error"]
    first, second = _rows(site)
    assert first["status"] == "queued" and first["attempts"] == 1
    assert first["last_error"] == "the connection was lost while sending"
    assert second["status"] == "queued" and second["attempts"] == 0  # never tried: the batch stopped


def test_a_server_that_hangs_up_after_data_is_not_a_success(site, smtp):
    sink, port = smtp(Sink(hang_up=True))
    _queue_small(site)
    result = mailer.send_due(site.access, settings_for(port))
    assert result["sent"] == 0 and result["error"]
    (row,) = _rows(site)
    assert row["status"] == "queued" and row["attempts"] == 1


def test_a_silent_server_times_out_and_nothing_changes(site, scripted):
    server = scripted("silent")
    _queue_small(site)
    with pytest.raises(StorageError, match=rf"{HOST}:{server.port} did not answer within 0.5 s"):
        mailer.send_due(site.access, settings_for(server.port, timeout=0.5))
    (row,) = _rows(site)
    assert row["status"] == "queued" and row["attempts"] == 0 and row["last_error"] is None


def test_a_server_stalling_mid_message_times_out_and_the_row_stays_queued(site, scripted):
    server = scripted("stall")
    _queue_small(site)
    result = mailer.send_due(site.access, settings_for(server.port, timeout=0.5))
    assert result["sent"] == 0 and "no answer within 0.5 s" in result["error"]
    (row,) = _rows(site)
    assert row["status"] == "queued" and row["attempts"] == 1


def test_nobody_listening(site):
    _queue_small(site)
    port = free_port()
    with pytest.raises(StorageError, match=rf"{HOST}:{port} refused the connection"):
        mailer.send_due(site.access, settings_for(port))
    assert _rows(site)[0]["attempts"] == 0


def test_reminders_are_sent_when_due_and_skipped_without_an_address(site, smtp):
    sink, port = smtp()
    with_email = _enrol(site, "Ana", "ana@example.org")
    without = _enrol(site, "Ben")
    when = (NOW + dt.timedelta(days=3)).strftime("%Y-%m-%dT10:00:00Z")
    appointments.schedule(site.access, CATALOG, with_email, when, "video", link="https://meet.example.org/x")
    appointments.schedule(site.access, CATALOG, without, when, "phone")
    rows = {r["patient"]: r for r in _rows(site)}
    assert rows[with_email]["kind"] == "reminder" and rows[with_email]["status"] == "queued"
    assert rows[without]["status"] == "no_address"
    early = mailer.send_due(site.access, settings_for(port))
    assert early["due"] == 0 and early["waiting"] == 1 and early["no_address"] == 1 and sink.messages == []
    result = mailer.send_due(site.access, settings_for(port), now=NOW + dt.timedelta(days=2, hours=12))
    assert result["sent"] == 1 and result["no_address"] == 1
    (msg,) = sink.parsed()
    assert msg["To"] == "ana@example.org" and "https://meet.example.org/x" in msg.get_content()
    assert list(msg.iter_attachments()) == []
    # Reminders are records: the status change is stamped and logged like any other.
    reminder_id = rows[with_email]["id"]
    logged = site.access.store.conn.execute(
        "SELECT data FROM change_log WHERE table_name = 'outbox' AND row_id = ? ORDER BY seq DESC", (reminder_id,))
    assert '"status": "sent"' in logged.fetchone()[0]


def test_eml_files_parse_back_with_their_attachment(site, tmp_path, monkeypatch):
    import stat

    monkeypatch.setenv("TELECBT_SMTP_FROM", SENDER)
    bundle = os.urandom(30_000)
    folder = tmp_path / "out"
    folder.mkdir()
    written = mailer.write_eml(site.access, bundle, "0190f0aa-1234-7abc-8def-0123456789ab", folder, TO, 16_384)
    assert len(written) == 3 and sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    assert all(path.stat().st_size <= 16_384 for path in written)  # the whole email, base64 included
    files = {}
    for path in written:
        assert path.suffix == ".eml"
        if os.name == "posix":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert msg["To"] == TO and msg["From"] == SENDER and msg["X-Unsent"] == "1"
        (attachment,) = msg.iter_attachments()
        files[attachment.get_filename()] = attachment.get_content()
    assert parts.assemble(files) == ([bundle], [])
    with pytest.raises(UsageError, match="does not exist"):
        mailer.write_eml(site.access, bundle, "b1", tmp_path / "nope", TO, 4000)
    with pytest.raises(UsageError, match="look like"):
        mailer.write_eml(site.access, bundle, "b1", folder, "hub@example.org\r\nBcc: x@y.z", 4000)


def test_settings_from_the_environment():
    base = {"TELECBT_SMTP_HOST": "mail.example.org", "TELECBT_SMTP_FROM": SENDER}
    plain = mailer.MailSettings.from_env(base)
    assert (plain.port, plain.security, plain.size_limit, plain.timeout) == (587, "starttls", 5_000_000, 30)
    tls = mailer.MailSettings.from_env({**base, "TELECBT_SMTP_SECURITY": "TLS", "TELECBT_BUNDLE_SIZE_LIMIT": "10M"})
    assert (tls.port, tls.security, tls.size_limit) == (465, "tls", 10_000_000)
    for env, message in [({}, "TELECBT_SMTP_HOST"),
                         ({"TELECBT_SMTP_HOST": "mail.example.org"}, "TELECBT_SMTP_FROM"),
                         ({**base, "TELECBT_SMTP_SECURITY": "ssl3"}, "one of starttls"),
                         ({**base, "TELECBT_SMTP_PORT": "smtp"}, "port number"),
                         ({**base, "TELECBT_BUNDLE_SIZE_LIMIT": "12"}, "at least"),
                         ({**base, "TELECBT_SMTP_USER": "u"}, "both TELECBT_SMTP_USER"),
                         ({**base, "TELECBT_SMTP_USER": "u", "TELECBT_SMTP_PASSWORD_FILE": "/nonexistent/p"},
                          "cannot read"),
                         ({**base, "TELECBT_SMTP_USER": "u", "TELECBT_SMTP_PASSWORD": PASSWORD,
                           "TELECBT_SMTP_SECURITY": "none"}, "in clear")]:
        with pytest.raises(UsageError, match=message) as caught:
            mailer.MailSettings.from_env(env)
        assert PASSWORD not in str(caught.value)


def test_queue_refuses_bad_addresses_and_viewers(site):
    from telecbt_cli.core.store import users
    from telecbt_cli.core.store.crypto import KdfParams
    from telecbt_cli.core.store.errors import PermissionDenied
    from telecbt_cli.core.store.unlock import unlock

    for address in ("", "hub", "a@b, c@d", "hub@example.org\nBcc: x@y.z"):
        with pytest.raises(UsageError):
            mailer.queue_bundle(site.access, b"x", "b1", address, 5000)
    users.add_user(site.access, "vic", "viewer", "viewer passphrase", KdfParams(10))
    viewer = unlock(site.access.store.dir, "vic", "viewer passphrase")
    try:
        with pytest.raises(PermissionDenied):
            mailer.queue_bundle(viewer, b"x", "b1", TO, 5000)
        with pytest.raises(PermissionDenied):
            mailer.retry(viewer)
        assert mailer.list_outbox(viewer) == []
    finally:
        viewer.close()
    assert _rows(site) == []


# --- the command group --------------------------------------------------------------

def _root():
    from telecbt_cli.cli import RootGroup
    from telecbt_cli.commands import bundle_outbox

    root = typer.Typer(cls=RootGroup, add_completion=False)
    root.add_typer(bundle_outbox.app, name="outbox")
    return root


def test_the_outbox_commands(created, store_dir, pass_file, smtp, monkeypatch):
    site = type("S", (), {"access": created.access})()
    _queue_small(site)  # type: ignore[arg-type]
    runner = CliRunner()
    common = ["--store", str(store_dir), "--passphrase-file", str(pass_file)]
    listed = runner.invoke(_root(), ["outbox", "list", *common, "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"status": "queued"' in listed.stdout and "attachment\"" not in listed.stdout
    table = runner.invoke(_root(), ["outbox", "list", *common])
    assert table.exit_code == 0 and "queued" in table.stdout
    monkeypatch.setenv("TELECBT_SMTP_HOST", HOST)
    monkeypatch.setenv("TELECBT_SMTP_SECURITY", "none")
    monkeypatch.setenv("TELECBT_SMTP_FROM", SENDER)
    monkeypatch.setenv("TELECBT_SMTP_PORT", str(free_port()))
    down = runner.invoke(_root(), ["outbox", "send", *common])
    assert down.exit_code == 1 and "refused the connection" in down.stderr
    sink, port = smtp()
    monkeypatch.setenv("TELECBT_SMTP_PORT", str(port))
    sent = runner.invoke(_root(), ["outbox", "send", *common, "--json"])
    assert sent.exit_code == 0, sent.output
    assert '"sent": 1' in sent.stdout and len(sink.messages) == 1
    again = runner.invoke(_root(), ["outbox", "retry", *common])
    assert again.exit_code == 0 and "No failed emails" in again.stderr
    assert ADMIN_PASS not in listed.output + sent.output
