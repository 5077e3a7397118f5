"""Occupancy over HTTP: agreements and their lifecycle, spaces, safety inspections,
pseudonymous occupants, stays, ELAN residence contracts and the indicators.

Every view is a translation: a scoped queryset in (occupancy/api/scopes.py,
occupancy.selectors), a service out (occupancy/services.py, occupancy/residents.py),
errors through the one handler of config/api.py. Objects outside the caller's scope
answer 404, never 403; a 403 is for an object the caller sees but may not change.
Unsafe requests on one object take its ETag in If-Match (config/etag.py): 428
without, 412 when stale. Writes happen inside one transaction that first locks the
object, so the If-Match check and the service see the same version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, ClassVar, TypeVar, cast

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from config.etag import ConditionalWriteMixin, Versioned
from occupancy import indicators
from occupancy.api import filters, scopes
from occupancy.api import serializers as s
from occupancy.models import (
    Agreement,
    AgreementStatusChange,
    Document,
    Occupant,
    ResidenceContract,
    SafetyInspection,
    Space,
    Stay,
)
from occupancy.residents import (
    UNSET,
    occupant_find,
    occupant_register,
    occupant_update,
    residence_contract_create,
    residence_contract_end,
    residence_contract_notify_non_renewal,
    residence_contract_renew,
    residence_contract_terminate_by_body,
    residence_contract_terminate_by_resident,
    safety_inspection_record,
    space_create,
    space_update,
    stay_exit,
    stay_move,
    stay_plan_exit,
    stay_start,
)
from occupancy.rules import rules
from occupancy.selectors import agreement_list
from occupancy.services import (
    agreement_create,
    agreement_record,
    agreement_set_spaces,
    agreement_transition,
    agreement_update,
    amendment_add,
    document_add,
    insurance_add,
)
from organizations.selectors import Persona, Scope, scope_for

M = TypeVar("M", bound=models.Model)

# --- Schema pieces --------------------------------------------------------------------
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the version you read: 428 without it, 412 if stale.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    description="The version's tag, for If-Match.",
)
ERRORS = {
    400: OpenApiResponse(description="Invalid input, with the field at fault."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed to do this."),
    404: OpenApiResponse(description="No such object in your scope."),
    409: OpenApiResponse(
        description="Refused by a rule or a constraint (`code`, field in `errors`)."
    ),
    412: OpenApiResponse(description="The object changed since you read it."),
    428: OpenApiResponse(description="If-Match is missing."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


READ_ERRORS = errors(401, 403, 404)
CREATE_ERRORS = errors(400, 401, 403, 409)
WRITE_ERRORS = errors(400, 401, 403, 404, 409, 412, 428)


def _acting(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


# --- Access ---------------------------------------------------------------------------
class ScopedAccess(permissions.BasePermission):
    """Asks the view: ``may(action)`` before anything is read (who may use this
    family of endpoints at all), then ``may_on(action, obj)`` on an object already
    found in the caller's scope."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(view.may(view.action))

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return bool(view.may_on(view.action, obj))


class _ScopedViewSet(ConditionalWriteMixin, GenericViewSet[M]):
    permission_classes = [ScopedAccess]
    lookup_value_regex = "[0-9]+"
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering: tuple[str, ...] = ("-pk",)
    # FOR NO KEY UPDATE, as occupancy/residents.py locks its rows: rows that only
    # reference this one (a stay's occupant, a space's stays) may still be added.
    lock_no_key: ClassVar[bool] = True

    @cached_property
    def scope(self) -> Scope:
        return scope_for(self.request.user)

    @cached_property
    def superuser(self) -> bool:
        user = self.request.user
        return bool(getattr(user, "is_superuser", False) and user.is_active)

    @cached_property
    def departments(self) -> frozenset[str] | None:
        """Where the caller edits as a State agent (one query, on demand)."""
        return scopes.editable_departments(scope=self.scope, superuser=self.superuser)

    def may(self, action: str | None) -> bool:
        raise NotImplementedError

    def may_on(self, action: str | None, obj: M) -> bool:
        raise NotImplementedError

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        context["scope"] = self.scope
        context["superuser"] = self.superuser
        # Read lazily: only the agents' writes need the territory.
        context["departments"] = lambda: self.departments
        return context

    def get_object(self) -> M:
        queryset = self.get_queryset()
        if self.request.method not in permissions.SAFE_METHODS:
            # Locked for the write's transaction (the caller opened it): the
            # If-Match check and the service see the same version. The lock is
            # the one the services take on this row, so a write never upgrades
            # it midway.
            queryset = queryset.select_for_update(no_key=self.lock_no_key, of=("self",))
        try:
            obj = queryset.get(pk=int(self.kwargs["pk"]))
        except ObjectDoesNotExist:
            raise exceptions.NotFound from None
        self.check_object_permissions(self.request, obj)
        return obj

    def input(self, serializer: type[s.StrictSerializer], **kwargs: Any) -> Any:
        """The request body, validated by ``serializer`` (400 otherwise)."""
        data = serializer(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        data.is_valid(raise_exception=True)
        return data

    def output(self, instance: M, *, status_code: int = status.HTTP_200_OK) -> Response:
        """``instance`` as this endpoint reads it, with its ETag (and its URL when
        created)."""
        serializer = self.get_serializer_class()(
            instance, context=self.get_serializer_context()
        )
        response = Response(serializer.data, status=status_code)
        if status_code == status.HTTP_201_CREATED:
            response["Location"] = self.request.build_absolute_uri(
                reverse(f"v1:{self.basename}-detail", kwargs={"pk": instance.pk})
            )
        return self.with_etag(response, cast(Versioned, instance))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.get_object())


def _lookup(queryset: QuerySet[M], pk: int) -> M:
    try:
        return queryset.get(pk=pk)
    except ObjectDoesNotExist:
        raise exceptions.NotFound from None


# --- Agreements -----------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="Agreements: State agents of the territory, and the operator party",
        responses={200: s.AgreementSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One agreement, with its amendments, insurance, documents, history",
        parameters=[ETAG],
        responses={200: s.AgreementDetailSerializer, **READ_ERRORS},
    ),
)
class AgreementViewSet(mixins.ListModelMixin, _ScopedViewSet[Agreement]):
    """Occupancy agreements. State editors (admin or editor of a State service
    covering the building's département) draft, change and move them; the operator
    party reads them and adds its insurance certificates and documents. Funders
    read none: their figures are the indicators."""

    queryset = Agreement.objects.none()  # schema only; see get_queryset
    serializer_class = s.AgreementSerializer
    filterset_class = filters.AgreementFilterSet
    filter_backends = [
        DjangoFilterBackend,
        SearchFilter,
        OrderingFilter,
    ]
    search_fields = ("reference", "building__designation")
    # FOR UPDATE, as occupancy.services locks an agreement (_locked).
    lock_no_key = False
    ordering_fields = ("reference", "status", "created_at", "updated_at")

    # Actions of State editors of the territory; of the operator party besides.
    AGENT_ACTIONS = frozenset(
        {"create", "partial_update", "transition", "record", "spaces", "amendments"}
    )
    PARTY_ACTIONS = frozenset({"insurance", "documents"})
    READ_ACTIONS = frozenset({"list", "retrieve", "document"})

    def get_queryset(self) -> QuerySet[Agreement]:
        agreements = agreement_list(scope=self.scope)
        if self.request.method not in permissions.SAFE_METHODS:
            return agreements  # locked by get_object; nothing to prefetch
        if self.action == "retrieve":
            return self.detail_queryset()
        return agreements.prefetch_related("agreement_spaces")

    def detail_queryset(self) -> QuerySet[Agreement]:
        """One agreement with everything its detail shows: five queries in all."""
        return agreement_list(scope=self.scope).prefetch_related(
            "agreement_spaces",
            "amendments",
            "insurance_certificates",
            "documents",
            Prefetch(
                "status_changes",
                queryset=AgreementStatusChange.objects.order_by("changed_at", "pk"),
            ),
        )

    def get_serializer_class(self) -> type[s.AgreementSerializer]:
        if self.action == "list":
            return s.AgreementSerializer
        return s.AgreementDetailSerializer

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not (scope.is_state_agent or scope.operator_ids):
            return False
        if action == "create":
            return self.departments != scopes.NOWHERE
        return True

    def may_on(self, action: str | None, agreement: Agreement) -> bool:
        if action in self.READ_ACTIONS:
            return True
        if action in self.PARTY_ACTIONS and agreement.operator_id in (
            scopes.writable_operator_ids(scope=self.scope)
        ):
            return True
        if action in self.AGENT_ACTIONS | self.PARTY_ACTIONS:
            departments = self.departments
            return departments is None or (
                agreement.building.department_id in departments
            )
        return False

    def fresh(
        self, agreement: Agreement, *, status_code: int = status.HTTP_200_OK
    ) -> Response:
        """The agreement as committed, read again through the caller's scope."""
        return self.output(
            _lookup(self.detail_queryset(), agreement.pk), status_code=status_code
        )

    @extend_schema(
        summary="Draft an agreement (State editors of the building's territory)",
        request=s.AgreementCreateSerializer,
        responses={201: s.AgreementDetailSerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.AgreementCreateSerializer).validated_data
        agreement = agreement_create(by=_acting(request), **data)
        return self.fresh(agreement, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change the terms of a draft or an agreement under review",
        request=s.AgreementTermsSerializer,
        parameters=[IF_MATCH],
        responses={200: s.AgreementDetailSerializer, **WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            data = self.input(s.AgreementTermsSerializer, partial=True).validated_data
            agreement = agreement_update(
                agreement=agreement, by=_acting(request), **data
            )
        return self.fresh(agreement)

    @extend_schema(
        summary="Move the agreement to another status (domain.md §D.2)",
        description=(
            "`to` is one of `allowed_transitions`; facts the move needs (signed_on, "
            "entry_inventory_on, prefect_notified_on, revocation_motive…) may be "
            "given with it. An illegal move answers 409 `invalid_transition`; an "
            "unmet guard, 400 with the field to fill in."
        ),
        request=s.AgreementTransitionSerializer,
        parameters=[IF_MATCH],
        responses={200: s.AgreementDetailSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            facts = dict(self.input(s.AgreementTransitionSerializer).validated_data)
            agreement = agreement_transition(
                agreement=agreement,
                to=facts.pop("to"),
                reason=facts.pop("reason"),
                by=_acting(request),
                **facts,
            )
        return self.fresh(agreement)

    @extend_schema(
        summary="Record lifecycle facts without moving the status",
        request=s.RecordSerializer,
        parameters=[IF_MATCH],
        responses={200: s.AgreementDetailSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def record(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            facts = self.input(s.RecordSerializer).validated_data
            agreement = agreement_record(
                agreement=agreement, by=_acting(request), **facts
            )
        return self.fresh(agreement)

    @extend_schema(
        summary="Set the spaces the agreement covers",
        description=(
            "A live agreement holds its spaces at once: a space another live "
            "agreement holds over overlapping dates answers 409 on `spaces`."
        ),
        request=s.AgreementSpacesSerializer,
        parameters=[IF_MATCH],
        responses={200: s.AgreementDetailSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def spaces(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            spaces = self.input(s.AgreementSpacesSerializer).validated_data["spaces"]
            agreement = agreement_set_spaces(
                agreement=agreement, spaces=spaces, by=_acting(request)
            )
        return self.fresh(agreement)

    @extend_schema(
        summary="Record a signed amendment (a prorogation moves the end)",
        request=s.AmendmentInputSerializer,
        parameters=[IF_MATCH],
        responses={201: s.AmendmentSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def amendments(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            data = self.input(s.AmendmentInputSerializer).validated_data
            amendment = amendment_add(agreement=agreement, by=_acting(request), **data)
        return Response(
            s.AmendmentSerializer(amendment).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Add an insurance certificate (State editors or the operator party)",
        request=s.InsuranceInputSerializer,
        parameters=[IF_MATCH],
        responses={201: s.InsuranceCertificateSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def insurance(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            data = self.input(s.InsuranceInputSerializer).validated_data
            certificate = insurance_add(
                agreement=agreement, by=_acting(request), **data
            )
        return Response(
            s.InsuranceCertificateSerializer(certificate).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Attach a PDF (State editors or the operator party)",
        description=(
            "multipart/form-data. The file must be a whole PDF, checked from its "
            "content (header, trailer, no web markup), within the size limit; it "
            "is stored under a random name."
        ),
        request={"multipart/form-data": s.DocumentUploadSerializer},
        parameters=[IF_MATCH],
        responses={201: s.DocumentSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def documents(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            agreement = self.get_object()
            data = self.input(s.DocumentUploadSerializer).validated_data
            document = document_add(
                agreement=agreement,
                kind=data["kind"],
                title=data["title"],
                uploaded_file=data["file"],
                by=_acting(request),
            )
        return Response(
            s.DocumentSerializer(document).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Download an attached PDF",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **READ_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"documents/(?P<document_id>[0-9]+)",
        url_name="document",
    )
    def document(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        agreement = self.get_object()
        document = _lookup(
            Document.objects.filter(agreement=agreement),
            int(self.kwargs["document_id"]),
        )
        # A neutral name: titles may say more than a proxy log should keep.
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=f"document-{document.pk}.pdf",
            content_type="application/pdf",
        )


# --- Spaces ---------------------------------------------------------------------------
@contextmanager
def _name_taken_on_name() -> Iterator[None]:
    """The services' full_clean reports the (building, name) unique constraint on
    the whole row; a writer that lost the race after the serializer's check gets
    it on ``name``, as the serializer would have said."""
    try:
        yield
    except DjangoValidationError as exc:
        unique = [
            error
            for error in getattr(exc, "error_dict", {}).get(NON_FIELD_ERRORS, [])
            if error.code in ("unique", "unique_together")
        ]
        if not unique:
            raise
        raise exceptions.ValidationError(
            {"name": [_("This building already has a space of that name.")]}
        ) from exc


@extend_schema_view(
    list=extend_schema(
        summary="Spaces: your territory's, or your occupied buildings'",
        responses={200: s.SpaceSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One space",
        parameters=[ETAG],
        responses={200: s.SpaceSerializer, **READ_ERRORS},
    ),
)
class SpaceViewSet(mixins.ListModelMixin, _ScopedViewSet[Space]):
    """Rooms, dormitories, workshops… of a building. Operators manage the spaces of
    the buildings where they hold a live agreement; State agents read them."""

    queryset = Space.objects.none()
    serializer_class = s.SpaceSerializer
    filterset_class = filters.SpaceFilterSet
    filter_backends = [
        DjangoFilterBackend,
        SearchFilter,
        OrderingFilter,
    ]
    search_fields = ("name",)
    ordering_fields = ("name", "capacity", "floor", "updated_at")
    ordering = ("building_id", "name", "pk")

    def get_queryset(self) -> QuerySet[Space]:
        return scopes.space_list(scope=self.scope)

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not (scope.is_state_agent or scope.operator_ids):
            return False
        if action == "create":
            return bool(scopes.writable_operator_ids(scope=scope))
        return True

    def may_on(self, action: str | None, space: Space) -> bool:
        if action == "retrieve":
            return True
        return (
            action == "partial_update"
            and scopes.space_list_writable(scope=self.scope)
            .filter(pk=space.pk)
            .exists()
        )

    @extend_schema(
        summary="Add a space to a building you occupy under a live agreement",
        request=s.SpaceCreateSerializer,
        responses={201: s.SpaceSerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.SpaceCreateSerializer).validated_data
        with _name_taken_on_name():
            space = space_create(**data)
        return self.output(space, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a space (a capacity cut never over-fills a night)",
        request=s.SpaceUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: s.SpaceSerializer, **WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            space = self.get_object()
            data = self.input(
                s.SpaceUpdateSerializer, instance=space, partial=True
            ).validated_data
            changes: dict[str, Any] = {"floor": UNSET, "surface_m2": UNSET, **data}
            with _name_taken_on_name():
                space = space_update(space=space, **changes)
        return self.output(space)


# --- Safety inspections ---------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="Safety inspections: the territory's, or your occupied buildings'",
        responses={200: s.SafetyInspectionSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One safety inspection",
        parameters=[ETAG],
        responses={200: s.SafetyInspectionSerializer, **READ_ERRORS},
    ),
)
class SafetyInspectionViewSet(mixins.ListModelMixin, _ScopedViewSet[SafetyInspection]):
    """Safety commission opinions and diagnostics, recorded by State editors; an
    operator reads those of the buildings it occupies."""

    queryset = SafetyInspection.objects.none()
    serializer_class = s.SafetyInspectionSerializer
    filterset_class = filters.SafetyInspectionFilterSet
    ordering_fields = ("date", "updated_at")
    ordering = ("-date", "-pk")

    def get_queryset(self) -> QuerySet[SafetyInspection]:
        return scopes.inspection_list(scope=self.scope)

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not (scope.is_state_agent or scope.operator_ids):
            return False
        if action == "create":
            return self.departments != scopes.NOWHERE
        return True

    def may_on(self, action: str | None, inspection: SafetyInspection) -> bool:
        return action == "retrieve"

    @extend_schema(
        summary="Record an inspection (State editors of the building's territory)",
        request=s.SafetyInspectionInputSerializer,
        responses={201: s.SafetyInspectionSerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.SafetyInspectionInputSerializer).validated_data
        inspection = safety_inspection_record(**data)
        return self.output(inspection, status_code=status.HTTP_201_CREATED)


# --- Residents (operators only) -------------------------------------------------------
class _ResidentViewSet(_ScopedViewSet[M]):
    """Resident-level rows: an operator's own, and no one else's. State agents and
    funders read aggregates (indicators), never these (domain.md §F.4)."""

    READ_ACTIONS: ClassVar[frozenset[str]] = frozenset({"retrieve"})

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not scope.operator_ids:
            return False
        if action in ("list", "retrieve", "lookup"):
            return True
        return bool(scopes.writable_operator_ids(scope=scope))

    def may_on(self, action: str | None, obj: M) -> bool:
        if action in self.READ_ACTIONS:
            return True
        return self.operator_of(obj) in scopes.writable_operator_ids(scope=self.scope)

    def operator_of(self, obj: M) -> int:
        raise NotImplementedError


@extend_schema_view(
    list=extend_schema(
        summary="Your occupants (operators only)",
        responses={200: s.OccupantSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One of your occupants",
        parameters=[ETAG],
        responses={200: s.OccupantSerializer, **READ_ERRORS},
    ),
)
class OccupantViewSet(mixins.ListModelMixin, _ResidentViewSet[Occupant]):
    """Pseudonymous residents and hosted organizations. The file number you give
    at registration is hashed with a key held outside the database and forgotten;
    no endpoint returns it or its hash."""

    queryset = Occupant.objects.none()
    serializer_class = s.OccupantSerializer
    filterset_class = filters.OccupantFilterSet
    ordering_fields = ("created_at", "updated_at")

    def get_queryset(self) -> QuerySet[Occupant]:
        return scopes.occupant_list(scope=self.scope)

    def operator_of(self, occupant: Occupant) -> int:
        return occupant.operator_id

    @extend_schema(
        summary="Register a resident (idempotent on your file number)",
        description=(
            "201 for a new resident; 200 with the existing one when this operator "
            "already registered the file number (rectify it with PATCH)."
        ),
        request=s.OccupantRegisterSerializer,
        responses={
            201: s.OccupantSerializer,
            200: s.OccupantSerializer,
            **CREATE_ERRORS,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = dict(self.input(s.OccupantRegisterSerializer).validated_data)
        existing = occupant_find(
            operator=data["operator"], local_identifier=data["local_identifier"]
        )
        if existing is not None:
            return self.output(existing)
        occupant = occupant_register(**data)
        return self.output(occupant, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Rectify a resident's attributes",
        request=s.OccupantUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: s.OccupantSerializer, **WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            occupant = self.get_object()
            data = self.input(s.OccupantUpdateSerializer, partial=True).validated_data
            occupant = occupant_update(occupant=occupant, **data)
        return self.output(occupant)

    @extend_schema(
        summary="Find a resident by your file number",
        description=(
            "A POST so that the file number travels in the body: URLs end up in "
            "access logs."
        ),
        request=s.OccupantLookupSerializer,
        responses={200: s.OccupantSerializer, **errors(400, 401, 403, 404)},
    )
    @action(detail=False, methods=["post"])
    def lookup(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.OccupantLookupSerializer).validated_data
        occupant = occupant_find(
            operator=data["operator"], local_identifier=data["local_identifier"]
        )
        if occupant is None:
            raise exceptions.NotFound
        return self.output(occupant)


@extend_schema_view(
    list=extend_schema(
        summary="Your stays (operators only)",
        responses={200: s.StaySerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One of your stays",
        parameters=[ETAG],
        responses={200: s.StaySerializer, **READ_ERRORS},
    ),
)
class StayViewSet(mixins.ListModelMixin, _ResidentViewSet[Stay]):
    """An occupant in a space under an active agreement. POST /stays/ starts one;
    plan-exit, exit and move are actions on it (domain.md §D.4)."""

    queryset = Stay.objects.none()
    serializer_class = s.StaySerializer
    filterset_class = filters.StayFilterSet
    ordering_fields = ("created_at", "updated_at")

    def get_queryset(self) -> QuerySet[Stay]:
        return scopes.stay_list(scope=self.scope).select_related("agreement")

    def operator_of(self, stay: Stay) -> int:
        return stay.agreement.operator_id

    @extend_schema(
        summary="Start a stay",
        description=(
            "Capacity is checked on every night under a lock: a full space answers "
            "409 on `places`; an occupant already staying over these dates, 409 on "
            "`occupant`."
        ),
        request=s.StayStartSerializer,
        responses={201: s.StaySerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.StayStartSerializer).validated_data
        stay = stay_start(**data)
        return self.output(stay, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Plan (or, with null, cancel) an exit",
        request=s.StayPlanExitSerializer,
        parameters=[IF_MATCH],
        responses={200: s.StaySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="plan-exit", url_name="plan-exit")
    def plan_exit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            stay = self.get_object()
            data = self.input(s.StayPlanExitSerializer).validated_data
            stay = stay_plan_exit(stay=stay, exit_date=data["exit_date"])
        return self.output(stay)

    @extend_schema(
        summary="Record an exit and where the person went",
        request=s.StayExitSerializer,
        parameters=[IF_MATCH],
        responses={200: s.StaySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def exit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            stay = self.get_object()
            data = self.input(s.StayExitSerializer).validated_data
            stay = stay_exit(
                stay=stay, exit_date=data["exit_date"], destination=data["destination"]
            )
        return self.output(stay)

    @extend_schema(
        summary="Move the occupant to another space on a day",
        description="The stay ends that day, a new one starts: 201 with the new one.",
        request=s.StayMoveSerializer,
        parameters=[IF_MATCH],
        responses={201: s.StaySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            stay = self.get_object()
            data = self.input(s.StayMoveSerializer).validated_data
            moved = stay_move(stay=stay, **data)
        return self.output(moved, status_code=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="Your ELAN residence contracts (operators only)",
        responses={200: s.ResidenceContractSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One of your residence contracts",
        parameters=[ETAG],
        responses={200: s.ResidenceContractSerializer, **READ_ERRORS},
    ),
)
class ResidenceContractViewSet(
    mixins.ListModelMixin, _ResidentViewSet[ResidenceContract]
):
    """Temporary-residence contracts under an ELAN art. 29 agreement (décret
    2019-497): durations, fee caps and notices are the service's rules."""

    queryset = ResidenceContract.objects.none()
    serializer_class = s.ResidenceContractSerializer
    filterset_class = filters.ResidenceContractFilterSet
    ordering_fields = ("start", "current_end", "updated_at")

    def get_queryset(self) -> QuerySet[ResidenceContract]:
        return scopes.contract_list(scope=self.scope).select_related("agreement")

    def operator_of(self, contract: ResidenceContract) -> int:
        return contract.agreement.operator_id

    @extend_schema(
        summary="Sign a residence contract",
        request=s.ResidenceContractCreateSerializer,
        responses={201: s.ResidenceContractSerializer, **CREATE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.ResidenceContractCreateSerializer).validated_data
        contract = residence_contract_create(**data)
        return self.output(contract, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Notify non-renewal (at least a month before the term)",
        request=s.NoticeSerializer,
        parameters=[IF_MATCH],
        responses={200: s.ResidenceContractSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def notice(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            contract = self.get_object()
            data = self.input(s.NoticeSerializer).validated_data
            contract = residence_contract_notify_non_renewal(
                contract=contract, notice_date=data["notice_date"]
            )
        return self.output(contract)

    @extend_schema(
        summary="Terminate early, by the body or by the resident",
        request=s.TerminateSerializer,
        parameters=[IF_MATCH],
        responses={200: s.ResidenceContractSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            contract = self.get_object()
            data = self.input(s.TerminateSerializer).validated_data
            if data["by"] == "body":
                contract = residence_contract_terminate_by_body(
                    contract=contract,
                    notice_date=data["notice_date"],
                    effective_end=data["effective_end"],
                    reason=data["reason"],
                )
            else:
                contract = residence_contract_terminate_by_resident(
                    contract=contract,
                    notice_date=data["notice_date"],
                    effective_end=data["effective_end"],
                )
        return self.output(contract)

    @extend_schema(
        summary="Renew (tacitly, for the initial duration by default)",
        request=s.RenewSerializer,
        parameters=[IF_MATCH],
        responses={200: s.ResidenceContractSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def renew(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            contract = self.get_object()
            data = self.input(s.RenewSerializer).validated_data
            contract = residence_contract_renew(
                contract=contract, new_end=data["new_end"]
            )
        return self.output(contract)

    @extend_schema(
        summary="Close the contract (at term, after notice, death or abandonment)",
        request=s.ContractEndSerializer,
        parameters=[IF_MATCH],
        responses={200: s.ResidenceContractSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with transaction.atomic():
            contract = self.get_object()
            data = self.input(s.ContractEndSerializer).validated_data
            contract = residence_contract_end(
                contract=contract, end_date=data["end_date"], ground=data["ground"]
            )
        return self.output(contract)


# --- Indicators -----------------------------------------------------------------------
class IndicatorAccess(permissions.BasePermission):
    message = _("Indicators are for State agents, operators and funders.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return scope_for(request.user).persona in (
            Persona.STATE_AGENT,
            Persona.OPERATOR,
            Persona.FUNDER,
        )


def _agreements_measured(scope: Scope) -> QuerySet[Agreement] | None:
    """The agreements whose indicators ``scope`` reads; None: no figure at all.

    Operators: their own (exact figures). State agents: their territory's (small
    cells withheld, indicators.sees_exact_figures). Funders: the sites they fund,
    once finance/ says which; until then none.
    """
    if scope.persona is Persona.OPERATOR:
        return agreement_list(scope=scope).filter(operator_id__in=scope.operator_ids)
    if scope.persona is Persona.STATE_AGENT:
        return agreement_list(scope=scope)
    # Funders: finance/ has no selector of funded sites yet. An empty report, never
    # a guess: a funder must not read the figures of a site it does not fund.
    return None


class IndicatorView(APIView):
    """Occupancy indicators (domain.md §E) over a period, computed in PostgreSQL.

    Operators get exact figures for their own sites. State agents get their
    territory's with counts of people under the threshold withheld (and the
    figures that would give them away). Funders will get the sites they fund;
    until finance/ says which, their report has no rows.
    """

    permission_classes = [IndicatorAccess]

    @extend_schema(
        summary="Occupancy indicators over a period",
        parameters=[s.IndicatorQuerySerializer],
        responses={200: s.IndicatorReportSerializer, **errors(400, 401, 403)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = s.IndicatorQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        start, end = params["period_start"], params["period_end"]
        group_by = (
            indicators.GroupBy(params["group_by"]) if "group_by" in params else None
        )
        scope = scope_for(request.user)
        agreements = _agreements_measured(scope)
        if agreements is None:
            report = indicators.IndicatorReport(
                start=start,
                end=end,
                group_by=group_by,
                exact=False,
                threshold=rules().small_cell_threshold,
                rows=(),
            )
        else:
            report = indicators.indicators_get(
                agreements=agreements,
                start=start,
                end=end,
                for_scope=scope,
                group_by=group_by,
            )
        return Response(s.IndicatorReportSerializer(report).data)
