"""Fee payments take an Idempotency-Key, as disbursements do: a client retrying
after a timeout recorded the payment twice.

Payments already recorded had no key: each gets "before-keys-<id>", unique under
its agreement, after the audit triggers are back, so that their history keeps the
change. Their past audit events keep an empty key (they carried none).
"""


import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0002_disbursement_index_by_commitment'),
        ('occupancy', '0008_audit_guards'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name='feepayment',
            name='insert_insert',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='feepayment',
            name='update_update',
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='feepayment',
            name='delete_delete',
        ),
        migrations.AddField(
            model_name='feepayment',
            name='idempotency_key',
            field=models.CharField(default='', max_length=255),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='feepaymentevent',
            name='idempotency_key',
            field=models.CharField(default='', max_length=255),
            preserve_default=False,
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='feepayment',
            trigger=pgtrigger.compiler.Trigger(name='insert_insert', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "finance_feepaymentevent" ("agreement_id", "amount", "created_at", "date", "id", "idempotency_key", "illustrative", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reference", "updated_at") VALUES (NEW."agreement_id", NEW."amount", NEW."created_at", NEW."date", NEW."id", NEW."idempotency_key", NEW."illustrative", _pgh_attach_context(), NOW(), \'insert\', NEW."id", NEW."reference", NEW."updated_at"); RETURN NULL;', hash='24b5ec6b5d32e260311c47d1369376273b5655d1', operation='INSERT', pgid='pgtrigger_insert_insert_2238f', table='finance_feepayment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='feepayment',
            trigger=pgtrigger.compiler.Trigger(name='update_update', sql=pgtrigger.compiler.UpsertTriggerSql(condition='WHEN (OLD.* IS DISTINCT FROM NEW.*)', func='INSERT INTO "finance_feepaymentevent" ("agreement_id", "amount", "created_at", "date", "id", "idempotency_key", "illustrative", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reference", "updated_at") VALUES (NEW."agreement_id", NEW."amount", NEW."created_at", NEW."date", NEW."id", NEW."idempotency_key", NEW."illustrative", _pgh_attach_context(), NOW(), \'update\', NEW."id", NEW."reference", NEW."updated_at"); RETURN NULL;', hash='a961ca086c2d6f29d22bb67eb8fa77b4fd6b71f7', operation='UPDATE', pgid='pgtrigger_update_update_5463f', table='finance_feepayment', when='AFTER')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='feepayment',
            trigger=pgtrigger.compiler.Trigger(name='delete_delete', sql=pgtrigger.compiler.UpsertTriggerSql(func='INSERT INTO "finance_feepaymentevent" ("agreement_id", "amount", "created_at", "date", "id", "idempotency_key", "illustrative", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "reference", "updated_at") VALUES (OLD."agreement_id", OLD."amount", OLD."created_at", OLD."date", OLD."id", OLD."idempotency_key", OLD."illustrative", _pgh_attach_context(), NOW(), \'delete\', OLD."id", OLD."reference", OLD."updated_at"); RETURN NULL;', hash='ca2c46b236e4531c0fa5bf95db642f9116d7a24e', operation='DELETE', pgid='pgtrigger_delete_delete_705a5', table='finance_feepayment', when='AFTER')),
        ),
        migrations.RunSQL(
            "UPDATE finance_feepayment SET idempotency_key = 'before-keys-' || id "
            "WHERE idempotency_key = ''",
            migrations.RunSQL.noop,
            elidable=True,
        ),
        migrations.AddConstraint(
            model_name='feepayment',
            constraint=models.CheckConstraint(condition=models.Q(('idempotency_key', ''), _negated=True), name='fee_payment_key_present'),
        ),
        migrations.AddConstraint(
            model_name='feepayment',
            constraint=models.UniqueConstraint(fields=('agreement', 'idempotency_key'), name='fee_payment_key_unique'),
        ),
    ]
