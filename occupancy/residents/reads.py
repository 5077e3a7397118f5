"""The log of reads of resident data, copied out of the database every day as a hash
chain (reliability.md H3 and H4; CNIL délibération 2021-122: logs kept segregated
and write-only, their alteration detectable).

``reads_export`` appends the reads not yet copied to ``RESIDENT_READS_LOG``, one
JSON line each — ids, time, channel, never a pseudonym or a value — carrying the
SHA-256 of the previous line's hash and its own content, so that editing,
removing or reordering a line breaks every hash after it. ``reads_verify``
recomputes the chain, then compares it with the table: a copied read that the
database no longer has although its retention has not run out (deleted), one
whose row changed (altered), and a settled row never copied (unexported) are
each reported by id.

What a chain cannot show by itself is its own tail cut off: each export prints
the chain's head, which the job log keeps; compare it with the file's.
"""

from __future__ import annotations

import hashlib
import json
import os
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


class ChainBroken(ValueError):
    """The copy was altered: ``line`` is the first line that does not verify."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


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
    # Bytes of whole lines: a last line without its newline is a write a crash
    # cut short, left out (its read is still in the table: the export copies it
    # again, after cutting the file back to here).
    length: int = 0
    torn: bool = False


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


def _body(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def _digest(previous: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((previous + _body(entry)).encode()).hexdigest()


def _copied(entry: dict[str, Any]) -> Copied:
    return Copied(entry["at"], hashlib.sha256(_body(entry).encode()).digest())


def _path(path: Path | None) -> Path:
    return Path(path or settings.RESIDENT_READS_LOG)


def read_chain(path: Path | None = None) -> Chain:
    """The copy, every line verified against the one before; ChainBroken at the
    first that does not. A missing file is an empty chain."""
    chain = Chain()
    log = _path(path)
    if not log.exists():
        return chain
    with log.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.endswith(b"\n"):
                chain.torn = True
                break
            try:
                item = json.loads(raw)
                entry = {key: item[key] for key in ENTRY_KEYS}
                previous, digest = item["prev"], item["hash"]
                at = datetime.fromisoformat(entry["at"])
            except (ValueError, KeyError, TypeError):
                raise ChainBroken(number, "not an entry of this log") from None
            if set(item) != {*ENTRY_KEYS, "prev", "hash"}:
                raise ChainBroken(number, "not an entry of this log")
            if previous != chain.head:
                raise ChainBroken(number, "does not follow the line before")
            if digest != _digest(previous, entry):
                raise ChainBroken(number, "its content does not match its hash")
            if entry["id"] in chain.entries:
                raise ChainBroken(number, f"read {entry['id']} is already copied")
            chain.head = digest
            chain.entries[entry["id"]] = _copied(entry)
            chain.newest = at if chain.newest is None else max(chain.newest, at)
            chain.length += len(raw)
    return chain


@dataclass(frozen=True)
class ReadsExport:
    copied: int
    entries: int
    head: str


def reads_export(
    *, path: Path | None = None, now: datetime | None = None
) -> ReadsExport:
    """Append the settled reads not yet copied, in id order, each flushed to disk.
    Refuses (ChainBroken) to extend a copy that no longer verifies."""
    log = _path(path)
    chain = read_chain(log)
    settled = (now or timezone.now()) - SETTLE
    rows = ResidentAccess.objects.filter(at__lt=settled).order_by("pk")
    if chain.newest is not None:
        rows = rows.filter(at__gte=chain.newest - LATE)
    copied = 0
    log.parent.mkdir(parents=True, exist_ok=True)
    if chain.torn:
        with log.open("r+b") as torn:
            torn.truncate(chain.length)
    with log.open("a", encoding="utf-8") as out:
        for row in rows.iterator():
            if row.pk in chain.entries:
                continue
            entry = _entry(row)
            digest = _digest(chain.head, entry)
            out.write(json.dumps({**entry, "prev": chain.head, "hash": digest}) + "\n")
            chain.head = digest
            chain.entries[row.pk] = _copied(entry)
            copied += 1
        out.flush()
        os.fsync(out.fileno())
    return ReadsExport(copied=copied, entries=len(chain.entries), head=chain.head)


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
        row.pk: _copied(_entry(row)).fingerprint
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
    )
