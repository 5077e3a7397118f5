"""What the application's role cannot do to the history, even with the pgtrigger
triggers lifted (a session variable it can set): found by a review of 0006.

- A retired occupant stays retired: ``anonymised_at`` is never cleared or moved
  (the role could mark a resident retired, have its history forgotten by 0006's
  function, and clear the mark).
- A history context older than a day is never rewritten: pghistory's upsert keeps
  the contexts of running work current, but the user, URL and request id of past
  writes are the audit trail.

Plain triggers, owned by the role that migrates: pgtrigger.ignore does not lift
them, and the application's role cannot disable them (it owns no table).
"""

from django.db import migrations

from config.database.functions import execute_in_schema

GUARDS = """
CREATE FUNCTION intercalaire_retired_stays_retired() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.anonymised_at IS NOT NULL
       AND NEW.anonymised_at IS DISTINCT FROM OLD.anonymised_at THEN
        RAISE EXCEPTION 'intercalaire: an anonymised resident stays anonymised'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER intercalaire_retired_stays_retired
BEFORE UPDATE OF anonymised_at ON occupancy_occupant
FOR EACH ROW EXECUTE FUNCTION intercalaire_retired_stays_retired();

CREATE FUNCTION intercalaire_past_contexts_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.created_at IS DISTINCT FROM OLD.created_at
       OR OLD.created_at < now() - interval '1 day' THEN
        RAISE EXCEPTION 'intercalaire: the context of past writes is kept'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER intercalaire_past_contexts_kept
BEFORE UPDATE ON pghistory_context
FOR EACH ROW EXECUTE FUNCTION intercalaire_past_contexts_kept();
"""

DROP_GUARDS = """
DROP TRIGGER intercalaire_past_contexts_kept ON pghistory_context;
DROP FUNCTION intercalaire_past_contexts_kept();
DROP TRIGGER intercalaire_retired_stays_retired ON occupancy_occupant;
DROP FUNCTION intercalaire_retired_stays_retired();
"""


def create(apps, schema_editor):
    execute_in_schema(schema_editor, GUARDS)


def drop(apps, schema_editor):
    execute_in_schema(schema_editor, DROP_GUARDS)


class Migration(migrations.Migration):
    dependencies = [
        ("occupancy", "0007_free_agreement_has_no_fee"),
    ]

    operations = [migrations.RunPython(create, drop)]
