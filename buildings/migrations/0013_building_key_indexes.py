"""Three fewer indexes on buildings_building, each maintained for every row written.

The foreign keys to Commune and Department (varchar codes) each had a btree and
a ``varchar_pattern_ops`` twin (``…_like``) for LIKE queries no code runs; the
département's btree also duplicated the leading column of
building_dept_status_idx. Now: the composite index serves the département key,
building_commune_idx the commune key. 18 → 15 indexes.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("buildings", "0012_remove_building_suitability_details"),
    ]

    operations = [
        migrations.AlterField(
            model_name="building",
            name="commune",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="buildings.commune",
                verbose_name="commune",
            ),
        ),
        migrations.AlterField(
            model_name="building",
            name="department",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="buildings.department",
                verbose_name="département",
            ),
        ),
        migrations.AddIndex(
            model_name="building",
            index=models.Index(fields=["commune"], name="building_commune_idx"),
        ),
    ]
