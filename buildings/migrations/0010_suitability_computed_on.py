"""Store the day the suitability scores were computed (see 0011 and 0012)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("buildings", "0009_feature_properties_head_tail")]

    operations = [
        migrations.AddField(
            model_name="building",
            name="suitability_computed_on",
            field=models.DateField(
                blank=True,
                editable=False,
                null=True,
                verbose_name="suitability computed on",
            ),
        ),
    ]
