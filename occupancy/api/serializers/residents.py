"""Resident-level rows, an operator's own: pseudonymous occupants, stays and ELAN
residence contracts.

Residents are pseudonymous: an occupant is registered with the operator's own file
number (``local_identifier``), which is hashed by the service and then forgotten.
Neither the number nor its hash (the pseudonym) is ever returned: the hash is a
stable identifier of a person across the operator's files, which the ``id`` already
serves for the API without being derivable from those files.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.forms import DayField
from occupancy.api import scopes
from occupancy.api.serializers import relations
from occupancy.api.serializers.fields import (
    NamedChoiceField,
    StrictSerializer,
)
from occupancy.api.serializers.relations import ScopedPrimaryKeyRelatedField
from occupancy.models import (
    AgeBand,
    Agreement,
    ExitDestination,
    Occupant,
    OccupantCategory,
    OccupantKind,
    OrientationSource,
    ResidenceContract,
    ResidenceStatus,
    Space,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.residents import BodyTerminationReason, ContractEndGround
from organizations.models import Organization


# --- Occupants ------------------------------------------------------------------------
def _occupant_category(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(
        OccupantCategory, component="OccupantCategoryEnum", **kwargs
    )


def _age_band(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(AgeBand, component="AgeBandEnum", **kwargs)


def _orientation(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(
        OrientationSource, component="OrientationSourceEnum", allow_blank=True, **kwargs
    )


class OccupantSerializer(serializers.ModelSerializer[Occupant]):
    """A resident as its operator reads it: never the pseudonym (see the module)."""

    kind = NamedChoiceField(OccupantKind, component="OccupantKindEnum", read_only=True)
    category = _occupant_category(read_only=True)
    age_band = _age_band(read_only=True)
    orientation_source = _orientation(read_only=True)

    class Meta:
        model = Occupant
        fields = (
            "id", "operator", "kind", "category", "household_size", "age_band",
            "orientation_source", "homeless_l345_2_2", "hosted_organization",
            "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class OccupantUpdateSerializer(StrictSerializer):
    """Rectification (GDPR art. 16): the attributes, not the identity."""

    hints = {
        "local_identifier": _(
            "A resident's file number does not change: register the new one."
        ),
        "kind": _("A resident's kind does not change: register the new one."),
    }

    category = _occupant_category(required=False)
    household_size = serializers.IntegerField(
        min_value=1,
        max_value=20,
        required=False,
        help_text=_(
            "From today on: the running stay ends today and goes on in a new one "
            "of the new size (its places follow when they were the household's "
            "size); 409 on `household_size` when the household no longer fits its "
            "space. Past nights keep the size they had."
        ),
    )
    age_band = _age_band(required=False)
    orientation_source = _orientation(required=False)
    homeless_l345_2_2 = serializers.BooleanField(required=False)


class OccupantEraseSerializer(StrictSerializer):
    """Erasure on request takes no field: the resident is the URL's."""


class ErasureSerializer(serializers.Serializer[Any]):
    """What an erasure changed (occupancy/residents/gdpr.py)."""

    mode = serializers.ChoiceField(
        ("anonymise", "delete"),
        help_text=_(
            "anonymise: the record is cut from the file number and its stays kept "
            "for statistics only; delete: the stays are deleted too."
        ),
    )
    occupants = serializers.IntegerField(help_text=_("Occupant rows deleted."))
    stays = serializers.IntegerField(help_text=_("Stays deleted."))
    contracts = serializers.IntegerField(help_text=_("Residence contracts deleted."))
    events = serializers.IntegerField(help_text=_("History events deleted."))
    contexts = serializers.IntegerField(help_text=_("Request contexts deleted."))
    anonymised = serializers.IntegerField(help_text=_("Occupants anonymised."))
    stays_kept = serializers.IntegerField(
        help_text=_("Stays kept, anonymised, for the statistics of past periods.")
    )


class OccupantRegisterSerializer(OccupantUpdateSerializer):
    """Registration; idempotent on the file number (the same resident twice is the
    same row)."""

    hints = {}

    local_identifier = serializers.CharField(
        write_only=True,
        max_length=200,
        help_text=_(
            "Your own file number for this resident. Write-only: the platform keeps "
            "only a keyed hash of it and never returns it."
        ),
    )
    operator = ScopedPrimaryKeyRelatedField(
        Organization,
        relations.writable_operators,
        required=False,
        help_text=_("Needed only when you write for several operators."),
    )
    kind = NamedChoiceField(OccupantKind, component="OccupantKindEnum")
    category = _occupant_category()
    household_size = serializers.IntegerField(
        min_value=1, max_value=20, required=False, default=1
    )
    age_band = _age_band(required=False, default=AgeBand.UNKNOWN)
    orientation_source = _orientation(required=False, default="")
    homeless_l345_2_2 = serializers.BooleanField(required=False, default=False)
    hosted_organization = ScopedPrimaryKeyRelatedField(
        Organization,
        relations.hosted_organizations,
        allow_null=True,
        required=False,
        default=None,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "operator" not in attrs:
            operators = list(relations.writable_operators(self.context)[:2])
            if len(operators) != 1:
                raise serializers.ValidationError(
                    {"operator": [_("Say which operator registers this resident.")]}
                )
            attrs["operator"] = operators[0]
        return attrs


class OccupantLookupSerializer(StrictSerializer):
    local_identifier = serializers.CharField(
        write_only=True,
        max_length=200,
        help_text=_("Your file number: in the body, never in a URL (logs keep URLs)."),
    )
    operator = ScopedPrimaryKeyRelatedField(
        Organization,
        lambda context: scopes.operator_list_member(scope=context["scope"]),
        required=False,
        help_text=_("Needed only when you belong to several operators."),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "operator" not in attrs:
            operators = list(
                scopes.operator_list_member(scope=self.context["scope"])[:2]
            )
            if len(operators) != 1:
                raise serializers.ValidationError(
                    {"operator": [_("Say which operator's file number this is.")]}
                )
            attrs["operator"] = operators[0]
        return attrs


def _date_range_bounds(period: Any) -> tuple[date | None, date | None]:
    return period.lower, period.upper


# --- Stays ----------------------------------------------------------------------------
def _structure_type(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(StructureType, component="StructureTypeEnum", **kwargs)


class StaySerializer(serializers.ModelSerializer[Stay]):
    entry = serializers.SerializerMethodField()
    exit = serializers.SerializerMethodField(
        help_text=_("Exclusive (the day of departure); null while no exit is planned.")
    )
    structure_type = _structure_type(read_only=True)
    status = NamedChoiceField(StayStatus, component="StayStatusEnum", read_only=True)
    exit_destination = NamedChoiceField(
        ExitDestination,
        component="ExitDestinationEnum",
        allow_blank=True,
        read_only=True,
    )

    class Meta:
        model = Stay
        fields = (
            "id", "occupant", "space", "agreement", "entry", "exit", "places",
            "structure_type", "status", "exit_destination", "created_at",
            "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATE)
    def get_entry(self, stay: Stay) -> date | None:
        return _date_range_bounds(stay.period)[0]

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_exit(self, stay: Stay) -> date | None:
        return _date_range_bounds(stay.period)[1]


class StayStartSerializer(StrictSerializer):
    occupant = ScopedPrimaryKeyRelatedField(Occupant, relations.writable_occupants)
    space = ScopedPrimaryKeyRelatedField(Space, relations.writable_spaces)
    agreement = ScopedPrimaryKeyRelatedField(Agreement, relations.resident_agreements)
    entry = DayField()
    exit = DayField(
        allow_null=True,
        required=False,
        default=None,
        help_text=_("A planned exit; never for emergency shelter (CASF L.345-2-3)."),
    )
    structure_type = _structure_type()
    places = serializers.IntegerField(
        min_value=1,
        max_value=32767,
        required=False,
        default=None,
        help_text=_("Places taken; the household's size by default."),
    )


class StayPlanExitSerializer(StrictSerializer):
    exit_date = DayField(allow_null=True, help_text=_("null cancels the planned exit."))


class StayExitSerializer(StrictSerializer):
    exit_date = DayField()
    destination = serializers.ChoiceField(
        choices=[
            choice
            for choice in ExitDestination.choices
            # Continuations, written by the services: a move, a household's
            # new size (its occupant's PATCH).
            if choice[0]
            not in (ExitDestination.INTERNAL_MOVE, ExitDestination.HOUSEHOLD_CHANGE)
        ],
        help_text=_("Where the person went (a move is POST …/move/)."),
    )


class StayMoveSerializer(StrictSerializer):
    space = ScopedPrimaryKeyRelatedField(Space, relations.writable_spaces)
    on = DayField()
    agreement = ScopedPrimaryKeyRelatedField(
        Agreement, relations.resident_agreements, required=False, default=None
    )
    places = serializers.IntegerField(
        min_value=1, max_value=32767, required=False, default=None
    )
    structure_type = _structure_type(required=False, default=None)


# --- Residence contracts --------------------------------------------------------------
class ResidenceContractSerializer(serializers.ModelSerializer[ResidenceContract]):
    status = NamedChoiceField(
        ResidenceStatus, component="ResidenceStatusEnum", read_only=True
    )

    class Meta:
        model = ResidenceContract
        fields = (
            "id", "agreement", "occupant", "start", "initial_end", "current_end",
            "monthly_fee", "status", "notice_date", "notice_by", "effective_end",
            "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class ResidenceContractCreateSerializer(StrictSerializer):
    agreement = ScopedPrimaryKeyRelatedField(Agreement, relations.resident_agreements)
    occupant = ScopedPrimaryKeyRelatedField(Occupant, relations.writable_occupants)
    start = DayField()
    initial_end = DayField()
    monthly_fee = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text=_("Charges included (décret 2019-497)."),
    )


class NoticeSerializer(StrictSerializer):
    """The body does not renew: notified at least a month before the term."""

    notice_date = DayField()


class TerminateSerializer(StrictSerializer):
    by = serializers.ChoiceField(choices=[("body", "body"), ("resident", "resident")])
    notice_date = DayField()
    effective_end = DayField()
    reason = serializers.ChoiceField(
        choices=[(reason.value, reason.value) for reason in BodyTerminationReason],
        required=False,
        help_text=_(
            "Termination by the body only; the motive itself stays in the letter."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["by"] == "body" and "reason" not in attrs:
            raise serializers.ValidationError(
                {"reason": [_("The body terminates on a motivated cause.")]}
            )
        if attrs["by"] == "resident" and "reason" in attrs:
            raise serializers.ValidationError(
                {"reason": [_("The resident leaves without giving a reason.")]}
            )
        return attrs


class RenewSerializer(StrictSerializer):
    new_end = DayField(
        required=False,
        default=None,
        allow_null=True,
        help_text=_("By default, renewed for the initial duration again."),
    )


class ContractEndSerializer(StrictSerializer):
    end_date = DayField()
    ground = serializers.ChoiceField(
        choices=[(ground.value, ground.value) for ground in ContractEndGround]
    )
