"""Forms of the agreement and site pages: list filters, lifecycle moves, the period
of the occupancy figures. DSFR classes are set on the widgets; the templates draw
each field with templates/buildings/_field.html."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from config.forms import PeriodDateField
from occupancy.models import (
    Agreement,
    AgreementStatus,
    Regime,
    RevocationMotive,
)

_A = AgreementStatus


def _date_input() -> forms.DateInput:
    # The browser's date picker sends ISO dates, which DateField parses.
    return forms.DateInput(
        attrs={"class": "fr-input", "type": "date"}, format="%Y-%m-%d"
    )


# --- Agreement list -----------------------------------------------------------------
class AgreementFilterForm(forms.Form):
    status = forms.MultipleChoiceField(
        label=_("Status"),
        choices=AgreementStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    regime = forms.ChoiceField(
        label=_("Regime"),
        choices=[("", _("All regimes")), *Regime.choices],
        required=False,
        widget=forms.Select(attrs={"class": "fr-select"}),
    )
    building = forms.CharField(
        label=_("Building (designation, address or inventory id)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "fr-input"}),
    )

    def filter(self, agreements: QuerySet[Agreement]) -> QuerySet[Agreement]:
        """``agreements`` narrowed by the cleaned filters (call after is_valid)."""
        data = self.cleaned_data
        if data["status"]:
            agreements = agreements.filter(status__in=data["status"])
        if data["regime"]:
            agreements = agreements.filter(regime=data["regime"])
        text = data["building"].strip()
        if text:
            agreements = agreements.filter(
                Q(building__designation__icontains=text)
                | Q(building__address__icontains=text)
                | Q(building__inventory_id__iexact=text)
            )
        return agreements


# --- Lifecycle ----------------------------------------------------------------------
# The facts a move records with it, as its guard reads them (occupancy/legal.py).
# The prefect's and mayor's notifications concern ELAN art. 29 agreements only.
FACTS_BY_TARGET: dict[str, tuple[str, ...]] = {
    _A.APPROVED: ("ddfip_opinion_reference", "ddfip_opinion_date"),
    _A.SIGNED: ("signed_on",),
    _A.ACTIVE: ("entry_inventory_on", "prefect_notified_on", "mayor_notified_on"),
    _A.REVOKED: ("revocation_motive",),
    _A.CLOSED: ("exit_inventory_on",),
}
ELAN_ONLY_FACTS = frozenset({"prefect_notified_on", "mayor_notified_on"})


def facts_for(target: str, agreement: Agreement) -> tuple[str, ...]:
    names = FACTS_BY_TARGET.get(target, ())
    if agreement.regime != Regime.ELAN_ART29:
        names = tuple(name for name in names if name not in ELAN_ONLY_FACTS)
    return names


class AgreementTransitionForm(forms.Form):
    to = forms.ChoiceField(choices=AgreementStatus.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason (kept in the status history)"),
        help_text=_(
            "Required for a refusal, a suspension, a termination, and to withdraw "
            "an agreement already approved or signed."
        ),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"class": "fr-input", "rows": 2}),
    )
    signed_on = forms.DateField(
        label=_("Signed on"), required=False, widget=_date_input()
    )
    entry_inventory_on = forms.DateField(
        label=_("Entry inventory of fixtures on"), required=False, widget=_date_input()
    )
    exit_inventory_on = forms.DateField(
        label=_("Exit inventory of fixtures on"), required=False, widget=_date_input()
    )
    prefect_notified_on = forms.DateField(
        label=_("Prefect notified on"), required=False, widget=_date_input()
    )
    mayor_notified_on = forms.DateField(
        label=_("Mayor notified on"), required=False, widget=_date_input()
    )
    ddfip_opinion_reference = forms.CharField(
        label=_("DDFiP financial opinion (reference)"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"class": "fr-input"}),
    )
    ddfip_opinion_date = forms.DateField(
        label=_("Date of the DDFiP opinion"), required=False, widget=_date_input()
    )
    revocation_motive = forms.ChoiceField(
        label=_("Motive of the revocation"),
        choices=[("", "—"), *RevocationMotive.choices],
        required=False,
        widget=forms.Select(attrs={"class": "fr-select"}),
    )

    def facts(self, agreement: Agreement) -> dict[str, Any]:
        """The facts this move records: those of its target that were filled in.

        A blank field leaves the recorded fact as it is, so an agent re-submitting a
        move never erases a date recorded earlier.
        """
        names = facts_for(self.cleaned_data["to"], agreement)
        return {
            name: self.cleaned_data[name]
            for name in names
            if self.cleaned_data.get(name) not in (None, "")
        }


def transition_form(
    agreement: Agreement, target: str, *, data: Any = None
) -> AgreementTransitionForm:
    """The form of one move, its facts pre-filled with what is already recorded.

    Ids differ per move (several forms share a page), field names do not.
    """
    initial: dict[str, Any] = {"to": target}
    for name in facts_for(target, agreement):
        initial[name] = getattr(agreement, name)
    return AgreementTransitionForm(
        data, initial=initial, auto_id=f"transition-{target}-%s"
    )


# --- Occupancy figures --------------------------------------------------------------
class PeriodForm(forms.Form):
    """The period of the occupancy figures; the last day is included."""

    start = PeriodDateField(label=_("From"), required=False, widget=_date_input())
    until = PeriodDateField(
        label=_("Until (included)"), required=False, widget=_date_input()
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, until = cleaned.get("start"), cleaned.get("until")
        if start and until and until < start:
            self.add_error("until", _("The period ends before it starts."))
        return cleaned

    def period(self, default: tuple[date, date]) -> tuple[date, date]:
        """``[start, end)`` from the form, the default filling what is missing."""
        start, end = default
        if self.is_valid():
            start = self.cleaned_data.get("start") or start
            until = self.cleaned_data.get("until")
            if until is not None:
                end = until + timedelta(days=1)
        return start, end
