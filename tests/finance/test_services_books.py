"""The rules of fee payments, sub-lettings and commitments' funders and dates."""

from __future__ import annotations

import functools
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone

from config.errors import Conflict, DomainError
from finance.models import Commitment, FeePayment, SubLetting
from finance.services import commitment_create, fee_payment_record, subletting_create
from occupancy.models import AgreementStatus
from tests.finance.conftest import Case
from tests.finance.test_services_disbursement import race
from tests.occupancy.factories import AgreementFactory, OperatorFactory, SpaceFactory

pytestmark = pytest.mark.django_db


def pay(case: Case, **changes: object) -> FeePayment:
    return record(case, **changes)[0]


def record(
    case: Case, key: str | None = None, /, **changes: object
) -> tuple[FeePayment, bool]:
    """fee_payment_record of 500 € on 1 September 2024 under the case's agreement,
    with ``key`` (a new one when None)."""
    values: dict[str, object] = {
        "agreement": case.agreement,
        "date": date(2024, 9, 1),
        "amount": Decimal("500.00"),
        "idempotency_key": key if key is not None else str(uuid.uuid4()),
    }
    return fee_payment_record(by=None, **{**values, **changes})  # type: ignore[arg-type]


def test_a_fee_is_paid_within_the_agreement_and_not_in_the_future(case: Case) -> None:
    before = FeePayment.objects.count()
    assert pay(case).pk
    # The period is [2024-03-01, 2025-03-01): its last day is 2025-02-28.
    assert pay(case, date=date(2025, 2, 28)).pk
    for day in (date(2024, 2, 29), date(2025, 3, 1), date(2030, 1, 1)):
        with pytest.raises(DomainError) as refused:
            pay(case, date=day)
        assert refused.value.field == "date"
    assert FeePayment.objects.count() == before + 2


def test_no_fee_on_an_agreement_that_never_came_into_force(case: Case) -> None:
    before = FeePayment.objects.count()
    for status in (AgreementStatus.DRAFT, AgreementStatus.WITHDRAWN):
        withdrawn = AgreementFactory.create(
            building=case.agreement.building,
            status=status,
            period=DateRange(date(2024, 3, 1), date(2025, 3, 1)),
        )
        with pytest.raises(DomainError) as refused:
            pay(case, agreement=withdrawn)
        assert refused.value.field == "agreement"
    assert FeePayment.objects.count() == before


def test_a_fee_on_a_future_day_of_a_running_agreement_waits_for_the_day() -> None:
    today = timezone.localdate()
    running = AgreementFactory.create(
        status=AgreementStatus.ACTIVE,
        period=DateRange(today - timedelta(days=30), today + timedelta(days=300)),
    )
    with pytest.raises(DomainError):
        fee_payment_record(
            by=None,
            agreement=running,
            date=today + timedelta(days=1),
            amount=Decimal("10.00"),
            idempotency_key="tomorrow",
        )
    fee_payment_record(
        by=None,
        agreement=running,
        date=today,
        amount=Decimal("10.00"),
        idempotency_key="today",
    )


class TestFeePaymentsAreRecordedOnce:
    """As disbursements (test_services_disbursement.py): one payment per
    Idempotency-Key under an agreement, however often and however concurrently it
    is retried."""

    def test_a_retry_with_the_same_key_returns_the_first_and_creates_nothing(
        self, case: Case
    ) -> None:
        before = FeePayment.objects.count()
        first, created = record(case, "retry-me")
        again, created_again = record(case, "retry-me")
        assert (created, created_again) == (True, False)
        assert again.pk == first.pk
        assert again.idempotency_key == "retry-me"
        assert FeePayment.objects.count() == before + 1

    @pytest.mark.parametrize(
        "changes", [{"amount": Decimal("600.00")}, {"date": date(2024, 9, 2)}]
    )
    def test_the_same_key_for_another_payment_is_a_conflict(
        self, case: Case, changes: dict[str, object]
    ) -> None:
        record(case, "k")
        with pytest.raises(Conflict) as refused:
            record(case, "k", **changes)
        assert refused.value.field == "idempotency_key"
        assert "500.00 € on 2024-09-01" in refused.value.message
        assert case.agreement.fee_payments.filter(idempotency_key="k").count() == 1

    def test_keys_are_per_agreement(self, case: Case) -> None:
        other = AgreementFactory.create(
            status=AgreementStatus.ACTIVE, period=case.agreement.period
        )
        record(case, "same")
        _, created = record(case, "same", agreement=other)
        assert created

    @pytest.mark.parametrize("key", ["", "   ", "k" * 256])
    def test_a_usable_idempotency_key_is_required(self, case: Case, key: str) -> None:
        before = FeePayment.objects.count()
        with pytest.raises(DomainError) as refused:
            record(case, key)
        assert refused.value.field == "idempotency_key"
        assert FeePayment.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_retries_of_one_fee_payment_record_it_once() -> None:
    agreement = AgreementFactory.create(
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2024, 3, 1), date(2025, 3, 1)),
    )
    outcomes = race(
        [
            functools.partial(
                fee_payment_record,
                by=None,
                agreement=agreement,
                date=date(2024, 9, 1),
                amount=Decimal("500.00"),
                idempotency_key="the-same-key",
            )
            for _ in range(50)
        ]
    )
    results = [o for o in outcomes if isinstance(o, tuple)]
    assert len(results) == 50, outcomes
    assert sum(created for _, created in results) == 1
    assert len({payment.pk for payment, _ in results}) == 1
    assert agreement.fee_payments.count() == 1


def sublet(case: Case, **changes: object) -> SubLetting:
    values: dict[str, object] = {
        "agreement": case.agreement,
        "sub_occupant": "Atelier X",
        "area_m2": Decimal("50.00"),
        "rate_per_m2_month": Decimal("10.00"),
        "start": date(2024, 4, 1),
        "end": date(2024, 10, 1),
    }
    return subletting_create(by=None, **{**values, **changes})  # type: ignore[arg-type]


def test_a_sub_letting_holds_no_more_than_the_premises(case: Case) -> None:
    building = case.agreement.building
    before = SubLetting.objects.count()
    assert building.surface_m2 is not None
    assert sublet(case, area_m2=building.surface_m2).pk
    with pytest.raises(DomainError) as refused:
        sublet(case, area_m2=Decimal("99999999.99"))
    assert refused.value.field == "area_m2"
    office = SpaceFactory.create(building=building, surface_m2=Decimal("20.00"))
    with pytest.raises(DomainError):
        sublet(case, space=office, area_m2=Decimal("20.01"))
    assert sublet(case, space=office, area_m2=Decimal("20.00")).pk
    assert SubLetting.objects.count() == before + 2


def test_no_sub_letting_on_an_agreement_never_in_force(case: Case) -> None:
    draft = AgreementFactory.create(
        building=case.agreement.building,
        status=AgreementStatus.DRAFT,
        period=DateRange(date(2024, 3, 1), date(2025, 3, 1)),
    )
    with pytest.raises(DomainError) as refused:
        sublet(case, agreement=draft)
    assert refused.value.field == "agreement"
    closed = AgreementFactory.create(
        building=case.agreement.building,
        status=AgreementStatus.CLOSED,
        period=DateRange(date(2024, 3, 1), date(2025, 3, 1)),
    )
    assert sublet(case, agreement=closed).pk  # history of a closed site


def commit(case: Case, **changes: object) -> Commitment:
    values: dict[str, object] = {
        "funder": case.cdc,
        "agreement": case.agreement,
        "nature": "cash_operating",
        "amount": Decimal("1000.00"),
        "start": date(2024, 3, 1),
        "end": date(2025, 3, 1),
        "decision_reference": "DEC-1",
        "decision_date": date(2024, 2, 1),
    }
    return commitment_create(by=None, **{**values, **changes})  # type: ignore[arg-type]


def test_an_operator_funds_only_its_own_agreements(case: Case) -> None:
    """Named funder of another operator's agreement, it also read that commitment."""
    other = OperatorFactory.create()
    with pytest.raises(DomainError) as refused:
        commit(case, funder=other)
    assert refused.value.field == "funder"
    assert commit(case, funder=case.agreement.operator).pk
    # A building is no operator's agreement: its own works on a building it runs.
    assert commit(case, funder=other, agreement=None, building=case.building).pk


def test_a_funding_decision_is_not_dated_in_the_future(case: Case) -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(DomainError) as refused:
        commit(case, decision_date=tomorrow)
    assert refused.value.field == "decision_date"
    assert commit(case, decision_date=timezone.localdate()).pk
