"""Imports too large for a request run as jobs on the PostgreSQL-backed queue.

The web page stores the upload under IMPORT_UPLOAD_DIR, creates an ImportJob and
defers ``buildings.tasks.run_import_job`` once the row is committed; a worker
(``manage.py procrastinate worker``) runs the import and writes its progress and
report back on the job, which the page polls.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from buildings.models import ImportJob, ImportJobStatus

logger = logging.getLogger(__name__)
# Progress is written at most this often: each write is a round trip.
PROGRESS_INTERVAL_SECONDS = 0.5


def upload_store(*, upload: UploadedFile[bytes]) -> Path:
    """Copy an upload into a fresh private directory; the name is sanitised."""
    if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
        raise ValueError("file too large")
    directory = Path(settings.IMPORT_UPLOAD_DIR) / uuid.uuid4().hex
    directory.mkdir(parents=True, mode=0o700)
    path = directory / get_valid_filename(Path(upload.name or "upload").name)
    with path.open("wb") as target:
        for chunk in upload.chunks():
            target.write(chunk)
    return path


def import_job_create(
    *,
    path: Path,
    file_name: str,
    profile: str,
    options: dict[str, Any],
    dry_run: bool,
    by: User | AnonymousUser | None,
) -> ImportJob:
    from buildings.tasks import run_import_job

    upload_root = Path(settings.IMPORT_UPLOAD_DIR).resolve()
    if upload_root not in path.resolve().parents:
        raise ValueError("import files must come from the upload directory")
    with transaction.atomic():
        job = ImportJob.objects.create(
            created_by=by if isinstance(by, User) else None,
            file_name=file_name,
            stored_path=str(path),
            profile=profile,
            options=options,
            dry_run=dry_run,
        )
        transaction.on_commit(lambda: run_import_job.defer(job_id=job.pk))
    return job


def _progress_writer(job_id: int) -> Any:
    last = 0.0

    def write(phase: str, done: int, total: int | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < PROGRESS_INTERVAL_SECONDS and done != total:
            return
        last = now
        # The "jobs" alias is its own connection: visible before the import commits.
        ImportJob.objects.using("jobs").filter(pk=job_id).update(
            phase=phase, rows_done=done, rows_total=total
        )

    return write


def import_job_run(*, job_id: int) -> ImportJob | None:
    from buildings.importers import import_file

    jobs = ImportJob.objects.using("jobs")
    job = jobs.filter(pk=job_id).first()
    if job is None or job.status != ImportJobStatus.QUEUED:
        # Deleted meanwhile, or already run by a retried task: nothing to do.
        logger.warning("import job %s is gone or not queued", job_id)
        return job
    jobs.filter(pk=job_id).update(
        status=ImportJobStatus.RUNNING, started_at=timezone.now()
    )
    options = dict(job.options)
    vintage = options.pop("vintage", None)
    try:
        report = import_file(
            Path(job.stored_path),
            profile=job.profile,
            on_error=options.pop("on_error", "abort"),
            dry_run=job.dry_run,
            by=job.created_by,
            progress=_progress_writer(job_id),
            file_name=job.file_name,
            vintage=date.fromisoformat(vintage) if vintage else None,
            **options,
        )
    except Exception as exc:  # any failure is the outcome of the job, reported on it
        logger.exception("import job %s failed", job_id)
        jobs.filter(pk=job_id).update(
            status=ImportJobStatus.FAILED,
            error=f"{exc.__class__.__name__}: {exc}",
            finished_at=timezone.now(),
        )
    else:
        # A file refused whole (unreadable, unsafe, wrong columns) is a failed job,
        # its reasons in the report.
        refused = report.refused
        jobs.filter(pk=job_id).update(
            status=ImportJobStatus.FAILED if refused else ImportJobStatus.SUCCEEDED,
            error="; ".join(issue.reason for issue in report.errors[:5])
            if refused
            else "",
            report=report.as_dict(),
            report_csv=report.to_csv(),
            finished_at=timezone.now(),
        )
    finally:
        if not job.dry_run:
            shutil.rmtree(Path(job.stored_path).parent, ignore_errors=True)
    return jobs.get(pk=job_id)
