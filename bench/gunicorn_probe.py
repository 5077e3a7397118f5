"""gunicorn configuration of the TCP_NODELAY probe run (bench/http.py).

Records, once per worker, whether the accepted client socket has TCP_NODELAY and
whether the response keeps the connection alive, and, at start, the listener's own
setting. Used for a short separate run; the measured server runs without it.
"""

import json
import os
import runpy
import socket
from pathlib import Path

# The deployed settings, with the probe's hooks on top.
_deployed = runpy.run_path(
    str(Path(__file__).resolve().parent.parent / "config" / "gunicorn_conf.py")
)
globals().update({k: v for k, v in _deployed.items() if not k.startswith("__")})

_seen: set[int] = set()


def _record(entry: dict[str, object]) -> None:
    with open(os.environ["BENCH_PROBE_FILE"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def when_ready(server):  # type: ignore[no-untyped-def]
    for listener in server.LISTENERS:
        sock = listener.sock
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            _record({"listener": str(listener), "nodelay": value})


def post_request(worker, req, environ, resp):  # type: ignore[no-untyped-def]
    if worker.pid in _seen:
        return
    _seen.add(worker.pid)
    value = resp.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    _record(
        {
            "worker": worker.pid,
            "worker_class": type(worker).__name__,
            "accepted_socket_nodelay": value,
            "keep_alive": not resp.should_close(),
        }
    )
