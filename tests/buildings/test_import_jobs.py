"""Large imports run on the PostgreSQL job queue and the page follows them."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation
from procrastinate.contrib.django import app

from buildings.forms import PROFILES
from buildings.models import Building, ImportJob, ImportJobStatus
from organizations.models import OrganizationKind
from tests.buildings.factories import CommuneFactory
from tests.buildings.test_pages import DIE_ROWS, die_csv, upload

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "jobs"])
IMPORT = reverse("buildings:import")


def run_worker() -> None:
    """Run the real worker until the queue is empty, on its own connections, as
    `manage.py procrastinate worker` does."""
    with app.replace_connector(app.connector.get_worker_connector()):  # type: ignore[attr-defined]
        app.run_worker(wait=False, install_signal_handlers=False, listen_notify=False)


@pytest.fixture(autouse=True)
def empty_queue() -> Iterator[None]:
    """The queue's tables are not Django-managed: flushes between tests skip them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_events; DELETE FROM procrastinate_jobs"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_events; DELETE FROM procrastinate_jobs"
        )


@pytest.fixture
def background(settings: Any, tmp_path: Path) -> Path:
    """Every upload counts as large, so it goes to the queue."""
    settings.IMPORT_UPLOAD_DIR = tmp_path
    settings.IMPORT_BACKGROUND_BYTES = 0
    return tmp_path


@pytest.fixture
def national_editor(make_member: Callable[..., User]) -> User:
    CommuneFactory.create()
    return make_member(OrganizationKind.STATE_SERVICE, departments=[])


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_large_file_is_previewed_by_a_worker_then_imported_by_another_job(
    national_editor: User, background: Path
) -> None:
    client = client_for(national_editor)

    queued = client.post(IMPORT, upload("inventaire.csv", die_csv(*DIE_ROWS)))

    assert queued.status_code == 302
    job = ImportJob.objects.get()
    assert queued["Location"] == reverse("buildings:import-job", args=[job.pk])
    assert (job.status, job.dry_run) == (ImportJobStatus.QUEUED, True)
    page = client.get(queued["Location"])
    assert 'data-testid="import-job-progress"' in page.content.decode()

    run_worker()

    job.refresh_from_db()
    assert job.status == ImportJobStatus.SUCCEEDED, job.error
    assert (job.rows_done, job.rows_total) == (2, 2)
    assert (job.report["created"], job.report["rejected"]) == (2, 0)
    assert not Building.objects.exists()  # a preview writes nothing
    state = client.get(reverse("buildings:import-job-status", args=[job.pk])).json()
    assert state["finished"] is True
    preview = client.get(queued["Location"])
    assert preview.context["can_confirm"]

    confirmed = client.post(reverse("buildings:import-job-confirm", args=[job.pk]))
    run_worker()

    real = ImportJob.objects.get(dry_run=False)
    assert confirmed["Location"] == reverse("buildings:import-job", args=[real.pk])
    assert real.status == ImportJobStatus.SUCCEEDED, real.error
    assert Building.objects.count() == 2
    assert not list(background.iterdir())  # the upload is deleted once imported


def test_a_preview_confirmed_twice_makes_one_write_job(
    national_editor: User, background: Path
) -> None:
    """Each confirmation made its own write job; the later ones failed on the file
    the first had imported, and a double click landed on a failure page."""
    client = client_for(national_editor)
    client.post(IMPORT, upload("inventaire.csv", die_csv(*DIE_ROWS)))
    run_worker()
    preview = ImportJob.objects.get()
    confirm = reverse("buildings:import-job-confirm", args=[preview.pk])

    first = client.post(confirm)
    second = client.post(confirm)
    run_worker()
    third = client.post(confirm)

    real = ImportJob.objects.get(dry_run=False)
    assert (
        first["Location"]
        == second["Location"]
        == third["Location"]
        == reverse("buildings:import-job", args=[real.pk])
    )
    assert real.status == ImportJobStatus.SUCCEEDED, real.error
    assert Building.objects.count() == 2


def test_a_job_is_seen_only_by_the_agent_who_started_it(
    national_editor: User, background: Path, make_member: Callable[..., User]
) -> None:
    client_for(national_editor).post(IMPORT, upload("a.csv", die_csv(*DIE_ROWS)))
    job = ImportJob.objects.get()
    colleague = client_for(make_member(OrganizationKind.STATE_SERVICE, departments=[]))

    for name in ("buildings:import-job", "buildings:import-job-status"):
        assert colleague.get(reverse(name, args=[job.pk])).status_code == 404
    refused = colleague.post(reverse("buildings:import-job-confirm", args=[job.pk]))
    assert refused.status_code == 404


def test_a_failing_job_is_reported_and_writes_nothing(
    national_editor: User, background: Path
) -> None:
    client_for(national_editor).post(IMPORT, upload("a.csv", die_csv(*DIE_ROWS)))
    job = ImportJob.objects.get()
    Path(job.stored_path).unlink()  # the file vanished before the worker ran

    run_worker()

    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED
    assert job.error
    assert not Building.objects.exists()
    page = client_for(national_editor).get(
        reverse("buildings:import-job", args=[job.pk])
    )
    assert 'data-testid="import-job-failed"' in page.content.decode()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_job_page_names_the_format_by_its_label_in_the_reader_s_language(
    national_editor: User, language: str
) -> None:
    """It showed the profile's code ("format cnig-friches.")."""
    job = ImportJob.objects.create(
        created_by=national_editor,
        file_name="friches.gpkg",
        stored_path="/nonexistent/friches.gpkg",
        profile="cnig-friches",
    )
    page = client_for(national_editor).get(
        reverse("buildings:import-job", args=[job.pk]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    with translation.override(language):
        label = str(PROFILES["cnig-friches"])
    text = html.unescape(page.content.decode())
    assert label in text
    assert "cnig-friches." not in text
