"""Store the day the suitability scores were computed instead of their breakdown.

Each row carried its breakdown as JSON (1.2 KB, 41 % of a row): derived data,
parsed by PostgreSQL and compressed into TOAST on every write (about a sixth of
an import's server time). The breakdown is now recomputed from the building's
inputs as of ``suitability_computed_on`` when it is shown
(``Building.suitability_details``), so it adds up to the stored scores exactly.

Three migrations, so that the data is written in a transaction of its own
(PostgreSQL refuses to alter a table with trigger events still pending): 0010
adds the date, this one fills it, 0012 drops the breakdown. Rows scored before
get today's date; those with a next-use date (the only input that moves with
the calendar) are scored again as of today, so that score and breakdown agree
from now on. Reversing writes the breakdown back
from the same inputs.
"""

from django.db import migrations
from django.utils import timezone

from buildings import suitability

BATCH = 2000
SCORES = ("suitability_shelter", "suitability_workspace", "suitability_mixed")


def date_the_scores(apps, schema_editor):
    building_model = apps.get_model("buildings", "Building")
    today = timezone.localdate()
    scored = building_model.objects.filter(suitability_shelter__isnull=False)
    scored.update(suitability_computed_on=today)
    dated = (
        scored.filter(next_use_date__isnull=False)
        .only(*suitability.INPUT_FIELDS, *SCORES, "suitability_completeness")
        .order_by("pk")
    )
    changed = []
    fields = [*SCORES, "suitability_completeness", "updated_at"]
    for building in dated.iterator(chunk_size=BATCH):
        scores, completeness = suitability.scores_of(
            suitability.inputs_of(building), today=today
        )
        new = [scores[name.removeprefix("suitability_")] for name in SCORES]
        if new != [getattr(building, name) for name in SCORES]:
            for name, value in zip(SCORES, new, strict=True):
                setattr(building, name, value)
            building.suitability_completeness = completeness
            building.updated_at = timezone.now()
            changed.append(building)
        if len(changed) >= BATCH:
            building_model.objects.bulk_update(changed, fields)
            changed = []
    building_model.objects.bulk_update(changed, fields)


def write_the_details(apps, schema_editor):
    building_model = apps.get_model("buildings", "Building")
    scored = (
        building_model.objects.filter(suitability_computed_on__isnull=False)
        .only(*suitability.INPUT_FIELDS, "suitability_computed_on")
        .order_by("pk")
    )
    batch = []
    for building in scored.iterator(chunk_size=BATCH):
        building.suitability_details = suitability.suitability_of(
            suitability.inputs_of(building), today=building.suitability_computed_on
        ).details
        batch.append(building)
        if len(batch) >= BATCH:
            building_model.objects.bulk_update(batch, ["suitability_details"])
            batch = []
    building_model.objects.bulk_update(batch, ["suitability_details"])


class Migration(migrations.Migration):
    dependencies = [("buildings", "0010_suitability_computed_on")]

    operations = [
        migrations.RunPython(date_the_scores, write_the_details, elidable=False),
    ]
