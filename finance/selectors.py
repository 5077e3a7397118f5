"""Reads on finance: scoped lists, the dashboard's selection, its filter choices.

Scoping (DESIGN.md, Permissions): a funder sees its own commitments and their
disbursements; a State agent, every commitment on the buildings of its territory
(whoever the funder); an operator, the commitments of its agreements and those it
funds itself. Cost lines, fees, baselines and sub-lettings are the State's books:
State agents of the territory only. Outside its scope a row does not exist (404).
The indicators of the dashboard are in finance/indicators.py.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import (
    DateField,
    DecimalField,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from buildings.models import Building
from config.forms import PERIOD_FIRST_DAY, PERIOD_LAST_DAY
from finance.models import (
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)
from organizations.models import Organization
from organizations.selectors import Scope
from organizations.selectors import (
    writable_departments as organizations_writable_departments,
)

ZERO = Decimal(0)


# --- Scoped lists ---------------------------------------------------------------------
def _or(parts: list[Q]) -> Q:
    return functools.reduce(operator.or_, parts)


def _territory(scope: Scope, *paths: str) -> Q | None:
    """Rows whose building (reached by any of ``paths``) lies in the agent's
    territory; None when the scope has no territory. ``Q()``: no limit."""
    if not scope.is_state_agent:
        return None
    if scope.departments is None:
        return Q()
    return _or(
        [Q(**{f"{path}__department_id__in": scope.departments}) for path in paths]
    )


def _commitment_visibility(scope: Scope) -> Q | None:
    parts: list[Q] = []
    territory = _territory(scope, "agreement__building", "building")
    if territory is not None:
        if not territory:
            return Q()
        parts.append(territory)
    if scope.funder_ids:
        parts.append(Q(funder_id__in=scope.funder_ids))
    if scope.operator_ids:
        parts.append(
            Q(agreement__operator_id__in=scope.operator_ids)
            | Q(funder_id__in=scope.operator_ids)
        )
    return _or(parts) if parts else None


def commitment_list(*, scope: Scope) -> QuerySet[Commitment]:
    commitments = Commitment.objects.select_related(
        "funder", "agreement__building", "building"
    )
    visible = _commitment_visibility(scope)
    if visible is None:
        return commitments.none()
    return commitments.filter(visible).order_by("-decision_date", "-pk")


def commitment_get(*, scope: Scope, pk: int) -> Commitment:
    """The commitment ``pk`` if ``scope`` sees it; Commitment.DoesNotExist otherwise."""
    return commitment_list(scope=scope).get(pk=pk)


def disbursement_list(*, scope: Scope) -> QuerySet[Disbursement]:
    """The disbursements of the commitments ``scope`` sees."""
    visible = _commitment_visibility(scope)
    disbursements = Disbursement.objects.select_related("commitment")
    if visible is None:
        return disbursements.none()
    return disbursements.filter(
        commitment__in=Commitment.objects.filter(visible).values("pk")
    ).order_by("-date", "-pk")


def cost_line_list(*, scope: Scope) -> QuerySet[CostLine]:
    territory = _territory(scope, "building")
    lines = CostLine.objects.select_related("building")
    return lines.none() if territory is None else lines.filter(territory)


def security_baseline_list(*, scope: Scope) -> QuerySet[SecurityBaseline]:
    territory = _territory(scope, "building")
    baselines = SecurityBaseline.objects.select_related("building")
    return baselines.none() if territory is None else baselines.filter(territory)


def fee_payment_list(*, scope: Scope) -> QuerySet[FeePayment]:
    territory = _territory(scope, "agreement__building")
    payments = FeePayment.objects.select_related("agreement")
    return payments.none() if territory is None else payments.filter(territory)


def subletting_list(*, scope: Scope) -> QuerySet[SubLetting]:
    territory = _territory(scope, "agreement__building")
    rows = SubLetting.objects.select_related("agreement")
    return rows.none() if territory is None else rows.filter(territory)


def writable_departments(
    *, scope: Scope, user: AbstractBaseUser | AnonymousUser
) -> frozenset[str] | None:
    """Départements where ``user`` may write the State's books; None: everywhere.

    The inventory's rule (organizations.selectors.writable_departments): only
    State services where the user is admin or editor count (a viewer reads). An
    empty set means nowhere.
    """
    return organizations_writable_departments(scope=scope, user=user)


# --- Dashboard ------------------------------------------------------------------------
# The years a filter may name: the platform's period of figures (config.forms).
# A commitment may run to 9999-12-31; offering its years would offer thousands,
# and the year after 9999 does not exist.
FIRST_YEAR = PERIOD_FIRST_DAY.year
LAST_YEAR = PERIOD_LAST_DAY.year


@dataclass(frozen=True)
class Filters:
    year: int | None = None
    building_id: int | None = None
    nature: str | None = None
    funder_id: int | None = None


def lower(path: str) -> Func:
    """SQL ``lower(range)`` of a date range field."""
    return Func(F(path), function="lower", output_field=DateField())


def upper(path: str) -> Func:
    return Func(F(path), function="upper", output_field=DateField())


def filtered_commitments(*, scope: Scope, filters: Filters) -> QuerySet[Commitment]:
    """The commitments the dashboard, its table and its exports show."""
    selection = commitment_list(scope=scope)
    if filters.year is not None:
        year = DateRange(date(filters.year, 1, 1), date(filters.year + 1, 1, 1))
        selection = selection.filter(period__overlap=year)
    if filters.building_id is not None:
        selection = selection.filter(
            Q(agreement__building_id=filters.building_id)
            | Q(building_id=filters.building_id)
        )
    if filters.nature is not None:
        selection = selection.filter(nature=filters.nature)
    if filters.funder_id is not None:
        selection = selection.filter(funder_id=filters.funder_id)
    return selection


def filtered_disbursements(
    *, commitments: QuerySet[Commitment], filters: Filters
) -> QuerySet[Disbursement]:
    disbursements = Disbursement.objects.filter(
        commitment__in=commitments.order_by().values("pk")
    )
    if filters.year is not None:
        disbursements = disbursements.filter(date__year=filters.year)
    return disbursements


def commitment_rows(*, scope: Scope, filters: Filters) -> QuerySet[Commitment]:
    """The dashboard's table: each commitment with ``disbursed`` (under the
    filters, so the column adds up to the total) and ``disbursed_to_date``."""
    selection = filtered_commitments(scope=scope, filters=filters)
    paid = Disbursement.objects.filter(commitment=OuterRef("pk"))
    shown = paid.filter(date__year=filters.year) if filters.year is not None else paid

    def total(rows: QuerySet[Disbursement]) -> Coalesce:
        summed = rows.order_by().values("commitment").annotate(s=Sum("amount"))
        return Coalesce(
            Subquery(
                summed.values("s")[:1],
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            Value(ZERO),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )

    return selection.annotate(disbursed=total(shown), disbursed_to_date=total(paid))


# --- Filter choices -------------------------------------------------------------------
@dataclass(frozen=True)
class Choices:
    years: tuple[int, ...]
    sites: tuple[tuple[int, str], ...]
    funders: tuple[tuple[int, str], ...]


def filter_choices(*, scope: Scope) -> Choices:
    """Years, buildings and funders the caller's commitments span (three queries);
    years within FIRST_YEAR–LAST_YEAR only."""
    visible = commitment_list(scope=scope).order_by()
    span = visible.aggregate(first=Min(lower("period")), last=Max(upper("period")))
    years: tuple[int, ...] = ()
    if span["first"] is not None:
        first = max(span["first"].year, FIRST_YEAR)
        # The upper bound is exclusive: [2024-01-01, 2025-01-01) is 2024 only.
        last = (span["last"] - timedelta(days=1)).year
        years = tuple(range(first, min(last, LAST_YEAR) + 1))
    # Semi-joins on the funded ids: joining buildings to every commitment (and
    # agreement) and then DISTINCT would multiply the rows first.
    funded = visible.annotate(
        funded=Coalesce("agreement__building_id", "building_id")
    ).values("funded")
    sites = tuple(
        Building.objects.filter(pk__in=funded)
        .order_by("designation", "pk")
        .values_list("pk", "designation")
    )
    funders = tuple(
        Organization.objects.filter(pk__in=visible.values("funder_id"))
        .order_by("name", "pk")
        .values_list("pk", "name")
    )
    return Choices(years=years, sites=sites, funders=funders)
