from __future__ import annotations

from django.http import HttpRequest

from occupancy.rules import rules


def disclosure(request: HttpRequest) -> dict[str, object]:
    """The small-cell threshold in force, for pages that say what they withhold."""
    return {"small_cell_threshold": rules().small_cell_threshold}
