"""The monthly retention purge is scheduled on the job queue."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from procrastinate.contrib.django import app
from pytest_django.fixtures import Settings

from occupancy.models import Occupant
from occupancy.tasks import purge_residents_monthly
from tests.occupancy.factories import OccupantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64


def test_the_purge_is_scheduled_on_the_first_of_every_month() -> None:
    periodic = {
        task.task.name: task.cron
        for task in app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["occupancy.purge_residents"] == "0 3 1 * *"


def test_the_scheduled_purge_deletes_residents_past_retention_and_keeps_others() -> (
    None
):
    old = OccupantFactory.create()
    recent = OccupantFactory.create()
    Occupant.objects.filter(pk=old.pk).update(
        created_at=datetime(2020, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))
    )

    purge_residents_monthly(timestamp=0)

    assert list(Occupant.objects.values_list("pk", flat=True)) == [recent.pk]
