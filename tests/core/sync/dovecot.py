"""A real IMAP server for tests: Debian's Dovecot on 127.0.0.1, unprivileged, with its own config in a temp folder.

`imap_server` (session scope) starts one Dovecot with a plain/STARTTLS port and an implicit
TLS port and a self-signed certificate for 127.0.0.1; each test takes its own mailbox user
with `new_user()` (password PASSWORD). `CutAtMove` stands between a client and the server and drops the
connection when the client asks to move or copy messages: a connection lost after the
import and before the messages are moved.
"""

from __future__ import annotations

import grp
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST = "127.0.0.1"
PASSWORD = "Imap-pa55-SENTINEL-2291"
USERS = 40
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _account() -> tuple[str, str, int, int]:
    """Who Dovecot runs as: `nobody` when the tests run as root (Dovecot refuses root mail users), else us."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("nobody")
        group = grp.getgrgid(entry.pw_gid).gr_name
        return entry.pw_name, group, entry.pw_uid, entry.pw_gid
    entry = pwd.getpwuid(os.geteuid())
    return entry.pw_name, grp.getgrgid(os.getegid()).gr_name, entry.pw_uid, os.getegid()


class Dovecot:
    """One running server; `plain_port` offers STARTTLS, `tls_port` is implicit TLS."""

    _numbers = itertools.count(1)

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.plain_port, self.tls_port = _free_port(), _free_port()
        self.cert = folder / "cert.pem"
        self.passwd = folder / "passwd"
        self.process: subprocess.Popen | None = None

    @property
    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def start(self) -> None:
        name, group, uid, gid = _account()
        folder = self.folder
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(folder / "key.pem"), "-out", str(self.cert), "-days", "2", "-subj",
                        f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"], check=True, capture_output=True)
        self.passwd.write_text("".join(f"hub{n}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, USERS + 1)))
        for sub in ("run", "state", "home"):
            (folder / sub).mkdir()
        (folder / "dovecot.conf").write_text(f"""\
protocols = imap
listen = {HOST}
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
default_internal_user = {name}
default_internal_group = {group}
default_login_user = {name}
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, uid, gid)
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(folder / "dovecot.conf")], user=uid, group=gid,
                                        stdout=subprocess.DEVNULL, stderr=open(folder / "stderr.log", "wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.plain_port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start: " + (folder / "stderr.log").read_text(errors="replace"))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def new_user(self) -> str:
        """A fresh, empty mailbox whose password is PASSWORD."""
        number = next(self._numbers)
        assert number <= USERS, "raise USERS in tests/core/sync/dovecot.py"
        return f"hub{number}"

    def login(self, user: str, password: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(HOST, self.plain_port, timeout=10)
        client.starttls(ssl_context=self.client_context)
        client.login(user, password)
        return client

    def deliver(self, user: str, password: str, *messages: bytes) -> None:
        """APPEND each message to the user's INBOX, as a mail server delivering it would."""
        client = self.login(user, password)
        try:
            for raw in messages:
                typ, _ = client.append("INBOX", None, None, raw)
                assert typ == "OK"
        finally:
            client.logout()

    def folders(self, user: str, password: str) -> dict[str, list[bytes]]:
        """Every folder and the messages in it (whole), read without changing anything."""
        client = self.login(user, password)
        found: dict[str, list[bytes]] = {}
        try:
            for line in client.list()[1]:
                name = line.decode().rsplit(" ", 1)[-1].strip('"')
                client.select(f'"{name}"', readonly=True)
                uids = (client.uid("SEARCH", None, "UNDELETED")[1][0] or b"").split()
                found[name] = [client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")[1][0][1] for uid in uids]
        finally:
            client.logout()
        return found


@pytest.fixture(scope="session")
def imap_server() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (Debian: apt-get install dovecot-imapd; .ci/run installs it)")
    if shutil.which("openssl") is None:
        pytest.skip("the openssl tool is needed to make the test server's certificate")
    folder = Path(tempfile.mkdtemp(prefix="telecbt-dovecot-"))
    server = Dovecot(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


class CutAtMove:
    """A loopback relay to the server that drops both sides when the client sends MOVE or COPY."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection((HOST, self.target))

        def pump(src: socket.socket, dst: socket.socket, watch: bool) -> None:
            try:
                while data := src.recv(65536):
                    if watch and (b" MOVE " in data.upper() or b" COPY " in data.upper()):
                        self.cut.set()
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(server, client, False), daemon=True).start()
        pump(client, server, True)
        client.close()
        server.close()

    def close(self) -> None:
        self.listener.close()
