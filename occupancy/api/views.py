"""Occupancy over HTTP: agreements and their lifecycle, spaces, safety inspections,
pseudonymous occupants, stays, ELAN residence contracts and the indicators.

Every view is a translation: a scoped queryset in (occupancy/api/scopes.py,
occupancy.selectors), a service out (occupancy/services.py, occupancy/residents/),
errors through the one handler of config/api.py. Objects outside the caller's scope
answer 404, never 403; a 403 is for an object the caller sees but may not change.
Unsafe requests on one object take its ETag in If-Match (config/etag.py): 428
without, 412 when stale. Writes happen inside one transaction that first locks the
object, so the If-Match check and the service see the same version.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, ClassVar, TypeVar, cast

from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpRequest
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
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from config.etag import IF_MATCH, ConditionalWriteMixin, Versioned
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
    access_record,
    occupant_erase,
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
from organizations.selectors import Persona, Scope, scope_for, writable_departments

M = TypeVar("M", bound=models.Model)
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

# --- Schema pieces --------------------------------------------------------------------
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
    415: OpenApiResponse(description="A body in a media type this does not take."),
    428: OpenApiResponse(description="If-Match is missing."),
}


# The rows added under an agreement (README, "The API").
NEW_AGREEMENT_VERSION = (
    "The agreement gets a new version, hence a new ETag, which this 201 does not "
    "carry: read the agreement again before writing on it."
)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


# 404: a page past the last one (a malformed page is a 400).
LIST_ERRORS = errors(400, 401, 403, 404)
READ_ERRORS = errors(401, 403, 404)
CREATE_ERRORS = errors(400, 401, 403, 409, 415)
WRITE_ERRORS = errors(400, 401, 403, 404, 409, 412, 415, 428)


def reads_schema(
    *,
    listed: str,
    one: str,
    serializer: type[BaseSerializer[Any]],
    detail: type[BaseSerializer[Any]] | None = None,
) -> Callable[[F], F]:
    """The list (``listed``) and the retrieve (``one``, with its ETag) of a
    viewset; ``detail``, when one object shows more than a row of the list."""
    return extend_schema_view(
        list=extend_schema(summary=listed, responses={200: serializer, **LIST_ERRORS}),
        retrieve=extend_schema(
            summary=one,
            parameters=[ETAG],
            responses={200: detail or serializer, **READ_ERRORS},
        ),
    )


def create_schema(
    summary: str,
    *,
    request: type[BaseSerializer[Any]],
    response: type[BaseSerializer[Any]],
    description: str | None = None,
) -> Callable[[F], F]:
    """A POST that creates: 201 with ``response``."""
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={201: response, **CREATE_ERRORS},
    )


def write_schema(
    summary: str,
    *,
    request: Any,
    response: type[BaseSerializer[Any]],
    description: str | None = None,
    created: bool = False,
) -> Callable[[F], F]:
    """A write on one object, under If-Match: 200 with ``response`` (201 when it
    creates another object)."""
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        parameters=[IF_MATCH],
        responses={code: response, **WRITE_ERRORS},
    )


def _acting(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _lookup(queryset: QuerySet[M], pk: int) -> M:
    try:
        return queryset.get(pk=pk)
    except ObjectDoesNotExist:
        raise exceptions.NotFound from None


def _created(serializer: type[BaseSerializer[Any]], instance: Any) -> Response:
    """A row added under an object, as ``serializer`` reads it."""
    return Response(serializer(instance).data, status=status.HTTP_201_CREATED)


# --- Access ---------------------------------------------------------------------------
class ScopedAccess(permissions.BasePermission):
    """Asks the view: ``may(action)`` before anything is read (who may use this
    family of endpoints at all), then ``may_on(action, obj)`` on an object already
    found in the caller's scope. DRF names OPTIONS ``"metadata"``: it answers only
    ``Allow`` (config.metadata), so every list of reads below holds it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(view.may(view.action))

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return bool(view.may_on(view.action, obj))


class _ScopedViewSet(
    ConditionalWriteMixin, mixins.ListModelMixin, GenericViewSet[M], ABC
):
    """List and retrieve within the caller's scope, and the locked, If-Match
    checked object every write starts from. Subclasses say who may do what
    (``may``, ``may_on``) and, to use ``change``, the keyword under which their
    services take the object (``subject``)."""

    permission_classes = [ScopedAccess]
    lookup_value_regex = "[0-9]+"
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering: tuple[str, ...] = ("-pk",)
    # FOR NO KEY UPDATE, as occupancy/residents/ locks its rows: rows that only
    # reference this one (a stay's occupant, a space's stays) may still be added.
    lock_no_key: ClassVar[bool] = True
    # Writes that delete the row or must keep new references off it lock it FOR
    # UPDATE from the start, as their service does (no upgrade midway).
    full_lock_actions: ClassVar[frozenset[str]] = frozenset()
    subject: ClassVar[str]

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
        return writable_departments(scope=self.scope, user=self.request.user)

    @abstractmethod
    def may(self, action: str | None) -> bool:
        """Whether the caller may use ``action`` of this family at all."""

    @abstractmethod
    def may_on(self, action: str | None, obj: M) -> bool:
        """Whether the caller may use ``action`` on ``obj``, found in its scope."""

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
            no_key = self.lock_no_key and self.action not in self.full_lock_actions
            queryset = queryset.select_for_update(no_key=no_key, of=("self",))
        obj = _lookup(queryset, int(self.kwargs["pk"]))
        self.check_object_permissions(self.request, obj)
        return obj

    def input(self, serializer: type[s.StrictSerializer], **kwargs: Any) -> Any:
        """The request body, validated by ``serializer`` (400 otherwise)."""
        data = serializer(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        data.is_valid(raise_exception=True)
        return data

    def create_with(
        self, serializer: type[s.StrictSerializer], service: Callable[..., M]
    ) -> Response:
        """201 with the row ``service`` creates from the body ``serializer``
        validates."""
        row = service(**self.input(serializer).validated_data)
        return self.output(row, status_code=status.HTTP_201_CREATED)

    @contextmanager
    def locked(
        self, serializer: type[s.StrictSerializer], **kwargs: Any
    ) -> Iterator[tuple[M, Any]]:
        """The object, locked and checked against If-Match, and the body
        ``serializer`` validates against it (a space's new name against its
        building), for a write in the same transaction."""
        with transaction.atomic():
            obj = self.get_object()
            yield obj, self.input(serializer, instance=obj, **kwargs).validated_data

    def change(
        self,
        serializer: type[s.StrictSerializer],
        service: Callable[..., R],
        *,
        partial: bool = False,
        **extra: Any,
    ) -> R:
        """``service`` run on the locked object (as ``subject``) with the fields
        of the body and ``extra``."""
        with self.locked(serializer, partial=partial) as (obj, data):
            return service(**{self.subject: obj}, **extra, **data)

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


class _TerritoryViewSet(_ScopedViewSet[M]):
    """Rows that State agents read across their territory and operators in the
    buildings they occupy; who may create one is ``may_create``."""

    @abstractmethod
    def may_create(self) -> bool:
        """Whether the caller may create a row (its scope reaches the family)."""

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not (scope.is_state_agent or scope.operator_ids):
            return False
        if action == "create":
            return self.may_create()
        return True


# --- Agreements -----------------------------------------------------------------------
@reads_schema(
    listed="Agreements: State agents of the territory, and the operator party",
    one="One agreement, with its amendments, insurance, documents, history",
    serializer=s.AgreementSerializer,
    detail=s.AgreementDetailSerializer,
)
class AgreementViewSet(_TerritoryViewSet[Agreement]):
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
    subject = "agreement"
    ordering_fields = ("reference", "status", "created_at", "updated_at")

    # Actions of State editors of the territory; of the operator party besides.
    AGENT_ACTIONS = frozenset(
        {"create", "partial_update", "transition", "record", "spaces", "amendments"}
    )
    PARTY_ACTIONS = frozenset({"insurance", "documents"})
    READ_ACTIONS = frozenset({"list", "retrieve", "document", "metadata"})

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

    def may_create(self) -> bool:
        return self.departments != scopes.NOWHERE

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

    @create_schema(
        "Draft an agreement (State editors of the building's territory)",
        request=s.AgreementCreateSerializer,
        response=s.AgreementDetailSerializer,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.input(s.AgreementCreateSerializer).validated_data
        agreement = agreement_create(by=_acting(request), **data)
        return self.fresh(agreement, status_code=status.HTTP_201_CREATED)

    @write_schema(
        "Change the terms of a draft or an agreement under review",
        request=s.AgreementTermsSerializer,
        response=s.AgreementDetailSerializer,
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.fresh(
            self.change(
                s.AgreementTermsSerializer,
                agreement_update,
                partial=True,
                by=_acting(request),
            )
        )

    @write_schema(
        "Move the agreement to another status (domain.md §D.2)",
        description=(
            "`to` is one of `allowed_transitions`; facts the move needs (signed_on, "
            "entry_inventory_on, prefect_notified_on, revocation_motive…) may be "
            "given with it. An illegal move answers 409 `invalid_transition`; an "
            "unmet guard, 400 with the field to fill in."
        ),
        request=s.AgreementTransitionSerializer,
        response=s.AgreementDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.fresh(
            self.change(
                s.AgreementTransitionSerializer,
                agreement_transition,
                by=_acting(request),
            )
        )

    @write_schema(
        "Record lifecycle facts without moving the status",
        description=(
            "Each fact at its stage (400 on the fact). Once the agreement is "
            "approved, a DDFiP opinion on record no longer changes (409 on its "
            "field): the approval rests on it. Nothing is recorded on a closed, "
            "rejected or withdrawn agreement (409 on `status`)."
        ),
        request=s.RecordSerializer,
        response=s.AgreementDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def record(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.fresh(
            self.change(s.RecordSerializer, agreement_record, by=_acting(request))
        )

    @write_schema(
        "Set the spaces the agreement covers",
        description=(
            "A live agreement holds its spaces at once: a space another live "
            "agreement holds over overlapping dates answers 409 on `spaces`."
        ),
        request=s.AgreementSpacesSerializer,
        response=s.AgreementDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def spaces(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.fresh(
            self.change(
                s.AgreementSpacesSerializer, agreement_set_spaces, by=_acting(request)
            )
        )

    @write_schema(
        "Record a signed amendment (a prorogation moves the end)",
        description=NEW_AGREEMENT_VERSION,
        request=s.AmendmentInputSerializer,
        response=s.AmendmentSerializer,
        created=True,
    )
    @action(detail=True, methods=["post"])
    def amendments(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        amendment = self.change(
            s.AmendmentInputSerializer, amendment_add, by=_acting(request)
        )
        return _created(s.AmendmentSerializer, amendment)

    @write_schema(
        "Add an insurance certificate (State editors or the operator party)",
        description=(
            "Not on a closed, rejected or withdrawn agreement (409 on `status`). "
            + NEW_AGREEMENT_VERSION
        ),
        request=s.InsuranceInputSerializer,
        response=s.InsuranceCertificateSerializer,
        created=True,
    )
    @action(detail=True, methods=["post"])
    def insurance(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        certificate = self.change(
            s.InsuranceInputSerializer, insurance_add, by=_acting(request)
        )
        return _created(s.InsuranceCertificateSerializer, certificate)

    @write_schema(
        "Attach a PDF (State editors or the operator party)",
        description=(
            "multipart/form-data. The file must be a whole PDF, checked from its "
            "content (header, trailer, no web markup), within the size limit; it "
            "is stored under a random name. Not on a closed, rejected or "
            "withdrawn agreement (409 on `status`). " + NEW_AGREEMENT_VERSION
        ),
        request={"multipart/form-data": s.DocumentUploadSerializer},
        response=s.DocumentSerializer,
        created=True,
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def documents(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with self.locked(s.DocumentUploadSerializer) as (agreement, data):
            document = document_add(
                agreement=agreement,
                kind=data["kind"],
                title=data["title"],
                uploaded_file=data["file"],
                by=_acting(request),
            )
        return _created(s.DocumentSerializer, document)

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


@reads_schema(
    listed="Spaces: your territory's, or your occupied buildings'",
    one="One space",
    serializer=s.SpaceSerializer,
)
class SpaceViewSet(_TerritoryViewSet[Space]):
    """Rooms, dormitories, workshops… of a building. Operators add spaces to the
    buildings where they hold a live agreement and change those their agreements
    claim and the free ones they added (a free space another operator or a State
    agent added is theirs to read only: 403); State agents read them and change
    them in the admin."""

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
    subject = "space"

    def get_queryset(self) -> QuerySet[Space]:
        return scopes.space_list(scope=self.scope)

    def may_create(self) -> bool:
        return bool(scopes.writable_operator_ids(scope=self.scope))

    def may_on(self, action: str | None, space: Space) -> bool:
        if action in ("retrieve", "metadata"):
            return True
        return (
            action == "partial_update"
            and scopes.space_list_writable(scope=self.scope)
            .filter(pk=space.pk)
            .exists()
        )

    @create_schema(
        "Add a space to a building you occupy under a live agreement",
        request=s.SpaceCreateSerializer,
        response=s.SpaceSerializer,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _name_taken_on_name():
            return self.create_with(s.SpaceCreateSerializer, space_create)

    @write_schema(
        "Change a space (a capacity cut never over-fills a night)",
        request=s.SpaceUpdateSerializer,
        response=s.SpaceSerializer,
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with _name_taken_on_name():
            space = self.change(s.SpaceUpdateSerializer, space_update, partial=True)
        return self.output(space)


# --- Safety inspections ---------------------------------------------------------------
@reads_schema(
    listed="Safety inspections: the territory's, or your occupied buildings'",
    one="One safety inspection",
    serializer=s.SafetyInspectionSerializer,
)
class SafetyInspectionViewSet(_TerritoryViewSet[SafetyInspection]):
    """Safety commission opinions and diagnostics, recorded by State editors; an
    operator reads those of the buildings it occupies."""

    queryset = SafetyInspection.objects.none()
    serializer_class = s.SafetyInspectionSerializer
    filterset_class = filters.SafetyInspectionFilterSet
    ordering_fields = ("date", "updated_at")
    ordering = ("-date", "-pk")

    def get_queryset(self) -> QuerySet[SafetyInspection]:
        return scopes.inspection_list(scope=self.scope)

    def may_create(self) -> bool:
        return self.departments != scopes.NOWHERE

    def may_on(self, action: str | None, inspection: SafetyInspection) -> bool:
        return action in ("retrieve", "metadata")

    @create_schema(
        "Record an inspection (State editors of the building's territory)",
        request=s.SafetyInspectionInputSerializer,
        response=s.SafetyInspectionSerializer,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.create_with(
            s.SafetyInspectionInputSerializer, safety_inspection_record
        )


# --- Residents (operators only) -------------------------------------------------------
class _ResidentViewSet(_ScopedViewSet[M]):
    """Resident-level rows: an operator's own, and no one else's. State agents and
    funders read aggregates (indicators), never these (domain.md §F.4)."""

    READ_ACTIONS: ClassVar[frozenset[str]] = frozenset({"retrieve", "metadata"})
    # The key naming the occupant in this endpoint's rows, for the access log.
    occupant_key: ClassVar[str] = "occupant"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method in permissions.SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        # A write and the log of the rows it answers with commit together: a 503
        # for a connection lost on the way then truly means nothing was saved;
        # and a refused write (4xx) leaves nothing behind.
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if not status.is_success(response.status_code):
                transaction.set_rollback(True)
            return response

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        """Every answer that carries resident rows is logged: who, which endpoint,
        which occupants by id (reliability.md §H3). OPTIONS reads no row (it was
        logged as a read of the occupant its URL names, any operator's)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if status.is_success(response.status_code) and self.action != "metadata":
            access_record(
                user=request.user,
                channel=f"api:{self.basename}.{self.action}",
                occupant_ids=self.occupants_read(response.data),
                method=request.method or "",
            )
        return response

    def occupants_read(self, data: Any) -> set[int]:
        rows = data.get("results", [data]) if isinstance(data, dict) else []
        ids = {row.get(self.occupant_key) for row in rows if isinstance(row, dict)}
        if self.occupant_key == "id" and "pk" in self.kwargs:
            # An answer about the occupant of the URL that does not show it (erase).
            ids.add(int(self.kwargs["pk"]))
        return {pk for pk in ids if isinstance(pk, int)}

    @abstractmethod
    def operator_of(self, obj: M) -> int:
        """The id of the operator whose row ``obj`` is."""

    def may(self, action: str | None) -> bool:
        scope = self.scope
        if not scope.operator_ids:
            return False
        if action in ("list", "retrieve", "lookup", "metadata"):
            return True
        return bool(scopes.writable_operator_ids(scope=scope))

    def may_on(self, action: str | None, obj: M) -> bool:
        if action in self.READ_ACTIONS:
            return True
        return self.operator_of(obj) in scopes.writable_operator_ids(scope=self.scope)


@reads_schema(
    listed="Your occupants (operators only)",
    one="One of your occupants",
    serializer=s.OccupantSerializer,
)
class OccupantViewSet(_ResidentViewSet[Occupant]):
    """Pseudonymous residents and hosted organizations. The file number you give
    at registration is hashed with a key held outside the database and forgotten;
    no endpoint returns it or its hash."""

    queryset = Occupant.objects.none()
    serializer_class = s.OccupantSerializer
    filterset_class = filters.OccupantFilterSet
    ordering_fields = ("created_at", "updated_at")
    subject = "occupant"
    full_lock_actions = frozenset({"erase"})
    occupant_key = "id"

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

    @write_schema(
        "Rectify a resident's attributes",
        request=s.OccupantUpdateSerializer,
        response=s.OccupantSerializer,
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(
            self.change(s.OccupantUpdateSerializer, occupant_update, partial=True)
        )

    @write_schema(
        "Erase a resident on request (GDPR art. 17 or 21)",
        description=(
            "As the retention purge would two years after the last contact, by the "
            "platform's retention mode: anonymised (cut from the file number, its "
            "stays kept for statistics only) or deleted; contracts and history are "
            "deleted either way. The resident is then gone from every answer. 409 "
            "on `occupant` while the resident still stays or holds a running "
            "contract: record the exit and end the contract first."
        ),
        request=s.OccupantEraseSerializer,
        response=s.ErasureSerializer,
    )
    @action(detail=True, methods=["post"])
    def erase(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with self.locked(s.OccupantEraseSerializer) as (occupant, _body):
            erased = occupant_erase(occupant=occupant)
        return Response(s.ErasureSerializer(dataclasses.asdict(erased)).data)

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


@reads_schema(
    listed="Your stays (operators only)",
    one="One of your stays",
    serializer=s.StaySerializer,
)
class StayViewSet(_ResidentViewSet[Stay]):
    """An occupant in a space under an active agreement. POST /stays/ starts one;
    plan-exit, exit and move are actions on it (domain.md §D.4)."""

    queryset = Stay.objects.none()
    serializer_class = s.StaySerializer
    filterset_class = filters.StayFilterSet
    ordering_fields = ("created_at", "updated_at")
    subject = "stay"

    def get_queryset(self) -> QuerySet[Stay]:
        return scopes.stay_list(scope=self.scope).select_related("agreement")

    def operator_of(self, stay: Stay) -> int:
        return stay.agreement.operator_id

    @create_schema(
        "Start a stay",
        description=(
            "Capacity is checked on every night under a lock: a full space answers "
            "409 on `places`; an occupant already staying over these dates, 409 on "
            "`occupant`."
        ),
        request=s.StayStartSerializer,
        response=s.StaySerializer,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.create_with(s.StayStartSerializer, stay_start)

    @write_schema(
        "Plan (or, with null, cancel) an exit",
        request=s.StayPlanExitSerializer,
        response=s.StaySerializer,
    )
    @action(detail=True, methods=["post"], url_path="plan-exit", url_name="plan-exit")
    def plan_exit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.change(s.StayPlanExitSerializer, stay_plan_exit))

    @write_schema(
        "Record an exit and where the person went",
        request=s.StayExitSerializer,
        response=s.StaySerializer,
    )
    @action(detail=True, methods=["post"])
    def exit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.change(s.StayExitSerializer, stay_exit))

    @write_schema(
        "Move the occupant to another space on a day",
        description="The stay ends that day, a new one starts: 201 with the new one.",
        request=s.StayMoveSerializer,
        response=s.StaySerializer,
        created=True,
    )
    @action(detail=True, methods=["post"])
    def move(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        moved = self.change(s.StayMoveSerializer, stay_move)
        return self.output(moved, status_code=status.HTTP_201_CREATED)


def _terminate(
    *, contract: ResidenceContract, by: str, **notice: Any
) -> ResidenceContract:
    """Early termination, by the body (with a reason) or by the resident."""
    if by == "body":
        return residence_contract_terminate_by_body(contract=contract, **notice)
    return residence_contract_terminate_by_resident(contract=contract, **notice)


@reads_schema(
    listed="Your ELAN residence contracts (operators only)",
    one="One of your residence contracts",
    serializer=s.ResidenceContractSerializer,
)
class ResidenceContractViewSet(_ResidentViewSet[ResidenceContract]):
    """Temporary-residence contracts under an ELAN art. 29 agreement (décret
    2019-497): durations, fee caps and notices are the service's rules."""

    queryset = ResidenceContract.objects.none()
    serializer_class = s.ResidenceContractSerializer
    filterset_class = filters.ResidenceContractFilterSet
    ordering_fields = ("start", "current_end", "updated_at")
    subject = "contract"

    def get_queryset(self) -> QuerySet[ResidenceContract]:
        return scopes.contract_list(scope=self.scope).select_related("agreement")

    def operator_of(self, contract: ResidenceContract) -> int:
        return contract.agreement.operator_id

    @create_schema(
        "Sign a residence contract",
        request=s.ResidenceContractCreateSerializer,
        response=s.ResidenceContractSerializer,
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.create_with(
            s.ResidenceContractCreateSerializer, residence_contract_create
        )

    @write_schema(
        "Notify non-renewal (at least a month before the term)",
        request=s.NoticeSerializer,
        response=s.ResidenceContractSerializer,
    )
    @action(detail=True, methods=["post"])
    def notice(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(
            self.change(s.NoticeSerializer, residence_contract_notify_non_renewal)
        )

    @write_schema(
        "Terminate early, by the body or by the resident",
        request=s.TerminateSerializer,
        response=s.ResidenceContractSerializer,
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.change(s.TerminateSerializer, _terminate))

    @write_schema(
        "Renew (tacitly, for the initial duration by default)",
        request=s.RenewSerializer,
        response=s.ResidenceContractSerializer,
    )
    @action(detail=True, methods=["post"])
    def renew(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.change(s.RenewSerializer, residence_contract_renew))

    @write_schema(
        "Close the contract (at term, after notice, death or abandonment)",
        request=s.ContractEndSerializer,
        response=s.ResidenceContractSerializer,
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.output(self.change(s.ContractEndSerializer, residence_contract_end))


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
        responses={200: s.IndicatorReportSerializer, **LIST_ERRORS},
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
