"""Streamed responses (the exports) that cannot pass for complete when the
database fails half-way.

A streamed response's status and headers leave with its first bytes: a
statement timeout or a lost connection after them can no longer become the 503
the same error gets before (config/middleware.py). So ``primed``

- runs the stream up to its first chunk while the view still runs: the query
  starts and its first rows are fetched then, so that an error there is a 503,
  not a 200 with a cut file (each export yields its first bytes only after its
  first rows);
- logs a later database error and raises it again: granian then closes the
  connection without the last chunk of the chunked encoding, which HTTP clients
  report as an incomplete transfer (curl: "transfer closed with outstanding
  read data remaining"; Python: ``IncompleteRead``) rather than a clean end
  (tests/config/test_server.py checks it against the deployed server).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from django.db import DatabaseError

logger = logging.getLogger(__name__)


def primed(chunks: Iterable[bytes], *, name: str) -> Iterator[bytes]:
    """``chunks`` with its first chunk already read (an error raises here);
    ``name`` says which export the log line is about."""
    stream = iter(chunks)
    first = next(stream, b"")

    def rest() -> Iterator[bytes]:
        sent = len(first)
        try:
            yield first
            for chunk in stream:
                yield chunk
                sent += len(chunk)
        except DatabaseError:
            logger.error(
                "%s cut short by a database error after %d bytes: the "
                "connection is closed without the last chunk",
                name,
                sent,
                exc_info=True,
            )
            raise

    return _Primed(rest(), stream)


class _Primed(Iterator[bytes]):
    """The primed stream, whose ``close`` (the response's, when the server is done
    with it or the client hangs up) also closes the export under it: its
    transaction ends now, not when the garbage collector gets to it, even when the
    response was never read (closing a generator that has not started runs none
    of its code)."""

    def __init__(self, rest: Iterator[bytes], export: Iterator[bytes]) -> None:
        self._rest = rest
        self._export = export

    def __next__(self) -> bytes:
        return next(self._rest)

    def close(self) -> None:
        for part in (self._rest, self._export):
            close = getattr(part, "close", None)
            if close is not None:
                close()
