"""Tasks of the job queue (procrastinate, on PostgreSQL: no extra service)."""

from __future__ import annotations

from procrastinate.contrib.django import app

from buildings.jobs import import_job_run


@app.task(queue="imports", name="buildings.run_import_job")
def run_import_job(job_id: int) -> None:
    import_job_run(job_id=job_id)
