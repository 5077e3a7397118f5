"""Importers of the inventory (STYLE.md R5): services with a thin command in front.

``import_file(path, profile=…, on_error=…, dry_run=…)`` is the one entry point,
used by ``manage.py import_buildings``, the import page and the job queue. It
returns an ``ImportReport``; problems with the file or its rows are in the report,
never raised. Profiles: ``die`` (buildings/importers/die.py), ``cnig-friches``
(cnig.py) and ``generic`` (generic.py).
"""

from __future__ import annotations

from buildings.importers.pipeline import ON_ERROR, PROFILES, import_file
from buildings.importers.report import ImportReport, Issue

__all__ = ["ON_ERROR", "PROFILES", "ImportReport", "Issue", "import_file"]
