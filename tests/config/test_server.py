"""The deployed HTTP server (config/server.py): granian serving the application.

The live test starts ``python -m config.server`` as the image and compose do,
against the test database, and talks HTTP to it over loopback.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from config.server import without_process_environment
from tests.buildings.factories import BuildingFactory

ROOT = Path(__file__).resolve().parent.parent.parent


def test_requests_carry_no_variable_of_the_process_environment() -> None:
    seen: dict[str, Any] = {}

    def inner(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        seen.update(environ)
        return [b""]

    app = without_process_environment(
        inner, names=["DATABASE_URL", "DJANGO_SECRET_KEY", "PATH_INFO", "HOME"]
    )
    environ = {
        "DATABASE_URL": "postgres://intercalaire:s3cret@db/intercalaire",
        "DJANGO_SECRET_KEY": "not-for-requests",
        "HOME": "/app",
        "PATH_INFO": "/healthz",
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "localhost",
        "wsgi.url_scheme": "http",
    }
    app(environ, lambda *args: None)
    assert set(seen) == {"PATH_INFO", "REQUEST_METHOD", "HTTP_HOST", "wsgi.url_scheme"}
    assert seen["PATH_INFO"] == "/healthz"


def _database_url() -> str:
    """The test database as a URL (DATABASE_URL's form, config/env.py)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or ""
    name = quote(db["NAME"], safe="")
    if host.startswith("/"):
        return f"postgres://{user}{password}@:{db['PORT'] or 5432}/{name}?host={host}"
    return f"postgres://{user}{password}@{host}:{db['PORT'] or 5432}/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def deployed_server(transactional_db: None, tmp_path: Path) -> Iterator[int]:
    """``python -m config.server`` on a free port, one worker; yields the port."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "config.server", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not listen in 60 s"
                time.sleep(0.2)
        yield port
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / "server.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class CountingConnection(http.client.HTTPConnection):
    connects = 0

    def connect(self) -> None:
        super().connect()
        self.connects += 1


def test_the_deployed_server_keeps_connections_alive_and_streams_exports(
    deployed_server: int,
) -> None:
    BuildingFactory.create(vacant=True, designation="Ancienne caserne Sainte-Anne")
    conn = CountingConnection("127.0.0.1", deployed_server, timeout=30)
    try:
        statuses = []
        for _ in range(3):
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
        conn.request("GET", "/api/v1/buildings/export.csv")
        export = conn.getresponse()
        body = export.read()
    finally:
        conn.close()
    assert statuses == [200, 200, 200]
    assert conn.connects == 1  # kept alive across the four requests
    assert export.status == 200
    assert export.getheader("Transfer-Encoding") == "chunked"  # streamed
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert len(lines) == 2  # the header and the one public building, complete
    assert "Ancienne caserne Sainte-Anne" in lines[1]
