"""Read-only administration of finance rows, scoped like the API.

Writes go through the API and its services (locks, idempotency, checks): the
admin only lets staff look, within their territory, with the audit trail behind.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from finance import selectors
from finance.models import (
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)
from organizations.selectors import scope_for


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    list_select_related = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def scoped(self, request: HttpRequest) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return self.scoped(request)


@admin.register(Commitment)
class CommitmentAdmin(_ReadOnly):
    list_display = ("funder", "nature", "amount", "period", "decision_reference")
    list_filter = ("nature", "illustrative")

    def scoped(self, request: HttpRequest) -> QuerySet[Commitment]:
        return selectors.commitment_list(scope=scope_for(request.user))


@admin.register(Disbursement)
class DisbursementAdmin(_ReadOnly):
    list_display = ("commitment", "date", "amount", "evidence_reference")

    def scoped(self, request: HttpRequest) -> QuerySet[Disbursement]:
        return selectors.disbursement_list(scope=scope_for(request.user))


@admin.register(CostLine)
class CostLineAdmin(_ReadOnly):
    list_display = ("building", "category", "payer", "amount", "period")
    list_filter = ("category", "payer")

    def scoped(self, request: HttpRequest) -> QuerySet[CostLine]:
        return selectors.cost_line_list(scope=scope_for(request.user))


@admin.register(SecurityBaseline)
class SecurityBaselineAdmin(_ReadOnly):
    list_display = ("building", "method", "monthly_amount")

    def scoped(self, request: HttpRequest) -> QuerySet[SecurityBaseline]:
        return selectors.security_baseline_list(scope=scope_for(request.user))


@admin.register(FeePayment)
class FeePaymentAdmin(_ReadOnly):
    list_display = ("agreement", "date", "amount")

    def scoped(self, request: HttpRequest) -> QuerySet[FeePayment]:
        return selectors.fee_payment_list(scope=scope_for(request.user))


@admin.register(SubLetting)
class SubLettingAdmin(_ReadOnly):
    list_display = ("agreement", "sub_occupant", "area_m2", "rate_per_m2_month")

    def scoped(self, request: HttpRequest) -> QuerySet[SubLetting]:
        return selectors.subletting_list(scope=scope_for(request.user))
