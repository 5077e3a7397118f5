"""Who added a space: ``Space.created_by``, the operator that created it.

Until now a space that no agreement claimed was changed by every operator holding
a live agreement in its building, so two operators sharing one could rename each
other's free rooms or cut their capacity. Such a space is now changed only by the
operator that created it (or by State agents in the admin).

Rows stored before are not known to any operator. A free space (no agreement
other than a closed, rejected or withdrawn one names it) in a building where a
single operator holds live agreements was that operator's alone to change, and
stays so: it is given to it. In a building shared by several operators nobody can
say which one added it, so it is given to none: State agents attach it to an
agreement (its operator then changes it) or change it in the admin.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

GIVE_FREE_SPACES_TO_THE_ONLY_OPERATOR = """
UPDATE occupancy_space AS sp
SET created_by_id = sole.operator_id
FROM (
    SELECT building_id, min(operator_id) AS operator_id
    FROM occupancy_agreement
    WHERE status IN ('approved', 'signed', 'active', 'suspended', 'ending')
    GROUP BY building_id
    HAVING count(DISTINCT operator_id) = 1
) AS sole
WHERE sp.building_id = sole.building_id
  AND sp.created_by_id IS NULL
  AND NOT EXISTS (
      SELECT 1
      FROM occupancy_agreementspace AS asp
      JOIN occupancy_agreement AS a ON a.id = asp.agreement_id
      WHERE asp.space_id = sp.id
        AND a.status NOT IN ('closed', 'rejected', 'withdrawn')
  )
"""


class Migration(migrations.Migration):

    dependencies = [
        ('occupancy', '0008_audit_guards'),
        ('organizations', '0001_initial'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='space',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='space',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='space',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='space',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='spaces_created', to='organizations.organization', verbose_name='created by (operator)'),
        ),
        migrations.AddField(
            model_name='spaceevent',
            name='created_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', related_query_name='+', to='organizations.organization', verbose_name='created by (operator)'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='space',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "occupancy_spaceevent" ("building_id", "capacity", "created_at", "created_by_id", "floor", "id", "kind", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "surface_m2", "updated_at", "use") VALUES (NEW."building_id", NEW."capacity", NEW."created_at", NEW."created_by_id", NEW."floor", NEW."id", NEW."kind", NEW."name", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."surface_m2", NEW."updated_at", NEW."use"); RETURN NULL;', hash='9492bb5e35653c8815989cee00be49f039ef3ba9', operation='INSERT', pgid='pgtrigger_insert_insert_3c3df', table='occupancy_space', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='space',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "occupancy_spaceevent" ("building_id", "capacity", "created_at", "created_by_id", "floor", "id", "kind", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "surface_m2", "updated_at", "use") VALUES (NEW."building_id", NEW."capacity", NEW."created_at", NEW."created_by_id", NEW."floor", NEW."id", NEW."kind", NEW."name", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."surface_m2", NEW."updated_at", NEW."use"); RETURN NULL;', hash='440c0ba39659a82c07e1d367c0b99480ff2f8e2f', operation='UPDATE', pgid='pgtrigger_update_update_8942d', table='occupancy_space', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='space',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "occupancy_spaceevent" ("building_id", "capacity", "created_at", "created_by_id", "floor", "id", "kind", "name", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "surface_m2", "updated_at", "use") VALUES (OLD."building_id", OLD."capacity", OLD."created_at", OLD."created_by_id", OLD."floor", OLD."id", OLD."kind", OLD."name", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."surface_m2", OLD."updated_at", OLD."use"); RETURN NULL;', hash='d22ca8fbb26485d98be24198ae5eb767bb18706e', operation='DELETE', pgid='pgtrigger_delete_delete_2ddfa', table='occupancy_space', when='AFTER')),
        ),
        migrations.RunSQL(
            GIVE_FREE_SPACES_TO_THE_ONLY_OPERATOR,
            migrations.RunSQL.noop,
            elidable=True,
        ),
    ]
