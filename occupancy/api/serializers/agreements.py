"""Agreements as their State agents and operator party read them, and the inputs
of their writes: terms, lifecycle facts and moves, spaces, amendments,
insurance certificates and documents.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from buildings.models import Building
from config.forms import DayField
from occupancy.api.serializers import relations
from occupancy.api.serializers.fields import (
    NamedChoiceField,
    StrictSerializer,
)
from occupancy.api.serializers.relations import ScopedPrimaryKeyRelatedField
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    Agreement,
    AgreementStatus,
    AgreementStatusChange,
    Amendment,
    AmendmentKind,
    Document,
    DocumentKind,
    FeeExemptionBasis,
    FeePeriod,
    InsuranceCertificate,
    Purpose,
    Regime,
    RevocationMotive,
    SelectionExemption,
    Space,
)
from organizations.models import Organization


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
class AgreementTermsSerializer(StrictSerializer):
    """The terms of a draft (or an agreement under review): agreement_update."""

    hints = {
        "status": _("Change the status with POST …/transition/."),
        "spaces": _("Change the spaces with POST …/spaces/."),
        "building": _("An agreement stays on its building."),
    }

    reference = serializers.CharField(max_length=50, required=False)
    grantor = ScopedPrimaryKeyRelatedField(
        Organization, relations.grantors, required=False
    )
    operator = ScopedPrimaryKeyRelatedField(
        Organization, relations.operators, required=False
    )
    regime = NamedChoiceField(Regime, component="RegimeEnum", required=False)
    purposes = serializers.ListField(
        child=NamedChoiceField(Purpose, component="PurposeEnum"),
        allow_empty=False,
        max_length=len(Purpose.values),
        required=False,
    )
    start = DayField(required=False)
    end = DayField(
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
    ddfip_opinion_date = DayField(allow_null=True, required=False)
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

    building = ScopedPrimaryKeyRelatedField(Building, relations.editable_buildings)
    grantor = ScopedPrimaryKeyRelatedField(Organization, relations.grantors)
    operator = ScopedPrimaryKeyRelatedField(Organization, relations.operators)
    regime = NamedChoiceField(Regime, component="RegimeEnum")
    purposes = serializers.ListField(
        child=NamedChoiceField(Purpose, component="PurposeEnum"),
        allow_empty=False,
        max_length=len(Purpose.values),
    )
    start = DayField()
    end = DayField(help_text=_("Exclusive: the first day it no longer runs."))
    reference = serializers.CharField(
        max_length=50,
        allow_blank=True,
        required=False,
        help_text=_("Left blank, one is made up: CONV-<département>-<year>-<random>."),
    )
    spaces = ScopedPrimaryKeyRelatedField(
        Space, relations.editable_spaces, many=True, required=False
    )


class FactsSerializer(StrictSerializer):
    """Facts recorded along the lifecycle (signature, inventories, notifications,
    DDFiP opinion, revocation motive)."""

    signed_on = DayField(required=False)
    entry_inventory_on = DayField(required=False)
    exit_inventory_on = DayField(required=False)
    prefect_notified_on = DayField(required=False)
    mayor_notified_on = DayField(required=False)
    revocation_motive = NamedChoiceField(
        RevocationMotive, component="RevocationMotiveEnum", required=False
    )
    ddfip_opinion_reference = serializers.CharField(max_length=100, required=False)
    ddfip_opinion_date = DayField(required=False)


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
        max_length=2000,
        allow_blank=True,
        required=False,
        default="",
        help_text=_(
            "Kept in the status history. Required to reject, suspend or terminate "
            "an agreement, and to withdraw one already approved or signed (400 on "
            "`reason` otherwise)."
        ),
    )


class AgreementSpacesSerializer(StrictSerializer):
    spaces = ScopedPrimaryKeyRelatedField(
        Space, relations.editable_spaces, many=True, allow_empty=True
    )


class AmendmentInputSerializer(StrictSerializer):
    kind = NamedChoiceField(AmendmentKind, component="AmendmentKindEnum")
    signed_on = DayField()
    new_end = DayField(
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
    valid_from = DayField()
    valid_until = DayField()


class DocumentUploadSerializer(StrictSerializer):
    kind = NamedChoiceField(DocumentKind, component="DocumentKindEnum")
    title = serializers.CharField(max_length=200)
    file = serializers.FileField(
        help_text=_("A PDF, checked from its content; stored under a random name.")
    )
