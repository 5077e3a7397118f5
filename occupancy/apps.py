from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OccupancyConfig(AppConfig):
    name = "occupancy"
    verbose_name = _("Occupancy")

    def ready(self) -> None:
        from occupancy import checks  # noqa: F401  (registers the deploy check)
