"""A free-of-charge agreement carries no fee: no amount (not even 0 €), no period,
no indexation (CG3P L.2125-1: a waived fee is no fee at all).

The services refused a positive amount on a free agreement but took 0.00 and
kept an annual period beside it (found by a review); they now refuse all three,
and so does the database. Rows already stored that way lose these leftovers
first (they meant nothing: the agreement is free), with a new ``updated_at`` so
that a client holding the old ETag reads the row again; the audit trigger keeps
their previous version. A free agreement with a positive amount (written by hand
past the services) is a contradiction no migration can settle: it stops, naming
the agreements, for someone to decide which is right.
"""

from django.db import migrations, models

REFUSE_CONTRADICTIONS = """
DO $$
DECLARE
    ids text;
BEGIN
    SELECT string_agg(id::text, ', ' ORDER BY id) INTO ids
    FROM occupancy_agreement WHERE free_of_charge AND fee_amount > 0;
    IF ids IS NOT NULL THEN
        RAISE EXCEPTION 'Agreements % are free of charge with a fee amount above 0: '
            'set which is right (free, or the fee), then migrate again.', ids;
    END IF;
END
$$
"""

CLEAR_LEFTOVERS = """
UPDATE occupancy_agreement
SET fee_amount = NULL, fee_period = '', fee_indexation = '', updated_at = now()
WHERE free_of_charge
  AND (fee_amount IS NOT NULL OR fee_period <> '' OR fee_indexation <> '')
"""


class Migration(migrations.Migration):
    dependencies = [
        ("occupancy", "0006_gdpr_functions"),
    ]

    operations = [
        migrations.RunSQL(REFUSE_CONTRADICTIONS, migrations.RunSQL.noop, elidable=True),
        migrations.RunSQL(CLEAR_LEFTOVERS, migrations.RunSQL.noop, elidable=True),
        migrations.AddConstraint(
            model_name="agreement",
            constraint=models.CheckConstraint(
                condition=models.Q(("free_of_charge", False))
                | models.Q(
                    ("fee_amount__isnull", True),
                    ("fee_indexation", ""),
                    ("fee_period", ""),
                ),
                name="agreement_free_has_no_fee",
            ),
        ),
    ]
