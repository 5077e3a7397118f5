"""A disbursement is dated on or after its commitment's decision, whatever the
write path: the rule lived in the services only (disbursement_record,
commitment_update), so an admin bulk edit, a script or raw SQL could pay before
the decision or move the decision past a payment.

Two constraint triggers hold it, one on each side of the rule, under the names of
the errors they raise (config/api.py turns them into a 409 on the field):

- ``disbursement_after_decision`` on finance_disbursement (insert, or a change of
  date or commitment): the commitment's decision is read FOR SHARE, so that it
  waits for a decision being moved and sees the moved one;
- ``commitment_decided_before_paid`` on finance_commitment (a change of the
  decision date): its disbursements are read after the row lock the UPDATE holds,
  so a payment racing it is either seen here or waits and meets the trigger above.

DEFERRABLE INITIALLY IMMEDIATE: the services write one row at a time and need no
deferral, and an error raised at the statement reaches the API (and the admin,
were it to write finance rows) where the write happened, not at a COMMIT outside
the view. A correction that moves a decision and its payments together defers
them in its transaction (``SET CONSTRAINTS disbursement_after_decision,
commitment_decided_before_paid DEFERRED``) and is checked at COMMIT.

Plain triggers owned by the role that migrates, as occupancy's 0008:
pgtrigger.ignore does not lift them. Rows already stored against the rule would
pass unseen (a trigger checks the rows written after it): the migration stops,
naming them, for someone to decide which date is wrong.
"""

from django.db import migrations

REFUSE_CONTRADICTIONS = """
DO $$
DECLARE
    ids text;
BEGIN
    SELECT string_agg(d.id::text, ', ' ORDER BY d.id) INTO ids
    FROM finance_disbursement d
    JOIN finance_commitment c ON c.id = d.commitment_id
    WHERE d.date < c.decision_date;
    IF ids IS NOT NULL THEN
        RAISE EXCEPTION 'Disbursements % are dated before their commitment''s '
            'decision: correct the payment''s date or the decision''s, then '
            'migrate again.', ids;
    END IF;
END
$$
"""

GUARDS = """
CREATE FUNCTION intercalaire_disbursement_after_decision() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    decided date;
BEGIN
    SELECT decision_date INTO decided FROM finance_commitment
    WHERE id = NEW.commitment_id FOR SHARE;
    IF NEW.date < decided THEN
        RAISE EXCEPTION 'disbursement % dated % before its commitment''s decision (%)',
            NEW.id, NEW.date, decided
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'disbursement_after_decision';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER disbursement_after_decision
AFTER INSERT OR UPDATE OF date, commitment_id ON finance_disbursement
DEFERRABLE INITIALLY IMMEDIATE
FOR EACH ROW EXECUTE FUNCTION intercalaire_disbursement_after_decision();

CREATE FUNCTION intercalaire_commitment_decided_before_paid() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    first_paid date;
BEGIN
    SELECT min(date) INTO first_paid FROM finance_disbursement
    WHERE commitment_id = NEW.id;
    IF first_paid < NEW.decision_date THEN
        RAISE EXCEPTION 'commitment % decided on % after its disbursement of %',
            NEW.id, NEW.decision_date, first_paid
        USING ERRCODE = 'check_violation',
              CONSTRAINT = 'commitment_decided_before_paid';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER commitment_decided_before_paid
AFTER UPDATE OF decision_date ON finance_commitment
DEFERRABLE INITIALLY IMMEDIATE
FOR EACH ROW EXECUTE FUNCTION intercalaire_commitment_decided_before_paid();
"""

DROP_GUARDS = """
DROP TRIGGER commitment_decided_before_paid ON finance_commitment;
DROP FUNCTION intercalaire_commitment_decided_before_paid();
DROP TRIGGER disbursement_after_decision ON finance_disbursement;
DROP FUNCTION intercalaire_disbursement_after_decision();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0003_fee_payment_idempotency_key"),
    ]

    operations = [
        migrations.RunSQL(REFUSE_CONTRADICTIONS, migrations.RunSQL.noop, elidable=True),
        migrations.RunSQL(GUARDS, DROP_GUARDS),
    ]
