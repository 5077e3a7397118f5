"""Writes on organizations, memberships and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from organizations.models import Membership, Organization, Role


def organization_create(**fields: Any) -> Organization:
    organization = Organization(**fields)
    organization.full_clean()
    organization.save()
    return organization


def organization_upsert(*, siret: str = "", name: str, **fields: Any) -> Organization:
    """Create or update by SIRET (else by name): idempotent, for demo and imports."""
    with transaction.atomic():
        lookup = {"siret": siret} if siret else {"name": name}
        organization = Organization.objects.select_for_update().filter(
            **lookup
        ).first() or Organization(**lookup)
        organization.name = name
        for key, value in fields.items():
            setattr(organization, key, value)
        organization.full_clean()
        organization.save()
    return organization


def membership_set(*, user: User, organization: Organization, role: Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    return membership


def token_issue(*, user: User) -> tuple[AuthToken, str]:
    """A new API token: only its hash is stored; the clear text is shown once."""
    ttl = timedelta(days=settings.API_TOKEN_TTL_DAYS)
    with transaction.atomic():
        live = AuthToken.objects.filter(user=user, expiry__gt=timezone.now())
        limit: int = settings.API_TOKEN_LIMIT_PER_USER
        # Over the limit, the oldest tokens go first rather than refusing a login.
        surplus = live.order_by("created").values_list("pk", flat=True)[
            : max(live.count() - limit + 1, 0)
        ]
        AuthToken.objects.filter(pk__in=list(surplus)).delete()
        instance, token = AuthToken.objects.create(user=user, expiry=ttl)
    return cast(AuthToken, instance), str(token)


def token_revoke(*, token: AuthToken) -> None:
    token.delete()


def token_revoke_all(*, user: User) -> int:
    deleted: int = AuthToken.objects.filter(user=user).delete()[0]
    return deleted
