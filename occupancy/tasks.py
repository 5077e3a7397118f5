"""Scheduled work of the occupancy app, run by the job-queue worker."""

from __future__ import annotations

import logging

from django.utils import timezone
from procrastinate.contrib.django import app

from occupancy.residents import purge_residents

logger = logging.getLogger(__name__)


# CNIL: residents' data go 2 years after the last exit; checked on the 1st of each
# month at 03:00 (the worker started by docker compose runs periodic tasks).
@app.periodic(cron="0 3 1 * *")
@app.task(queue="maintenance", name="occupancy.purge_residents")
def purge_residents_monthly(timestamp: int) -> None:
    report = purge_residents(today=timezone.localdate())
    logger.info("monthly resident purge: %s", report)
