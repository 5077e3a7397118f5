"""Filters of the organisations' directory."""

from __future__ import annotations

import django_filters

from config.filters import OnceFilterMixin
from organizations.models import Organization


class OrganizationFilterSet(OnceFilterMixin, django_filters.FilterSet):
    """``?kind=`` is a 400, not the whole directory (found by schemathesis, D1)."""

    blank_is_absent = False

    class Meta:
        model = Organization
        fields = ["kind"]
