"""Tasks of the job queue (procrastinate, on PostgreSQL: no extra service)."""

from __future__ import annotations

import logging

from django.utils import timezone
from procrastinate.contrib.django import app

from buildings.jobs import import_job_run
from buildings.services import suitability_refresh

logger = logging.getLogger(__name__)


@app.task(queue="imports", name="buildings.run_import_job")
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)


# "Time left before the next use" moves with the calendar: scores of buildings
# with a next-use date are recomputed every night at 02:30.
@app.periodic(cron="30 2 * * *")
@app.task(queue="maintenance", name="buildings.refresh_suitability")
def refresh_suitability_nightly(timestamp: int) -> None:
    updated = suitability_refresh(today=timezone.localdate())
    logger.info("nightly suitability refresh: %d buildings updated", updated)
