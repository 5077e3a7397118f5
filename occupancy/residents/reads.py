"""The log of reads of resident data, copied out of the database every day as a hash
chain (reliability.md H3 and H4; CNIL délibération 2021-122: logs kept segregated
and write-only, their alteration detectable).

``reads_export`` appends the reads not yet copied to ``RESIDENT_READS_LOG``, one
JSON line each — ids, time, channel, never a pseudonym or a value — carrying the
SHA-256 of the previous line's hash and its own content, so that editing,
removing or reordering a line breaks every hash after it. The export reads
only the copy's end (``read_tail``): what it must know, the chain's head and the
reads copied lately, is there, and the copy grows for ever. ``reads_verify``
recomputes the chain, then compares it with the table: a copied read that the
database no longer has although its retention has not run out (deleted), one
whose row changed (altered), and a settled row never copied (unexported) are
each reported by id.

What a chain cannot show by itself is its own tail cut off: each export prints
the chain's head, which the job log keeps; compare it with the file's.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone

from occupancy.models import ResidentAccess
from occupancy.rules import add_months, rules

GENESIS = "0" * 64
# A read younger than this waits for the next export: the transaction that wrote
# a lower id may still be open (web requests are bounded by their timeouts).
SETTLE = timedelta(hours=1)
# Reads at most this much older than the newest one copied are looked at again:
# a lower id that committed after an export is copied by the next one.
LATE = timedelta(days=1)
ENTRY_KEYS = ("id", "at", "user", "channel", "method", "request_id", "occupants")
NOT_AN_ENTRY = "not an entry of this log"
# Written after a line a crash cut short: the copy is only ever appended to.
TORN = b'{"torn": true}\n'


# The export reads the copy from its end, a block at a time (doubling).
TAIL_BLOCK = 64 * 1024


class ChainBroken(ValueError):
    """The copy was altered: ``line`` is the first line that does not verify,
    counted from the start of the file, or, when only its end was read, from
    the line starting at byte ``offset``."""

    def __init__(self, line: int, reason: str, *, offset: int = 0) -> None:
        where = f"line {line}" if not offset else f"line {line} from byte {offset}"
        super().__init__(f"{where}: {reason}")
        self.line = line
        self.reason = reason
        self.offset = offset


class Copied(NamedTuple):
    """What the check needs of a copied read: its time, and a fingerprint of its
    content (a year of copies is held in memory: 32 bytes, not the entry)."""

    at: str
    fingerprint: bytes


@dataclass
class Chain:
    head: str = GENESIS
    entries: dict[int, Copied] = field(default_factory=dict)
    newest: datetime | None = None
    # The last line has no newline: a write a crash cut short ("torn", left out:
    # its read is still in the table and is copied again), or a whole entry
    # short of its newline ("unterminated", kept).
    torn: bool = False
    unterminated: bool = False
    # Read from the file's first line (else from a line near its end).
    whole: bool = True


def _entry(row: ResidentAccess) -> dict[str, Any]:
    return {
        "id": row.pk,
        "at": row.at.isoformat(),
        "user": row.user_id,
        "channel": row.channel,
        "method": row.method,
        "request_id": row.request_id,
        "occupants": list(row.occupant_ids),
    }


def _hashes(previous: str, entry: dict[str, Any]) -> tuple[str, Copied]:
    """The chain's hash of ``entry`` after ``previous``, and what the check keeps
    of it: its content is serialised once for both."""
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(previous.encode() + body).hexdigest()
    return digest, Copied(entry["at"], hashlib.sha256(body).digest())


def _add(chain: Chain, pk: int, digest: str, copy: Copied) -> None:
    chain.head = digest
    chain.entries[pk] = copy


def _path(path: Path | None) -> Path:
    return Path(path or settings.RESIDENT_READS_LOG)


def _line(
    chain: Chain, number: int, raw: bytes
) -> tuple[dict[str, Any], datetime, str, Copied]:
    """The entry ``raw`` holds, verified against ``chain``; ChainBroken if not."""
    try:
        item = json.loads(raw)
        entry = {key: item[key] for key in ENTRY_KEYS}
        previous, digest = item["prev"], item["hash"]
        at = datetime.fromisoformat(entry["at"])
    except (ValueError, KeyError, TypeError):
        raise ChainBroken(number, NOT_AN_ENTRY) from None
    if set(item) != {*ENTRY_KEYS, "prev", "hash"}:
        raise ChainBroken(number, NOT_AN_ENTRY)
    if previous != chain.head:
        raise ChainBroken(number, "does not follow the line before")
    expected, copy = _hashes(previous, entry)
    if digest != expected:
        raise ChainBroken(number, "its content does not match its hash")
    if entry["id"] in chain.entries:
        raise ChainBroken(number, f"read {entry['id']} is already copied")
    return entry, at, digest, copy


def read_chain(path: Path | None = None) -> Chain:
    """The copy, every line verified against the one before; ChainBroken at the
    first that does not. A missing file is an empty chain.

    A line the export marked torn (``TORN``, written after a line a crash cut
    short) is passed over with that line: the chain goes on from the line
    before, so a marker cannot hide a line taken out.
    """
    chain = Chain()
    log = _path(path)
    if not log.exists():
        return chain
    with log.open("rb") as lines:
        _follow(chain, lines)
    return chain


def read_tail(path: Path | None = None) -> Chain:
    """The end of the copy, verified as ``read_chain`` verifies it whole: what
    the export needs, read in a time that does not grow with the file.

    The end read reaches back to an entry older by 2 × LATE than the newest
    one after it (the whole file when there is none), verified from that
    entry's ``prev`` on. Its ``entries`` then hold every copied read as recent
    as the newest less LATE, all the export looks at again: a line is copied
    by an export that takes reads from the newest copied before it less LATE,
    so a line older by more than LATE than one before it cannot exist, and
    none before the chosen entry can be that recent.
    """
    log = _path(path)
    if not log.exists():
        return Chain()
    with log.open("rb") as file:
        size = file.seek(0, os.SEEK_END)
        block = TAIL_BLOCK
        while True:
            start = max(0, size - block)
            file.seek(start)
            data = file.read(size - start)
            block *= 2
            if start:
                # The block's first piece may be the end of a line: left out.
                cut = data.find(b"\n") + 1
                if not cut:
                    continue  # a block within one line
                start, data = start + cut, data[cut:]
            lines = data.splitlines(keepends=True)
            anchor = _anchor(lines)
            if anchor is not None or start == 0:
                break
    if start == 0 or anchor is None:  # the whole file is in ``lines``
        chain = Chain()
        _follow(chain, lines)
        return chain
    offset = start + sum(len(line) for line in lines[:anchor])
    chain = Chain(head=json.loads(lines[anchor])["prev"], whole=False)
    _follow(chain, lines[anchor:], offset=offset)
    return chain


def _anchor(lines: list[bytes]) -> int | None:
    """The index of the last entry of ``lines`` older by 2 × LATE than the
    newest entry after it, or None."""
    newest: datetime | None = None
    for index in range(len(lines) - 1, -1, -1):
        try:
            item = json.loads(lines[index])
            at = datetime.fromisoformat(item["at"])
        except (ValueError, KeyError, TypeError):
            continue
        if not isinstance(item.get("prev"), str):
            continue
        if newest is not None and at < newest - 2 * LATE:
            return index
        newest = at if newest is None else max(newest, at)
    return None


def _follow(chain: Chain, lines: Iterable[bytes], *, offset: int = 0) -> None:
    """Verify ``lines`` after ``chain``'s head and add them to it; ChainBroken
    at the first that does not verify (numbered from ``offset``'s line)."""
    broken: int | None = None
    for number, raw in enumerate(lines, start=1):
        if raw == TORN:
            if broken is None:
                raise ChainBroken(number, "marks no torn line", offset=offset)
            broken = None
            continue
        if broken is not None:
            raise ChainBroken(broken, NOT_AN_ENTRY, offset=offset)
        last = not raw.endswith(b"\n")
        try:
            entry, at, digest, copy = _line(chain, number, raw)
        except ChainBroken as error:
            if error.reason != NOT_AN_ENTRY:
                raise ChainBroken(number, error.reason, offset=offset) from None
            if last:
                chain.torn = True
                break
            # A torn line the export marked, if the next line is its marker.
            broken = number
            continue
        chain.unterminated = last
        _add(chain, entry["id"], digest, copy)
        chain.newest = at if chain.newest is None else max(chain.newest, at)
    if broken is not None:
        raise ChainBroken(broken, NOT_AN_ENTRY, offset=offset)


@dataclass(frozen=True)
class ReadsExport:
    copied: int
    # The copy's entries when the export read it whole (a short copy); None
    # otherwise: counting them means reading it all, as --verify does.
    entries: int | None
    head: str


def reads_export(
    *, path: Path | None = None, now: datetime | None = None
) -> ReadsExport:
    """Append the settled reads not yet copied, in id order, each flushed to disk.
    Refuses (ChainBroken) to extend a copy whose end no longer verifies; only
    its end is read (``read_tail``), so a night's export costs the same
    whatever the size of the copy (``reads_verify`` reads it whole)."""
    log = _path(path)
    log.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    # Appends only (the copy may sit on append-only storage), one export at a
    # time: two from the same head would fork the chain for good.
    with log.open("ab") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        chain = read_tail(log)
        if chain.torn:
            out.write(b"\n" + TORN)
        elif chain.unterminated:
            out.write(b"\n")
        settled = (now or timezone.now()) - SETTLE
        rows = ResidentAccess.objects.filter(at__lt=settled).order_by("pk")
        if chain.newest is not None:
            rows = rows.filter(at__gte=chain.newest - LATE)
        for row in rows.iterator():
            if row.pk in chain.entries:
                continue
            entry = _entry(row)
            digest, copy = _hashes(chain.head, entry)
            line = {**entry, "prev": chain.head, "hash": digest}
            out.write(json.dumps(line).encode() + b"\n")
            _add(chain, row.pk, digest, copy)
            copied += 1
        out.flush()
        os.fsync(out.fileno())
    entries = len(chain.entries) if chain.whole else None
    return ReadsExport(copied=copied, entries=entries, head=chain.head)


@dataclass(frozen=True)
class ReadsVerification:
    entries: int
    head: str
    # Copied reads whose row is gone before its retention ran out, or changed.
    deleted: list[int]
    altered: list[int]
    # Settled reads the copy skipped although it holds later ones (a late commit
    # shows here until the next export copies it).
    unexported: list[int]
    # Settled reads after the last copied one: the next export's.
    pending: int
    # The copy ends with a line a crash cut short: the next export marks it.
    torn: bool = False

    @property
    def ok(self) -> bool:
        return not (self.deleted or self.altered or self.unexported)


def reads_verify(
    *, path: Path | None = None, today: date | None = None, now: datetime | None = None
) -> ReadsVerification:
    """The copy's chain (ChainBroken if it does not verify) against the table."""
    chain = read_chain(path)
    today = today or timezone.localdate()
    # The purge may have deleted what is older than the retention (purge_residents).
    cutoff = add_months(today, -rules().access_log_retention_months)
    first_kept = timezone.make_aware(datetime.combine(cutoff, time.min))
    settled = (now or timezone.now()) - SETTLE
    rows = {
        row.pk: _hashes("", _entry(row))[1].fingerprint
        for row in ResidentAccess.objects.filter(at__lt=settled).iterator()
    }
    deleted = [
        pk
        for pk, copy in chain.entries.items()
        if pk not in rows and datetime.fromisoformat(copy.at) >= first_kept
    ]
    altered = [
        pk
        for pk, copy in chain.entries.items()
        if pk in rows and rows[pk] != copy.fingerprint
    ]
    last = max(chain.entries, default=0)
    uncopied = [pk for pk in rows if pk not in chain.entries]
    return ReadsVerification(
        entries=len(chain.entries),
        head=chain.head,
        deleted=sorted(deleted),
        altered=sorted(altered),
        unexported=sorted(pk for pk in uncopied if pk < last),
        pending=sum(1 for pk in uncopied if pk > last),
        torn=chain.torn,
    )
