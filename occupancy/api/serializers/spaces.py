"""Spaces and safety inspections: how they read, and the inputs of their writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from buildings.models import Building
from config.forms import DayField
from occupancy.api import scopes
from occupancy.api.serializers import relations
from occupancy.api.serializers.fields import (
    NamedChoiceField,
    StrictSerializer,
)
from occupancy.api.serializers.relations import ScopedPrimaryKeyRelatedField
from occupancy.models import (
    InspectionKind,
    InspectionResult,
    SafetyInspection,
    Space,
    SpaceKind,
    SpaceUse,
)
from organizations.models import Organization


class SpaceSerializer(serializers.ModelSerializer[Space]):
    kind = NamedChoiceField(SpaceKind, component="SpaceKindEnum", read_only=True)
    use = NamedChoiceField(SpaceUse, component="SpaceUseEnum", read_only=True)

    class Meta:
        model = Space
        fields = (
            "id", "building", "name", "kind", "use", "floor", "surface_m2",
            "capacity", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class SpaceUpdateSerializer(StrictSerializer):
    hints = {"building": _("A space stays in its building.")}

    name = serializers.CharField(max_length=100, required=False)
    kind = NamedChoiceField(SpaceKind, component="SpaceKindEnum", required=False)
    use = NamedChoiceField(SpaceUse, component="SpaceUseEnum", required=False)
    floor = serializers.IntegerField(
        min_value=-32768, max_value=32767, allow_null=True, required=False
    )
    # Above zero, as the space_surface_positive constraint wants (the smallest
    # amount two decimals write): a 400 on the field, not on the whole row.
    surface_m2 = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        allow_null=True,
        required=False,
    )
    capacity = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The database's unique constraint, said on the field: a race past this
        # check still ends as a 409 on "name" (CONSTRAINT_ERRORS).
        space: Space | None = self.instance
        building_id = space.building_id if space else attrs["building"].pk
        name = attrs.get("name")
        if name is not None:
            taken = Space.objects.filter(building_id=building_id, name=name)
            if space is not None:
                taken = taken.exclude(pk=space.pk)
            if taken.exists():
                raise serializers.ValidationError(
                    {"name": [_("This building already has a space of that name.")]}
                )
        return attrs


class SpaceCreateSerializer(SpaceUpdateSerializer):
    hints = {}

    building = ScopedPrimaryKeyRelatedField(
        Building,
        relations.space_buildings,
        help_text=_("A building where your organization holds a live agreement."),
    )
    name = serializers.CharField(max_length=100)
    kind = NamedChoiceField(SpaceKind, component="SpaceKindEnum")
    use = NamedChoiceField(SpaceUse, component="SpaceUseEnum")
    capacity = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    operator = ScopedPrimaryKeyRelatedField(
        Organization,
        relations.writable_operators,
        required=False,
        help_text=_(
            "The operator adding the space, which alone changes it while no "
            "agreement claims it. Needed only when you write for several "
            "operators holding a live agreement in the building."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        holders = scopes.operator_list_for_space(
            scope=self.context["scope"], building=attrs["building"]
        )
        operator = attrs.pop("operator", None)
        if operator is None:
            found = list(holders[:2])
            if len(found) != 1:
                raise serializers.ValidationError(
                    {"operator": [_("Say which operator adds this space.")]}
                )
            operator = found[0]
        elif not holders.filter(pk=operator.pk).exists():
            raise serializers.ValidationError(
                {
                    "operator": [
                        _("This operator holds no live agreement in this building.")
                    ]
                }
            )
        attrs["created_by"] = operator
        return attrs


class SafetyInspectionSerializer(serializers.ModelSerializer[SafetyInspection]):
    kind = NamedChoiceField(
        InspectionKind, component="InspectionKindEnum", read_only=True
    )
    result = NamedChoiceField(
        InspectionResult, component="InspectionResultEnum", read_only=True
    )

    class Meta:
        model = SafetyInspection
        fields = (
            "id", "building", "space", "kind", "date", "result", "max_headcount",
            "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class SafetyInspectionInputSerializer(StrictSerializer):
    building = ScopedPrimaryKeyRelatedField(Building, relations.editable_buildings)
    space = ScopedPrimaryKeyRelatedField(
        Space,
        relations.editable_spaces,
        allow_null=True,
        required=False,
        default=None,
        help_text=_("The inspected space; none for the whole building."),
    )
    kind = NamedChoiceField(InspectionKind, component="InspectionKindEnum")
    date = DayField()
    result = NamedChoiceField(InspectionResult, component="InspectionResultEnum")
    max_headcount = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, allow_null=True, required=False, default=None
    )
