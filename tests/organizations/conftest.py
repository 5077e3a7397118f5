from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: no test inherits another's requests."""
    cache.clear()
    yield
    cache.clear()
