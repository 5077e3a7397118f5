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

from buildings.models import Building, BuildingStatus
from config.server import without_process_environment
from tests.buildings.factories import BuildingFactory, SiteFactory, wgs84

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


class SmallWindowConnection(http.client.HTTPConnection):
    """A client that reads slowly: a small receive buffer, so that the server
    blocks on writing (granian waits for the socket) well before the end."""

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))


def _export_backend(deadline: float) -> int:
    """The server's session in the middle of an export: a transaction left
    open between two fetches of its server-side cursor."""
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'idle in transaction' "
                "AND query LIKE 'FETCH%%'"
            )
            row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        assert time.monotonic() < deadline, "no export was waiting on its client"
        time.sleep(0.1)


def test_an_export_cut_by_the_database_ends_as_an_incomplete_transfer(
    deployed_server: int, tmp_path: Path
) -> None:
    """Once its first bytes have left, an export cannot become a 503: when its
    database session dies half-way (here ended by pg_terminate_backend, as a
    restart or the idle-transaction timeout would), the server closes the
    connection without the chunked encoding's last chunk, so that the client
    sees an incomplete transfer, never a clean end; the failure is logged."""
    site = SiteFactory.create()
    long_text = "Bâtiment " + "x" * 280
    Building.objects.bulk_create(
        Building(
            site=site,
            commune=site.commune,
            inventory_id=f"CUT-{number}",
            designation=long_text,
            address=long_text,
            status=BuildingStatus.VACANT,
            point=wgs84(5.38, 43.30),
        )
        for number in range(12_000)  # about 8 MB of GeoJSON: beyond the buffers
    )
    conn = SmallWindowConnection("127.0.0.1", deployed_server, timeout=60)
    try:
        conn.request("GET", "/api/v1/buildings/export.geojson")
        export = conn.getresponse()
        assert export.status == 200
        assert export.getheader("Transfer-Encoding") == "chunked"
        assert export.read(100).startswith(b'{"type":"FeatureCollection"')
        with connection.cursor() as cursor:
            backend = _export_backend(time.monotonic() + 30)
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        with pytest.raises(http.client.IncompleteRead):
            export.read()
    finally:
        conn.close()
    log = (tmp_path / "server.log").read_text()
    assert "/api/v1/buildings/export.geojson cut short by a database error" in log
