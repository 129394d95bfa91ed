"""The loopback Medplum FHIR server (tests/core/sync/fhir_server) as a test helper: start, validate, control."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

SERVER_DIR = Path(__file__).resolve().parent / "fhir_server"


class Medplum:
    """A running `server.mjs`: FHIR base URL, Medplum's validator and the test controls."""

    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port
        self.root = f"http://127.0.0.1:{port}"
        self.base = f"{self.root}/fhir"

    def _call(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.root + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def validate(self, resources: list[dict]) -> list[list[dict]]:
        """Medplum's validateResource errors for each resource (an empty list: valid)."""
        return self._call("POST", "/_validate", {"resources": resources})["issues"]

    def control(self, **settings: object) -> dict:
        """drop=n, fail=n, status=503, token='…' or None, reset=True (see server.mjs)."""
        return self._call("POST", "/_control", settings)

    def stats(self) -> dict:
        return self._call("GET", "/_control")

    def read(self, path: str) -> dict:
        """GET a FHIR path (e.g. "Patient/<id>/_history") with no token."""
        return self._call("GET", "/fhir/" + path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def install() -> str | None:
    """`npm ci` when node_modules is missing; a reason to skip when Node.js or npm cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "Node.js and npm are needed for the Medplum test server and are not installed"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < (20, 19):
        return f"Node.js {version or '?'} is too old for the Medplum test server (20.19 or newer is needed)"
    if (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        return None
    try:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SERVER_DIR, capture_output=True,
                              text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "npm ci timed out: the npm registry cannot be reached"
    if done.returncode != 0:
        return f"npm ci failed (the npm registry cannot be reached?): {done.stderr.strip()[-300:]}"
    return None


def start() -> Medplum:
    process = subprocess.Popen(["node", "server.mjs"], cwd=SERVER_DIR, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("LISTENING "):
        process.kill()
        raise RuntimeError(f"the Medplum test server did not start: {line}{process.stderr.read()[-2000:]}")
    return Medplum(process, int(line.split()[1]))
