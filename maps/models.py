"""The low-zoom cluster table behind the building tiles (DESIGN.md, "Serving fast").

A tile at zoom z ≤ 11 draws clusters, never raw points: a z6 tile over Paris holds
tens of thousands of buildings (4.6 MB, 230 ms on 200k rows, performance.md §3.2),
whereas its clusters are a handful of rows of this table.

One row per (zoom, cell, scope key, status). A tile of zoom z is cut into 4 × 4
cells of 64 pixels, so a cell of zoom z is exactly a tile of zoom z + 2: the
cells of tile (z, x, y) are x·4 … x·4 + 3 by y·4 … y·4 + 3, a range read on the
primary key. Each row keeps its building count and the sums of their Web Mercator
coordinates, so that
- the trigger can add and remove buildings without reading the others (the
  centroid of a cell is Σx/n, Σy/n), and
- rows of several scope keys and statuses of one cell merge exactly in the tile
  query (a national agent's cell sums its départements; a status filter sums the
  statuses it keeps).

Scope keys: ``public`` for the public stock (vacant, assessed, available and not
confidential: what anyone may see), and one key per département code for State
agents, who see their territory whole (``""`` for buildings without a département,
seen by national services only).

The table is kept current by statement-level triggers on buildings_building
(migration 0001): whoever writes buildings (services, importers' COPY + upsert,
the admin, a raw UPDATE) updates it in the same transaction, so tiles never show
a stale count and no other app has to remember to call anything. ``manage.py
refresh_clusters`` rebuilds it from scratch (after restoring a dump without
triggers, or to check for drift).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

PUBLIC_SCOPE_KEY = "public"
CLUSTER_MAX_ZOOM = 11
# Cells per tile side: 4 cells of 64 px on a 256-px tile.
CELLS_PER_TILE = 4


class BuildingCluster(models.Model):
    pk = models.CompositePrimaryKey("zoom", "x", "y", "scope", "status")
    zoom = models.PositiveSmallIntegerField()
    # Cell column and row, counted like tiles of zoom ``zoom + 2`` (origin top left).
    x = models.IntegerField()
    y = models.IntegerField()
    scope = models.CharField(max_length=6)
    status = models.CharField(max_length=20)
    count = models.IntegerField()
    # Σ of the buildings' EPSG:3857 coordinates, in metres.
    sum_x = models.FloatField()
    sum_y = models.FloatField()

    class Meta:
        verbose_name = _("building cluster")
        verbose_name_plural = _("building clusters")
        constraints = [
            models.CheckConstraint(
                condition=Q(zoom__gte=0, zoom__lte=CLUSTER_MAX_ZOOM),
                name="building_cluster_zoom_range",
            ),
        ]
        # No CHECK (count >= 0): PostgreSQL checks the row an INSERT … ON CONFLICT
        # proposes before it finds the conflict, and the trigger's upsert proposes
        # negative deltas. ``refresh_clusters --check`` finds drift instead.
        indexes = [
            # The trigger's clean-up: DELETE … WHERE count = 0 reads only empty rows.
            models.Index(
                fields=["zoom"], condition=Q(count=0), name="building_cluster_empty"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"z{self.zoom}/{self.x}/{self.y} {self.scope} {self.status}: {self.count}"
        )
