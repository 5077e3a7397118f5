"""Writes of the maps app: the cluster table's full rebuild."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class RefreshReport:
    buildings: int
    rows: int
    changed: int  # rows added, removed or changed by the rebuild


def clusters_refresh() -> RefreshReport:
    """Rebuild maps_buildingcluster with the triggers' own function.

    Writers of buildings wait meanwhile (SHARE lock): a write committed between
    the rebuild's read and its end would otherwise be counted twice or lost.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE buildings_building IN SHARE MODE")
        cursor.execute(
            "CREATE TEMPORARY TABLE maps_cluster_before ON COMMIT DROP AS "
            "SELECT zoom, x, y, scope, status, count FROM maps_buildingcluster"
        )
        cursor.execute("DELETE FROM maps_buildingcluster")
        cursor.execute(
            "SELECT maps_cluster_apply(ARRAY("
            "SELECT ROW(point, status, department_id, is_confidential, 1)"
            "::maps_cluster_change FROM buildings_building "
            "WHERE point IS NOT NULL))"
        )
        cursor.execute(
            "SELECT (SELECT count(*) FROM buildings_building "
            "WHERE point IS NOT NULL), "
            "(SELECT count(*) FROM maps_buildingcluster), "
            "(SELECT count(*) FROM ("
            "(SELECT zoom, x, y, scope, status, count FROM maps_buildingcluster "
            "EXCEPT SELECT * FROM maps_cluster_before) UNION ALL "
            "(SELECT * FROM maps_cluster_before EXCEPT "
            "SELECT zoom, x, y, scope, status, count FROM maps_buildingcluster)"
            ") AS d)"
        )
        buildings, rows, changed = cursor.fetchone()
    return RefreshReport(buildings, rows, changed)
