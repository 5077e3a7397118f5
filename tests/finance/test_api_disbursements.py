"""/api/v1/finance/disbursements/: the Idempotency-Key header, overdrafts as 409,
and reads within the commitments' scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from finance.models import Disbursement
from organizations.models import OrganizationKind
from tests.finance.api import BASE, client_for, funder_client
from tests.finance.conftest import Case
from tests.finance.factories import CommitmentFactory
from tests.finance.test_services_disbursement import PDF
from tests.occupancy.factories import BuildingFactory, DepartmentFactory

pytestmark = pytest.mark.django_db
LIST = BASE + "disbursements/"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def editor(agent: User) -> APIClient:
    return client_for(agent)


def payment(case: Case, **fields: Any) -> dict[str, Any]:
    return {
        "commitment": case.commitments["euromed"].pk,  # 20,000; 5,000.25 paid
        "date": "2024-09-02",
        "amount": "4000.00",
        "evidence_reference": "OP-2024-0917",
        **fields,
    }


def post(client: APIClient, body: dict[str, Any], key: str | None) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(LIST, body, format="json", **headers)


def test_a_payment_is_recorded_once_whatever_the_retries(
    case: Case, editor: APIClient
) -> None:
    key = str(uuid.uuid4())
    first = post(editor, payment(case), key)
    assert first.status_code == 201, first.content
    again = post(editor, payment(case), key)
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Disbursement.objects.filter(idempotency_key=key).count() == 1


def test_the_idempotency_key_is_required(case: Case, editor: APIClient) -> None:
    response = post(editor, payment(case), None)
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["errors"]


def test_reusing_a_key_for_another_payment_is_a_409(
    case: Case, editor: APIClient
) -> None:
    post(editor, payment(case), "k-1")
    response = post(editor, payment(case, amount="4000.01"), "k-1")
    assert response.status_code == 409
    assert "idempotency_key" in response.json()["errors"]


def test_an_overdraft_is_a_409_on_amount_and_records_nothing(
    case: Case, editor: APIClient
) -> None:
    before = Disbursement.objects.count()
    response = post(editor, payment(case, amount="15000.00"), "k-2")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert "14999.75" in body["errors"]["amount"][0]  # 20,000 − 5,000.25
    assert Disbursement.objects.count() == before


@pytest.mark.parametrize(
    "on",
    [
        "2025-01-01",  # after the commitment's period
        "2024-01-09",  # in its period, before its decision (10 January)
    ],
)
def test_a_date_outside_the_commitment_is_a_400_on_date(
    case: Case, editor: APIClient, on: str
) -> None:
    response = post(editor, payment(case, date=on), "k-3")
    assert response.status_code == 400
    assert "date" in response.json()["errors"]


def test_a_payment_dated_after_today_is_a_400_on_date(
    case: Case, editor: APIClient
) -> None:
    today = timezone.localdate()
    commitment = CommitmentFactory.create(
        funder=case.cdc,
        building=case.building,
        period=DateRange(today, today + timedelta(days=800)),
        decision_date=today,
    )
    future = str(today + timedelta(days=400))
    response = post(editor, payment(case, commitment=commitment.pk, date=future), "f")
    assert response.status_code == 400
    assert "date" in response.json()["errors"]
    assert not commitment.disbursements.exists()


def test_a_commitment_of_another_territory_does_not_exist(
    case: Case, editor: APIClient
) -> None:
    gironde = DepartmentFactory.create(code="33", name="Gironde")
    elsewhere = CommitmentFactory.create(
        building=BuildingFactory.create(department=gironde)
    )
    response = post(editor, payment(case, commitment=elsewhere.pk), "k-4")
    assert response.status_code == 400
    assert "commitment" in response.json()["errors"]
    assert not elsewhere.disbursements.exists()


def test_funders_and_operators_do_not_record_payments(
    case: Case, make_member: Callable[..., User]
) -> None:
    for client in (
        funder_client(make_member, case.euromed),
        client_for(make_member(OrganizationKind.OPERATOR)),
    ):
        assert post(client, payment(case), "k-5").status_code == 403
    assert not Disbursement.objects.filter(idempotency_key="k-5").exists()


def test_evidence_may_be_a_pdf_sent_as_multipart(
    case: Case, editor: APIClient, settings: Settings, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    body = payment(case, evidence_reference="")
    body["evidence_file"] = SimpleUploadedFile(
        "ordre Dupont.pdf", PDF, content_type="application/pdf"
    )
    response = editor.post(LIST, body, format="multipart", HTTP_IDEMPOTENCY_KEY="k-6")
    assert response.status_code == 201, response.content
    assert response.json()["has_evidence_file"] is True
    # Stored under a random name (occupancy/documents.py), never the client's.
    stored = Disbursement.objects.get(pk=response.json()["id"]).evidence_file.name or ""
    assert "Dupont" not in stored
    assert (tmp_path / stored).read_bytes() == PDF


def test_a_funder_reads_the_disbursements_of_its_commitments_only(
    case: Case, make_member: Callable[..., User]
) -> None:
    client = funder_client(make_member, case.euromed)
    rows = client.get(LIST).json()["results"]
    assert [(r["amount"], r["commitment"]) for r in rows] == [
        ("5000.25", case.commitments["euromed"].pk)
    ]
    other = Disbursement.objects.filter(commitment=case.commitments["ddets"]).first()
    assert other is not None
    assert client.get(f"{LIST}{other.pk}/").status_code == 404


def test_disbursements_are_never_edited(case: Case, editor: APIClient) -> None:
    paid = Disbursement.objects.filter(commitment=case.commitments["ddets"])
    row = paid.order_by("date").first()
    assert row is not None
    url = f"{LIST}{row.pk}/"
    assert editor.patch(url, {"amount": "1.00"}, format="json").status_code == 405
    assert editor.delete(url).status_code == 405
    row.refresh_from_db()
    assert row.amount == Decimal("20000.00")


@pytest.mark.django_db(transaction=True)
def test_a_payment_whose_connection_dies_is_a_503_and_its_retry_records_it_once(
    case: Case,
    editor: APIClient,
    kill_session_on: Callable[[str, str], Callable[[], None]],
) -> None:
    """reliability.md L2 (b): the session ends in the middle of the INSERT; the
    client is told to retry, nothing was written, and the retry with the same
    Idempotency-Key records the payment once."""
    before = Disbursement.objects.count()
    lift = kill_session_on("finance_disbursement", "INSERT")
    key = str(uuid.uuid4())

    lost = post(editor, payment(case), key)

    assert lost.status_code == 503, lost.content
    assert lost["Retry-After"] == "30"
    assert lost.json()["code"] == "unavailable"
    lift()
    assert Disbursement.objects.count() == before
    retried = post(editor, payment(case), key)
    assert retried.status_code == 201, retried.content
    assert post(editor, payment(case), key).status_code == 200  # a replay
    assert Disbursement.objects.filter(idempotency_key=key).count() == 1
    assert Disbursement.objects.count() == before + 1
