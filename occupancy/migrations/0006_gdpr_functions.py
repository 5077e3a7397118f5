"""The deletions the GDPR paths make in append-only tables, as functions that run
with the privileges of the role that migrates (reliability.md §H4).

The application's own database role (``manage.py grant_app_role``) may not UPDATE
or DELETE an audit table; the retention purge and an erasure still delete a
resident's history, and the purge old reads of resident data. They call these
functions, which delete exactly that and nothing else: the events of residents
already retired (deleted, or anonymised) with their stays' and contracts' — and
only if every version of those names one of them and no such row still on file
belongs to anyone else, since the role may add history rows of its own —, the
contexts no event names any more, and the reads older than the CNIL floor of six
months, whatever date they are given.
The Protect triggers still guard the rows inside them: the caller lifts them for
its transaction (pgtrigger.ignore), as before.
"""

from django.db import migrations

from config.database.functions import execute_in_schema

FUNCTIONS = """
CREATE FUNCTION intercalaire_forget_resident_history(occupants bigint[])
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    deleted bigint := 0;
    n bigint;
BEGIN
    -- Only residents no longer on file (deleted, or anonymised).
    IF EXISTS (
        SELECT 1 FROM occupancy_occupant
        WHERE id = ANY(occupants) AND anonymised_at IS NULL
    ) THEN
        RAISE EXCEPTION 'intercalaire: the history of a resident on file is kept'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Every version of a stay or contract to forget names one of them, and the
    -- row, if still on file, is one of theirs.
    IF {foreign_versions}
    THEN
        RAISE EXCEPTION 'intercalaire: that history names a resident on file'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM occupancy_occupantevent WHERE pgh_obj_id = ANY(occupants);
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    DELETE FROM occupancy_stayevent WHERE pgh_obj_id IN (
        SELECT pgh_obj_id FROM occupancy_stayevent
        WHERE occupant_id = ANY(occupants)
    );
    GET DIAGNOSTICS n = ROW_COUNT;
    deleted := deleted + n;
    DELETE FROM occupancy_residencecontractevent WHERE pgh_obj_id IN (
        SELECT pgh_obj_id FROM occupancy_residencecontractevent
        WHERE occupant_id = ANY(occupants)
    );
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN deleted + n;
END
$$;
CREATE FUNCTION intercalaire_forget_contexts(ids uuid[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    events record;
    found uuid[];
    used uuid[] := '{{}}';
    n bigint;
BEGIN
    -- Every table with a pgh_context_id column, whatever app it belongs to: a
    -- context shared with events that remain describes those writes too.
    FOR events IN
        SELECT c.relname
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = '{schema}'::regnamespace
          AND c.relkind IN ('r', 'p')
          AND a.attname = 'pgh_context_id'
          AND NOT a.attisdropped
    LOOP
        EXECUTE format(
            'SELECT array_agg(DISTINCT pgh_context_id) FROM %I '
            'WHERE pgh_context_id = ANY($1)',
            events.relname
        ) INTO found USING ids;
        used := used || coalesce(found, '{{}}');
    END LOOP;
    DELETE FROM pghistory_context WHERE id = ANY(ids) AND NOT id = ANY(used);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION intercalaire_purge_resident_access(before timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    -- CNIL délibération 2021-122: a read is kept six months at least, whatever
    -- date the caller says it is.
    DELETE FROM occupancy_residentaccess
    WHERE at < least(before, now() - interval '6 months');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION
    intercalaire_forget_resident_history(bigint[]),
    intercalaire_forget_contexts(uuid[]),
    intercalaire_purge_resident_access(timestamptz)
FROM PUBLIC;
"""

# The rows a resident's stays and contracts are, and their history.
HISTORIES = (
    ("occupancy_stay", "occupancy_stayevent"),
    ("occupancy_residencecontract", "occupancy_residencecontractevent"),
)
FOREIGN_VERSIONS = """
    EXISTS (
        SELECT 1 FROM {events} e
        WHERE e.pgh_obj_id IN (
            SELECT pgh_obj_id FROM {events} WHERE occupant_id = ANY(occupants)
        )
        AND (e.occupant_id IS NULL OR NOT e.occupant_id = ANY(occupants))
    ) OR EXISTS (
        SELECT 1 FROM {rows} r
        WHERE r.id IN (
            SELECT pgh_obj_id FROM {events} WHERE occupant_id = ANY(occupants)
        )
        AND NOT r.occupant_id = ANY(occupants)
    )"""


DROP = """
DROP FUNCTION intercalaire_forget_resident_history(bigint[]);
DROP FUNCTION intercalaire_forget_contexts(uuid[]);
DROP FUNCTION intercalaire_purge_resident_access(timestamptz);
"""


def create(apps, schema_editor):
    foreign = " OR ".join(
        FOREIGN_VERSIONS.format(rows=rows, events=events) for rows, events in HISTORIES
    )
    execute_in_schema(
        schema_editor, FUNCTIONS.replace("{foreign_versions}", foreign.strip())
    )


def drop(apps, schema_editor):
    execute_in_schema(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("occupancy", "0005_resident_access"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunPython(create, drop)]
