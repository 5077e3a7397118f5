"""Finance over HTTP (/api/v1/finance/): scoped reads, State editors' writes.

Reads start from the scoped selectors (finance/selectors.py): funders get their own
commitments and disbursements, operators those of their agreements, State agents
their territory's, and anything else answers 404. Writes are for admins and
editors of a State service, within its territory; they call the services, which
hold the rules. Updates need the ETag of the version read (If-Match: 428 without,
412 when stale); disbursements and fee payments need an ``Idempotency-Key`` header,
and a retry with the same key returns the first payment (200) instead of recording
it twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, parsers, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from buildings.models import Building
from config.etag import IF_MATCH, ConditionalWriteMixin
from config.parsers import JSONParser
from finance import services
from finance.api.serializers import (
    CommitmentSerializer,
    CommitmentWriteSerializer,
    CostLineSerializer,
    CostLineWriteSerializer,
    DashboardSerializer,
    DisbursementSerializer,
    DisbursementWriteSerializer,
    FeePaymentSerializer,
    FeePaymentWriteSerializer,
    FilterQuerySerializer,
    SecurityBaselineSerializer,
    SecurityBaselineWriteSerializer,
    SubLettingSerializer,
    SubLettingWriteSerializer,
)
from finance.indicators import dashboard_get
from finance.models import (
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)
from finance.selectors import (
    Filters,
    commitment_rows,
    cost_line_list,
    disbursement_list,
    fee_payment_list,
    security_baseline_list,
    subletting_list,
    writable_departments,
)
from organizations.selectors import Scope, scope_for

M = TypeVar("M", bound=models.Model)
F = TypeVar("F", bound=Callable[..., Any])

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "A key of yours for this payment (a UUID): a retry with the same key "
        "returns the payment first recorded with it (200) instead of recording a "
        "second; the same key for another amount or date is a 409."
    ),
)
NOT_AUTHENTICATED = {401: OpenApiResponse(description="Not authenticated.")}
INVALID = {400: OpenApiResponse(description="Invalid input, with the field at fault.")}
READ_ERRORS = {
    **NOT_AUTHENTICATED,
    404: OpenApiResponse(description="No such row in your scope."),
}
# A malformed filter or page is a 400; a page past the last one, a 404.
LIST_ERRORS = {
    **INVALID,
    **NOT_AUTHENTICATED,
    404: OpenApiResponse(description="No such page."),
}
WRITE_ERRORS = {
    **INVALID,
    **NOT_AUTHENTICATED,
    415: OpenApiResponse(description="A body in a media type this does not take."),
    403: OpenApiResponse(description="Not an editor of a State service here."),
    409: OpenApiResponse(description="Conflicts with recorded data (the field)."),
}
UPDATE_ERRORS = {
    **WRITE_ERRORS,
    404: READ_ERRORS[404],
    412: OpenApiResponse(description="The row changed since you read it."),
    428: OpenApiResponse(description="If-Match is missing."),
}


def rows_schema(serializer: type[BaseSerializer[Any]]) -> Callable[[F], F]:
    """A finance viewset's operations, tagged; its retrieve reads ``serializer``."""

    def decorate(view: F) -> F:
        read = extend_schema(responses={200: serializer, **READ_ERRORS})
        listed = extend_schema(responses={200: serializer, **LIST_ERRORS})
        return extend_schema(tags=["finance"])(
            extend_schema_view(list=listed, retrieve=read)(view)
        )

    return decorate


def create_schema(
    write: type[BaseSerializer[Any]],
    read: type[BaseSerializer[Any]],
    *,
    summary: str | None = None,
) -> Callable[[F], F]:
    """A create that takes ``write`` and answers 201 with ``read``."""
    return extend_schema(
        summary=summary, request=write, responses={201: read, **WRITE_ERRORS}
    )


def payment_schema(
    write: type[BaseSerializer[Any]],
    read: type[BaseSerializer[Any]],
    *,
    media: tuple[str, ...] = ("application/json",),
) -> Callable[[F], F]:
    """A payment's create under Idempotency-Key: 201 with ``read``, or 200 with the
    payment a retry's key recorded first."""
    return extend_schema(
        request=dict.fromkeys(media, write),
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: read,
            200: OpenApiResponse(
                read, description="A retry: the payment first recorded with this key."
            ),
            **WRITE_ERRORS,
        },
    )


def update_schema(
    write: type[BaseSerializer[Any]], read: type[BaseSerializer[Any]]
) -> Callable[[F], F]:
    """A partial update under If-Match, answering 200 with ``read``."""
    return extend_schema(
        request=write, parameters=[IF_MATCH], responses={200: read, **UPDATE_ERRORS}
    )


def _acting(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _filters(query_params: Any) -> Filters:
    """The dashboard's filters from the query string (400 when malformed, blank,
    or given twice: ``?funder=abc&funder=5`` was read as 5)."""
    repeated = {
        name: [_("Give this filter once.")]
        for name in FilterQuerySerializer().get_fields()
        if len(query_params.getlist(name)) > 1
    }
    if repeated:
        raise exceptions.ValidationError(repeated)
    # A plain dict: from a QueryDict, DRF reads ``?nature=`` as no filter at all
    # (200, every nature), which the schema's enum does not allow.
    query = FilterQuerySerializer(data=query_params.dict())
    query.is_valid(raise_exception=True)
    params = query.validated_data
    return Filters(
        year=params.get("year"),
        building_id=params.get("building"),
        nature=params.get("nature"),
        funder_id=params.get("funder"),
    )


class FinanceAccess(permissions.BasePermission):
    """Signed-in callers read within their scope; admins and editors of a State
    service write, within that service's territory."""

    message = _("Only editors of a State service may record finance data.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return view.writable_departments is None or bool(view.writable_departments)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        departments: frozenset[str] | None = view.writable_departments
        building: Building = view.building_of(obj)
        return departments is None or building.department_id in departments


class _FinanceView(APIView):
    @property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    @cached_property
    def writable_departments(self) -> frozenset[str] | None:
        scope = self.scope
        if not (
            scope.is_state_agent or getattr(self.request.user, "is_superuser", False)
        ):
            return frozenset()
        return writable_departments(scope=scope, user=self.request.user)

    def write_context(self) -> dict[str, Any]:
        return {"request": self.request, "departments": self.writable_departments}


class _RowViewSet(
    ConditionalWriteMixin,
    _FinanceView,
    mixins.ListModelMixin,
    GenericViewSet[M],
    Generic[M],
    ABC,
):
    """List, retrieve (with ETag) and the locked lookup that writes share.
    Subclasses say where their rows come from (``scoped``) and which building
    a row belongs to (``building_of``: whose territory may change it)."""

    permission_classes = [FinanceAccess]
    lookup_value_regex = "[0-9]+"
    parser_classes = [JSONParser]

    @abstractmethod
    def scoped(self) -> QuerySet[M]:
        """The caller's rows, from the scoped selector of finance/selectors.py."""

    def get_queryset(self) -> QuerySet[M]:
        return self.scoped()

    @abstractmethod
    def building_of(self, obj: M) -> Building:
        """The building whose département decides who may change ``obj``."""

    def get_object(self) -> M:
        queryset = self.scoped()
        if self.request.method not in permissions.SAFE_METHODS:
            # Locked for the write's transaction, so that the If-Match check and
            # the write see the same version.
            queryset = queryset.select_for_update(of=("self",))
        try:
            obj = queryset.get(pk=int(self.kwargs["pk"]))
        except ObjectDoesNotExist:
            raise exceptions.NotFound from None
        self.check_object_permissions(self.request, obj)
        return obj

    def _one(self, obj: M, status_code: int = status.HTTP_200_OK) -> Response:
        serializer = self.get_serializer(obj)
        return self.with_etag(Response(serializer.data, status=status_code), obj)  # type: ignore[arg-type]

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._one(self.get_object())

    def _input(
        self, serializer_class: type[BaseSerializer[Any]], **kwargs: Any
    ) -> dict[str, Any]:
        data = serializer_class(
            data=self.request.data, context=self.write_context(), **kwargs
        )
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def _create(
        self, serializer_class: type[BaseSerializer[Any]], service: Callable[..., M]
    ) -> Response:
        """201 with the row ``service`` records from the body."""
        row = service(by=_acting(self.request), **self._input(serializer_class))
        return self._one(row, status.HTTP_201_CREATED)

    def _payment(self, service: Callable[..., tuple[M, bool]], **data: Any) -> Response:
        """201 with the payment ``service`` records under the request's
        Idempotency-Key, or 200 (``Idempotent-Replayed``) with the one a retry's
        key recorded first."""
        row, created = service(
            by=_acting(self.request),
            idempotency_key=self.request.headers.get("Idempotency-Key", ""),
            **data,
        )
        if created:
            return self._one(row, status.HTTP_201_CREATED)
        response = self._one(row)
        response["Idempotent-Replayed"] = "true"
        return response

    @contextmanager
    def _updating(
        self, serializer_class: type[BaseSerializer[Any]]
    ) -> Iterator[tuple[M, dict[str, Any]]]:
        """The row, locked and checked against If-Match, and the fields the body
        changes, for a write in the same transaction."""
        with transaction.atomic():
            obj = self.get_object()
            yield obj, self._input(serializer_class, partial=True)


# --- Commitments
@rows_schema(CommitmentSerializer)
class CommitmentViewSet(_RowViewSet[Commitment]):
    """Commitments: funders read theirs, operators those of their agreements,
    State agents their territory's; State editors record and change them."""

    queryset = Commitment.objects.none()  # schema generation only
    serializer_class = CommitmentSerializer

    def scoped(self) -> QuerySet[Commitment]:
        return commitment_rows(scope=self.scope, filters=Filters())

    def get_queryset(self) -> QuerySet[Commitment]:
        if self.action != "list":
            return self.scoped()
        filters = _filters(self.request.query_params)
        return commitment_rows(scope=self.scope, filters=filters)

    def building_of(self, obj: Commitment) -> Building:
        return obj.site

    @extend_schema(parameters=[FilterQuerySerializer])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @create_schema(CommitmentWriteSerializer, CommitmentSerializer)
    def create(self, request: Request) -> Response:
        data = self._input(CommitmentWriteSerializer)
        commitment = services.commitment_create(by=_acting(request), **data)
        return self._one(self.scoped().get(pk=commitment.pk), status.HTTP_201_CREATED)

    @update_schema(CommitmentWriteSerializer, CommitmentSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        with self._updating(CommitmentWriteSerializer) as (commitment, data):
            services.commitment_update(
                commitment=commitment, by=_acting(request), **data
            )
        return self._one(self.scoped().get(pk=commitment.pk))


# --- Disbursements
@rows_schema(DisbursementSerializer)
class DisbursementViewSet(_RowViewSet[Disbursement]):
    """Payments against commitments, read within the commitments' scope. A
    disbursement is never edited: a mistake is corrected by the administration,
    and the audit trail keeps both versions."""

    queryset = Disbursement.objects.none()
    serializer_class = DisbursementSerializer
    parser_classes = [JSONParser, parsers.MultiPartParser]

    def scoped(self) -> QuerySet[Disbursement]:
        return disbursement_list(scope=self.scope)

    def building_of(self, obj: Disbursement) -> Building:
        return obj.commitment.site

    @payment_schema(
        DisbursementWriteSerializer,
        DisbursementSerializer,
        media=("application/json", "multipart/form-data"),
    )
    def create(self, request: Request) -> Response:
        data = self._input(DisbursementWriteSerializer)
        document = data.pop("evidence_file", None)
        reference = data.pop("evidence_reference", "")
        return self._payment(
            services.disbursement_record,
            evidence=document if document is not None else reference,
            **data,
        )


# --- The State's books: cost lines, baselines, fees, sub-lettings
@rows_schema(CostLineSerializer)
class CostLineViewSet(_RowViewSet[CostLine]):
    """What a site costs, by category and payer (State agents of the territory)."""

    queryset = CostLine.objects.none()
    serializer_class = CostLineSerializer

    def scoped(self) -> QuerySet[CostLine]:
        return cost_line_list(scope=self.scope)

    def building_of(self, obj: CostLine) -> Building:
        return obj.building

    @create_schema(CostLineWriteSerializer, CostLineSerializer)
    def create(self, request: Request) -> Response:
        return self._create(CostLineWriteSerializer, services.cost_line_create)

    @update_schema(CostLineWriteSerializer, CostLineSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        with self._updating(CostLineWriteSerializer) as (line, data):
            data.pop("building", None)  # a cost line stays on its building
            line = services.cost_line_update(
                cost_line=line, by=_acting(request), **data
            )
        return self._one(line)


@rows_schema(SecurityBaselineSerializer)
class SecurityBaselineViewSet(_RowViewSet[SecurityBaseline]):
    """What guarding each building empty would cost (one per building)."""

    queryset = SecurityBaseline.objects.none()
    serializer_class = SecurityBaselineSerializer

    def scoped(self) -> QuerySet[SecurityBaseline]:
        return security_baseline_list(scope=self.scope)

    def building_of(self, obj: SecurityBaseline) -> Building:
        return obj.building

    @create_schema(
        SecurityBaselineWriteSerializer,
        SecurityBaselineSerializer,
        summary="Set a building's baseline (replaces the one it has)",
    )
    def create(self, request: Request) -> Response:
        return self._create(
            SecurityBaselineWriteSerializer, services.security_baseline_set
        )

    @update_schema(SecurityBaselineWriteSerializer, SecurityBaselineSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        with self._updating(SecurityBaselineWriteSerializer) as (baseline, data):
            data.pop("building", None)
            current = {
                "method": baseline.method,
                "hourly_rate": baseline.hourly_rate,
                "hours_per_month": baseline.hours_per_month,
                "monthly_amount": baseline.monthly_amount,
                "source": baseline.source,
                "illustrative": baseline.illustrative,
            }
            baseline = services.security_baseline_set(
                by=_acting(request),
                building=baseline.building,
                **(current | data),
            )
        return self._one(baseline)


@rows_schema(FeePaymentSerializer)
class FeePaymentViewSet(_RowViewSet[FeePayment]):
    """Occupation fees actually paid (State agents of the territory), recorded
    once per Idempotency-Key as disbursements are."""

    queryset = FeePayment.objects.none()
    serializer_class = FeePaymentSerializer

    def scoped(self) -> QuerySet[FeePayment]:
        return fee_payment_list(scope=self.scope)

    def building_of(self, obj: FeePayment) -> Building:
        return obj.agreement.building

    @payment_schema(FeePaymentWriteSerializer, FeePaymentSerializer)
    def create(self, request: Request) -> Response:
        return self._payment(
            services.fee_payment_record, **self._input(FeePaymentWriteSerializer)
        )


@rows_schema(SubLettingSerializer)
class SubLettingViewSet(_RowViewSet[SubLetting]):
    """Space let to hosted organisations, for indicator 17 (sub-letting revenue)."""

    queryset = SubLetting.objects.none()
    serializer_class = SubLettingSerializer

    def scoped(self) -> QuerySet[SubLetting]:
        return subletting_list(scope=self.scope)

    def building_of(self, obj: SubLetting) -> Building:
        return obj.agreement.building

    @create_schema(SubLettingWriteSerializer, SubLettingSerializer)
    def create(self, request: Request) -> Response:
        return self._create(SubLettingWriteSerializer, services.subletting_create)


# --- Indicators
class IndicatorsView(_FinanceView):
    """The dashboard's figures for the caller's commitments."""

    permission_classes = [FinanceAccess]

    @extend_schema(
        tags=["finance"],
        summary="Finance indicators of the caller's commitments",
        description=(
            "Committed vs disbursed by funder, site, nature and year; co-funding "
            "shares (cash and valued in kind, cash only; committed and disbursed); "
            "leverage (non-State ÷ State, total ÷ State); per site: costs per "
            "place per day and per night provided, guarding cost avoided and the "
            "owner's net balance (estimates), the State's contribution in kind, "
            "sub-letting revenue; occupancy aggregates with counts under 5 people "
            "withheld. `methodology` states every definition."
        ),
        parameters=[FilterQuerySerializer],
        responses={200: DashboardSerializer, **INVALID, **NOT_AUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        dashboard = dashboard_get(
            scope=self.scope, filters=_filters(request.query_params)
        )
        return Response(DashboardSerializer(dashboard).data)
