"""Filters of the occupancy lists. They narrow a queryset already scoped to the
caller, so an id from another tenant simply matches nothing: ids are plain
integers here, never model choices, whose "not one of the available choices"
would tell a foreign row from a missing one (reliability.md B6)."""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from config.filters import CodeFilter, OnceFilterMixin
from occupancy.models import (
    Agreement,
    AgreementStatus,
    InspectionKind,
    InspectionResult,
    Occupant,
    OccupantCategory,
    OccupantKind,
    Regime,
    ResidenceContract,
    ResidenceStatus,
    SafetyInspection,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)

BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGINT_MAX})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number within PostgreSQL's bigint (else a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class StrictFilterSet(OnceFilterMixin, django_filters.FilterSet):
    """A filter given blank is a 400 too, not "no filter" (``?building=`` listed
    every row, though the schema takes an integer)."""

    blank_is_absent = False


class AgreementFilterSet(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=AgreementStatus.choices, distinct=False
    )
    regime = django_filters.MultipleChoiceFilter(choices=Regime.choices, distinct=False)
    building = IdFilter(field_name="building_id")
    operator = IdFilter(field_name="operator_id")
    department = CodeFilter(field_name="building__department_id", max_length=3)

    class Meta:
        model = Agreement
        fields: list[str] = []


class SpaceFilterSet(StrictFilterSet):
    building = IdFilter(field_name="building_id")
    kind = django_filters.MultipleChoiceFilter(
        choices=SpaceKind.choices, distinct=False
    )
    use = django_filters.MultipleChoiceFilter(choices=SpaceUse.choices, distinct=False)

    class Meta:
        model = Space
        fields: list[str] = []


class SafetyInspectionFilterSet(StrictFilterSet):
    building = IdFilter(field_name="building_id")
    space = IdFilter(field_name="space_id")
    kind = django_filters.MultipleChoiceFilter(
        choices=InspectionKind.choices, distinct=False
    )
    result = django_filters.MultipleChoiceFilter(
        choices=InspectionResult.choices, distinct=False
    )

    class Meta:
        model = SafetyInspection
        fields: list[str] = []


class OccupantFilterSet(StrictFilterSet):
    kind = django_filters.MultipleChoiceFilter(
        choices=OccupantKind.choices, distinct=False
    )
    category = django_filters.MultipleChoiceFilter(
        choices=OccupantCategory.choices, distinct=False
    )

    class Meta:
        model = Occupant
        fields: list[str] = []


class StayFilterSet(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=StayStatus.choices, distinct=False
    )
    structure_type = django_filters.MultipleChoiceFilter(
        choices=StructureType.choices, distinct=False
    )
    occupant = IdFilter(field_name="occupant_id")
    space = IdFilter(field_name="space_id")
    agreement = IdFilter(field_name="agreement_id")

    class Meta:
        model = Stay
        fields: list[str] = []


class ResidenceContractFilterSet(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=ResidenceStatus.choices, distinct=False
    )
    occupant = IdFilter(field_name="occupant_id")
    agreement = IdFilter(field_name="agreement_id")

    class Meta:
        model = ResidenceContract
        fields: list[str] = []
