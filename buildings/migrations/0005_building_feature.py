"""Each building's GeoJSON pieces, kept by triggers (buildings.models.BuildingFeature).

The property lists are buildings.geojson's PUBLIC_PROPERTIES and AGENT_PROPERTIES
as of this migration; tests/buildings/test_geojson.py compares the stored texts
with the columns rendered on the fly, so changing a list needs a new migration.
"""

import django.db.models.deletion
from django.db import migrations, models

# Property name → column (foreign keys are stored as <name>_id).
PUBLIC = (
    "designation", "asset_type", "function", "address", "postal_code", "city",
    ("commune", "commune_id"), ("department", "department_id"), "surface_m2",
    "year_built", "status", "erp", "accessibility", "vacancy_since",
    "next_use_date", "suitability_shelter", "suitability_workspace",
    "suitability_mixed", "suitability_completeness",
)  # fmt: skip
AGENT_EXTRA = (
    "inventory_id", "code_chorus", ("site", "site_id"), "source", "ministry",
    "manager_label", "manager_type", "domaniality", "is_confidential",
    "guarding_cost_monthly", "outside_declared_commune", "condition",
    "energy_kwh_ef", "heating_type", "erp_type", "erp_category", "surface_kind",
    "vacancy_cause", "next_use", "parcel_ids", "rnb_ids",
)  # fmt: skip


def _select(properties):
    terms = []
    for item in properties:
        name, column = (item, item) if isinstance(item, str) else item
        terms.append(f'n."{column}" AS "{name}"')
    return ", ".join(terms)


# The same expressions as buildings.geojson renders on the fly: 6 decimals, no
# crs member, exterior rings counter-clockwise (RFC 7946).
RENDER = f"""
    SELECT n.id,
           ST_AsGeoJSON(n.point, 6, 0),
           ST_AsGeoJSON(ST_ForcePolygonCCW(n.footprint), 6, 0),
           (SELECT row_to_json(p) FROM (SELECT {_select(PUBLIC)}) AS p)::text,
           (SELECT row_to_json(p) FROM (SELECT {_select(AGENT_EXTRA)}) AS p)::text
    FROM changed AS n
"""

def functions(render: str, public: str, agent: str) -> str:
    """The trigger function that writes the changed rows' texts, rendered by
    ``render``, into the columns ``public`` and ``agent``, and the function that
    rebuilds every row (migration 0009 redefines both)."""
    columns = f"building_id, point_geometry, footprint_geometry, {public}, {agent}"
    return f"""
CREATE OR REPLACE FUNCTION buildings_feature_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO buildings_buildingfeature ({columns})
    {render}
    ON CONFLICT (building_id) DO UPDATE SET
        point_geometry = EXCLUDED.point_geometry,
        footprint_geometry = EXCLUDED.footprint_geometry,
        {public} = EXCLUDED.{public},
        {agent} = EXCLUDED.{agent};
    RETURN NULL;
END
$$;

-- Rebuilds every row: for loads that ran with triggers off (bench/generate.py).
CREATE OR REPLACE FUNCTION buildings_feature_refresh() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    TRUNCATE buildings_buildingfeature;
    WITH written_rows AS (
        INSERT INTO buildings_buildingfeature ({columns})
        {render.replace("FROM changed AS n", "FROM buildings_building AS n")}
        RETURNING 1
    )
    SELECT count(*) INTO written FROM written_rows;
    RETURN written;
END
$$;
"""


FORWARD = functions(RENDER, "public_properties", "agent_properties") + """
CREATE FUNCTION buildings_feature_forget() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM buildings_buildingfeature AS f USING changed AS o
    WHERE f.building_id = o.id;
    RETURN NULL;
END
$$;

-- One statement, one set-based write: an import of 200,000 rows renders them in
-- one INSERT … SELECT, not 200,000 trigger calls.
CREATE TRIGGER buildings_feature_insert AFTER INSERT ON buildings_building
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION buildings_feature_write();
CREATE TRIGGER buildings_feature_update AFTER UPDATE ON buildings_building
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION buildings_feature_write();
CREATE TRIGGER buildings_feature_delete AFTER DELETE ON buildings_building
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION buildings_feature_forget();

-- Buildings that exist already.
SELECT buildings_feature_refresh();
"""

BACKWARD = """
DROP TRIGGER buildings_feature_insert ON buildings_building;
DROP TRIGGER buildings_feature_update ON buildings_building;
DROP TRIGGER buildings_feature_delete ON buildings_building;
DROP FUNCTION buildings_feature_write();
DROP FUNCTION buildings_feature_forget();
DROP FUNCTION buildings_feature_refresh();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("buildings", "0004_public_point_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="BuildingFeature",
            fields=[
                (
                    "building",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="buildings.building",
                    ),
                ),
                ("point_geometry", models.TextField(null=True)),
                ("footprint_geometry", models.TextField(null=True)),
                ("public_properties", models.TextField()),
                ("agent_properties", models.TextField()),
            ],
            options={
                "verbose_name": "building GeoJSON",
                "verbose_name_plural": "building GeoJSON",
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
