"""The finance administration shows rows and changes none: a decision date or a
payment's date is never edited there, so the admin is no way around the
services' rules (nor, since migration 0004, around the database's)."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from finance.models import Commitment, Disbursement
from tests.finance.conftest import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(
        User.objects.create_superuser("root", "root@example.org", "not-used")
    )
    return client


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("commitment", "decision_date", "2024-05-02"),  # past its payment of 1 May
        ("disbursement", "date", "2024-01-09"),  # before its decision of 10 January
    ],
)
def test_a_superuser_cannot_change_the_dates_the_rule_ties(
    case: Case, superuser_client: Client, name: str, field: str, value: str
) -> None:
    commitment = case.commitments["euromed"]
    row: Commitment | Disbursement = (
        commitment if name == "commitment" else commitment.disbursements.get()
    )
    before = getattr(row, field)
    url = reverse(f"admin:finance_{name}_change", args=[row.pk])

    page = superuser_client.get(url)
    assert page.status_code == 200
    assert f'name="{field}"' not in page.content.decode()  # shown, not a field
    response = superuser_client.post(url, {field: value})

    assert response.status_code == 403
    row.refresh_from_db()
    assert getattr(row, field) == before
    assert isinstance(before, date)


@pytest.mark.parametrize("name", ["commitment", "disbursement"])
def test_the_lists_offer_no_bulk_action(
    case: Case, superuser_client: Client, name: str
) -> None:
    page = superuser_client.get(reverse(f"admin:finance_{name}_changelist"))
    assert page.status_code == 200
    assert page.context["action_form"] is None
    assert not page.context["cl"].list_editable
