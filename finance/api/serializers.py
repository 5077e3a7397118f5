"""Translation between HTTP and finance: rows out, checked shapes in.

Amounts travel as JSON strings with two decimals (COERCE_DECIMAL_TO_STRING), so no
client ever parses money as a float. Periods are ``start`` and an exclusive ``end``
(the day after the last day), as in the occupancy API. Write serializers check
shapes and scope the relations a caller may name (their querysets are narrowed to
the territory the caller may write in); the rules are the services'.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from buildings.models import Building
from config.forms import DayField
from finance.models import (
    FUNDER_KINDS,
    BaselineMethod,
    Commitment,
    CostCategory,
    CostLine,
    Disbursement,
    FeePayment,
    Nature,
    Payer,
    SecurityBaseline,
    SubLetting,
)
from finance.selectors import FIRST_YEAR, LAST_YEAR
from occupancy.api.serializers.indicators import (
    CountFigureSerializer,
    RatioFigureSerializer,
)
from occupancy.models import Agreement, Space
from organizations.models import Organization


def money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


# --- Reads
class FunderSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ("id", "name", "kind", "legal_form")
        read_only_fields = fields


class CommitmentSerializer(serializers.ModelSerializer[Commitment]):
    funder = FunderSerializer(read_only=True)
    site = serializers.SerializerMethodField()
    start = serializers.DateField(read_only=True)
    end = serializers.DateField(
        read_only=True, help_text="Exclusive: the day after the last day."
    )
    disbursed = money(
        source="disbursed_to_date",
        read_only=True,
        help_text="Sum of the disbursements recorded so far.",
    )

    class Meta:
        model = Commitment
        fields = (
            "id", "funder", "agreement", "building", "site", "nature", "amount",
            "disbursed", "start", "end", "purpose", "decision_reference",
            "decision_date", "budget_programme", "valuation_method", "illustrative",
            "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_site(self, commitment: Commitment) -> int:
        """The building funded, directly or through the agreement."""
        return commitment.site.pk


class DisbursementSerializer(serializers.ModelSerializer[Disbursement]):
    has_evidence_file = serializers.SerializerMethodField()

    class Meta:
        model = Disbursement
        fields = (
            "id", "commitment", "date", "amount", "evidence_reference",
            "has_evidence_file", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_has_evidence_file(self, disbursement: Disbursement) -> bool:
        return bool(disbursement.evidence_file)


class CostLineSerializer(serializers.ModelSerializer[CostLine]):
    start = serializers.DateField(source="period.lower", read_only=True)
    end = serializers.DateField(source="period.upper", read_only=True)

    class Meta:
        model = CostLine
        fields = (
            "id", "building", "category", "payer", "amount", "start", "end", "label",
            "illustrative", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class SecurityBaselineSerializer(serializers.ModelSerializer[SecurityBaseline]):
    class Meta:
        model = SecurityBaseline
        fields = (
            "id", "building", "method", "hourly_rate", "hours_per_month",
            "monthly_amount", "source", "illustrative", "updated_at",
        )  # fmt: skip
        read_only_fields = fields


class FeePaymentSerializer(serializers.ModelSerializer[FeePayment]):
    class Meta:
        model = FeePayment
        fields = ("id", "agreement", "date", "amount", "reference", "illustrative")
        read_only_fields = fields


class SubLettingSerializer(serializers.ModelSerializer[SubLetting]):
    start = serializers.DateField(source="period.lower", read_only=True)
    end = serializers.DateField(source="period.upper", read_only=True)

    class Meta:
        model = SubLetting
        fields = (
            "id", "agreement", "space", "sub_occupant", "area_m2",
            "rate_per_m2_month", "start", "end", "illustrative",
        )  # fmt: skip
        read_only_fields = fields


# --- Writes
class InTerritory(serializers.PrimaryKeyRelatedField[Any]):
    """The primary key of a row in the territory the caller may write in:
    ``context["departments"]`` (None: everywhere). Another territory's id is
    "does not exist", a 400 that writes nothing (reliability.md B4)."""

    def __init__(self, *, rows: QuerySet[Any], paths: tuple[str, ...], **kwargs: Any):
        self.rows = rows
        self.paths = paths
        super().__init__(queryset=rows, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        departments = self.context.get("departments", frozenset())
        rows = self.rows.all()
        if departments is None:
            return rows
        territory = Q()
        for path in self.paths:  # "" for the row's own département
            prefix = f"{path}__" if path else ""
            territory |= Q(**{f"{prefix}department_id__in": departments})
        return rows.filter(territory)


class CommitmentWriteSerializer(serializers.Serializer[Any]):
    funder = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.filter(kind__in=FUNDER_KINDS)
    )
    agreement = InTerritory(
        rows=Agreement.objects.all(),
        paths=("building",),
        required=False,
        allow_null=True,
    )
    building = InTerritory(
        rows=Building.objects.all(), paths=("",), required=False, allow_null=True
    )
    nature = serializers.ChoiceField(choices=Nature.choices)
    amount = money()
    start = DayField()
    end = DayField(help_text="Exclusive: the day after the last day.")
    purpose = serializers.CharField(max_length=200, required=False, allow_blank=True)
    decision_reference = serializers.CharField(max_length=100)
    decision_date = DayField()
    budget_programme = serializers.CharField(
        max_length=50, required=False, allow_blank=True
    )
    valuation_method = serializers.CharField(
        max_length=300, required=False, allow_blank=True
    )
    illustrative = serializers.BooleanField(required=False)


class DisbursementWriteSerializer(serializers.Serializer[Any]):
    # A commitment targets an agreement or a building: either one's territory.
    commitment = InTerritory(
        rows=Commitment.objects.all(), paths=("agreement__building", "building")
    )
    date = DayField()
    amount = money()
    evidence_reference = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    evidence_file = serializers.FileField(
        required=False, help_text="A PDF (multipart/form-data), instead of a reference."
    )


class CostLineWriteSerializer(serializers.Serializer[Any]):
    building = InTerritory(rows=Building.objects.all(), paths=("",))
    category = serializers.ChoiceField(choices=CostCategory.choices)
    payer = serializers.ChoiceField(choices=Payer.choices)
    amount = money()
    start = DayField()
    end = DayField(help_text="Exclusive: the day after the last day.")
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=200, required=False, allow_blank=True
    )
    illustrative = serializers.BooleanField(required=False)


class SecurityBaselineWriteSerializer(serializers.Serializer[Any]):
    building = InTerritory(rows=Building.objects.all(), paths=("",))
    method = serializers.ChoiceField(choices=BaselineMethod.choices)
    hourly_rate = serializers.DecimalField(
        max_digits=8, decimal_places=2, required=False, allow_null=True
    )
    hours_per_month = serializers.DecimalField(
        max_digits=5, decimal_places=1, required=False, allow_null=True
    )
    monthly_amount = money(
        required=False,
        allow_null=True,
        help_text="Computed for the hourly method (rate × hours).",
    )
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=300, required=False, allow_blank=True
    )
    illustrative = serializers.BooleanField(required=False)


class FeePaymentWriteSerializer(serializers.Serializer[Any]):
    agreement = InTerritory(rows=Agreement.objects.all(), paths=("building",))
    date = DayField()
    amount = money()
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    illustrative = serializers.BooleanField(required=False)


class SubLettingWriteSerializer(serializers.Serializer[Any]):
    agreement = InTerritory(rows=Agreement.objects.all(), paths=("building",))
    space = InTerritory(
        rows=Space.objects.all(), paths=("building",), required=False, allow_null=True
    )
    sub_occupant = serializers.CharField(max_length=200)
    area_m2 = serializers.DecimalField(max_digits=10, decimal_places=2)
    rate_per_m2_month = serializers.DecimalField(max_digits=8, decimal_places=2)
    start = DayField()
    end = DayField(help_text="Exclusive: the day after the last day.")
    illustrative = serializers.BooleanField(required=False)


# --- Dashboard
def figure(*, places: int = 4, **kwargs: Any) -> serializers.DecimalField:
    """A read-only sum or ratio: no digit cap, since sums of many amounts outgrow
    one amount's 14 digits and a ratio over a tiny State share can be huge."""
    return serializers.DecimalField(
        max_digits=None, decimal_places=places, read_only=True, **kwargs
    )


def money_sum(**kwargs: Any) -> serializers.DecimalField:
    return figure(places=2, **kwargs)


class FilterQuerySerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField(
        required=False, min_value=FIRST_YEAR, max_value=LAST_YEAR
    )
    building = serializers.IntegerField(required=False, min_value=1)
    nature = serializers.ChoiceField(choices=Nature.choices, required=False)
    funder = serializers.IntegerField(required=False, min_value=1)


class MoneyFigureSerializer(serializers.Serializer[Any]):
    """An amount that may be withheld (fewer than 5 people): value is then null.
    Counts and ratios that may be withheld are the occupancy API's figures."""

    value = money_sum(allow_null=True)
    suppressed = serializers.BooleanField(read_only=True)


class ProgressSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    committed = money_sum()
    disbursed = money_sum()
    rate = figure(allow_null=True)


class ShareSerializer(serializers.Serializer[Any]):
    funder_id = serializers.IntegerField(read_only=True)
    funder = serializers.CharField(read_only=True)
    is_state = serializers.BooleanField(read_only=True)
    amount = money_sum()
    share = figure(allow_null=True)


class CoFundingSerializer(serializers.Serializer[Any]):
    basis = serializers.ChoiceField(choices=["committed", "disbursed"], read_only=True)
    cash_only = serializers.BooleanField(read_only=True)
    total = money_sum()
    shares = ShareSerializer(many=True, read_only=True)


class LeverageSerializer(serializers.Serializer[Any]):
    state = money_sum()
    non_state = money_sum()
    non_state_per_state = figure(
        allow_null=True, help_text="Σ non-State ÷ Σ State contributions."
    )
    total_per_state = figure(
        allow_null=True, help_text="Σ all ÷ Σ State contributions."
    )


class SiteFiguresSerializer(serializers.Serializer[Any]):
    building_id = serializers.IntegerField(read_only=True, allow_null=True)
    designation = serializers.CharField(read_only=True)
    committed = money_sum()
    disbursed = money_sum()
    operating_costs = money_sum()
    works_costs = money_sum()
    place_nights = serializers.IntegerField(read_only=True)
    nights_provided = CountFigureSerializer(read_only=True)
    cost_per_place_day = money_sum(allow_null=True)
    cost_per_night = MoneyFigureSerializer(read_only=True)
    guarding_baseline_monthly = money_sum(allow_null=True)
    occupied_months = figure(
        help_text="Months with an agreement in force, less its suspensions."
    )
    owner_security_costs = money_sum(
        help_text="Security costs borne by the owner over the occupied months."
    )
    guarding_avoided = money_sum(allow_null=True, help_text="An estimate.")
    fees_received = money_sum()
    owner_other_costs = money_sum()
    owner_net_balance = money_sum(allow_null=True, help_text="An estimate.")
    state_in_kind = money_sum(allow_null=True)
    subletting_revenue = money_sum()


class ImpactSerializer(serializers.Serializer[Any]):
    persons_housed = CountFigureSerializer(read_only=True)
    households_housed = CountFigureSerializer(read_only=True)
    nights_provided = CountFigureSerializer(read_only=True)
    place_nights = serializers.IntegerField(read_only=True)
    occupancy_rate = RatioFigureSerializer(read_only=True)
    threshold = serializers.IntegerField(read_only=True)
    sites_left_out = serializers.IntegerField(
        read_only=True,
        help_text="Sites whose figures are withheld: left out of these totals.",
    )
    note = serializers.CharField(
        read_only=True, help_text="What these totals leave out ('' when nothing)."
    )


class DashboardSerializer(serializers.Serializer[Any]):
    window_start = serializers.DateField(read_only=True, allow_null=True)
    window_end = serializers.DateField(
        read_only=True, allow_null=True, help_text="Exclusive."
    )
    totals = ProgressSerializer(read_only=True)
    by_funder = ProgressSerializer(many=True, read_only=True)
    by_site = ProgressSerializer(many=True, read_only=True)
    by_nature = ProgressSerializer(many=True, read_only=True)
    by_year = ProgressSerializer(many=True, read_only=True)
    cofunding = CoFundingSerializer(many=True, read_only=True)
    leverage = LeverageSerializer(read_only=True)
    loans_committed = money_sum()
    sites = SiteFiguresSerializer(many=True, read_only=True)
    site_total = SiteFiguresSerializer(read_only=True, allow_null=True)
    impact = ImpactSerializer(read_only=True, allow_null=True)
    illustrative = serializers.BooleanField(read_only=True)
    methodology = serializers.CharField(read_only=True)
