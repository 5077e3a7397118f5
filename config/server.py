"""The web tier's HTTP server: granian (HTTP in Rust) serving Django's WSGI application.

The Dockerfile, docker-compose.yml, the server test and the benchmarks (bench/http.py)
all start it with ``python -m config.server``, so that what is measured is what is
deployed.

- Why granian rather than gunicorn: on the reference machine (2 cores shared by the
  load generator, the server and PostgreSQL) gunicorn's Python HTTP handling was the
  floor under small responses: ``/healthz`` at 1,700-1,800 requests/s and a public
  z14 tile at 1,000-1,150 under gunicorn (gthread); 2,300-2,900 and 1,300-1,800 under
  granian with the settings below (docs/benchmarks.md). Parsing, keep-alive and
  writing happen in Rust; Python runs the application only.
- Workers: ``--workers`` or ``WEB_CONCURRENCY``, 2 by default (one per core of the
  reference machine; the database takes the rest of the CPU). On Linux every worker
  listens on the port itself (SO_REUSEPORT), so the kernel spreads connections.
- Threads: ``--threads`` or ``WEB_THREADS``, the requests one worker runs at once, 2 by
  default. More threads hold the GIL in turn and slowed small pages here (a 30-feature
  OGC page: 400-460 requests/s with 2, 290-330 with 4). Further requests wait in the
  worker's queue rather than being refused. A site with many long exports running at
  once may raise it.
- Access log: off unless ``WEB_ACCESS_LOG=true``. The reverse proxy in front logs every
  request already, with the ``X-Request-ID`` the application echoes and logs with its
  own lines (config/middleware.py); granian's access line goes through Python's
  logging and cost a quarter of the small responses' throughput here (``/healthz``
  2,250-2,750 requests/s without, 1,850-1,950 with).
- Keep-alive on, HTTP/1.1 only (the proxy speaks it), websockets off (WSGI has none),
  a worker that dies is started again.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.server.common import AbstractServer

from config.env import env_bool, env_int

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# What a server puts in a request's environ itself (PEP 3333 and CGI), kept even when
# a variable of the same name exists in the process environment.
_REQUEST_KEYS = frozenset(
    {
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
    }
)


def without_process_environment(
    app: WSGIApp, names: Iterable[str] | None = None
) -> WSGIApp:
    """``app`` with the process's environment variables taken out of every request.

    granian starts each request's environ from a copy of ``os.environ`` (CGI's habit),
    so ``request.META`` would hold ``DATABASE_URL`` and every other secret of the
    process, where an error report or a debugging session could show them.
    """
    process = frozenset(os.environ if names is None else names)
    dropped = tuple(
        name
        for name in process
        if name not in _REQUEST_KEYS and not name.startswith(("HTTP_", "wsgi."))
    )

    def application(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        for name in dropped:
            environ.pop(name, None)
        return app(environ, start_response)

    return application


def load_application() -> WSGIApp:
    """The served application, loaded in each worker (granian's ``factory``)."""
    from config.wsgi import application as django_application

    return without_process_environment(django_application)


def server(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    threads: int | None = None,
) -> AbstractServer[Any]:
    """The deployed server, listening on ``host:port``."""
    deployed: AbstractServer[Any] = Granian(
        "config.server:load_application",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=workers or env_int("WEB_CONCURRENCY", 2, minimum=1),
        blocking_threads=threads or env_int("WEB_THREADS", 2, minimum=1),
        log_access=env_bool("WEB_ACCESS_LOG", False),
        respawn_failed_workers=True,
        # On SIGTERM, requests in flight get this long to finish (long exports).
        workers_kill_timeout=30,
    )
    return deployed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m config.server", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, help="default: WEB_CONCURRENCY or 2")
    parser.add_argument("--threads", type=int, help="default: WEB_THREADS or 2")
    options = parser.parse_args(argv)
    server(
        host=options.host,
        port=options.port,
        workers=options.workers,
        threads=options.threads,
    ).serve()


if __name__ == "__main__":
    main()
