from __future__ import annotations

from typing import cast

from django.contrib.auth import authenticate, user_logged_in
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from organizations.api.filters import OrganizationFilterSet
from organizations.api.serializers import (
    MeSerializer,
    OrganizationSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from organizations.authentication import TokenAuthentication
from organizations.models import Membership, Organization
from organizations.selectors import scope_for
from organizations.services import token_issue, token_revoke, token_revoke_all

# The answers every caller can get besides the success (documented so that a
# client, and the schema tests, know them; bodies are config.api's error shape).
NOT_AUTHENTICATED = {401: OpenApiResponse(description="Not authenticated.")}
INVALID = {400: OpenApiResponse(description="Invalid input, with the field at fault.")}
NOT_FOUND = {404: OpenApiResponse(description="No such object, or no such page.")}


class TokenObtainView(APIView):
    """Exchange a username and password for an expiring API token.

    Failures count towards the same lockout as the login page (django-axes does
    not watch DRF endpoints by itself: the request is handed to ``authenticate``).
    """

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            **INVALID,
            403: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(description="Too many attempts: wait, then retry."),
        },
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise AuthenticationFailed("Invalid username or password.")
        # What ``login()`` would send: django-axes resets the failure count on it
        # (else four failures, a success and one more failure lock the account)
        # and Django records ``last_login``.
        user_logged_in.send(sender=user.__class__, request=request._request, user=user)
        instance, token = token_issue(user=user)
        return Response(
            TokenSerializer({"token": token, "expiry": instance.expiry}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenRevokeView(APIView):
    """Revoke the token that authenticates this request (``all=true``: every token)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None, **NOT_AUTHENTICATED})
    def post(self, request: Request) -> Response:
        if request.query_params.get("all") == "true":
            token_revoke_all(user=request.user)  # type: ignore[arg-type]
        else:
            token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: MeSerializer, **NOT_AUTHENTICATED})
    def get(self, request: Request) -> Response:
        scope = scope_for(request.user)
        memberships = Membership.objects.filter(
            user=cast(User, request.user)
        ).select_related("organization")
        return Response(
            MeSerializer(
                {
                    "username": request.user.get_username(),
                    "persona": scope.persona.value,
                    "memberships": memberships,
                }
            ).data
        )


@extend_schema_view(
    list=extend_schema(
        responses={
            200: OrganizationSerializer,
            **INVALID,
            **NOT_AUTHENTICATED,
            **NOT_FOUND,
        }
    ),
    retrieve=extend_schema(
        responses={200: OrganizationSerializer, **NOT_AUTHENTICATED, **NOT_FOUND}
    ),
)
class OrganizationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Organization],
):
    """The directory of organizations (public business identifiers only): State
    agents see all of it, others their own organizations."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = OrganizationSerializer
    queryset = Organization.objects.none()
    filterset_class = OrganizationFilterSet

    def get_queryset(self) -> QuerySet[Organization]:
        scope = scope_for(self.request.user)
        return Organization.objects.visible_to(scope).order_by("name", "pk")
