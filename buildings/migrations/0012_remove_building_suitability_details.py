"""The breakdown is recomputed from the inputs as of suitability_computed_on
(0011), no longer stored."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("buildings", "0011_suitability_dated")]

    operations = [
        migrations.RemoveField(model_name="building", name="suitability_details"),
    ]
