"""The cluster table of the low-zoom building tiles, and the triggers that keep it
current (maps/models.py says why and how).

Triggers rather than a refresh called by services: every writer of
buildings_building — services, the importers' COPY + INSERT … ON CONFLICT, the
admin, a raw UPDATE — then updates the clusters in its own transaction, and no
other app has to know the table exists. They are statement-level with transition
tables, so an import of 200,000 rows applies one grouped delta, not 200,000.
"""

from django.db import migrations, models

# The public stock, as buildings.models.PUBLIC_STATUSES (a test checks they agree).
PUBLIC_STATUSES = "'{vacant,assessed,available}'"
# Web Mercator half-width of the world, in metres.
HALF_WORLD = "20037508.342789244"

# Pieces of maps_cluster_apply that maps 0002 keeps: the changed points in Web
# Mercator, and the upsert of the grouped delta.
LOCATED = """
    WITH located AS (
        -- Latitudes clamped to Web Mercator's limit: a misplaced point near a pole
        -- must not make a building write fail.
        SELECT ST_X(m) AS mx, ST_Y(m) AS my, c.status, c.department,
               c.is_confidential, c.sign
        FROM unnest(changes) AS c
        CROSS JOIN LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(
            ST_X(c.point), LEAST(GREATEST(ST_Y(c.point), -85.0511), 85.0511)
        ), 4326), 3857) AS m
        WHERE c.point IS NOT NULL
    ),
"""
UPSERT = """
    -- In key order, so that concurrent writers lock shared cells in the same order
    -- (no deadlock between two imports).
    INSERT INTO maps_buildingcluster AS c
        (zoom, x, y, scope, status, count, sum_x, sum_y)
    SELECT zoom, x, y, scope, status, n, sx, sy
    FROM delta
    WHERE n <> 0 OR sx <> 0 OR sy <> 0
    ORDER BY zoom, x, y, scope, status
    ON CONFLICT (zoom, x, y, scope, status) DO UPDATE
    SET count = c.count + EXCLUDED.count,
        sum_x = c.sum_x + EXCLUDED.sum_x,
        sum_y = c.sum_y + EXCLUDED.sum_y;
    DELETE FROM maps_buildingcluster WHERE count = 0;
"""

# Also what maps 0002 restores on its way back.
APPLY = f"""
-- Adds (sign +1) and removes (sign -1) buildings from every zoom's clusters.
CREATE FUNCTION maps_cluster_apply(changes maps_cluster_change[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
{LOCATED}    keyed AS (
        SELECT z.zoom, maps_cell(l.mx, z.zoom) AS x, maps_cell(-l.my, z.zoom) AS y,
               s.scope, l.status, l.sign, l.mx, l.my
        FROM located AS l
        CROSS JOIN generate_series(0, 11) AS z (zoom)
        CROSS JOIN LATERAL (VALUES
            (COALESCE(l.department, '')),
            (CASE WHEN l.status = ANY({PUBLIC_STATUSES}::varchar[])
                       AND NOT l.is_confidential THEN 'public' END)
        ) AS s (scope)
        WHERE s.scope IS NOT NULL
    ),
    delta AS (
        SELECT zoom, x, y, scope, status, SUM(sign)::integer AS n,
               SUM(sign * mx) AS sx, SUM(sign * my) AS sy
        FROM keyed
        GROUP BY zoom, x, y, scope, status
    )
{UPSERT}END
$$;
"""

FORWARD = f"""
-- Column (or, given -y, row) of the 64-px cell holding a Web Mercator coordinate at
-- tile zoom ``zoom``: the tile index at zoom + 2, clamped to the world.
CREATE FUNCTION maps_cell(coordinate double precision, zoom integer)
RETURNS integer LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT LEAST(GREATEST(
        floor((coordinate + {HALF_WORLD}) / (2 * {HALF_WORLD}) * (4 << zoom))::integer,
        0), (4 << zoom) - 1)
$$;

CREATE TYPE maps_cluster_change AS (
    point geometry, status varchar, department varchar,
    is_confidential boolean, sign integer
);

{APPLY}

CREATE FUNCTION maps_building_cluster_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maps_cluster_apply(ARRAY(
        SELECT ROW(n.point, n.status, n.department_id, n.is_confidential, 1)
               ::maps_cluster_change
        FROM new_rows AS n WHERE n.point IS NOT NULL
    ));
    RETURN NULL;
END
$$;

-- Only rows whose point, status, département or confidentiality changed: the
-- suitability recomputation and most edits leave the clusters alone.
CREATE FUNCTION maps_building_cluster_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maps_cluster_apply(ARRAY(
        WITH moved AS (
            SELECT o.point AS old_point, o.status AS old_status,
                   o.department_id AS old_department,
                   o.is_confidential AS old_confidential,
                   n.point, n.status, n.department_id, n.is_confidential
            FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
            WHERE (o.point, o.status, o.department_id, o.is_confidential)
                  IS DISTINCT FROM
                  (n.point, n.status, n.department_id, n.is_confidential)
        )
        SELECT ROW(old_point, old_status, old_department, old_confidential, -1)
               ::maps_cluster_change
        FROM moved WHERE old_point IS NOT NULL
        UNION ALL
        SELECT ROW(point, status, department_id, is_confidential, 1)
               ::maps_cluster_change
        FROM moved WHERE point IS NOT NULL
    ));
    RETURN NULL;
END
$$;

CREATE FUNCTION maps_building_cluster_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM maps_cluster_apply(ARRAY(
        SELECT ROW(o.point, o.status, o.department_id, o.is_confidential, -1)
               ::maps_cluster_change
        FROM old_rows AS o WHERE o.point IS NOT NULL
    ));
    RETURN NULL;
END
$$;

CREATE FUNCTION maps_building_cluster_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM maps_buildingcluster;
    RETURN NULL;
END
$$;

-- PostgreSQL allows transition tables only on single-event triggers: one per event.
CREATE TRIGGER maps_cluster_insert AFTER INSERT ON buildings_building
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maps_building_cluster_insert();
CREATE TRIGGER maps_cluster_update AFTER UPDATE ON buildings_building
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maps_building_cluster_update();
CREATE TRIGGER maps_cluster_delete AFTER DELETE ON buildings_building
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION maps_building_cluster_delete();
CREATE TRIGGER maps_cluster_truncate AFTER TRUNCATE ON buildings_building
    FOR EACH STATEMENT EXECUTE FUNCTION maps_building_cluster_truncate();

-- The buildings already there.
SELECT maps_cluster_apply(ARRAY(
    SELECT ROW(point, status, department_id, is_confidential, 1)::maps_cluster_change
    FROM buildings_building WHERE point IS NOT NULL
));
"""

BACKWARD = """
DROP TRIGGER maps_cluster_truncate ON buildings_building;
DROP TRIGGER maps_cluster_delete ON buildings_building;
DROP TRIGGER maps_cluster_update ON buildings_building;
DROP TRIGGER maps_cluster_insert ON buildings_building;
DROP FUNCTION maps_building_cluster_truncate();
DROP FUNCTION maps_building_cluster_delete();
DROP FUNCTION maps_building_cluster_update();
DROP FUNCTION maps_building_cluster_insert();
DROP FUNCTION maps_cluster_apply(maps_cluster_change[]);
DROP TYPE maps_cluster_change;
DROP FUNCTION maps_cell(double precision, integer);
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("buildings", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="BuildingCluster",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "zoom",
                        "x",
                        "y",
                        "scope",
                        "status",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("zoom", models.PositiveSmallIntegerField()),
                ("x", models.IntegerField()),
                ("y", models.IntegerField()),
                ("scope", models.CharField(max_length=6)),
                ("status", models.CharField(max_length=20)),
                ("count", models.IntegerField()),
                ("sum_x", models.FloatField()),
                ("sum_y", models.FloatField()),
            ],
            options={
                "verbose_name": "building cluster",
                "verbose_name_plural": "building clusters",
                "indexes": [
                    models.Index(
                        condition=models.Q(("count", 0)),
                        fields=["zoom"],
                        name="building_cluster_empty",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("zoom__gte", 0), ("zoom__lte", 11)),
                        name="building_cluster_zoom_range",
                    ),
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
