"""config.streams.primed: the first chunk read in the view, the export closed with
the response."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse

from config.streams import primed


def test_the_export_is_closed_with_a_response_nobody_read() -> None:
    """Found by review: closing the response closed only the wrapper, a generator
    not started yet, so the export under it (a transaction and a server-side
    cursor) stayed open until the garbage collector came (a HEAD request, a
    client gone before the first byte)."""
    events: list[str] = []

    def export() -> Iterator[bytes]:
        try:
            events.append("query")
            yield b"first"
            yield b"second"
        finally:
            events.append("closed")

    exports = export()  # kept: no garbage collection can close it for us
    response = StreamingHttpResponse(primed(exports, name="/export"))
    assert events == ["query"]  # the first chunk is read in the view
    response.close()
    assert events == ["query", "closed"]


def test_a_stream_read_to_its_end_gives_every_chunk_and_closes_once() -> None:
    events: list[str] = []

    def export() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("closed")

    response = StreamingHttpResponse(primed(export(), name="/export"))
    assert b"".join(response.streaming_content) == b"ab"  # type: ignore[arg-type]
    response.close()
    assert events == ["closed"]
