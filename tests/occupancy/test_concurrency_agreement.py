"""Races on one space (reliability.md §E1.2): agreements approved at the same moment,
each in its own thread and database connection, over overlapping dates. Exactly one
commits; every other gets a Conflict on ``spaces`` — never a 500, never two holders.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from functools import partial

import pytest
from django.db import connections
from django.db.backends.postgresql.psycopg_any import DateRange

from config.errors import Conflict
from occupancy.models import Agreement, AgreementSpace, AgreementStatus, AmendmentKind
from occupancy.services import agreement_transition, amendment_add
from tests.occupancy.factories import AgreementFactory, SpaceFactory, days, today

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` in threads released together; each result is the return value
    or the exception raised. Each thread closes its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001  (the test inspects it)
            results[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.parametrize("writers", [2, 8])
def test_concurrent_approvals_on_one_space_let_exactly_one_through(
    writers: int,
) -> None:
    space = SpaceFactory.create()
    contenders = [
        AgreementFactory.create(
            building=space.building,
            status=AgreementStatus.UNDER_REVIEW,
            period=DateRange(days(10 * i), days(10 * i + 400)),
            spaces=[space],
        )
        for i in range(writers)
    ]

    results = race(
        [
            partial(
                agreement_transition,
                agreement=agreement,
                to=AgreementStatus.APPROVED,
                by=None,
            )
            for agreement in contenders
        ]
    )

    approved = [r for r in results if isinstance(r, Agreement)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(approved) == 1, results
    assert len(refused) == writers - 1, results
    assert {conflict.field for conflict in refused} == {"spaces"}
    assert AgreementSpace.objects.filter(space=space, is_live=True).count() == 1
    statuses = Agreement.objects.filter(pk__in=[a.pk for a in contenders])
    assert list(
        statuses.filter(status=AgreementStatus.APPROVED).values_list("pk", flat=True)
    ) == [approved[0].pk]


def test_a_prorogation_racing_an_approval_into_the_same_days_loses_or_wins_whole() -> (
    None
):
    space = SpaceFactory.create()
    current = AgreementFactory.create(
        building=space.building,
        active=True,
        period=DateRange(days(-60), days(300)),
        spaces=[space],
    )
    successor = AgreementFactory.create(
        building=space.building,
        status=AgreementStatus.UNDER_REVIEW,
        period=DateRange(days(300), days(700)),
        spaces=[space],
    )

    results = race(
        [
            lambda: amendment_add(
                agreement=current,
                kind=AmendmentKind.PROROGATION,
                new_end=days(400),
                signed_on=today(),
                by=None,
            ),
            lambda: agreement_transition(
                agreement=successor, to=AgreementStatus.APPROVED, by=None
            ),
        ]
    )

    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    current.refresh_from_db()
    successor.refresh_from_db()
    if successor.status == AgreementStatus.APPROVED:  # the approval won
        assert current.end == days(300)
        assert not current.amendments.exists()
    else:  # the prorogation won
        assert current.end == days(400)
        assert successor.status == AgreementStatus.UNDER_REVIEW
    live = AgreementSpace.objects.filter(space=space, is_live=True).order_by("period")
    periods = [row.period for row in live]
    assert all(a.upper <= b.lower for a, b in itertools.pairwise(periods))
