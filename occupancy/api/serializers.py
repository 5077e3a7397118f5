"""Translation between HTTP and occupancy: what each endpoint reads and writes.

Input serializers check shapes only; the rules are the services' (occupancy/
services.py, occupancy/residents.py). Every relation a request may name is a
``ScopedPrimaryKeyRelatedField`` whose queryset is built from the caller's scope
(occupancy/api/scopes.py): another tenant's id is refused on its field with the
message a missing id gets, so a 400 never tells whether the row exists.

Residents are pseudonymous: an occupant is registered with the operator's own file
number (``local_identifier``), which is hashed by the service and then forgotten.
Neither the number nor its hash (the pseudonym) is ever returned: the hash is a
stable identifier of a person across the operator's files, which the ``id`` already
serves for the API without being derivable from those files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from django.db import models
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from buildings.models import Building
from occupancy.indicators import GroupBy
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    AgeBand,
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    Amendment,
    AmendmentKind,
    Document,
    DocumentKind,
    ExitDestination,
    FeeExemptionBasis,
    FeePeriod,
    InspectionKind,
    InspectionResult,
    InsuranceCertificate,
    Occupant,
    OccupantCategory,
    OccupantKind,
    OrientationSource,
    Purpose,
    Regime,
    ResidenceContract,
    ResidenceStatus,
    RevocationMotive,
    SafetyInspection,
    SelectionExemption,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
    StayStatus,
    StructureType,
)
from occupancy.residents import BodyTerminationReason, ContractEndGround
from organizations.models import Organization

from . import scopes

M = TypeVar("M", bound=models.Model)

NOT_SETTABLE = _("This field cannot be set.")
# The longest period the indicators compute in one request (month rows, scans).
INDICATOR_MAX_DAYS = 3661


# --- Fields ---------------------------------------------------------------------------
class NamedChoiceField(serializers.ChoiceField):
    """A choice field whose enum is one named schema component.

    drf-spectacular names enums after the field (``status``, ``kind``…), and warns
    when two models' fields of one name have different choices; naming the component
    after the model's choices keeps the schema stable and free of warnings.
    """

    def __init__(
        self, choices: type[models.TextChoices], *, component: str, **kwargs: Any
    ) -> None:
        self.component = component
        self.values = list(choices.values)
        super().__init__(choices=choices.choices, **kwargs)


class NamedChoiceFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = NamedChoiceField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: NamedChoiceField = self.target
        component = ResolvedComponent(  # type: ignore[no-untyped-call]
            name=field.component,
            type=ResolvedComponent.SCHEMA,
            object=field.component,
            schema={"type": "string", "enum": field.values},
        )
        auto_schema.registry.register_on_missing(component)
        if not (field.allow_blank or field.allow_null):
            return component.ref
        variants: list[dict[str, Any]] = [component.ref]
        if field.allow_blank:
            variants.append({"type": "string", "enum": [""]})
        schema: dict[str, Any] = {"oneOf": variants}
        if field.allow_null:
            schema["nullable"] = True
        return schema


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField[M]):
    """A relation whose choices are the caller's: ``scoped(context)`` builds them
    per request from the serializer context (``scope``, ``departments``…).

    An id outside them gets DRF's "object does not exist" on the field, exactly as a
    missing id does.
    """

    def __init__(
        self,
        model: type[M],
        scoped: Callable[[Mapping[str, Any]], QuerySet[M]],
        **kwargs: Any,
    ) -> None:
        self.scoped = scoped
        # The empty queryset tells the schema the model (and so the id's type).
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self) -> QuerySet[M]:
        return self.scoped(self.context)


def _scope(context: Mapping[str, Any]) -> Any:
    return context["scope"]


class StrictSerializer(serializers.Serializer[Any]):
    """Names the keys a request may not set instead of dropping them silently: a
    client must not believe it changed an operator, a status or a pseudonym
    (mass assignment, reliability.md B7)."""

    hints: Mapping[str, Any] = {}
    # Keys accepted without a field (DRF's ?format= on query strings).
    ignored: frozenset[str] = frozenset()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {
                name for name, field in self.fields.items() if not field.read_only
            } | self.ignored
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.hints.get(name, NOT_SETTABLE)] for name in unknown}
                )
        return super().to_internal_value(data)


def _date_range_bounds(period: Any) -> tuple[date | None, date | None]:
    return period.lower, period.upper


# --- Agreements: read -----------------------------------------------------------------
def _agreement_status(**kwargs: Any) -> NamedChoiceField:
    return NamedChoiceField(AgreementStatus, component="AgreementStatusEnum", **kwargs)


class AmendmentSerializer(serializers.ModelSerializer[Amendment]):
    kind = NamedChoiceField(AmendmentKind, component="AmendmentKindEnum")

    class Meta:
        model = Amendment
        fields = (
            "id", "kind", "new_end", "owner_justification", "signed_on", "created_at",
        )  # fmt: skip
        read_only_fields = fields


class InsuranceCertificateSerializer(serializers.ModelSerializer[InsuranceCertificate]):
    class Meta:
        model = InsuranceCertificate
        fields = (
            "id", "insurer", "policy_number", "valid_from", "valid_until", "created_at",
        )  # fmt: skip
        read_only_fields = fields


class DocumentSerializer(serializers.ModelSerializer[Document]):
    """A document's facts; the file itself is GET …/documents/{document_id}/."""

    kind = NamedChoiceField(DocumentKind, component="DocumentKindEnum")

    class Meta:
        model = Document
        fields = ("id", "kind", "title", "size", "sha256", "issued_on", "uploaded_at")
        read_only_fields = fields


class AgreementStatusChangeSerializer(
    serializers.ModelSerializer[AgreementStatusChange]
):
    # The agent who made the move is not named: operators read this history too.
    from_status = _agreement_status(read_only=True)
    to_status = _agreement_status(read_only=True)

    class Meta:
        model = AgreementStatusChange
        fields = ("from_status", "to_status", "reason", "changed_at")
        read_only_fields = fields


class AgreementSerializer(serializers.ModelSerializer[Agreement]):
    """An agreement as the State agents of its territory and its operator read it.

    ``end`` is exclusive, as every period here: the first day the agreement no
    longer runs.
    """

    status = _agreement_status(read_only=True)
    allowed_transitions = serializers.SerializerMethodField(
        help_text=_("Statuses POST …/transition/ accepts from the current one.")
    )
    building_designation = serializers.CharField(
        source="building.designation", read_only=True
    )
    regime = NamedChoiceField(Regime, component="RegimeEnum", read_only=True)
    purposes = serializers.ListField(
        child=NamedChoiceField(Purpose, component="PurposeEnum"), read_only=True
    )
    start = serializers.DateField(read_only=True)
    end = serializers.DateField(
        read_only=True, help_text=_("Exclusive: the first day it no longer runs.")
    )
    selection_exemption = NamedChoiceField(
        SelectionExemption,
        component="SelectionExemptionEnum",
        allow_blank=True,
        read_only=True,
    )
    fee_period = NamedChoiceField(
        FeePeriod, component="FeePeriodEnum", allow_blank=True, read_only=True
    )
    fee_exemption_basis = NamedChoiceField(
        FeeExemptionBasis,
        component="FeeExemptionBasisEnum",
        allow_blank=True,
        read_only=True,
    )
    revocation_motive = NamedChoiceField(
        RevocationMotive,
        component="RevocationMotiveEnum",
        allow_blank=True,
        read_only=True,
    )
    spaces = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields: tuple[str, ...] = (
            "id", "reference", "status", "allowed_transitions", "building",
            "building_designation", "grantor", "operator", "regime", "purposes",
            "start", "end", "spaces", "economic_activity", "selection_reference",
            "selection_exemption", "free_of_charge", "fee_amount", "fee_period",
            "fee_indexation", "fee_exemption_basis", "waiver_justification",
            "ddfip_opinion_reference", "ddfip_opinion_date", "market_rent_yearly",
            "max_headcount", "sleeping_allowed", "prefect_notified_on",
            "mayor_notified_on", "signed_on", "entry_inventory_on",
            "exit_inventory_on", "revocation_motive", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=_agreement_status()))
    def get_allowed_transitions(self, agreement: Agreement) -> list[str]:
        return sorted(AGREEMENT_TRANSITIONS.get(agreement.status, ()))

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_spaces(self, agreement: Agreement) -> list[int]:
        # Prefetched by the view: one query for the page, not one per agreement.
        return sorted(row.space_id for row in agreement.agreement_spaces.all())


class AgreementDetailSerializer(AgreementSerializer):
    amendments = AmendmentSerializer(many=True, read_only=True)
    insurance_certificates = InsuranceCertificateSerializer(many=True, read_only=True)
    documents = DocumentSerializer(many=True, read_only=True)
    status_changes = AgreementStatusChangeSerializer(many=True, read_only=True)

    class Meta(AgreementSerializer.Meta):
        fields = (
            *AgreementSerializer.Meta.fields,
            "amendments",
            "insurance_certificates",
            "documents",
            "status_changes",
        )
        read_only_fields = fields


# --- Agreements: write ----------------------------------------------------------------
def _editable_buildings(context: Mapping[str, Any]) -> QuerySet[Building]:
    return scopes.building_list_editable(departments=context["departments"]())


def _editable_spaces(context: Mapping[str, Any]) -> QuerySet[Space]:
    return scopes.space_list_editable(departments=context["departments"]())


def _grantors(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.grantor_list(scope=context["scope"], superuser=context["superuser"])


def _operators(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.operator_list()


class AgreementTermsSerializer(StrictSerializer):
    """The terms of a draft (or an agreement under review): agreement_update."""

    hints = {
        "status": _("Change the status with POST …/transition/."),
        "spaces": _("Change the spaces with POST …/spaces/."),
        "building": _("An agreement stays on its building."),
    }

    reference = serializers.CharField(max_length=50, required=False)
    grantor = ScopedPrimaryKeyRelatedField(Organization, _grantors, required=False)
    operator = ScopedPrimaryKeyRelatedField(Organization, _operators, required=False)
    regime = NamedChoiceField(Regime, component="RegimeEnum", required=False)
    purposes = serializers.ListField(
        child=NamedChoiceField(Purpose, component="PurposeEnum"),
        allow_empty=False,
        max_length=len(Purpose.values),
        required=False,
    )
    start = serializers.DateField(required=False)
    end = serializers.DateField(
        required=False, help_text=_("Exclusive: the first day it no longer runs.")
    )
    economic_activity = serializers.BooleanField(required=False)
    selection_reference = serializers.CharField(
        max_length=300, allow_blank=True, required=False
    )
    selection_exemption = NamedChoiceField(
        SelectionExemption,
        component="SelectionExemptionEnum",
        allow_blank=True,
        required=False,
    )
    free_of_charge = serializers.BooleanField(required=False)
    fee_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    fee_period = NamedChoiceField(
        FeePeriod, component="FeePeriodEnum", allow_blank=True, required=False
    )
    fee_indexation = serializers.CharField(
        max_length=200, allow_blank=True, required=False
    )
    fee_exemption_basis = NamedChoiceField(
        FeeExemptionBasis,
        component="FeeExemptionBasisEnum",
        allow_blank=True,
        required=False,
    )
    waiver_justification = serializers.CharField(
        max_length=5000, allow_blank=True, required=False
    )
    ddfip_opinion_reference = serializers.CharField(
        max_length=100, allow_blank=True, required=False
    )
    ddfip_opinion_date = serializers.DateField(allow_null=True, required=False)
    market_rent_yearly = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, allow_null=True, required=False
    )
    max_headcount = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, allow_null=True, required=False
    )
    sleeping_allowed = serializers.BooleanField(required=False)


class AgreementCreateSerializer(AgreementTermsSerializer):
    """A new draft: agreement_create. The building and the spaces are the editor's
    territory's; the grantor a State service the editor works for."""

    hints = {"status": _("A new agreement is a draft.")}

    building = ScopedPrimaryKeyRelatedField(Building, _editable_buildings)
    grantor = ScopedPrimaryKeyRelatedField(Organization, _grantors)
    operator = ScopedPrimaryKeyRelatedField(Organization, _operators)
    regime = NamedChoiceField(Regime, component="RegimeEnum")
    purposes = serializers.ListField(
        child=NamedChoiceField(Purpose, component="PurposeEnum"),
        allow_empty=False,
        max_length=len(Purpose.values),
    )
    start = serializers.DateField()
    end = serializers.DateField(
        help_text=_("Exclusive: the first day it no longer runs.")
    )
    reference = serializers.CharField(
        max_length=50,
        allow_blank=True,
        required=False,
        help_text=_("Left blank, one is made up: CONV-<département>-<year>-<random>."),
    )
    spaces = ScopedPrimaryKeyRelatedField(
        Space, _editable_spaces, many=True, required=False
    )


class FactsSerializer(StrictSerializer):
    """Facts recorded along the lifecycle (signature, inventories, notifications,
    DDFiP opinion, revocation motive)."""

    signed_on = serializers.DateField(required=False)
    entry_inventory_on = serializers.DateField(required=False)
    exit_inventory_on = serializers.DateField(required=False)
    prefect_notified_on = serializers.DateField(required=False)
    mayor_notified_on = serializers.DateField(required=False)
    revocation_motive = NamedChoiceField(
        RevocationMotive, component="RevocationMotiveEnum", required=False
    )
    ddfip_opinion_reference = serializers.CharField(max_length=100, required=False)
    ddfip_opinion_date = serializers.DateField(required=False)


class RecordSerializer(FactsSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"non_field_errors": [_("Give at least one fact to record.")]}
            )
        return attrs


class AgreementTransitionSerializer(FactsSerializer):
    to = _agreement_status()
    reason = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, default=""
    )


class AgreementSpacesSerializer(StrictSerializer):
    spaces = ScopedPrimaryKeyRelatedField(
        Space, _editable_spaces, many=True, allow_empty=True
    )


class AmendmentInputSerializer(StrictSerializer):
    kind = NamedChoiceField(AmendmentKind, component="AmendmentKindEnum")
    signed_on = serializers.DateField()
    new_end = serializers.DateField(
        allow_null=True, required=False, help_text=_("Prorogations only; exclusive.")
    )
    owner_justification = serializers.CharField(
        max_length=5000, allow_blank=True, required=False, default=""
    )


class InsuranceInputSerializer(StrictSerializer):
    insurer = serializers.CharField(max_length=200)
    policy_number = serializers.CharField(
        max_length=100, allow_blank=True, required=False, default=""
    )
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()


class DocumentUploadSerializer(StrictSerializer):
    kind = NamedChoiceField(DocumentKind, component="DocumentKindEnum")
    title = serializers.CharField(max_length=200)
    file = serializers.FileField(
        help_text=_("A PDF, checked from its content; stored under a random name.")
    )


# --- Spaces and safety inspections ----------------------------------------------------
def _space_buildings(context: Mapping[str, Any]) -> QuerySet[Building]:
    return scopes.building_list_for_spaces(scope=context["scope"])


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
    surface_m2 = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, allow_null=True, required=False
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
        _space_buildings,
        help_text=_("A building where your organization holds a live agreement."),
    )
    name = serializers.CharField(max_length=100)
    kind = NamedChoiceField(SpaceKind, component="SpaceKindEnum")
    use = NamedChoiceField(SpaceUse, component="SpaceUseEnum")
    capacity = serializers.IntegerField(min_value=0, max_value=2**31 - 1)


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
    building = ScopedPrimaryKeyRelatedField(Building, _editable_buildings)
    space = ScopedPrimaryKeyRelatedField(
        Space,
        _editable_spaces,
        allow_null=True,
        required=False,
        default=None,
        help_text=_("The inspected space; none for the whole building."),
    )
    kind = NamedChoiceField(InspectionKind, component="InspectionKindEnum")
    date = serializers.DateField()
    result = NamedChoiceField(InspectionResult, component="InspectionResultEnum")
    max_headcount = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, allow_null=True, required=False, default=None
    )


# --- Occupants ------------------------------------------------------------------------
def _writable_operators(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.operator_list_writable(scope=context["scope"])


def _hosted(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.hosted_organization_list()


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
    household_size = serializers.IntegerField(min_value=1, max_value=20, required=False)
    age_band = _age_band(required=False)
    orientation_source = _orientation(required=False)
    homeless_l345_2_2 = serializers.BooleanField(required=False)


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
        _writable_operators,
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
        Organization, _hosted, allow_null=True, required=False, default=None
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "operator" not in attrs:
            operators = list(_writable_operators(self.context)[:2])
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


# --- Stays ----------------------------------------------------------------------------
def _occupants(context: Mapping[str, Any]) -> QuerySet[Occupant]:
    return scopes.occupant_list_writable(scope=context["scope"])


def _spaces(context: Mapping[str, Any]) -> QuerySet[Space]:
    return scopes.space_list_writable(scope=context["scope"])


def _resident_agreements(context: Mapping[str, Any]) -> QuerySet[Agreement]:
    return scopes.agreement_list_for_residents(scope=context["scope"])


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
    occupant = ScopedPrimaryKeyRelatedField(Occupant, _occupants)
    space = ScopedPrimaryKeyRelatedField(Space, _spaces)
    agreement = ScopedPrimaryKeyRelatedField(Agreement, _resident_agreements)
    entry = serializers.DateField()
    exit = serializers.DateField(
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
    exit_date = serializers.DateField(
        allow_null=True, help_text=_("null cancels the planned exit.")
    )


class StayExitSerializer(StrictSerializer):
    exit_date = serializers.DateField()
    destination = serializers.ChoiceField(
        choices=[
            choice
            for choice in ExitDestination.choices
            if choice[0] != ExitDestination.INTERNAL_MOVE
        ],
        help_text=_("Where the person went (a move is POST …/move/)."),
    )


class StayMoveSerializer(StrictSerializer):
    space = ScopedPrimaryKeyRelatedField(Space, _spaces)
    on = serializers.DateField()
    agreement = ScopedPrimaryKeyRelatedField(
        Agreement, _resident_agreements, required=False, default=None
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
    agreement = ScopedPrimaryKeyRelatedField(Agreement, _resident_agreements)
    occupant = ScopedPrimaryKeyRelatedField(Occupant, _occupants)
    start = serializers.DateField()
    initial_end = serializers.DateField()
    monthly_fee = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text=_("Charges included (décret 2019-497)."),
    )


class NoticeSerializer(StrictSerializer):
    """The body does not renew: notified at least a month before the term."""

    notice_date = serializers.DateField()


class TerminateSerializer(StrictSerializer):
    by = serializers.ChoiceField(choices=[("body", "body"), ("resident", "resident")])
    notice_date = serializers.DateField()
    effective_end = serializers.DateField()
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
    new_end = serializers.DateField(
        required=False,
        default=None,
        allow_null=True,
        help_text=_("By default, renewed for the initial duration again."),
    )


class ContractEndSerializer(StrictSerializer):
    end_date = serializers.DateField()
    ground = serializers.ChoiceField(
        choices=[(ground.value, ground.value) for ground in ContractEndGround]
    )


# --- Indicators -----------------------------------------------------------------------
class IndicatorQuerySerializer(StrictSerializer):
    ignored = frozenset({"format"})

    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text=_("Exclusive."))
    group_by = serializers.ChoiceField(
        choices=[(group.value, group.value) for group in GroupBy], required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        days = (attrs["period_end"] - attrs["period_start"]).days
        if days <= 0:
            raise serializers.ValidationError(
                {"period_end": [_("The period ends after it starts.")]}
            )
        if days > INDICATOR_MAX_DAYS:
            raise serializers.ValidationError(
                {"period_end": [_("Ask for ten years at most at a time.")]}
            )
        return attrs


class CountFigureSerializer(serializers.Serializer[Any]):
    value = serializers.IntegerField(allow_null=True)
    suppressed = serializers.BooleanField(
        help_text=_("Withheld: fewer people than the threshold, or it would tell one.")
    )


class RatioFigureSerializer(serializers.Serializer[Any]):
    value = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    suppressed = serializers.BooleanField()


class DaysFigureSerializer(serializers.Serializer[Any]):
    value = serializers.DecimalField(max_digits=20, decimal_places=1, allow_null=True)
    suppressed = serializers.BooleanField()


class IndicatorRowSerializer(serializers.Serializer[Any]):
    group = serializers.CharField(
        help_text=_(
            "Empty for the whole selection; else the building id, the space use, "
            "the occupant category or the month's first day."
        )
    )
    start = serializers.DateField()
    end = serializers.DateField()
    places_average = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True
    )
    places_at_end = serializers.IntegerField(allow_null=True)
    place_nights_available = serializers.IntegerField(allow_null=True)
    nights_provided = CountFigureSerializer()
    occupancy_rate = RatioFigureSerializer()
    persons_housed = CountFigureSerializer()
    households_housed = CountFigureSerializer()
    entries = CountFigureSerializer()
    exits = CountFigureSerializer()
    exits_to_housing = CountFigureSerializer()
    exits_known_destination = CountFigureSerializer()
    exits_to_housing_rate = RatioFigureSerializer()
    unknown_destination_share = RatioFigureSerializer()
    length_of_stay_mean_days = DaysFigureSerializer()
    length_of_stay_median_days = DaysFigureSerializer()
    ongoing_at_end = CountFigureSerializer()
    ongoing_mean_days = DaysFigureSerializer()


class IndicatorReportSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.CharField(allow_null=True)
    exact = serializers.BooleanField(
        help_text=_("true: every figure is exact (an operator's own sites).")
    )
    threshold = serializers.IntegerField(
        help_text=_("Counts of people under this are withheld when not exact.")
    )
    rows = IndicatorRowSerializer(many=True)
    methodology = serializers.CharField()
