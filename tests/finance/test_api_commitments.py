"""/api/v1/finance/commitments/: who reads which commitments, who writes them,
and how writes fail (reliability.md §1, B1–B4, E2–E4)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

import finance.services  # noqa: F401 (registers the constraints' fields at import)
from config.api import exception_handler
from finance.models import Commitment, Nature
from organizations.models import OrganizationKind, Role
from tests.finance.api import BASE, client_for, etag, funder_client
from tests.finance.conftest import Case
from tests.finance.factories import DisbursementFactory
from tests.occupancy.factories import BuildingFactory, DepartmentFactory, FunderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_empty_cache")]
LIST = BASE + "commitments/"


def detail(commitment: Commitment) -> str:
    return f"{LIST}{commitment.pk}/"


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def new_commitment(case: Case, **fields: Any) -> dict[str, Any]:
    return {
        "funder": case.cdc.pk,
        "building": case.building.pk,
        "nature": Nature.CASH_OPERATING,
        "amount": "25000.00",
        "start": "2025-01-01",
        "end": "2026-01-01",
        "decision_reference": "CP-2024-118",
        "decision_date": "2024-12-10",
        **fields,
    }


class TestReads:
    def test_a_funder_lists_only_its_own_commitments(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        client = funder_client(make_member, case.cdc)
        c = case.commitments
        assert ids(client.get(LIST)) == {
            c["cdc"].pk,
            c["cdc_loan"].pk,
            c["cdc_2022"].pk,
        }

    def test_another_funders_commitment_is_a_404(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        client = funder_client(make_member, case.cdc)
        assert client.get(detail(case.commitments["ddets"])).status_code == 404
        assert client.get(detail(case.commitments["cdc"])).status_code == 200

    def test_a_funder_with_nothing_sees_nothing(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        client = funder_client(make_member, FunderFactory.create())
        assert ids(client.get(LIST)) == set()

    def test_an_operator_reads_the_commitments_of_its_agreements(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        user = make_member(
            OrganizationKind.OPERATOR, organization=case.agreement.operator
        )
        c = case.commitments
        # On the agreement: the DDETS grant and the prefecture's fee waiver.
        assert ids(client_for(user).get(LIST)) == {c["ddets"].pk, c["prefecture"].pk}

    def test_an_agent_reads_every_funder_of_the_territory(
        self, case: Case, editor: APIClient
    ) -> None:
        assert ids(editor.get(LIST)) == {c.pk for c in case.commitments.values()}

    def test_an_agent_of_another_territory_reads_none(
        self, case: Case, make_member: Callable[..., User]
    ) -> None:
        user = make_member(OrganizationKind.STATE_SERVICE, departments=["33"])
        assert ids(client_for(user).get(LIST)) == set()
        assert client_for(user).get(detail(case.commitments["cdc"])).status_code == 404

    def test_anonymous_callers_are_refused(self, case: Case) -> None:
        assert client_for(None).get(LIST).status_code in (401, 403)

    def test_filters_narrow_the_list(self, case: Case, editor: APIClient) -> None:
        c = case.commitments
        assert ids(editor.get(LIST, {"nature": "loan"})) == {c["cdc_loan"].pk}
        assert c["cdc_2022"].pk not in ids(editor.get(LIST, {"year": 2024}))
        assert editor.get(LIST, {"year": "x"}).status_code == 400

    def test_amounts_are_strings_and_disbursed_is_summed(
        self, case: Case, editor: APIClient
    ) -> None:
        body = editor.get(detail(case.commitments["ddets"])).json()
        assert (body["amount"], body["disbursed"]) == ("50000.00", "35000.00")
        assert body["site"] == case.building.pk
        assert body["funder"]["name"] == "DDETS 13"


class TestWrites:
    def test_an_editor_records_a_commitment(
        self, case: Case, editor: APIClient
    ) -> None:
        response = editor.post(LIST, new_commitment(case), format="json")
        assert response.status_code == 201, response.content
        assert response["ETag"]
        created = Commitment.objects.get(pk=response.json()["id"])
        assert (created.amount, created.funder) == (Decimal("25000.00"), case.cdc)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"nature": Nature.IN_KIND}, "valuation_method"),
            ({"amount": "10.005"}, "amount"),
            ({"amount": "0.00"}, "amount"),
            ({"end": "2025-01-01"}, "end"),
            ({"agreement": None, "building": None}, "agreement"),
            ({"decision_reference": " "}, "decision_reference"),
            # 9999-12-31 was stored, then offered 8,000 years to the funders' page.
            ({"end": "9999-12-31"}, "end"),
            ({"decision_date": "0001-01-01"}, "decision_date"),
        ],
    )
    def test_invalid_input_is_a_400_naming_the_field(
        self, case: Case, editor: APIClient, fields: dict[str, Any], field: str
    ) -> None:
        before = Commitment.objects.count()
        response = editor.post(LIST, new_commitment(case, **fields), format="json")
        assert response.status_code == 400, response.content
        assert field in response.json()["errors"]
        assert Commitment.objects.count() == before

    def test_a_building_of_another_territory_does_not_exist_for_the_editor(
        self, case: Case, editor: APIClient
    ) -> None:
        elsewhere = BuildingFactory.create(
            department=DepartmentFactory.create(code="33", name="Gironde")
        )
        response = editor.post(
            LIST, new_commitment(case, building=elsewhere.pk), format="json"
        )
        assert response.status_code == 400
        assert "building" in response.json()["errors"]

    def test_an_organization_that_is_no_funder_cannot_fund(
        self, case: Case, editor: APIClient, make_member: Callable[..., User]
    ) -> None:
        other = FunderFactory.create(kind=OrganizationKind.OTHER)
        response = editor.post(
            LIST, new_commitment(case, funder=other.pk), format="json"
        )
        assert response.status_code == 400
        assert "funder" in response.json()["errors"]

    @pytest.mark.parametrize("who", ["funder", "operator", "viewer", "anonymous"])
    def test_only_state_editors_write(
        self, case: Case, make_member: Callable[..., User], who: str
    ) -> None:
        users: dict[str, Callable[[], User | None]] = {
            "funder": lambda: make_member(
                OrganizationKind.FUNDER, organization=case.cdc, role=Role.ADMIN
            ),
            "operator": lambda: make_member(OrganizationKind.OPERATOR),
            "viewer": lambda: make_member(
                OrganizationKind.STATE_SERVICE, role=Role.VIEWER, departments=["13"]
            ),
            "anonymous": lambda: None,
        }
        client = client_for(users[who]())
        response = client.post(LIST, new_commitment(case), format="json")
        assert response.status_code in (401, 403)
        commitment = case.commitments["cdc"]
        response = client.patch(
            detail(commitment), {"amount": "1.00"}, format="json", HTTP_IF_MATCH="*"
        )
        assert response.status_code in (401, 403, 404)
        commitment.refresh_from_db()
        assert commitment.amount == Decimal("30000.00")

    def test_a_change_needs_the_etag_it_was_read_with(
        self, case: Case, editor: APIClient
    ) -> None:
        url = detail(case.commitments["euromed"])
        assert editor.patch(url, {"purpose": "x"}, format="json").status_code == 428
        tag = etag(editor, url)
        response = editor.patch(
            url, {"purpose": "Chef de projet"}, format="json", HTTP_IF_MATCH=tag
        )
        assert response.status_code == 200, response.content
        assert response["ETag"] != tag
        stale = editor.patch(url, {"purpose": "y"}, format="json", HTTP_IF_MATCH=tag)
        assert stale.status_code == 412
        assert Commitment.objects.get(pk=case.commitments["euromed"].pk).purpose == (
            "Chef de projet"
        )

    def test_lowering_below_what_is_disbursed_is_a_409_on_amount(
        self, case: Case, editor: APIClient
    ) -> None:
        url = detail(case.commitments["ddets"])  # 35,000 disbursed
        response = editor.patch(
            url, {"amount": "34999.99"}, format="json", HTTP_IF_MATCH=etag(editor, url)
        )
        assert response.status_code == 409
        assert response.json()["code"] == "conflict"
        assert "amount" in response.json()["errors"]

    def test_a_period_leaving_a_disbursement_out_is_a_409(
        self, case: Case, editor: APIClient
    ) -> None:
        url = detail(case.commitments["ddets"])  # paid on 1 July 2024
        response = editor.patch(
            url, {"end": "2024-07-01"}, format="json", HTTP_IF_MATCH=etag(editor, url)
        )
        assert response.status_code == 409
        assert "end" in response.json()["errors"]

    def test_a_period_starting_after_a_disbursement_is_a_409_on_start(
        self, case: Case, editor: APIClient
    ) -> None:
        url = detail(case.commitments["ddets"])  # paid on 1 February 2024
        response = editor.patch(
            url, {"start": "2024-02-02"}, format="json", HTTP_IF_MATCH=etag(editor, url)
        )
        assert response.status_code == 409
        assert "start" in response.json()["errors"]

    def test_a_decision_dated_after_a_disbursement_is_a_409_on_decision_date(
        self, case: Case, editor: APIClient
    ) -> None:
        """Paid on 1 February 2024 on a decision of 1 December 2023: the decision
        cannot move past the payment, nor the payment end up before it."""
        commitment = case.commitments["ddets"]
        url = detail(commitment)
        response = editor.patch(
            url,
            {"decision_date": "2024-02-02"},
            format="json",
            HTTP_IF_MATCH=etag(editor, url),
        )
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "conflict"
        assert "2024-02-01" in response.json()["errors"]["decision_date"][0]
        commitment.refresh_from_db()
        assert commitment.decision_date == date(2023, 12, 1)
        response = editor.patch(
            url,
            {"decision_date": "2024-02-01"},  # the day of the first payment
            format="json",
            HTTP_IF_MATCH=etag(editor, url),
        )
        assert response.status_code == 200, response.content
        assert response.json()["decision_date"] == "2024-02-01"

    @pytest.mark.parametrize(
        ("write", "field"),
        [
            ("overdraft", "amount"),
            ("outside", "date"),
            ("below", "amount"),
            ("before_decision", "date"),
            ("decided_after_paid", "decision_date"),
        ],
    )
    def test_the_databases_refusals_become_409_with_their_field(
        self, case: Case, write: str, field: str
    ) -> None:
        """When only the trigger stands in the way (a writer that skips the
        service), the API's handler still answers 409 naming the field."""
        commitment = case.commitments["euromed"]  # 20,000, 5,000.25 paid
        writes: dict[str, Callable[[], object]] = {
            "overdraft": lambda: DisbursementFactory.create(
                commitment=commitment, amount=Decimal("15000.00")
            ),
            "outside": lambda: DisbursementFactory.create(
                commitment=commitment, date=date(2025, 1, 1)
            ),
            "below": lambda: Commitment.objects.filter(pk=commitment.pk).update(
                amount=Decimal(5)
            ),
            # Decided on 10 January 2024, paid on 1 May.
            "before_decision": lambda: DisbursementFactory.create(
                commitment=commitment, date=date(2024, 1, 9)
            ),
            "decided_after_paid": lambda: Commitment.objects.filter(
                pk=commitment.pk
            ).update(decision_date=date(2024, 5, 2)),
        }
        with pytest.raises(IntegrityError) as refused, transaction.atomic():
            writes[write]()
        response = exception_handler(refused.value, {})
        assert response is not None
        assert response.status_code == 409
        assert field in response.data["errors"]
