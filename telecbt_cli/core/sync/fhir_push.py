"""Sending the FHIR export to a FHIR server: transaction bundles over HTTPS, retried, reported.

Every entry is a PUT of the resource at its own id, so a bundle sent twice (after a dropped
connection, or on the next run) changes nothing on a server that keeps unchanged resources.
A patient's resources travel in transactions of at most `max_entries` entries (servers cap
them: Medplum refuses more than 50 updates in one), referenced resources first.

The bearer token lives only in a `Token` object for the length of the push: it is never
written to disk, to the audit log, to a report or to an error message.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from telecbt_cli.core.store.access import Access
from telecbt_cli.core.store.errors import AuthError, PermissionDenied, Said, StorageError, UsageError
from telecbt_cli.core.sync import bulk, fhir

if TYPE_CHECKING:
    from telecbt_cli.content.catalog import Catalog

RETRY_STATUSES = {429, 502, 503, 504}
_ENTRY_INDEX = re.compile(r"Bundle\.entry\[(\d+)\]")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class Token:
    """A bearer token that does not show itself (repr, str and format give stars)."""

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value or any(ch in value for ch in "\r\n"):
            raise UsageError("the FHIR server token is empty or has more than one line", key="errors.fhir_push.token")
        self._value = value

    def header(self) -> str:
        return f"Bearer {self._value}"

    def __repr__(self) -> str:
        return "Token(***)"

    __str__ = __repr__


@dataclass
class Server:
    """Where and how to send: base URL, optional token, retry and transaction settings."""

    url: str
    token: Token | None = None
    retries: int = 4
    backoff: float = 0.5
    timeout: float = 60.0
    max_entries: int = 50
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.url = check_url(self.url)


def check_url(url: str) -> str:
    """A FHIR base URL: https, or http to this computer only; no password or query in it."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError("{url!r} is not a FHIR server address: give the base URL, e.g. https://fhir.example.org/r4",
                         key="errors.fhir_push.not_an_address", url=url[:80])
    if parts.username or parts.password:
        raise UsageError("put no user name or password in the FHIR server address: give the token with "
                         "--token-file or TELECBT_FHIR_TOKEN", key="errors.fhir_push.credentials")
    if parts.query or parts.fragment:
        raise UsageError("the FHIR server address must not have a ?query or #fragment", key="errors.fhir_push.query")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise UsageError("patient data may only be sent over https (http is allowed to this computer only)",
                         key="errors.fhir_push.https")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@dataclass
class Report:
    """What the server did with one patient's bundle."""

    patient: str
    accepted: list[str] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    retries: int = 0

    def to_dict(self) -> dict:
        return {"patient": self.patient, "accepted": len(self.accepted), "refused": len(self.refused),
                "refused_entries": self.refused, "outcomes": self.outcomes, "retries": self.retries}


class _Dropped(Exception):
    """The connection failed or the server asked us to try again."""


def _post(server: Server, body: bytes) -> tuple[int, dict]:
    parts = urlsplit(server.url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=server.timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=server.timeout)
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if server.token is not None:
        headers["Authorization"] = server.token.header()
    try:
        conn.request("POST", parts.path or "/", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        status, retry_after = response.status, response.getheader("Retry-After")
    except (OSError, http.client.HTTPException) as error:
        raise _Dropped(Said("the connection failed ({kind})", "errors.fhir_push.connection_failed",
                            kind=error.__class__.__name__)) from None
    finally:
        conn.close()
    if status in RETRY_STATUSES:
        raise _Dropped(Said("the server answered {status}", "errors.fhir_push.answered", status=status),
                       _seconds(retry_after))
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        found = {}
    return status, found if isinstance(found, dict) else {}


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def send(server: Server, entries: list[dict]) -> tuple[int, dict, int]:
    """POST one transaction, retrying dropped connections and busy answers with growing waits."""
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    for attempt in range(server.retries + 1):
        try:
            status, found = _post(server, body)
            return status, found, attempt
        except _Dropped as dropped:
            if attempt == server.retries:
                raise StorageError("could not send to the FHIR server at {url}: {why} (tried {times} times; "
                                   "sending again is safe)", key="errors.fhir_push.not_sent", url=server.url,
                                   why=dropped.args[0], times=attempt + 1) from None
            wait = dropped.args[1] if len(dropped.args) > 1 and dropped.args[1] is not None \
                else server.backoff * 2 ** attempt
            server.sleep(wait)
    raise AssertionError("unreachable")


def _issues(outcome: dict) -> list[dict]:
    return [{k: issue[k] for k in ("severity", "code", "diagnostics", "expression") if k in issue}
            | ({"details": issue["details"].get("text")} if isinstance(issue.get("details"), dict) else {})
            for issue in outcome.get("issue") or [] if isinstance(issue, dict)]


def _record(report: Report, entries: list[dict], status: int, found: dict) -> None:
    urls = [e["request"]["url"] for e in entries]
    if status in (401, 403):
        raise AuthError("the FHIR server refused the request ({status}): check the token "
                        "(--token-file, --ask-token or TELECBT_FHIR_TOKEN) and its rights",
                        key="errors.fhir_push.refused", status=status)
    if 200 <= status < 300 and found.get("resourceType") == "Bundle":
        for url, answer in zip(urls, found.get("entry") or []):
            response = answer.get("response") or {}
            code = str(response.get("status", "")).split(" ")[0]
            if code.startswith("2"):
                report.accepted.append(url)
            else:
                report.refused.append({"url": url, "status": code, "issues": _issues(response.get("outcome") or {})})
        return
    issues = _issues(found) if found.get("resourceType") == "OperationOutcome" else [
        {"severity": "error", "code": "exception", "details": f"the server answered {status}"}]
    report.outcomes.append({"status": status, "issues": issues})
    named = {}
    for issue in issues:
        for where in issue.get("expression") or []:
            match = _ENTRY_INDEX.match(where)
            if match and int(match.group(1)) < len(urls):
                named.setdefault(int(match.group(1)), []).append(issue)
    for n, url in enumerate(urls):
        report.refused.append({"url": url, "status": str(status), "issues": named.get(n, [])})


def push_resources(server: Server, label: str, resources: Iterable[dict]) -> Report:
    """Send resources (in bundle order) as transactions of at most `max_entries`; never raises on a
    refusal (it is reported), only on a bad token (AuthError) or a server that cannot be reached."""
    report = Report(label)
    batch: list[dict] = []
    for resource in resources:
        batch.append(fhir.entry(resource))
        if len(batch) >= server.max_entries:
            _flush(server, report, batch)
            batch = []
    if batch:
        _flush(server, report, batch)
    return report


def _flush(server: Server, report: Report, batch: list[dict]) -> None:
    status, found, retries = send(server, batch)
    report.retries += retries
    _record(report, batch, status, found)


def push_fhir(access: Access, catalog: "Catalog", server: Server, patient_codes: Sequence[str] | None = None,
              since: str | None = None, progress: Any = None) -> dict:
    """Send the Questionnaires, then each patient's resources, to a FHIR server; a report per bundle.

    Viewers may not push (the server receives patient data in clear). The push is audited
    (`export.fhir`, with the server's address, never the token) before anything is sent.
    """
    access.require("read")
    if access.role == "viewer":
        raise PermissionDenied("a viewer may not send patient data to a server ({user} is signed in as viewer)",
                               key="errors.fhir_push.viewer", user=access.user)
    since = bulk.since_utc(since)
    patient_ids = bulk.patient_ids_for(access, patient_codes)
    bulk.audit_export(access, "fhir", patient_ids, since, False, {"post": server.url})
    reports = [push_resources(server, fhir.QUESTIONNAIRES_FILE, fhir.questionnaire_resources(catalog))]
    conn = access.store.conn
    with bulk.snapshot(conn):
        for patient in fhir.patients(conn, patient_ids):
            if since and not fhir.changed_since(conn, patient, since):
                continue
            reports.append(push_resources(server, patient["code"],
                                          fhir.patient_resources(conn, catalog, patient, since)))
            if progress:
                progress(patient["code"], len(reports) - 1, None)
    return {"format": "fhir", "post": server.url, "since": since, "patients": len(reports) - 1,
            "accepted": sum(len(r.accepted) for r in reports), "refused": sum(len(r.refused) for r in reports),
            "retries": sum(r.retries for r in reports), "bundles": [r.to_dict() for r in reports]}
