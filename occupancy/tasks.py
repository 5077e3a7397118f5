"""Scheduled work of the occupancy app, run by the job-queue worker."""

from __future__ import annotations

import logging

from django.utils import timezone
from procrastinate.contrib.django import app

from occupancy.residents import purge_residents
from occupancy.residents.reads import reads_export

logger = logging.getLogger(__name__)


# CNIL: residents' data go 2 years after the last exit; checked on the 1st of each
# month at 03:00 (the worker started by docker compose runs periodic tasks).
@app.periodic(cron="0 3 1 * *")
@app.task(queue="maintenance", name="occupancy.purge_residents")
def purge_residents_monthly(timestamp: int) -> None:
    report = purge_residents(today=timezone.localdate())
    logger.info("monthly resident purge: %s", report)


# The reads of resident data, copied out of the database every night as a hash
# chain; the head goes to the job log, to compare with the file's (reads.py).
@app.periodic(cron="30 2 * * *")
@app.task(queue="maintenance", name="occupancy.export_reads")
def export_reads_daily(timestamp: int) -> None:
    export = reads_export()
    logger.info("daily copy of the reads of resident data: %s", export)
