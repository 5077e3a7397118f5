"""A stay's household size: ``Stay.household_size``, and a stay that goes on
through a change of that size.

The indicators counted the persons a household brought into every past period
with the occupant's size of today, and a stay's places never followed a change
of it: a household that grew kept its old places, and a household that shrank
rewrote every figure it had been part of. A change of size now ends the running
stay on that day (destination ``household_change``, continued like a move) and
goes on in a new stay with the new size (occupancy/residents/stays.py).

Rows stored before take their occupant's size, the only one known. They are
filled while the stays' audit triggers are being rebuilt, so that the copy
writes no history row: it changes no value the history holds (the occupant's
size is in the occupant's), and a row written now for the stays of a resident
already anonymised would bring back a history that the erasure removed. The
history rows of stays written before this migration read a size of 1 (the column
did not exist then): the occupant's history says what the size was.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

COPY_THE_OCCUPANTS_SIZE = """
UPDATE occupancy_stay AS s
SET household_size = o.household_size
FROM occupancy_occupant AS o
WHERE o.id = s.occupant_id AND s.household_size <> o.household_size
"""


class Migration(migrations.Migration):

    dependencies = [
        ('occupancy', '0009_space_created_by'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='stay',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='stay',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='stay',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='stay',
            name='household_size',
            field=models.PositiveSmallIntegerField(default=1, verbose_name='household size'),
        ),
        migrations.AddField(
            model_name='stayevent',
            name='household_size',
            field=models.PositiveSmallIntegerField(default=1, verbose_name='household size'),
        ),
        migrations.RunSQL(
            COPY_THE_OCCUPANTS_SIZE, migrations.RunSQL.noop, elidable=True
        ),
        migrations.AlterField(
            model_name='stay',
            name='exit_destination',
            field=models.CharField(blank=True, choices=[('social_housing', 'Social housing'), ('private_housing', 'Private housing'), ('adapted_housing', 'Adapted housing'), ('other_shelter', 'Other shelter'), ('hospital_care', 'Hospital or care'), ('family_friends', 'Family or friends'), ('street', 'Street'), ('institution', 'Institution'), ('deceased', 'Deceased'), ('internal_move', 'Moved to another space of the site'), ('household_change', 'Household size changed (the stay goes on)'), ('unknown', 'Unknown')], max_length=20),
        ),
        migrations.AlterField(
            model_name='stayevent',
            name='exit_destination',
            field=models.CharField(blank=True, choices=[('social_housing', 'Social housing'), ('private_housing', 'Private housing'), ('adapted_housing', 'Adapted housing'), ('other_shelter', 'Other shelter'), ('hospital_care', 'Hospital or care'), ('family_friends', 'Family or friends'), ('street', 'Street'), ('institution', 'Institution'), ('deceased', 'Deceased'), ('internal_move', 'Moved to another space of the site'), ('household_change', 'Household size changed (the stay goes on)'), ('unknown', 'Unknown')], max_length=20),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='stay',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "occupancy_stayevent" ("agreement_id", "created_at", "exit_destination", "household_size", "id", "occupant_id", "period", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "places", "space_id", "status", "structure_type", "updated_at") VALUES (NEW."agreement_id", NEW."created_at", NEW."exit_destination", NEW."household_size", NEW."id", NEW."occupant_id", NEW."period", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."places", NEW."space_id", NEW."status", NEW."structure_type", NEW."updated_at"); RETURN NULL;', hash='7fd1ef177c7241524dfeefd6f879f51459531ab5', operation='INSERT', pgid='pgtrigger_insert_insert_85291', table='occupancy_stay', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='stay',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "occupancy_stayevent" ("agreement_id", "created_at", "exit_destination", "household_size", "id", "occupant_id", "period", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "places", "space_id", "status", "structure_type", "updated_at") VALUES (NEW."agreement_id", NEW."created_at", NEW."exit_destination", NEW."household_size", NEW."id", NEW."occupant_id", NEW."period", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."places", NEW."space_id", NEW."status", NEW."structure_type", NEW."updated_at"); RETURN NULL;', hash='1df4b964eaf8414c607c6dae057b96bbde8b0348', operation='UPDATE', pgid='pgtrigger_update_update_e97ac', table='occupancy_stay', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='stay',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "occupancy_stayevent" ("agreement_id", "created_at", "exit_destination", "household_size", "id", "occupant_id", "period", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "places", "space_id", "status", "structure_type", "updated_at") VALUES (OLD."agreement_id", OLD."created_at", OLD."exit_destination", OLD."household_size", OLD."id", OLD."occupant_id", OLD."period", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."places", OLD."space_id", OLD."status", OLD."structure_type", OLD."updated_at"); RETURN NULL;', hash='1f74cf5a724a58252d28f150bd175621643b67b1', operation='DELETE', pgid='pgtrigger_delete_delete_0b93f', table='occupancy_stay', when='AFTER')),
        ),
        migrations.AddConstraint(
            model_name='stay',
            constraint=models.CheckConstraint(condition=models.Q(('household_size__gte', 1), ('household_size__lte', 20)), name='stay_household_size_range'),
        ),
    ]
