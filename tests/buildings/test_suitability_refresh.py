"""The nightly refresh: "time left before the next use" moves with the calendar,
so the scores of dated buildings are recomputed and stored when they change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from procrastinate.contrib.django import app
from pytest_django import DjangoAssertNumQueries

from buildings import suitability
from buildings.models import Building
from buildings.services import suitability_refresh
from tests.buildings.factories import BuildingFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 15)


def scored(**fields: object) -> Building:
    building = BuildingFactory.create(**fields)
    suitability.apply(building, today=TODAY)
    building.save()
    return building


def test_a_building_crossing_a_time_left_step_is_rescored_and_others_are_not() -> None:
    # 13 months left today: "12 months or more" (0.6); 11 months in 60 days (0.3).
    crossing = scored(next_use_date=TODAY + timedelta(days=396))
    steady = scored(next_use_date=TODAY + timedelta(days=2000))  # ≥ 36 months both
    undated = scored(next_use_date=None)
    before = {b.pk: Building.objects.get(pk=b.pk) for b in (crossing, steady, undated)}

    assert suitability_refresh(today=TODAY) == 0
    assert suitability_refresh(today=TODAY + timedelta(days=60)) == 1

    after = Building.objects.get(pk=crossing.pk)
    old_mixed = before[crossing.pk].suitability_details["mixed"]["time_left"]
    assert old_mixed["value"] == 0.6
    assert after.suitability_details["mixed"]["time_left"]["value"] == 0.3
    # mixed weighs time left 20: 0.3 less × 20 = 6 points.
    old_score = before[crossing.pk].suitability_mixed
    assert old_score is not None
    assert after.suitability_mixed == old_score - 6
    assert after.updated_at > before[crossing.pk].updated_at  # a new ETag
    for pk in (steady.pk, undated.pk):
        kept = Building.objects.get(pk=pk)
        assert kept.suitability_details == before[pk].suitability_details
        assert kept.updated_at == before[pk].updated_at


def test_the_refresh_is_scheduled_every_night() -> None:
    periodic = {
        task.task.name: task.cron
        for task in app.periodic_registry.periodic_tasks.values()
    }
    assert periodic["buildings.refresh_suitability"] == "30 2 * * *"


def test_the_refresh_reads_its_rows_in_one_query_and_writes_in_one(
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    """Only the score's inputs and outputs are read (no deferred field is loaded
    row by row), and the changed rows are written together."""
    for days in (396, 400, 2000):
        scored(next_use_date=TODAY + timedelta(days=days))
    # The read (a server-side cursor: declare, fetch, close), one UPDATE.
    with django_assert_max_num_queries(2):
        assert suitability_refresh(today=TODAY + timedelta(days=60)) == 2
