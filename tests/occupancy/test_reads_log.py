"""The daily copy of the reads of resident data, a hash chain outside the database
(reliability.md H3/H4): what it holds, that an altered line or an altered row is
caught, and that a read committed late is not lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from occupancy.models import ResidentAccess
from occupancy.residents.reads import (
    GENESIS,
    TAIL_BLOCK,
    ChainBroken,
    read_chain,
    read_tail,
    reads_export,
    reads_verify,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def read_at(moment: datetime, channel: str = "api:occupant.retrieve") -> int:
    access = ResidentAccess.objects.create(
        channel=channel, method="GET", occupant_ids=[7, 3]
    )
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        ResidentAccess.objects.filter(pk=access.pk).update(at=moment)
    return access.pk


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_settled_reads_are_copied_once_in_a_chain(reads_log: Path) -> None:
    first = read_at(NOW - timedelta(hours=3))
    second = read_at(NOW - timedelta(hours=2))
    fresh = read_at(NOW - timedelta(minutes=10))

    export = reads_export(now=NOW)

    assert (export.copied, export.entries) == (2, 2)
    copied = lines(reads_log)
    assert [entry["id"] for entry in copied] == [first, second]
    assert copied[0]["prev"] == GENESIS
    assert copied[1]["prev"] == copied[0]["hash"]
    assert copied[1]["hash"] == export.head
    # Ids and what was done, never a value of the rows read.
    assert set(copied[0]) == {
        *("id", "at", "user", "channel", "method", "request_id", "occupants"),
        *("prev", "hash"),
    }
    assert copied[0]["occupants"] == [7, 3]
    assert reads_export(now=NOW).copied == 0
    later = reads_export(now=NOW + timedelta(hours=1))
    assert later.copied == 1
    assert [entry["id"] for entry in lines(reads_log)] == [first, second, fresh]
    assert read_chain().head == later.head


def test_a_read_committed_late_is_copied_by_the_next_export(reads_log: Path) -> None:
    """A lower id the export did not see yet (its transaction still open, here
    not yet settled) is copied the next night, after higher ones."""
    late = read_at(NOW - timedelta(minutes=30))
    settled = read_at(NOW - timedelta(hours=2))
    assert reads_export(now=NOW).copied == 1

    tomorrow = NOW + timedelta(hours=1)
    assert reads_verify(now=tomorrow).unexported == [late]
    assert reads_export(now=tomorrow).copied == 1

    assert [entry["id"] for entry in lines(reads_log)] == [settled, late]
    verification = reads_verify(now=tomorrow)
    assert verification.ok
    assert (verification.entries, verification.pending) == (2, 0)


@pytest.fixture
def copied(reads_log: Path) -> list[int]:
    ids = [read_at(NOW - timedelta(hours=hours)) for hours in (4, 3, 2)]
    reads_export(now=NOW)
    return ids


def test_an_untouched_copy_verifies(copied: list[int]) -> None:
    read_at(NOW - timedelta(hours=2), channel="api:stay.list")  # the next export's
    verification = reads_verify(now=NOW)
    assert verification.ok
    assert (verification.entries, verification.pending) == (3, 1)
    out = StringIO()
    call_command("export_reads", "--verify", stdout=out)
    assert json.loads(out.getvalue())["entries"] == 3


def _edit(number: int) -> Callable[[list[str]], list[str]]:
    def edit(text: list[str]) -> list[str]:
        item = json.loads(text[number])
        item["channel"] = "api:nothing-to-see"
        return [*text[:number], json.dumps(item), *text[number + 1 :]]

    return edit


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (_edit(1), 2, "its content does not match its hash"),
        (lambda text: [text[0], text[2]], 2, "does not follow the line before"),
        (lambda text: [text[1], text[0], text[2]], 1, "does not follow"),
        (lambda text: [*text[:2], "{}"], 3, "not an entry of this log"),
        (lambda text: [*text, text[2]], 4, "does not follow"),
    ],
    ids=["edited", "removed", "reordered", "garbage", "repeated"],
)
def test_an_altered_copy_is_caught_at_its_first_bad_line(
    copied: list[int],
    reads_log: Path,
    change: Callable[[list[str]], list[str]],
    line: int,
    reason: str,
) -> None:
    reads_log.write_text("\n".join(change(reads_log.read_text().splitlines())) + "\n")
    altered = reads_log.read_text()
    with pytest.raises(ChainBroken) as broken:
        read_chain()
    assert broken.value.line == line
    assert reason in broken.value.reason
    with pytest.raises(CommandError, match=f"altered: line {line}: "):
        call_command("export_reads", "--verify", stdout=StringIO())
    # Nothing is added to a copy that no longer verifies.
    read_at(NOW - timedelta(hours=2))
    with pytest.raises(CommandError, match=f"line {line}"):
        call_command("export_reads", stdout=StringIO())
    assert reads_log.read_text() == altered


def test_a_copied_read_deleted_or_changed_in_the_database_is_reported(
    copied: list[int],
) -> None:
    first, second, _ = copied
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        ResidentAccess.objects.filter(pk=first).delete()
        ResidentAccess.objects.filter(pk=second).update(occupant_ids=[3])
    verification = reads_verify(now=NOW)
    assert (verification.deleted, verification.altered) == ([first], [second])
    assert not verification.ok
    with pytest.raises(CommandError, match=rf"deleted \[{first}\]"):
        call_command("export_reads", "--verify", stdout=StringIO())


def test_reads_past_their_retention_may_be_gone(reads_log: Path) -> None:
    old = read_at(NOW - timedelta(days=400))
    kept = read_at(NOW - timedelta(days=2))
    reads_export(now=NOW)
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        ResidentAccess.objects.filter(pk=old).delete()  # as the monthly purge does
    verification = reads_verify(now=NOW)
    assert verification.ok
    assert verification.entries == 2
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        ResidentAccess.objects.filter(pk=kept).delete()
    assert reads_verify(now=NOW).deleted == [kept]


def test_the_command_copies_to_the_log_it_is_given(tmp_path: Path) -> None:
    read_at(NOW - timedelta(hours=2))
    elsewhere = tmp_path / "copies" / "reads.jsonl"
    out = StringIO()
    call_command("export_reads", "--log", str(elsewhere), stdout=out)
    assert json.loads(out.getvalue())["copied"] == 1
    assert len(lines(elsewhere)) == 1


def test_a_last_line_a_crash_cut_short_is_marked_and_written_again(
    copied: list[int], reads_log: Path
) -> None:
    """A crash in the middle of a write leaves a last line without its newline:
    not an alteration (the read is still in the table). The next export only
    appends — the copy may sit on append-only storage —: it closes that line,
    marks it torn, and copies the read again."""
    whole = reads_log.read_text()
    last = read_at(NOW - timedelta(hours=2), channel="api:stay.list")
    reads_log.write_text(whole + '{"id": ' + str(last) + ', "at": "2026-')
    chain = read_chain()
    assert chain.torn
    assert len(chain.entries) == 3
    assert reads_verify(now=NOW).torn
    assert reads_export(now=NOW).copied == 1
    text = reads_log.read_text()
    assert text.startswith(whole + '{"id": ' + str(last) + ', "at": "2026-\n')
    assert text.count('{"torn": true}') == 1
    assert list(read_chain().entries) == [*copied, last]
    assert reads_verify(now=NOW).ok


def test_a_whole_last_entry_short_of_its_newline_is_kept(
    copied: list[int], reads_log: Path
) -> None:
    reads_log.write_text(reads_log.read_text().rstrip("\n"))
    assert not read_chain().torn
    later = read_at(NOW - timedelta(hours=2), channel="api:stay.list")
    assert reads_export(now=NOW).copied == 1
    assert [entry["id"] for entry in lines(reads_log)] == [*copied, later]


def test_a_torn_mark_cannot_stand_for_a_line_taken_out(
    copied: list[int], reads_log: Path
) -> None:
    """The chain goes on from the line before a marked line: removing a line and
    leaving a mark in its place still breaks it."""
    text = reads_log.read_text().splitlines()
    reads_log.write_text(
        "\n".join([text[0], "garbage", '{"torn": true}', text[2]]) + "\n"
    )
    with pytest.raises(ChainBroken) as broken:
        read_chain()
    assert (broken.value.line, broken.value.reason) == (
        4,
        "does not follow the line before",
    )
    reads_log.write_text("\n".join([text[0], '{"torn": true}', *text[1:]]) + "\n")
    with pytest.raises(ChainBroken, match="line 2: marks no torn line"):
        read_chain()


def month_old_reads(count: int) -> list[ResidentAccess]:
    """``count`` reads of a month ago, in one INSERT and one UPDATE."""
    old = ResidentAccess.objects.bulk_create(
        ResidentAccess(channel="api:stay.list", method="GET", occupant_ids=[n])
        for n in range(count)
    )
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        ResidentAccess.objects.filter(pk__in=[row.pk for row in old]).update(
            at=NOW - timedelta(days=30)
        )
    return old


def test_the_nightly_export_reads_the_end_of_the_copy_only(reads_log: Path) -> None:
    """A copy grows for ever: the export reads back from its end to an entry
    two days older than the newest (``read_tail``), never its early lines. An
    edit there, which only a whole reading sees, goes unnoticed by the export
    and is caught by ``--verify``."""
    old = month_old_reads(600)
    recent = read_at(NOW - timedelta(hours=3))
    reads_export(now=NOW)
    text = reads_log.read_text().splitlines()
    assert len(text) == 601
    assert reads_log.stat().st_size > 2 * TAIL_BLOCK  # far beyond the first block
    reads_log.write_text("\n".join([text[0], *_edit(1)(text)[1:]]) + "\n")

    late = read_at(NOW - timedelta(hours=2), channel="api:occupant.retrieve")
    export = reads_export(now=NOW)

    assert export.copied == 1
    assert export.entries is None  # not read whole: not counted
    assert [entry["id"] for entry in lines(reads_log)[-2:]] == [recent, late]
    tail = read_tail()
    assert not tail.whole
    assert old[1].pk not in tail.entries
    assert {recent, late} <= set(tail.entries)
    assert tail.head == export.head
    with pytest.raises(ChainBroken) as broken:
        reads_verify(now=NOW)
    assert (broken.value.line, broken.value.offset) == (2, 0)
    with pytest.raises(CommandError, match="altered: line 2: its content"):
        call_command("export_reads", "--verify", stdout=StringIO())


def test_an_edit_near_the_end_stops_the_export_at_its_byte_offset(
    reads_log: Path,
) -> None:
    """What the export reads it still verifies: an edited recent line, even in
    a copy too long to read whole, refuses the export, and the error says
    where the line is (a line counted from a byte offset of the file)."""
    month_old_reads(600)
    for hours in (4, 3, 2):
        read_at(NOW - timedelta(hours=hours))
    reads_export(now=NOW)
    text = reads_log.read_text().splitlines()
    reads_log.write_text("\n".join(_edit(len(text) - 2)(text)) + "\n")
    before = reads_log.read_text()
    read_at(NOW - timedelta(hours=2))
    with pytest.raises(ChainBroken) as broken:
        reads_export(now=NOW)
    # The anchor is the last old entry (line 1 from its offset); the edited
    # line is the second of the three recent ones.
    assert broken.value.reason == "its content does not match its hash"
    assert broken.value.line == 3
    assert broken.value.offset == len("\n".join(text[:599])) + 1
    assert reads_log.read_text() == before
