"""What an import did: counts, and every rejection and warning with its place."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from django.utils.translation import gettext as _

from buildings.exports import neutralise

Level = Literal["error", "warning"]
# A cell opening with one of these is run as a formula by spreadsheet software
# (reference/reliability.md F2): the report quotes values from untrusted files.
CSV_HEADER = ("level", "file", "row", "column", "reason")


@dataclass(frozen=True)
class Issue:
    """One rejection or warning. ``row`` is None for the whole file.

    Rows are numbered as a spreadsheet shows them: in CSV and XLSX files the header
    is row 1 and the first record row 2; in GeoPackage, GeoJSON and Shapefile
    layers, row 1 is the first feature.
    """

    level: Level
    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        place = self.file
        if self.row is not None:
            place += _(", row %(row)s") % {"row": self.row}
        if self.column:
            place += _(", column “%(column)s”") % {"column": self.column}
        return f"{place}: {self.reason}"


@dataclass
class ImportReport:
    file: str
    profile: str
    on_error: str
    dry_run: bool
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    sites_created: int = 0
    # True once the changes are committed (never for a dry run or a refused file).
    written: bool = False
    # The file itself is unusable (unreadable, unsafe, wrong columns): nothing is
    # written, whatever ``on_error`` says.
    refused: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run did what was asked: rejected rows fail it under "abort"."""
        if self.refused:
            return False
        return not (self.rejected and self.on_error == "abort")

    def error(self, row: int | None, column: str | None, reason: str) -> None:
        self.errors.append(Issue("error", self.file, row, column, reason))

    def warn(self, row: int | None, column: str | None, reason: str) -> None:
        self.warnings.append(Issue("warning", self.file, row, column, reason))

    def refuse(self, reason: str, *, row: int | None = None) -> None:
        """Refuse the whole file; ``row`` only says where the problem was found."""
        self.refused = True
        self.errors.append(Issue("error", self.file, row, None, reason))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the import job's stored report."""
        data = {
            name: getattr(self, name)
            for name in (
                "file", "profile", "on_error", "dry_run", "rows_read", "created",
                "updated", "unchanged", "rejected", "sites_created", "written",
                "refused",
            )
        }  # fmt: skip
        data["ok"] = self.ok
        data["errors"] = [asdict(issue) for issue in self.errors]
        data["warnings"] = [asdict(issue) for issue in self.warnings]
        return data

    def summary(self) -> str:
        note = _(" (dry run)") if self.dry_run else ""
        if self.refused:
            note = _(" (file refused: nothing written)")
        elif not self.written and not self.dry_run and self.rejected:
            note = _(" (rows rejected: nothing written)")
        counts = {
            "file": self.file,
            "profile": self.profile,
            "read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "note": note,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }
        return (
            _(
                "%(file)s (%(profile)s): %(read)d rows read; %(created)d created, "
                "%(updated)d updated, %(unchanged)d unchanged, %(rejected)d "
                "rejected%(note)s; %(errors)d errors, %(warnings)d warnings."
            )
            % counts
        )

    def to_csv(self) -> str:
        """Every error, then every warning: one line each, safe to open in a sheet."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for issue in [*self.errors, *self.warnings]:
            writer.writerow(
                [
                    issue.level,
                    neutralise(issue.file),
                    "" if issue.row is None else issue.row,
                    neutralise(issue.column or ""),
                    neutralise(issue.reason),
                ]
            )
        return buffer.getvalue()
