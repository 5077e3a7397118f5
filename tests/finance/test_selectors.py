"""The dashboard's filter choices (finance.selectors.filter_choices)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from finance.selectors import filter_choices
from tests.finance.factories import CommitmentFactory
from tests.finance.test_indicators import funder_of
from tests.occupancy.factories import FunderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "end", "years"),
    [
        # The end is exclusive: a commitment for 2024 ends on 1 January 2025.
        (date(2024, 1, 1), date(2025, 1, 1), (2024,)),
        (date(2024, 7, 1), date(2025, 1, 2), (2024, 2025)),
        # Within the platform's period of figures (config.forms), 1900-2199.
        (date(1850, 1, 1), date(1901, 1, 1), (1900,)),
    ],
)
def test_the_years_offered_are_those_the_commitments_cover(
    start: date, end: date, years: tuple[int, ...]
) -> None:
    funder = FunderFactory.create()
    CommitmentFactory.create(funder=funder, period=DateRange(start, end))
    assert filter_choices(scope=funder_of(funder)).years == years
