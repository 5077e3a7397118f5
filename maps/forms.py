"""Forms of the map pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.forms import PeriodDateField

# The side filters the inventory map shows (BuildingFilterSet reads the others too).
MAP_FILTERS = (
    "status",
    "department",
    "commune",
    "surface_min",
    "surface_max",
    "erp",
    "suitability_use",
    "suitability_min",
    "available_from",
    "available_to",
)


class PeriodForm(forms.Form):
    """The period of the occupancy map, ``[start, end)``; the last year by default."""

    start = PeriodDateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = PeriodDateField(
        label=_("Until (excluded)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - timedelta(days=365)
        if start >= end:
            raise forms.ValidationError(_("The period must end after it starts."))
        data["start"], data["end"] = start, end
        return data
