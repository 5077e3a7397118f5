"""What is stored of a suitability score, and the breakdown shown beside it.

The scores are stored with the day they were computed on; the breakdown
(``Building.suitability_details``) is recomputed from the inputs as of that day,
so that it always adds up to the stored scores (migration 0010).
"""

from __future__ import annotations

import importlib
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from buildings import suitability
from buildings.models import Building
from buildings.services import building_update, suitability_refresh
from tests.buildings.factories import BuildingFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 1, 15)
# 396 days: 13.0 months, "12 months or more" (0.6); 60 days on, 11 months (0.3).
CROSSING = timedelta(days=396)
migration = importlib.import_module("buildings.migrations.0011_suitability_dated")


def scored_on(day: date, **fields: object) -> Building:
    building = BuildingFactory.create(**fields)
    suitability.apply(building, today=day)
    building.save()
    return Building.objects.get(pk=building.pk)


def adds_up(building: Building) -> bool:
    """Each use's contributions sum to its stored score (every use weighs 100):
    within the score's rounding and the six contributions' (0.05 each); a step
    of any criterion moves a score by 1.5 points or more."""
    details = building.suitability_details
    return all(
        abs(
            sum(float(row["contribution"] or 0) for row in details[use].values())
            - getattr(building, f"suitability_{use}")
        )
        <= 0.5 + 6 * 0.05
        for use in suitability.USES
    )


def test_the_breakdown_is_the_one_of_the_day_the_scores_were_computed() -> None:
    building = scored_on(
        TODAY, next_use_date=TODAY + CROSSING, erp=True, surface_m2=Decimal("800")
    )
    assert building.suitability_computed_on == TODAY
    # Read long after that day, without a refresh: still the breakdown of TODAY,
    # which is the one the stored scores came from.
    assert building.suitability_details["mixed"]["time_left"]["value"] == 0.6
    assert adds_up(building)
    later = suitability.suitability(building, today=TODAY + timedelta(days=60))
    assert later.details["mixed"]["time_left"]["value"] == 0.3
    assert later.scores["mixed"] != building.suitability_mixed


def test_a_building_never_scored_has_no_breakdown() -> None:
    building = BuildingFactory.create()
    Building.objects.filter(pk=building.pk).update(
        suitability_computed_on=None, suitability_mixed=None
    )
    assert Building.objects.get(pk=building.pk).suitability_details == {}


def test_every_write_path_dates_the_scores() -> None:
    """The services and the nightly refresh store the day with the scores."""
    building = scored_on(TODAY, next_use_date=TODAY + CROSSING)
    later = TODAY + timedelta(days=60)
    assert suitability_refresh(today=later) == 1
    refreshed = Building.objects.get(pk=building.pk)
    assert refreshed.suitability_computed_on == later
    assert refreshed.suitability_details["mixed"]["time_left"]["value"] == 0.3
    assert adds_up(refreshed)

    updated = building_update(building=refreshed, by=None, surface_m2=Decimal("90"))
    assert updated.suitability_computed_on == timezone.localdate()
    assert adds_up(Building.objects.get(pk=building.pk))


def test_migration_0011_dates_the_scores_and_rescores_dated_buildings() -> None:
    today = timezone.localdate()
    then = today - timedelta(days=60)
    dated = scored_on(then, next_use_date=then + CROSSING)
    undated = scored_on(then, next_use_date=None)
    never = BuildingFactory.create()
    Building.objects.filter(pk=never.pk).update(
        suitability_shelter=None,
        suitability_workspace=None,
        suitability_mixed=None,
        suitability_completeness=None,
    )
    # Stored before the migration: scores, no date.
    Building.objects.update(suitability_computed_on=None)
    stale_mixed = dated.suitability_mixed
    assert stale_mixed is not None
    undated_scores = (undated.suitability_mixed, undated.suitability_completeness)

    migration.date_the_scores(apps, None)

    dated = Building.objects.get(pk=dated.pk)
    assert dated.suitability_computed_on == today
    assert dated.suitability_mixed == stale_mixed - 6  # 0.6 → 0.3 of 20 points
    assert adds_up(dated)
    undated = Building.objects.get(pk=undated.pk)
    assert undated.suitability_computed_on == today
    assert (undated.suitability_mixed, undated.suitability_completeness) == (
        undated_scores
    )
    assert adds_up(undated)
    assert Building.objects.get(pk=never.pk).suitability_computed_on is None


@pytest.mark.django_db(transaction=True)
def test_migrations_0010_to_0012_write_the_breakdown_back_when_reversed() -> None:
    day = timezone.localdate() - timedelta(days=60)
    building = scored_on(day, next_use_date=day + CROSSING)
    expected = building.suitability_details
    executor = MigrationExecutor(connection)
    executor.migrate([("buildings", "0009_feature_properties_head_tail")])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT suitability_details FROM buildings_building WHERE id = %s",
                [building.pk],
            )
            (details,) = cursor.fetchone()
        assert json.loads(details) == expected
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    again = Building.objects.get(pk=building.pk)
    assert again.suitability_computed_on == timezone.localdate()
    assert again.suitability_details["mixed"]["time_left"]["value"] == 0.3
    assert adds_up(again)
