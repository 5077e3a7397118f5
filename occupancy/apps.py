from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OccupancyConfig(AppConfig):
    name = "occupancy"
    verbose_name = _("Occupancy")

    def ready(self) -> None:
        # Registers the deploy check and the API messages of the constraints.
        from occupancy import checks, residents, services  # noqa: F401
