"""Map components other apps' pages include.

The building page (templates/buildings/building_detail.html) shows a building's
surroundings with::

    # buildings/views.py, in the page's context
    from maps.components import building_map
    "building_map": building_map(building, scope),

    {# the template, where the map goes; nothing when the building has no point #}
    {% if building_map %}{% include "maps/_map.html" with map=building_map %}{% endif %}
"""

from __future__ import annotations

from buildings.models import Building
from maps.layers import building_map_spec
from maps.render import RenderedMap, render_map
from organizations.selectors import Scope


def building_map(building: Building, scope: Scope) -> RenderedMap | None:
    """The building, its footprint, and the vacant buildings and Cartofriches
    sites around it with their distances; None when it has no location."""
    spec = building_map_spec(building=building, scope=scope)
    return None if spec is None else render_map(spec)
