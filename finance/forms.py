"""The dashboard's filter form (DSFR markup): year, site, nature, and — for State
agents, who see every funder of their territory — the funder."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from finance.models import Nature
from finance.selectors import Choices, Filters

ANY = ("", _("All"))


class DashboardFilterForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, required=False)
    site = forms.TypedChoiceField(label=_("Site"), coerce=int, required=False)
    nature = forms.ChoiceField(label=_("Nature"), required=False)
    funder = forms.TypedChoiceField(label=_("Funder"), coerce=int, required=False)

    def __init__(
        self, *args: Any, choices: Choices, with_funder: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        # Only values the caller's own commitments hold: a site or funder id
        # outside them is an invalid choice, not a probe (reliability.md B6).
        options: dict[str, list[tuple[Any, Any]]] = {
            "year": [ANY] + [(y, str(y)) for y in choices.years],
            "site": [ANY, *choices.sites],
            "nature": [ANY, *Nature.choices],
            "funder": [ANY, *choices.funders],
        }
        if not with_funder:
            del self.fields["funder"]
        for name, field in self.fields.items():
            cast(forms.ChoiceField, field).choices = options[name]
        for field in self.fields.values():
            field.label_suffix = ""
            field.widget.attrs["class"] = "fr-select"

    def filters(self) -> Filters:
        """The filters asked for (none on an empty query). The views refuse an
        invalid form: dropping its bad filter, or all of them, would show more
        than was asked for."""
        if not self.is_bound:
            return Filters()
        if not self.is_valid():
            raise ValueError("filters() of an invalid form")
        data = self.cleaned_data
        return Filters(
            year=data.get("year") or None,
            building_id=data.get("site") or None,
            nature=data.get("nature") or None,
            funder_id=data.get("funder") or None,
        )
