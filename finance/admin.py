"""Read-only administration of finance rows, scoped like the API.

Writes go through the API and its services (locks, idempotency, checks): the
admin only lets staff look, within their territory, with the audit trail behind.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from config.admin import ReadOnlyAdminMixin
from finance import selectors
from finance.models import (
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)
from organizations.selectors import Scope, scope_for


class ScopedRead(Protocol):
    def __call__(self, *, scope: Scope) -> QuerySet[Any]: ...


class _ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows of ``selector``: the scoped read of finance/selectors.py the API
    starts from too, so the admin shows no row the caller could not read there.
    (Wrapped in staticmethod: a plain function would be bound to the admin.)"""

    list_select_related = True
    selector: ClassVar[ScopedRead]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return self.selector(scope=scope_for(request.user))


@admin.register(Commitment)
class CommitmentAdmin(_ReadOnly):
    list_display = ("funder", "nature", "amount", "period", "decision_reference")
    list_filter = ("nature", "illustrative")
    selector = staticmethod(selectors.commitment_list)


@admin.register(Disbursement)
class DisbursementAdmin(_ReadOnly):
    list_display = ("commitment", "date", "amount", "evidence_reference")
    selector = staticmethod(selectors.disbursement_list)


@admin.register(CostLine)
class CostLineAdmin(_ReadOnly):
    list_display = ("building", "category", "payer", "amount", "period")
    list_filter = ("category", "payer")
    selector = staticmethod(selectors.cost_line_list)


@admin.register(SecurityBaseline)
class SecurityBaselineAdmin(_ReadOnly):
    list_display = ("building", "method", "monthly_amount")
    selector = staticmethod(selectors.security_baseline_list)


@admin.register(FeePayment)
class FeePaymentAdmin(_ReadOnly):
    list_display = ("agreement", "date", "amount")
    selector = staticmethod(selectors.fee_payment_list)


@admin.register(SubLetting)
class SubLettingAdmin(_ReadOnly):
    list_display = ("agreement", "sub_occupant", "area_m2", "rate_per_m2_month")
    selector = staticmethod(selectors.subletting_list)
