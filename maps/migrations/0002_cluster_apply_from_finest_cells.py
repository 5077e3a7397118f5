"""maps_cluster_apply computes each building's cell once, at the finest zoom.

The first version computed the cell of every building at each of the 12 zooms,
through maps_cell — a SQL function PostgreSQL cannot inline (it is STRICT around
LEAST/GREATEST), so 24 function calls per building: 0.15 ms a building, a third
of an import of 200,000 rows. Now the buildings are grouped into zoom-11 cells
first, and coarser cells are derived from those by a shift: the cell of zoom z is
floor(t · 2^(z+2)), t the same double for every zoom, and scaling a double by a
power of two is exact, so ``x11 >> (11 - z)`` is that cell, clamping included.
Counts are the same as before; sums are added in another order (last-bit
differences, as any incremental maintenance has). 20,000 buildings: 2.1 s → 0.7 s.
"""

from django.db import migrations

# As in 0001: the public statuses, and Web Mercator's half-width in metres.
PUBLIC_STATUSES = "'{vacant,assessed,available}'"
HALF_WORLD = "20037508.342789244"
FINEST_ZOOM = 11

# The cell at zoom FINEST_ZOOM, written as maps_cell(coordinate, 11) is, so that
# both give the same integer for the same double.
FINEST_CELL = (
    "LEAST(GREATEST(floor(({coordinate} + {half}) / (2 * {half}) * (4 << {zoom}))"
    "::integer, 0), (4 << {zoom}) - 1)"
)

APPLY = """
CREATE OR REPLACE FUNCTION maps_cluster_apply(changes maps_cluster_change[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
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
    finest AS (
        SELECT {x} AS x, {y} AS y, s.scope, l.status, SUM(l.sign) AS n,
               SUM(l.sign * l.mx) AS sx, SUM(l.sign * l.my) AS sy
        FROM located AS l
        CROSS JOIN LATERAL (VALUES
            (COALESCE(l.department, '')),
            (CASE WHEN l.status = ANY({public}::varchar[])
                       AND NOT l.is_confidential THEN 'public' END)
        ) AS s (scope)
        WHERE s.scope IS NOT NULL
        GROUP BY 1, 2, 3, 4
    ),
    delta AS (
        SELECT z.zoom, f.x >> ({zoom} - z.zoom) AS x, f.y >> ({zoom} - z.zoom) AS y,
               f.scope, f.status, SUM(f.n)::integer AS n,
               SUM(f.sx) AS sx, SUM(f.sy) AS sy
        FROM finest AS f
        CROSS JOIN generate_series(0, {zoom}) AS z (zoom)
        GROUP BY 1, 2, 3, 4, 5
    )
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
END
$$;
""".format(
    x=FINEST_CELL.format(coordinate="l.mx", half=HALF_WORLD, zoom=FINEST_ZOOM),
    y=FINEST_CELL.format(coordinate="-l.my", half=HALF_WORLD, zoom=FINEST_ZOOM),
    public=PUBLIC_STATUSES,
    zoom=FINEST_ZOOM,
)

# 0001's version, for the way back.
APPLY_0001 = f"""
CREATE OR REPLACE FUNCTION maps_cluster_apply(changes maps_cluster_change[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(changes) = 0 THEN
        RETURN;
    END IF;
    WITH located AS (
        SELECT ST_X(m) AS mx, ST_Y(m) AS my, c.status, c.department,
               c.is_confidential, c.sign
        FROM unnest(changes) AS c
        CROSS JOIN LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(
            ST_X(c.point), LEAST(GREATEST(ST_Y(c.point), -85.0511), 85.0511)
        ), 4326), 3857) AS m
        WHERE c.point IS NOT NULL
    ),
    keyed AS (
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
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("maps", "0001_building_cluster"),
    ]

    operations = [migrations.RunSQL(APPLY, APPLY_0001)]
