"""Organization rules hold twice: in ``full_clean`` for forms, and in the database."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from organizations.models import LegalForm, Organization, OrganizationKind

pytestmark = pytest.mark.django_db


def organization(**fields: Any) -> Organization:
    values: dict[str, Any] = {"name": "Yes We Camp", "kind": OrganizationKind.OPERATOR}
    values.update(fields)
    return Organization(**values)


def clean_errors(instance: Organization) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as error:
        instance.full_clean()
    return error.value.message_dict


def test_a_well_formed_association_passes_full_clean_and_saves() -> None:
    instance = organization(
        legal_form=LegalForm.ASSOCIATION,
        siren="732829320",
        siret="73282932000074",
        rna="W133000000",
        elan_approval_number="ELAN-13-2024-001",
        elan_approved_until=date(2029, 1, 1),
        elan_departments=["13", "2A", "974"],
    )
    instance.full_clean()
    instance.save()
    assert Organization.objects.filter(siret="73282932000074").exists()


def test_full_clean_derives_the_siren_from_the_siret() -> None:
    instance = organization(siret="55210055400013")
    instance.full_clean()
    assert instance.siren == "552100554"


def test_full_clean_refuses_a_siret_that_does_not_start_with_the_siren() -> None:
    errors = clean_errors(organization(siren="180020026", siret="73282932000074"))
    assert list(errors) == ["siret"]


def test_full_clean_refuses_an_rna_number_on_a_non_association() -> None:
    errors = clean_errors(organization(legal_form=LegalForm.COMPANY, rna="W133000000"))
    assert list(errors) == ["rna"]


def test_full_clean_refuses_an_elan_approval_without_expiry() -> None:
    errors = clean_errors(organization(elan_approval_number="ELAN-13-2024-001"))
    assert list(errors) == ["elan_approved_until"]


@pytest.mark.parametrize("code", ["20", "00", "96", "977", "2C", "13 ", "1"])
def test_full_clean_refuses_unknown_departement_codes(code: str) -> None:
    errors = clean_errors(
        organization(
            kind=OrganizationKind.STATE_SERVICE, territory_departments=["13", code]
        )
    )
    assert list(errors) == ["territory_departments"]
    assert code in errors["territory_departments"][0]


def test_full_clean_refuses_unknown_departement_codes_of_an_elan_approval() -> None:
    errors = clean_errors(
        organization(
            elan_approval_number="ELAN-13-2024-001",
            elan_approved_until=date(2029, 1, 1),
            elan_departments=["13", "99"],
        )
    )
    assert list(errors) == ["elan_departments"]


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        (
            {"siren": "180020026", "siret": "73282932000074"},
            "organization_siret_extends_siren",
        ),
        (
            {"legal_form": LegalForm.COMPANY, "rna": "W133000000"},
            "organization_rna_only_for_associations",
        ),
        (
            {"elan_approval_number": "ELAN-13-2024-001"},
            "organization_elan_approval_has_expiry",
        ),
        ({"siren": "18002002A"}, "organization_siren_format"),
        ({"siret": "7328293200007"}, "organization_siret_format"),
        (
            {"legal_form": LegalForm.ASSOCIATION, "rna": "W13300000"},
            "organization_rna_format",
        ),
        ({"kind": "tenant"}, "organization_kind_valid"),
        ({"legal_form": "trust"}, "organization_legal_form_valid"),
    ],
)
def test_the_database_refuses_what_full_clean_refuses_even_when_skipped(
    fields: dict[str, Any], constraint: str
) -> None:
    """``save()`` and ``bulk_create`` skip ``full_clean``; the constraints do not."""
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        organization(**fields).save()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Organization.objects.bulk_create([organization(**fields)])
    assert not Organization.objects.exists()


def test_two_organizations_cannot_share_a_siret_or_an_rna_number() -> None:
    organization(
        legal_form=LegalForm.ASSOCIATION, siret="73282932000074", rna="W133000000"
    ).save()
    with (
        pytest.raises(IntegrityError, match="organization_siret_unique"),
        transaction.atomic(),
    ):
        organization(name="Copy", siret="73282932000074").save()
    with (
        pytest.raises(IntegrityError, match="organization_rna_unique"),
        transaction.atomic(),
    ):
        organization(
            name="Copy", legal_form=LegalForm.ASSOCIATION, rna="W133000000"
        ).save()


def test_blank_identifiers_do_not_collide() -> None:
    Organization.objects.bulk_create(
        [organization(name="First"), organization(name="Second")]
    )
    assert Organization.objects.filter(siret="", rna="").count() == 2


def test_every_departement_code_of_mainland_corsica_and_overseas_is_accepted() -> None:
    codes = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
    # 971–976 as reference/domain.md lists them (975 is Saint-Pierre-et-Miquelon).
    codes += [str(n) for n in range(971, 977)]
    assert len(codes) == 94 + 2 + 6
    organization(
        kind=OrganizationKind.STATE_SERVICE, territory_departments=codes
    ).full_clean()
