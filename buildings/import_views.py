"""The import page: upload, preview (a dry run) and confirm on the very same stored
upload. Files above IMPORT_BACKGROUND_BYTES run as jobs on the queue
(buildings.jobs) and the page follows their progress."""

from __future__ import annotations

import re
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from buildings.forms import PROFILES, ImportForm
from buildings.importers import ImportReport, import_file
from buildings.jobs import import_job_create, upload_store
from buildings.models import ImportJob, ImportJobStatus
from buildings.views import may_import, state_agent_page
from config.errors import DomainError
from organizations.pages import acting_user
from organizations.selectors import Scope

# --- Imports: preview (a dry run), then confirm on the very same stored upload.
IMPORT_SESSION_KEY = "buildings_import"
# buildings.jobs.upload_store names each upload's private directory with uuid4().hex.
UPLOAD_DIRECTORY = re.compile(r"^[0-9a-f]{32}$")
REPORT_FILE = "report.csv"
REPORT_ERRORS_SHOWN = 100
# Previews nobody confirmed leave their upload behind; older ones are deleted.
UPLOAD_RETENTION_SECONDS = 24 * 3600


def _upload_root() -> Path:
    return Path(settings.IMPORT_UPLOAD_DIR)


def _purge_stale_uploads() -> None:
    root = _upload_root()
    if not root.is_dir():
        return
    oldest = time.time() - UPLOAD_RETENTION_SECONDS
    for entry in root.iterdir():
        if (
            UPLOAD_DIRECTORY.match(entry.name)
            and entry.is_dir()
            and not entry.is_symlink()
            and entry.stat().st_mtime < oldest
        ):
            shutil.rmtree(entry, ignore_errors=True)


def _stored_upload(request: HttpRequest) -> tuple[dict[str, Any], Path] | None:
    """The upload this session previewed: a path the server built, never one sent."""
    state = request.session.get(IMPORT_SESSION_KEY)
    if not isinstance(state, dict):
        return None
    directory, name = str(state.get("directory", "")), str(state.get("file", ""))
    if not UPLOAD_DIRECTORY.match(directory) or not name or Path(name).name != name:
        return None
    return state, _upload_root() / directory / name


def _run_import(
    state: dict[str, Any], path: Path, *, dry_run: bool, user: User
) -> tuple[ImportReport | None, DomainError | None]:
    try:
        report = import_file(
            path,
            profile=state["profile"],
            on_error=state["on_error"],
            dry_run=dry_run,
            srid=state["srid"],
            mapping=state["mapping"],
            vintage=date.fromisoformat(state["vintage"]) if state["vintage"] else None,
            by=user,
            file_name=state["name"],
        )
    except DomainError as error:
        return None, error
    (path.parent / REPORT_FILE).write_text(report.to_csv(), encoding="utf-8")
    return report, None


def _render_report(
    request: HttpRequest,
    state: dict[str, Any],
    report: ImportReport | None,
    error: DomainError | None,
    *,
    imported: bool,
) -> HttpResponse:
    # A file the importer refuses whole (unreadable, unsafe, wrong columns) comes
    # back as a report with ``refused`` set and the reason among its errors.
    refused = report is None or report.refused
    errors = list(report.errors) if report is not None else []
    return render(
        request,
        "buildings/building_import.html",
        {
            "form": None,
            "state": state,
            "profile_label": PROFILES.get(state["profile"], state["profile"]),
            "report": report,
            "error": error,
            "refused": refused,
            "errors_shown": errors[:REPORT_ERRORS_SHOWN],
            "errors_hidden": max(0, len(errors) - REPORT_ERRORS_SHOWN),
            "warnings_shown": report.warnings[:REPORT_ERRORS_SHOWN] if report else [],
            "imported": imported,
            # report.ok is false when, under "abort", a row was rejected: the real
            # run would write nothing.
            "can_confirm": report is not None
            and not imported
            and not refused
            and report.ok
            and bool(report.created or report.updated),
        },
        status=error.status_code if error is not None else 400 if refused else 200,
    )


def _import_preview(request: HttpRequest, form: ImportForm, user: User) -> HttpResponse:
    _purge_stale_uploads()
    upload = form.cleaned_data["file"]
    vintage: date | None = form.cleaned_data["vintage"]
    path = upload_store(upload=upload)
    state = {
        "directory": path.parent.name,
        "file": path.name,
        "name": (upload.name or "")[:200],
        "profile": form.cleaned_data["profile"],
        "srid": form.cleaned_data["srid"],
        "mapping": form.cleaned_data["mapping"],
        # Sessions hold JSON: the date travels as ISO text.
        "vintage": vintage.isoformat() if vintage else None,
        "on_error": form.cleaned_data["on_error"],
        "stage": "previewed",
    }
    request.session[IMPORT_SESSION_KEY] = state
    if path.stat().st_size > settings.IMPORT_BACKGROUND_BYTES:
        return _enqueue(state, path, dry_run=True, user=user)
    report, error = _run_import(state, path, dry_run=True, user=user)
    if report is None or report.refused:
        shutil.rmtree(path.parent, ignore_errors=True)
        request.session.pop(IMPORT_SESSION_KEY, None)
    return _render_report(request, state, report, error, imported=False)


def _import_confirm(request: HttpRequest, user: User) -> HttpResponse:
    stored = _stored_upload(request)
    if (
        stored is None
        or stored[0].get("stage") != "previewed"
        or not stored[1].is_file()
    ):
        messages.error(request, _("Nothing to import: upload the file again."))
        return redirect("buildings:import")
    state, path = stored
    # One confirmation imports: the first request takes the file by renaming it
    # (atomic); a double click's second request finds it gone. Both ran the
    # import, and the second showed PostgreSQL's unique-key error.
    claimed = path.with_name(path.name + ".importing")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        messages.info(request, _("This file is being imported or was imported."))
        return redirect("buildings:import")
    report, error = _run_import(state, claimed, dry_run=False, user=user)
    claimed.unlink(missing_ok=True)
    # Reassigned, not mutated: the session saves only on assignment.
    request.session[IMPORT_SESSION_KEY] = {**state, "stage": "imported"}
    imported = report is not None and report.written
    if imported:
        messages.success(request, _("The file was imported."))
    return _render_report(request, state, report, error, imported=imported)


@state_agent_page
def building_import_page(request: HttpRequest, scope: Scope) -> HttpResponse:
    user = acting_user(request)
    if not may_import(scope, user):
        raise PermissionDenied
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _import_confirm(request, user)
    form = (
        ImportForm(request.POST, request.FILES)
        if request.method == "POST"
        else ImportForm()
    )
    if form.is_bound and form.is_valid():
        return _import_preview(request, form, user)
    return render(
        request,
        "buildings/building_import.html",
        {"form": form},
        status=400 if form.is_bound else 200,
    )


@state_agent_page
@require_safe
def import_report_csv(request: HttpRequest, scope: Scope) -> FileResponse:
    stored = _stored_upload(request)
    report = stored[1].parent / REPORT_FILE if stored is not None else None
    if report is None or not report.is_file():
        raise Http404
    return FileResponse(
        report.open("rb"),
        as_attachment=True,
        filename="import-report.csv",
        content_type="text/csv; charset=utf-8",
    )


# --- Large files: the same preview and confirm, run by a worker.
def _enqueue(
    state: dict[str, Any], path: Path, *, dry_run: bool, user: User
) -> HttpResponse:
    job = import_job_create(
        path=path,
        file_name=state["name"],
        profile=state["profile"],
        options={
            "on_error": state["on_error"],
            "srid": state["srid"],
            "mapping": state["mapping"],
            "vintage": state["vintage"],
        },
        dry_run=dry_run,
        by=user,
    )
    return redirect("buildings:import-job", pk=job.pk)


def _job_or_404(request: HttpRequest, pk: int) -> ImportJob:
    """A job is seen by the agent who started it (and superusers) only."""
    user = acting_user(request)
    jobs = (
        ImportJob.objects.all()
        if user.is_superuser
        else ImportJob.objects.filter(created_by=user)
    )
    try:
        return jobs.get(pk=pk)
    except ImportJob.DoesNotExist as error:
        raise Http404 from error


@state_agent_page
@require_safe
def import_job_page(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
    job = _job_or_404(request, pk)
    errors = job.report.get("errors", []) if job.report else []
    return render(
        request,
        "buildings/import_job.html",
        {
            "job": job,
            "profile_label": PROFILES.get(job.profile, job.profile),
            "finished": job.status
            in (ImportJobStatus.SUCCEEDED, ImportJobStatus.FAILED),
            "errors_shown": errors[:REPORT_ERRORS_SHOWN],
            "errors_hidden": max(0, len(errors) - REPORT_ERRORS_SHOWN),
            "can_confirm": job.dry_run
            and job.status == ImportJobStatus.SUCCEEDED
            and job.report.get("ok", False)
            and bool(job.report.get("created") or job.report.get("updated")),
        },
    )


@state_agent_page
@require_safe
def import_job_status(request: HttpRequest, scope: Scope, pk: int) -> JsonResponse:
    job = _job_or_404(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "phase": job.phase,
            "rows_done": job.rows_done,
            "rows_total": job.rows_total,
            "finished": job.status
            in (ImportJobStatus.SUCCEEDED, ImportJobStatus.FAILED),
        }
    )


@state_agent_page
def import_job_confirm(request: HttpRequest, scope: Scope, pk: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    user = acting_user(request)
    if not may_import(scope, user):
        raise PermissionDenied
    preview = _job_or_404(request, pk)
    with transaction.atomic():
        # Confirmations of one preview queue on its row: the first makes the
        # write job, the others are shown that job (each made its own before,
        # and the later ones failed on the file the first had used).
        ImportJob.objects.select_for_update().filter(pk=preview.pk).first()
        written = ImportJob.objects.filter(
            stored_path=preview.stored_path, dry_run=False
        ).first()
        if written is not None:
            return redirect("buildings:import-job", pk=written.pk)
        path = Path(preview.stored_path)
        if not (
            preview.dry_run and preview.status == ImportJobStatus.SUCCEEDED
        ) or not (path.is_file()):
            messages.error(request, _("Nothing to import: upload the file again."))
            return redirect("buildings:import")
        job = import_job_create(
            path=path,
            file_name=preview.file_name,
            profile=preview.profile,
            options=preview.options,
            dry_run=False,
            by=user,
        )
    return redirect("buildings:import-job", pk=job.pk)
