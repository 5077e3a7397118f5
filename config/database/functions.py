"""Running the SQL of database functions and triggers from migrations."""

from __future__ import annotations

from typing import Any


def execute_in_schema(schema_editor: Any, template: str) -> None:
    """Run ``template`` with ``{schema}`` set to the current schema, quoted (a
    SECURITY DEFINER function pins its search_path to it), and no parameters: a
    function's body is not a template for the driver (format's %I, %s)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
        cursor.execute(
            template.format(schema=schema_editor.connection.ops.quote_name(schema))
        )
