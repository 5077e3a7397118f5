from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from organizations.models import OrganizationKind


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_agent(make_member: Callable[..., User]) -> User:
    """A State service's member who may use the admin (is_staff)."""
    user = make_member(OrganizationKind.STATE_SERVICE, departments=["13"])
    user.is_staff = True
    user.save()
    return user
