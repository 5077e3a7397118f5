"""Store each building's properties as a head and an agent tail, so that pages
splice them with plain concatenation (buildings.models.BuildingFeature).

Until now the stored texts were the public object and the agent-only object,
and an agent's page joined them with ``left(public, -1) || ',' ||
substr(agent, 2)``: in a UTF-8 database both functions count characters, not
bytes, which cost a third of an agent's 1,000-feature statement (3.3 of 10 ms,
README "Benchmarks"). Now:

- ``properties_head``: the public object without its closing brace;
- ``agent_tail``: a comma, the members only agents read, the closing brace;

so a public page writes ``head || '}'`` and an agent's ``head || tail``. The
trigger functions of migration 0005 render the new texts; every row is
rendered again here (one set-based statement).
"""

import importlib

from django.db import migrations

initial = importlib.import_module("buildings.migrations.0005_building_feature")

# Strip or split the objects of 0005's rendering where they are written, once.
RENDER = f"""
    SELECT r.id, r.point, r.footprint, left(r.public, -1),
           ',' || substr(r.agent, 2)
    FROM ({initial.RENDER}) AS r (id, point, footprint, public, agent)
"""


FORWARD = (
    initial.functions(RENDER, "properties_head", "agent_tail")
    + "SELECT buildings_feature_refresh();"
)
BACKWARD = initial.functions(initial.RENDER, "public_properties", "agent_properties")


class Migration(migrations.Migration):
    dependencies = [
        ("buildings", "0008_field_labels"),
    ]

    operations = [
        # Backwards this runs last, once the columns have their old names and
        # the functions their old bodies.
        migrations.RunSQL(
            migrations.RunSQL.noop, "SELECT buildings_feature_refresh();"
        ),
        migrations.RenameField(
            model_name="buildingfeature",
            old_name="public_properties",
            new_name="properties_head",
        ),
        migrations.RenameField(
            model_name="buildingfeature",
            old_name="agent_properties",
            new_name="agent_tail",
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
