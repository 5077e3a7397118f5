"""/api/v1/finance/disbursements/: overdrafts as 409, dates, evidence, and reads
within the commitments' scope. The Idempotency-Key header, which fee payments take
too, is tested for both in test_api_payments.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from finance.models import Disbursement
from organizations.models import OrganizationKind
from tests.finance.api import BASE, client_for, funder_client, post_payment
from tests.finance.conftest import Case
from tests.finance.factories import CommitmentFactory
from tests.finance.test_services_disbursement import PDF
from tests.occupancy.factories import BuildingFactory, DepartmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_empty_cache")]
LIST = BASE + "disbursements/"


def payment(case: Case, **fields: Any) -> dict[str, Any]:
    return {
        "commitment": case.commitments["euromed"].pk,  # 20,000; 5,000.25 paid
        "date": "2024-09-02",
        "amount": "4000.00",
        "evidence_reference": "OP-2024-0917",
        **fields,
    }


def post(client: APIClient, body: dict[str, Any], key: str | None) -> Any:
    return post_payment(client, LIST, body, key)


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
