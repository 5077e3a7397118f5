"""The Idempotency-Key header of the payments' endpoints, disbursements and fee
payments alike: a retry with the same key and body answers the first payment (200,
``Idempotent-Replayed``) and writes nothing; the same key for another amount or
date is a 409 on ``idempotency_key``; no usable key is a 400 on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import models
from rest_framework.test import APIClient

from finance.models import Disbursement, FeePayment
from occupancy.models import AgreementStatus
from tests.finance import test_api_disbursements as disbursements
from tests.finance.api import BASE, post_payment
from tests.finance.conftest import Case
from tests.occupancy.factories import AgreementFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_empty_cache")]


def fee(case: Case, **fields: Any) -> dict[str, Any]:
    return {
        "agreement": case.agreement.pk,  # in force from 1 March 2024 to 1 March 2025
        "date": "2024-09-02",
        "amount": "4000.00",
        "reference": "Titre 2024-117",
        **fields,
    }


@dataclass(frozen=True)
class Payments:
    url: str
    model: type[models.Model]
    body: Callable[..., dict[str, Any]]

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def post(self, client: APIClient, body: dict[str, Any], key: str | None) -> Any:
        return post_payment(client, self.url, body, key)

    def count(self, **lookups: Any) -> int:
        return self.model._default_manager.filter(**lookups).count()


@pytest.fixture(
    params=[
        Payments(BASE + "disbursements/", Disbursement, disbursements.payment),
        Payments(BASE + "fee-payments/", FeePayment, fee),
    ],
    ids=["disbursements", "fee-payments"],
)
def payments(request: pytest.FixtureRequest) -> Payments:
    return request.param  # type: ignore[no-any-return]


def test_a_payment_is_recorded_once_whatever_the_retries(
    case: Case, editor: APIClient, payments: Payments
) -> None:
    key = str(uuid.uuid4())
    first = payments.post(editor, payments.body(case), key)
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    again = payments.post(editor, payments.body(case), key)
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert payments.count(idempotency_key=key) == 1


def test_the_idempotency_key_is_required(
    case: Case, editor: APIClient, payments: Payments
) -> None:
    before = payments.count()
    for key in (None, "", "  ", "k" * 256):
        response = payments.post(editor, payments.body(case), key)
        assert response.status_code == 400, (key, response.content)
        assert response.json()["code"] == "invalid"
        assert "idempotency_key" in response.json()["errors"]
    assert payments.count() == before


@pytest.mark.parametrize("changes", [{"amount": "4000.01"}, {"date": "2024-09-03"}])
def test_reusing_a_key_for_another_payment_is_a_409(
    case: Case, editor: APIClient, payments: Payments, changes: dict[str, str]
) -> None:
    assert payments.post(editor, payments.body(case), "k-1").status_code == 201
    response = payments.post(editor, payments.body(case, **changes), "k-1")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert "4000.00 € on 2024-09-02" in body["errors"]["idempotency_key"][0]
    assert payments.count(idempotency_key="k-1") == 1


def test_fee_payment_keys_are_per_agreement(case: Case, editor: APIClient) -> None:
    """As disbursements' keys are per commitment: the same key under another
    agreement records another payment."""
    other = AgreementFactory.create(
        building=case.building,
        status=AgreementStatus.ACTIVE,
        period=case.agreement.period,
    )
    url = BASE + "fee-payments/"
    assert post_payment(editor, url, fee(case), "k-2").status_code == 201
    response = post_payment(editor, url, fee(case, agreement=other.pk), "k-2")
    assert response.status_code == 201, response.content
    assert FeePayment.objects.filter(idempotency_key="k-2").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_payment_whose_connection_dies_is_a_503_and_its_retry_records_it_once(
    case: Case,
    editor: APIClient,
    payments: Payments,
    kill_session_on: Callable[[str, str], Callable[[], None]],
) -> None:
    """reliability.md L2 (b): the session ends in the middle of the INSERT; the
    client is told to retry, nothing was written, and the retry with the same
    Idempotency-Key records the payment once."""
    before = payments.count()
    lift = kill_session_on(payments.table, "INSERT")
    key = str(uuid.uuid4())

    lost = payments.post(editor, payments.body(case), key)

    assert lost.status_code == 503, lost.content
    assert lost["Retry-After"] == "30"
    assert lost.json()["code"] == "unavailable"
    lift()
    assert payments.count() == before
    retried = payments.post(editor, payments.body(case), key)
    assert retried.status_code == 201, retried.content
    assert payments.post(editor, payments.body(case), key).status_code == 200
    assert payments.count(idempotency_key=key) == 1
    assert payments.count() == before + 1
