"""The import pipeline: stage the file → read every row → validate every row →
only then write, in one transaction, with bulk statements.

Writing is an upsert on Building.inventory_id: keys not stored yet are COPied
into the table, stored ones (locked) updated from a staging table. Each row's
normalised values are fingerprinted (sha256); a row whose fingerprint is the
stored one is unchanged and not written at all, so a re-import of the same file
changes no row, not even ``updated_at``.

Where 200,000 DIE rows go (2 cores, 37 s): reading and checking 11 s (Python),
lookups and sites 2 s, COPY 15 s (the server inserting and indexing, while the
rows are made here), the statement triggers on buildings_building 6 s (clusters
and stored features), deferred foreign keys at commit 3 s.
"""

from __future__ import annotations

import contextlib
import gc
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pghistory
import psycopg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.gis.db.models import GeometryField
from django.contrib.postgres.fields import ArrayField
from django.db import DatabaseError, connection, transaction
from django.db.models import Field
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from buildings import suitability
from buildings.geometry import STORAGE_SRID
from buildings.importers import files, readers
from buildings.importers.base import (
    Candidate,
    FileContext,
    Profile,
    SiteSpec,
    fingerprint,
)
from buildings.importers.cnig import CnigFrichesProfile
from buildings.importers.die import DieProfile
from buildings.importers.files import FileRefused
from buildings.importers.generic import GenericProfile
from buildings.importers.report import ImportReport
from buildings.importers.shapes import Coordinates, Projection
from buildings.importers.values import RowIssues
from buildings.models import Building, Commune, Department
from buildings.reference import flag_points_outside_commune
from config.errors import DomainError
from config.forms import PERIOD_FIRST_DAY

PROFILES = ("die", "cnig-friches", "generic")
ON_ERROR = ("abort", "skip")
# Keys per lookup query: 20,000 rows take two, and statements stay modest.
LOOKUP_SIZE = 10_000
# Rows between two progress reports, while reading and while copying.
PROGRESS_EVERY = 500
COPY_PROGRESS_EVERY = 2000
STAGING = "buildings_import_staging"
SITE_LOOKUP = """
    SELECT id, code, designation, commune_id FROM buildings_site WHERE code = ANY(%s)
"""
SITE_UPSERT = """
    INSERT INTO buildings_site (code, designation, commune_id, created_at)
    SELECT code, designation, commune_id, now()
    FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[])
        AS rows (code, designation, commune_id)
    ON CONFLICT (code) DO UPDATE
    SET designation = EXCLUDED.designation, commune_id = EXCLUDED.commune_id
    RETURNING id, code
"""
# An 8-digit date in a file name (parc_immobilier_etat_20231231.csv).
NAME_DATE = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})([01][0-9])([0-3][0-9])(?![0-9])")
# Fields every write sets, besides the ones a profile reads from the file.
BOOKKEEPING = ("site", "source", "source_vintage", "source_fingerprint", "updated_at")
# What a lookup needs from a stored building to decide and to score.
EXISTING_FIELDS = (
    "inventory_id", "source", "source_vintage", "source_fingerprint",
    "is_confidential", *sorted(suitability.INPUT_FIELDS),
)  # fmt: skip

Progress = Callable[[str, int, "int | None"], None]
User = AbstractBaseUser | AnonymousUser
T = TypeVar("T")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile: an import makes no reference
    cycles worth collecting, and reference counting frees the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# The candidates of a large file stay alive until the write: each full collection
# walked all of them again (6 s of a 200,000-row import).
@_collector_paused()
def import_file(
    path: Path | str,
    *,
    profile: str,
    on_error: str = "abort",
    dry_run: bool = False,
    srid: int | None = None,
    mapping: Mapping[str, str] | None = None,
    vintage: date | str | None = None,
    by: User | None = None,
    progress: Progress | None = None,
    file_name: str | None = None,
    layer: str | None = None,
    where: str | None = None,
) -> ImportReport:
    """Import ``path`` with ``profile``; problems are in the report, not raised.

    ``on_error="abort"`` writes nothing when a row is rejected; ``"skip"`` writes
    the valid rows. ``dry_run`` does everything, writes included, then rolls
    back. ``file_name`` is the name shown in the report (an upload's own name);
    it also gives the vintage when it holds a date (…20231231…). ``layer`` and
    ``where`` (an OGR SQL filter, for whoever runs the command: never from a
    request) choose what a GeoPackage, GeoJSON or Shapefile import reads.
    """
    if profile not in PROFILES:
        raise DomainError(
            _("Unknown format “%(profile)s”.") % {"profile": profile}, field="profile"
        )
    if on_error not in ON_ERROR:
        raise DomainError(
            _("on_error is “abort” or “skip”, not “%(value)s”.") % {"value": on_error},
            field="on_error",
        )
    if isinstance(vintage, str):
        # Job options travel as JSON: the vintage comes back as text.
        try:
            vintage = date.fromisoformat(vintage)
        except ValueError as error:
            raise DomainError(
                _("The vintage is a date, YYYY-MM-DD."), field="vintage"
            ) from error
    path = Path(path)
    name = file_name or path.name
    report = ImportReport(
        file=name, profile=profile, on_error=on_error, dry_run=dry_run
    )
    notify = progress or _silent
    try:
        chosen = _profile(profile, mapping)
        context = FileContext(
            name=name,
            report=report,
            vintage=vintage or _vintage_from_name(name),
            today=timezone.localdate(),
            communes=frozenset(Commune.objects.values_list("code", flat=True)),
            departments=frozenset(Department.objects.values_list("code", flat=True)),
        )
        if chosen.vintage_required and context.vintage is None:
            raise FileRefused(
                _(
                    "Give the inventory's vintage, the day it describes (the vintage "
                    "field, or --vintage): its date_de_reference column is not "
                    "reliable."
                )
            )
        # A vintage after today locked its rows: an older vintage never overwrites
        # a newer one, so every later (real) vintage was ignored for them.
        if context.vintage is not None and not (
            PERIOD_FIRST_DAY <= context.vintage <= context.today
        ):
            raise FileRefused(
                _(
                    "The vintage (%(date)s) is the day the inventory describes: "
                    "from %(first)s to today."
                )
                % {"date": context.vintage, "first": PERIOD_FIRST_DAY}
            )
        with tempfile.TemporaryDirectory(prefix="intercalaire-import-") as directory:
            staged = files.stage(
                path,
                name=name,
                directory=Path(directory),
                max_bytes=settings.IMPORT_MAX_BYTES,
            )
            if staged.kind not in chosen.kinds:
                raise FileRefused(
                    _("The “%(profile)s” format does not read %(kind)s files.")
                    % {"profile": profile, "kind": staged.kind}
                )
            candidates = _validate(
                staged,
                chosen,
                context,
                srid=srid,
                layer=layer,
                where=where,
                notify=notify,
            )
    except FileRefused as refusal:
        report.refuse(refusal.message, row=refusal.row)
        return report
    if report.rejected and on_error == "abort":
        return report
    _write(report, candidates, chosen, context, dry_run=dry_run, by=by, notify=notify)
    return report


def _profile(name: str, mapping: Mapping[str, str] | None) -> Profile:
    if name == "die":
        return DieProfile()
    if name == "cnig-friches":
        return CnigFrichesProfile()
    return GenericProfile(mapping)


def _vintage_from_name(name: str) -> date | None:
    match = NAME_DATE.search(Path(name).name)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _silent(phase: str, done: int, total: int | None) -> None:
    return None


# --- Reading and validating
def _validate(
    staged: files.StagedFile,
    profile: Profile,
    context: FileContext,
    *,
    srid: int | None,
    layer: str | None,
    where: str | None,
    notify: Progress,
) -> list[Candidate]:
    """Every row normalised; the report holds every rejection and warning."""
    report = context.report
    table = readers.read(
        staged,
        delimiter=profile.delimiter,
        layer=layer or (profile.layer if staged.kind == "gpkg" else None),
        where=where,
        only=profile.reads,
    )
    profile.prepare(table, context)
    for note in table.notes:
        context.report.warn(table.header_row, None, note)
    projection, warning = Projection.for_file(
        declared=table.srs, srid=srid, kind=staged.kind
    )
    context.projection = projection
    if warning:
        report.warn(None, None, warning)
    if not context.communes:
        report.warn(
            None, None, _("No communes are loaded: rows are not linked to any.")
        )
    if not context.departments:
        report.warn(
            None, None, _("No départements are loaded: rows are not linked to any.")
        )
    candidates: list[Candidate] = []
    rows_by_key: dict[str, list[int]] = defaultdict(list)
    rejected: set[int] = set()
    notify("reading", 0, table.total)
    for row in table.rows:
        report.rows_read += 1
        issues = RowIssues(errors=list(row.problems))
        key = profile.key(row)
        if key is not None:
            rows_by_key[key].append(row.number)
        candidate = profile.normalise(row, issues, context)
        for column, reason in issues.warnings:
            report.warn(row.number, column, reason)
        if issues.errors:
            for column, reason in issues.errors:
                report.error(row.number, column, reason)
            rejected.add(row.number)
        elif candidate is not None:
            candidate.fingerprint = fingerprint(
                candidate, profile=profile.name, vintage=context.vintage
            )
            candidates.append(candidate)
        if report.rows_read % PROGRESS_EVERY == 0:
            notify("reading", report.rows_read, table.total)
    notify("reading", report.rows_read, table.total)
    if report.rows_read == 0:
        raise FileRefused(_("The file has no rows to import."))
    # Two rows claiming one building: neither is trusted over the other.
    duplicated: set[int] = set()
    for key, numbers in rows_by_key.items():
        if len(numbers) < 2:
            continue
        for number in numbers:
            others = ", ".join(str(other) for other in numbers if other != number)
            report.error(
                number,
                profile.key_column,
                _("The identifier “%(key)s” is also on row %(rows)s.")
                % {"key": key, "rows": others},
            )
            duplicated.add(number)
    rejected |= duplicated
    report.rejected = len(rejected)
    return [candidate for candidate in candidates if candidate.row not in duplicated]


# --- Writing
def _write(
    report: ImportReport,
    candidates: list[Candidate],
    profile: Profile,
    context: FileContext,
    *,
    dry_run: bool,
    by: User | None,
    notify: Progress,
) -> None:
    user_id = by.pk if by is not None and by.is_authenticated else None
    try:
        with (
            transaction.atomic(),
            pghistory.context(
                import_file=report.file, import_profile=profile.name, user=user_id
            ),
        ):
            _upsert(report, candidates, profile, context, notify=notify)
            if dry_run:
                transaction.set_rollback(True)
    except (DatabaseError, psycopg.Error) as error:
        # Validation mirrors the constraints, so this is a bug or a race; either
        # way the transaction is gone and nothing was written. (COPY runs on the
        # psycopg cursor, whose errors Django does not wrap.)
        report.created = report.updated = report.unchanged = 0
        report.refuse(
            _("The database refused the import, nothing was written: %(error)s")
            % {"error": str(error).splitlines()[0] if str(error) else error}
        )
        return
    report.written = not dry_run


def _upsert(
    report: ImportReport,
    candidates: list[Candidate],
    profile: Profile,
    context: FileContext,
    *,
    notify: Progress,
) -> None:
    existing = _existing([candidate.key for candidate in candidates])
    to_write: list[tuple[Candidate, dict[str, Any] | None]] = []
    for candidate in candidates:
        stored = existing.get(candidate.key)
        if stored is None:
            to_write.append((candidate, None))
            report.created += 1
        elif stored["source_fingerprint"] == candidate.fingerprint:
            report.unchanged += 1
        elif _newer_vintage(stored, profile, context.vintage):
            report.unchanged += 1
            report.warn(
                candidate.row,
                profile.key_column,
                _("Not updated: the stored row comes from a newer vintage (%(date)s).")
                % {"date": stored["source_vintage"]},
            )
        else:
            to_write.append((candidate, stored))
            report.updated += 1
    site_ids = _upsert_sites(report, [pair[0] for pair in to_write])
    if to_write:
        _copy_buildings(to_write, site_ids, profile, context, notify=notify)
        _flag_outside_commune(report, [candidate for candidate, _ in to_write])


def _flag_outside_commune(report: ImportReport, written: list[Candidate]) -> None:
    """Flag, as the API does, the written buildings whose point lies outside their
    declared commune's boundary, and say so in the report, row by row."""
    rows = {candidate.key: candidate.row for candidate in written}
    flagged = flag_points_outside_commune(
        queryset=Building.objects.filter(
            inventory_id__in=RawSQL("SELECT unnest(%s::text[])", (list(rows),))
        )
    )
    for key, commune in sorted(flagged, key=lambda pair: rows[pair[0]]):
        report.warn(
            rows[key],
            None,
            _(
                "The point lies outside the boundary of its declared commune "
                "(%(commune)s): the building is flagged."
            )
            % {"commune": commune},
        )


def _existing(keys: list[str]) -> dict[str, dict[str, Any]]:
    """What EXISTING_FIELDS says of the stored buildings with these keys, by key.

    Locked: a building edited meanwhile would otherwise be scored from stale
    values, or lose the edit. One array parameter per query, not one placeholder
    per key (psycopg spent longer rewriting 10,000 placeholders than the server
    spent answering)."""
    columns = ", ".join(connection.ops.quote_name(name) for name in EXISTING_FIELDS)
    table = connection.ops.quote_name(Building._meta.db_table)
    existing: dict[str, dict[str, Any]] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(keys, LOOKUP_SIZE):
            cursor.execute(
                f"SELECT {columns} FROM {table} "  # noqa: S608 — names from the model
                "WHERE inventory_id = ANY(%s) FOR UPDATE",
                [list(chunk)],
            )
            for values in cursor.fetchall():
                stored = dict(zip(EXISTING_FIELDS, values, strict=True))
                existing[stored["inventory_id"]] = stored
    return existing


def _copy_buildings(
    to_write: list[tuple[Candidate, dict[str, Any] | None]],
    site_ids: dict[str, int],
    profile: Profile,
    context: FileContext,
    *,
    notify: Progress,
) -> None:
    """New buildings are COPied into the table; updates into a temporary table,
    then one INSERT … ON CONFLICT per group of rows carrying the same fields.

    COPY into the table itself lets the server insert and index each row while
    the next ones are made here: at 200,000 rows the two now overlap, where the
    INSERT from a staging table used to start only once every row was written
    (15 s of server time after 12 s of Python). A new key created meanwhile by
    another import makes the COPY fail, and the whole import with it: nothing
    is written, and the report says why. Rows are made from the candidates'
    values directly: a Building instance per row cost more than reading and
    checking it. (Measured on the 23,878 Cartofriches rows, bulk_create spent
    most of its time compiling the statement and splitting it for parameters.)
    """
    fields = [
        field for field in Building._meta.concrete_fields if not field.primary_key
    ]
    quoted = {
        field.name: connection.ops.quote_name(str(field.column)) for field in fields
    }
    columns = ", ".join(quoted.values())
    table = connection.ops.quote_name(Building._meta.db_table)
    row = _row_writer(fields, site_ids, profile, context)
    created = [candidate for candidate, stored in to_write if stored is None]
    # Updates are grouped by the fields they carry: an update sets exactly those
    # (a row without coordinates does not erase a point placed by hand).
    groups: dict[frozenset[str], list[tuple[Candidate, dict[str, Any]]]] = defaultdict(
        list
    )
    for candidate, stored in to_write:
        if stored is not None:
            groups[frozenset(candidate.fields)].append((candidate, stored))
    total = len(to_write)
    done = 0
    notify("writing", done, total)
    with connection.cursor() as cursor:
        if created:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for candidate in created:
                    copy.write_row(row(candidate, None))
                    done += 1
                    if done % COPY_PROGRESS_EVERY == 0:
                        notify("writing", done, total)
        if groups:
            definitions = ", ".join(
                f"{quoted[field.name]} {field.db_type(connection)}" for field in fields
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {STAGING} "
                f"({definitions}, update_group integer)"
            )
            with cursor.cursor.copy(
                f"COPY {STAGING} ({columns}, update_group) FROM STDIN"
            ) as copy:
                for group, rows in enumerate(groups.values()):
                    for candidate, stored in rows:
                        copy.write_row([*row(candidate, stored), group])
                        done += 1
                        if done % COPY_PROGRESS_EVERY == 0:
                            notify("writing", done, total)
            for group, names in enumerate(groups):
                updated = sorted(
                    {_field_name(name) for name in names}
                    | set(BOOKKEEPING)
                    | set(suitability.SCORE_FIELDS)
                )
                assignments = ", ".join(
                    f"{quoted[name]} = EXCLUDED.{quoted[name]}" for name in updated
                )
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "  # noqa: S608 — model names
                    f"SELECT {columns} FROM {STAGING} WHERE update_group = %s "
                    f"ON CONFLICT (inventory_id) DO UPDATE SET {assignments}",
                    [group],
                )
            cursor.execute(f"DROP TABLE {STAGING}")
    notify("writing", total, total)


def _row_writer(
    fields: list[Field[Any, Any]],
    site_ids: dict[str, int],
    profile: Profile,
    context: FileContext,
) -> Callable[[Candidate, dict[str, Any] | None], list[Any]]:
    """The COPY row of a candidate: what ``Building(**values).save()`` would store.

    Fields the row does not carry take their model default; an update keeps the
    stored values of the score's inputs it does not carry (next use, accessibility…
    set by agents), and an import never makes a confidential building public again.
    """
    now = timezone.now()
    defaults: dict[str, Any] = {field.attname: field.get_default() for field in fields}
    defaults.update(
        source=profile.source,
        source_vintage=context.vintage,
        created_at=now,
        updated_at=now,
    )
    names = [field.attname for field in fields]
    geometries = {field.attname for field in fields if isinstance(field, GeometryField)}
    arrays = {field.attname for field in fields if isinstance(field, ArrayField)}
    today = context.today

    def row(candidate: Candidate, stored: dict[str, Any] | None) -> list[Any]:
        values = defaults.copy()
        values.update(candidate.fields)
        values["inventory_id"] = candidate.key
        values["site_id"] = site_ids[candidate.site.code]
        values["source_fingerprint"] = candidate.fingerprint
        if stored is None:
            values.update(candidate.on_create)
        else:
            for name in suitability.INPUT_FIELDS - candidate.fields.keys():
                values[name] = stored[name]
            values["is_confidential"] = (
                values["is_confidential"] or stored["is_confidential"]
            )
        scores, completeness = suitability.scores_of(values, today=today)
        values["suitability_shelter"] = scores["shelter"]
        values["suitability_workspace"] = scores["workspace"]
        values["suitability_mixed"] = scores["mixed"]
        values["suitability_completeness"] = completeness
        values["suitability_computed_on"] = today
        for name in geometries:
            geometry = values[name]
            if isinstance(geometry, Coordinates):
                values[name] = geometry.hexewkb
            elif geometry is not None:
                if geometry.srid is None:
                    geometry.srid = STORAGE_SRID
                # Hex EWKB is the geometry type's text input.
                values[name] = geometry.hexewkb.decode()
        for name in arrays:
            if not values[name]:
                values[name] = "{}"  # most rows: no parcel, no RNB id
        return [values[name] for name in names]

    return row


def _newer_vintage(
    stored: dict[str, Any], profile: Profile, vintage: date | None
) -> bool:
    return (
        stored["source"] == profile.source
        and vintage is not None
        and stored["source_vintage"] is not None
        and stored["source_vintage"] > vintage
    )


def _upsert_sites(report: ImportReport, candidates: list[Candidate]) -> dict[str, int]:
    """Site ids by code, creating or correcting the sites these rows need."""
    specs: dict[str, SiteSpec] = {}
    for candidate in candidates:
        specs.setdefault(candidate.site.code, candidate.site)
    ids: dict[str, int] = {}
    writes: list[SiteSpec] = []
    with connection.cursor() as cursor:
        for codes in _chunks(list(specs), LOOKUP_SIZE):
            cursor.execute(SITE_LOOKUP, [list(codes)])
            for pk, code, designation, commune_id in cursor.fetchall():
                ids[code] = pk
                spec = specs[code]
                if (designation, commune_id) != (spec.designation, spec.commune_id):
                    writes.append(spec)
    new = [spec for code, spec in specs.items() if code not in ids]
    report.sites_created = len(new)
    writes += new
    if writes:
        # One statement for every site, three array parameters: ON CONFLICT as
        # well for new codes, which a concurrent import may have just created.
        with connection.cursor() as cursor:
            cursor.execute(
                SITE_UPSERT,
                [
                    [spec.code for spec in writes],
                    [spec.designation for spec in writes],
                    [spec.commune_id for spec in writes],
                ],
            )
            ids.update((code, pk) for pk, code in cursor.fetchall())
    return ids


def _field_name(attname: str) -> str:
    return (
        attname.removesuffix("_id")
        if attname in ("commune_id", "department_id")
        else attname
    )


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
