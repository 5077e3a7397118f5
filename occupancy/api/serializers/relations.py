"""What each writable relation of a request may point at, per caller.

Every relation a request may name is a ``ScopedPrimaryKeyRelatedField``
(config/relations.py) whose queryset is built from the caller's scope
(occupancy/api/scopes.py): another tenant's id is refused on its field with the
message a missing id gets, so a 400 never tells whether the row exists. The
functions below build those querysets from the serializer context (``scope``,
``superuser``, ``departments``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from buildings.models import Building

# Re-exported: the serializers of this package name it from here.
from config.relations import (
    ScopedPrimaryKeyRelatedField as ScopedPrimaryKeyRelatedField,
)
from occupancy.api import scopes
from occupancy.models import (
    Agreement,
    Occupant,
    Space,
)
from organizations.models import Organization


def editable_buildings(context: Mapping[str, Any]) -> QuerySet[Building]:
    return scopes.building_list_editable(departments=context["departments"]())


def editable_spaces(context: Mapping[str, Any]) -> QuerySet[Space]:
    return scopes.space_list_editable(departments=context["departments"]())


def grantors(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.grantor_list(scope=context["scope"], superuser=context["superuser"])


def operators(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.operator_list()


def space_buildings(context: Mapping[str, Any]) -> QuerySet[Building]:
    return scopes.building_list_for_spaces(scope=context["scope"])


def writable_operators(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.operator_list_writable(scope=context["scope"])


def hosted_organizations(context: Mapping[str, Any]) -> QuerySet[Organization]:
    return scopes.hosted_organization_list()


def writable_occupants(context: Mapping[str, Any]) -> QuerySet[Occupant]:
    return scopes.occupant_list_writable(scope=context["scope"])


def writable_spaces(context: Mapping[str, Any]) -> QuerySet[Space]:
    return scopes.space_list_writable(scope=context["scope"])


def resident_agreements(context: Mapping[str, Any]) -> QuerySet[Agreement]:
    return scopes.agreement_list_for_residents(scope=context["scope"])
