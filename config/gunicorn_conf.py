"""gunicorn settings of the web tier: the Dockerfile, docker-compose.yml and the
benchmarks (bench/http.py) all serve with this file, so that what is measured is
what is deployed.

- Threaded workers (gthread): a worker keeps client connections alive between
  requests (the sync worker answers ``Connection: close`` and every request pays a
  new TCP connection), and a request waiting on PostgreSQL leaves the worker's
  other threads to serve.
- TCP_NODELAY is set by gunicorn on every socket it serves (gunicorn/sock.py), so
  keep-alive responses never stall 40 ms on delayed ACKs (performance.md §4.1).
- Workers: ``--workers`` or ``WEB_CONCURRENCY`` (gunicorn reads it), 2 by default:
  one per core of the reference machine; the database takes the rest of the CPU.
"""

import os

wsgi_app = "config.wsgi:application"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4
keepalive = 5
# Long exports stream for minutes; the request-level limit is the proxy's.
timeout = 120
accesslog = "-"
