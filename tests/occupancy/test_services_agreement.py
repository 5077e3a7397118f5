"""Agreements through occupancy/services.py: the legal rules on their terms, their
lifecycle and its guards, the building that follows, the spaces they hold,
amendments, insurance and documents.

Dates are relative to ``TODAY`` (the services' calendar day); transitions pass ``on``.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.template.defaultfilters import filesizeformat
from pytest_django.fixtures import Settings

from buildings.models import Building, BuildingStatus, BuildingStatusChange
from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, DomainError, InvalidTransition
from occupancy import documents, legal
from occupancy import services as svc
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    Agreement,
    AgreementSpace,
    AgreementStatus,
    AgreementStatusChange,
    AmendmentKind,
    DocumentKind,
    InspectionResult,
    Purpose,
    Regime,
    ResidenceStatus,
    StayStatus,
)
from occupancy.rules import add_months
from organizations.models import LegalForm
from tests.occupancy.factories import (
    AgreementFactory,
    AgreementSpaceFactory,
    BuildingFactory,
    InsuranceCertificateFactory,
    OperatorFactory,
    ResidenceContractFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    StateServiceFactory,
    StayFactory,
    days,
    today,
)

pytestmark = pytest.mark.django_db

_A = AgreementStatus
_B = BuildingStatus
TODAY = today()
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def message(template: Any, **params: object) -> str:
    return str(template).format(**params)


def refreshed(agreement: Agreement) -> Agreement:
    agreement.refresh_from_db()
    return agreement


def building_status(agreement: Agreement) -> str:
    return Building.objects.get(pk=agreement.building_id).status


# --- Creating an agreement: the legal rules of domain.md §C.4 -----------------------
def resolved(overrides: dict[str, Any]) -> dict[str, Any]:
    """Parameters build their rows lazily (``lambda: OperatorFactory.create(…)``): the
    database is not open while pytest collects."""
    return {
        key: value() if callable(value) else value for key, value in overrides.items()
    }


def create(**overrides: Any) -> Agreement:
    """agreement_create with a lawful paid agreement on the public domain, two years
    from next month, for workspaces, unless ``overrides`` say otherwise."""
    overrides = resolved(overrides)
    building = overrides.pop("building", None) or BuildingFactory.create()
    values: dict[str, Any] = {
        "by": None,
        "building": building,
        "grantor": StateServiceFactory.create(),
        "operator": OperatorFactory.create(),
        "regime": Regime.COT_PUBLIC_DOMAIN,
        "purposes": [Purpose.WORKSPACES],
        "start": days(30),
        "end": days(30 + 2 * 365),
        "spaces": [SpaceFactory.create(building=building, workshop=True)],
        "fee_amount": Decimal("12000.00"),
        "fee_period": "annual",
        "max_headcount": 40,
    }
    values.update(overrides)
    return svc.agreement_create(**values)


START = days(30)
FREE = {
    "free_of_charge": True,
    "fee_amount": None,
    "fee_period": "",
    "fee_exemption_basis": "nonprofit_general_interest",
    "waiver_justification": "Hébergement d'urgence et tiers-lieu d'intérêt général.",
}
ELAN = {
    "regime": Regime.ELAN_ART29,
    "purposes": [Purpose.TEMPORARY_RESIDENCE],
    "sleeping_allowed": True,
}


def test_a_lawful_agreement_is_created_as_a_draft_holding_no_space_yet() -> None:
    agreement = create()
    assert agreement.status == _A.DRAFT
    assert agreement.reference.startswith(f"CONV-13-{START:%Y}-")
    row = AgreementSpace.objects.get(agreement=agreement)
    assert row.period == agreement.period
    assert row.is_live is False


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {**ELAN, "start": date(2026, 3, 1), "end": date(2029, 3, 1)},
            id="ELAN for exactly three years",
        ),
        pytest.param(
            {
                "selection_exemption": "urgency",
                "economic_activity": True,
                "start": date(2026, 3, 1),
                "end": date(2027, 3, 1),
            },
            id="urgency for one year",
        ),
        pytest.param(
            {
                "regime": Regime.AOT_REAL_RIGHTS,
                "building": lambda: BuildingFactory.create(next_use_date=None),
                "start": date(2026, 4, 1),
                "end": date(2096, 4, 1),
            },
            id="real rights for seventy years",
        ),
        pytest.param(
            {"economic_activity": True, "selection_reference": "BOAMP 26-12345"},
            id="economic activity after a selection",
        ),
        pytest.param(
            {
                "economic_activity": True,
                "selection_exemption": "single_possible_occupant",
            },
            id="economic activity with an exemption",
        ),
        pytest.param(FREE, id="free for a non-profit association"),
        pytest.param(
            {
                **FREE,
                "operator": lambda: OperatorFactory.create(
                    legal_form=LegalForm.FOUNDATION, rna=""
                ),
            },
            id="free for a non-profit foundation",
        ),
        pytest.param(
            {
                **FREE,
                "fee_exemption_basis": "conservation",
                "operator": lambda: OperatorFactory.create(company=True),
            },
            id="free for a company conserving the domain",
        ),
        pytest.param(
            {"grantor": lambda: StateServiceFactory.create(territory_departments=[])},
            id="granted by a national service",
        ),
        pytest.param(
            {
                "regime": Regime.PRIVATE_PRECARIOUS,
                "building": lambda: BuildingFactory.create(domaniality="private"),
            },
            id="precarious agreement on the private domain",
        ),
        pytest.param(
            {
                "regime": Regime.PRIVATE_PRECARIOUS,
                "building": lambda: BuildingFactory.create(domaniality="private"),
                "economic_activity": True,
            },
            id="economic activity on the private domain, which needs no selection",
        ),
        pytest.param(
            {"purposes": [Purpose.EMERGENCY_SHELTER], "sleeping_allowed": True},
            id="shelter with sleeping allowed",
        ),
    ],
)
def test_the_law_accepts(overrides: dict[str, Any]) -> None:
    assert create(**overrides).status == _A.DRAFT


def test_an_agreement_may_end_on_the_day_the_next_use_begins() -> None:
    building = BuildingFactory.create(next_use_date=days(400))
    agreement = create(building=building, end=days(400))
    assert agreement.end == days(400)


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        pytest.param(
            {"end": START}, "end", legal.END_NOT_AFTER_START, id="end not after start"
        ),
        pytest.param(
            {
                **ELAN,
                "start": date(2026, 3, 1),
                "end": date(2029, 3, 2),
                "building": lambda: BuildingFactory.create(next_use_date=None),
            },
            "end",
            legal.ELAN_TOO_LONG,
            id="ELAN beyond three years",
        ),
        pytest.param(
            {**ELAN, "operator": lambda: OperatorFactory.create(company=True)},
            "operator",
            legal.ELAN_APPROVAL_MISSING,
            id="ELAN without approval",
        ),
        pytest.param(
            {
                **ELAN,
                "operator": lambda: OperatorFactory.create(
                    elan_approved_until=days(-1)
                ),
            },
            "operator",
            legal.ELAN_APPROVAL_MISSING,
            id="ELAN approval expired",
        ),
        pytest.param(
            {
                **ELAN,
                "operator": lambda: OperatorFactory.create(elan_departments=["84"]),
            },
            "operator",
            legal.ELAN_APPROVAL_MISSING,
            id="ELAN approval for another département",
        ),
        pytest.param(
            {
                "selection_exemption": "urgency",
                "economic_activity": True,
                "start": date(2026, 3, 1),
                "end": date(2027, 3, 2),
            },
            "end",
            legal.URGENCY_TOO_LONG,
            id="urgency beyond one year",
        ),
        pytest.param(
            {
                "regime": Regime.AOT_REAL_RIGHTS,
                "start": date(2026, 4, 1),
                "end": date(2096, 4, 2),
                "building": lambda: BuildingFactory.create(next_use_date=None),
            },
            "end",
            legal.REAL_RIGHTS_TOO_LONG,
            id="real rights beyond seventy years",
        ),
        pytest.param(
            {"economic_activity": True},
            "selection_reference",
            legal.SELECTION_REQUIRED,
            id="economic without selection",
        ),
        pytest.param(
            {**FREE, "fee_exemption_basis": ""},
            "fee_exemption_basis",
            legal.WAIVER_BASIS_REQUIRED,
            id="free without legal basis",
        ),
        pytest.param(
            {**FREE, "waiver_justification": " "},
            "waiver_justification",
            legal.WAIVER_JUSTIFICATION_REQUIRED,
            id="free without justification",
        ),
        pytest.param(
            {**FREE, "operator": lambda: OperatorFactory.create(company=True)},
            "fee_exemption_basis",
            legal.WAIVER_NONPROFIT_ONLY,
            id="non-profit basis for a company",
        ),
        pytest.param(
            {**FREE, "operator": lambda: OperatorFactory.create(is_non_profit=False)},
            "fee_exemption_basis",
            legal.WAIVER_NONPROFIT_ONLY,
            id="non-profit basis for a profit-making association",
        ),
        pytest.param(
            {**FREE, "fee_amount": Decimal("100.00")},
            "fee_amount",
            legal.FREE_WITH_FEE,
            id="free with a fee",
        ),
        pytest.param(
            {**FREE, "fee_amount": Decimal("0.00")},
            "fee_amount",
            legal.FREE_WITH_FEE,
            id="free with a fee of zero",
        ),
        pytest.param(
            {**FREE, "fee_period": "annual"},
            "fee_period",
            legal.FREE_WITH_FEE_PERIOD,
            id="free with a fee period",
        ),
        pytest.param(
            {**FREE, "fee_indexation": "IRL, chaque 1er janvier"},
            "fee_indexation",
            legal.FREE_WITH_FEE_INDEXATION,
            id="free with a fee indexation",
        ),
        pytest.param(
            {"fee_amount": Decimal("0.00")},
            "fee_amount",
            legal.FEE_NOT_POSITIVE,
            id="paid with a zero fee",
        ),
        pytest.param(
            {"fee_amount": Decimal("-5.00")},
            "fee_amount",
            legal.FEE_NOT_POSITIVE,
            id="paid with a negative fee",
        ),
        pytest.param(
            {"fee_period": ""},
            "fee_period",
            legal.FEE_PERIOD_REQUIRED,
            id="fee without period",
        ),
        pytest.param(
            {"fee_exemption_basis": "conservation"},
            "fee_exemption_basis",
            legal.WAIVER_WITHOUT_FREE,
            id="waiver basis on a paid agreement",
        ),
        pytest.param(
            {"building": lambda: BuildingFactory.create(next_use_date=days(300))},
            "end",
            legal.PAST_NEXT_USE,
            id="past the building's next use",
        ),
        pytest.param(
            {"grantor": lambda: OperatorFactory.create()},
            "grantor",
            legal.GRANTOR_NOT_STATE,
            id="grantor not a State service",
        ),
        pytest.param(
            {
                "grantor": lambda: StateServiceFactory.create(
                    territory_departments=["75"]
                )
            },
            "grantor",
            legal.GRANTOR_OUTSIDE_TERRITORY,
            id="grantor of another territory",
        ),
        pytest.param(
            {"operator": lambda: StateServiceFactory.create()},
            "operator",
            legal.OPERATOR_NOT_OPERATOR,
            id="occupant not an operator",
        ),
        pytest.param(
            {"purposes": []}, "purposes", legal.PURPOSES_REQUIRED, id="no purpose"
        ),
        pytest.param(
            {"purposes": ["casino"]},
            "purposes",
            legal.PURPOSE_UNKNOWN,
            id="unknown purpose",
        ),
        pytest.param(
            {"purposes": [Purpose.EMERGENCY_SHELTER]},
            "sleeping_allowed",
            legal.SLEEPING_NOT_ALLOWED,
            id="shelter without sleeping",
        ),
        pytest.param(
            {"regime": Regime.PRIVATE_LEASE},
            "regime",
            legal.REGIME_WRONG_DOMAIN,
            id="private-domain lease on the public domain",
        ),
        pytest.param(
            {
                "regime": Regime.AOT_UNILATERAL,
                "building": lambda: BuildingFactory.create(domaniality="private"),
            },
            "regime",
            legal.REGIME_WRONG_DOMAIN,
            id="AOT on the private domain",
        ),
        pytest.param(
            {
                "building": lambda: BuildingFactory.create(
                    status=BuildingStatus.DEMOLISHED
                )
            },
            "building",
            legal.BUILDING_GONE,
            id="demolished building",
        ),
        pytest.param(
            {"spaces": lambda: [SpaceFactory.create()]},
            "spaces",
            svc.SPACE_OTHER_BUILDING,
            id="a space of another building",
        ),
        pytest.param(
            {"status": "active"},
            "status",
            svc.FIELD_NOT_EDITABLE,
            id="status is not a term",
        ),
    ],
)
def test_the_law_refuses(overrides: dict[str, Any], field: str, expected: Any) -> None:
    with pytest.raises(DomainError) as caught:
        create(reference="REFUSED-BY-LAW", **overrides)
    assert caught.value.field == field
    template = str(expected).split("{")[0]
    assert caught.value.message.startswith(template)
    assert not Agreement.objects.filter(reference="REFUSED-BY-LAW").exists()


def test_refusals_say_which_cap_applies_and_until_when() -> None:
    with pytest.raises(DomainError) as caught:
        create(
            **ELAN,
            start=date(2026, 3, 1),
            end=date(2029, 3, 2),
            building=BuildingFactory.create(next_use_date=None),
        )
    assert caught.value.message == message(
        legal.ELAN_TOO_LONG, months=36, limit=date(2029, 3, 1)
    )


def test_a_taken_reference_is_a_conflict_on_the_reference() -> None:
    AgreementFactory.create(reference="PREF-13-2026-001")
    with pytest.raises(Conflict) as caught:
        create(reference="PREF-13-2026-001")
    assert caught.value.field == "reference"


def test_caps_are_read_from_the_rules(settings: Settings) -> None:
    settings.OCCUPANCY_RULES = {"elan_agreement_max_months": 24}
    with pytest.raises(DomainError) as caught:
        create(**ELAN, end=START + timedelta(days=800))
    limit = add_months(START, 24)
    assert caught.value.message == message(legal.ELAN_TOO_LONG, months=24, limit=limit)


# --- Updating the terms -----------------------------------------------------------
def test_a_draft_s_dates_change_and_its_spaces_follow() -> None:
    agreement = create()
    svc.agreement_update(agreement=agreement, by=None, end=days(400), max_headcount=25)
    agreement = refreshed(agreement)
    assert (agreement.end, agreement.max_headcount) == (days(400), 25)
    assert AgreementSpace.objects.get(agreement=agreement).period.upper == days(400)


def test_an_update_is_checked_against_the_law_like_a_creation() -> None:
    agreement = create()
    with pytest.raises(DomainError) as caught:
        svc.agreement_update(agreement=agreement, by=None, economic_activity=True)
    assert caught.value.field == "selection_reference"
    assert refreshed(agreement).economic_activity is False


def test_a_paid_draft_made_free_leaves_its_whole_fee() -> None:
    """A free agreement kept ``fee_amount: 0.00`` and an annual period beside it
    (found by a review): it has no fee at all, and the database says so too."""
    agreement = create()
    waiver = {
        "free_of_charge": True,
        "fee_exemption_basis": FREE["fee_exemption_basis"],
        "waiver_justification": FREE["waiver_justification"],
    }
    with pytest.raises(DomainError) as caught:
        svc.agreement_update(
            agreement=agreement, by=None, **waiver, fee_amount=Decimal("0.00")
        )
    assert caught.value.field == "fee_amount"
    with pytest.raises(DomainError) as caught:
        svc.agreement_update(agreement=agreement, by=None, **waiver, fee_amount=None)
    assert caught.value.field == "fee_period"
    free = svc.agreement_update(
        agreement=agreement, by=None, **waiver, fee_amount=None, fee_period=""
    )
    assert (free.free_of_charge, free.fee_amount, free.fee_period) == (True, None, "")
    with pytest.raises(IntegrityError), transaction.atomic():
        Agreement.objects.filter(pk=agreement.pk).update(fee_period="annual")
    assert CONSTRAINT_ERRORS["agreement_free_has_no_fee"][0] == "fee_amount"


@pytest.mark.parametrize("status", [_A.APPROVED, _A.ACTIVE, _A.CLOSED])
def test_terms_no_longer_change_after_review(status: str) -> None:
    agreement = AgreementFactory.create(status=status)
    with pytest.raises(Conflict) as caught:
        svc.agreement_update(agreement=agreement, by=None, max_headcount=10)
    assert caught.value.field == "status"


# --- The lifecycle (domain.md §D.2) -----------------------------------------------
# The building's status while an agreement is in each status, alone on it.
BUILDING_WHILE: dict[str, str] = {
    _A.DRAFT: _B.AVAILABLE,
    _A.UNDER_REVIEW: _B.AVAILABLE,
    _A.APPROVED: _B.AVAILABLE,
    _A.SIGNED: _B.UNDER_AGREEMENT,
    _A.ACTIVE: _B.OCCUPIED,
    _A.SUSPENDED: _B.SUSPENDED,
    _A.ENDING: _B.RELEASING,
    _A.EXPIRED: _B.RELEASING,
    _A.REVOKED: _B.RELEASING,
    _A.TERMINATED: _B.RELEASING,
}
# What each move needs beyond the factory's lawful agreement.
MOVE_INPUTS: dict[str, dict[str, Any]] = {
    _A.REJECTED: {"reason": "Projet incompatible avec la cession prévue."},
    _A.SIGNED: {"signed_on": TODAY},
    _A.ACTIVE: {"entry_inventory_on": TODAY},
    _A.SUSPENDED: {"reason": "Fermeture administrative (commission de sécurité)."},
    _A.REVOKED: {"revocation_motive": "general_interest"},
    _A.TERMINATED: {"reason": "Résiliation amiable."},
    _A.ENDING: {"reason": "Notification de non-renouvellement."},
    _A.CLOSED: {"exit_inventory_on": TODAY},
    _A.WITHDRAWN: {"reason": "Le projet d'occupation est abandonné."},
}
ALLOWED_MOVES = [
    (old, new)
    for old, targets in AGREEMENT_TRANSITIONS.items()
    for new in sorted(targets)
]


def agreement_in(status: str, **overrides: Any) -> Agreement:
    """A lawful agreement started two months ago, in ``status``, holding a workshop
    (live when the status is), insured for its whole period, its building where
    that status puts it."""
    overrides = resolved(overrides)
    building = BuildingFactory.create(status=BUILDING_WHILE.get(status, _B.AVAILABLE))
    period = overrides.pop("period", DateRange(days(-60), days(600)))
    agreement = AgreementFactory.create(
        building=building,
        status=status,
        period=period,
        spaces=[SpaceFactory.create(building=building, workshop=True)],
        **overrides,
    )
    InsuranceCertificateFactory.create(agreement=agreement)
    return agreement


def move(
    agreement: Agreement, to: str, *, by: User | None = None, **inputs: Any
) -> Agreement:
    values = {**MOVE_INPUTS.get(to, {}), **inputs}
    return svc.agreement_transition(agreement=agreement, to=to, by=by, **values)


@pytest.mark.parametrize(("old", "new"), ALLOWED_MOVES)
def test_every_allowed_transition_is_recorded_with_who_and_why(
    old: str, new: str, actor: User
) -> None:
    agreement = agreement_in(old)
    inputs = {**MOVE_INPUTS.get(new, {}), "by": actor}
    if new == _A.EXPIRED:
        inputs["on"] = agreement.end
    moved = svc.agreement_transition(agreement=agreement, to=new, **inputs)
    assert refreshed(moved).status == new
    change = AgreementStatusChange.objects.get(agreement=agreement)
    assert (change.from_status, change.to_status) == (old, new)
    assert change.changed_by == actor
    assert change.reason == inputs.get("reason", "")
    live = new in {_A.APPROVED, _A.SIGNED, _A.ACTIVE, _A.SUSPENDED, _A.ENDING}
    rows = AgreementSpace.objects.filter(agreement=agreement)
    assert set(rows.values_list("is_live", flat=True)) == {live}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (_A.DRAFT, _A.ACTIVE),
        (_A.DRAFT, _A.APPROVED),
        (_A.APPROVED, _A.ACTIVE),
        (_A.SIGNED, _A.ENDING),
        (_A.ACTIVE, _A.CLOSED),
        (_A.ENDING, _A.ACTIVE),
        (_A.EXPIRED, _A.ACTIVE),
        (_A.REJECTED, _A.UNDER_REVIEW),
        (_A.WITHDRAWN, _A.DRAFT),
        (_A.CLOSED, _A.ACTIVE),
        (_A.ACTIVE, "extended"),
    ],
)
def test_moves_outside_the_lifecycle_are_refused(old: str, new: str) -> None:
    agreement = agreement_in(old)
    with pytest.raises(InvalidTransition):
        move(agreement, new)
    assert refreshed(agreement).status == old
    assert not AgreementStatusChange.objects.filter(agreement=agreement).exists()


def _no_spaces(agreement: Agreement) -> None:
    AgreementSpace.objects.filter(agreement=agreement).delete()


@pytest.mark.parametrize(
    ("old", "new", "overrides", "inputs", "field", "expected"),
    [
        pytest.param(
            _A.DRAFT,
            _A.UNDER_REVIEW,
            {"max_headcount": None},
            {},
            "max_headcount",
            legal.HEADCOUNT_REQUIRED,
            id="no headcount",
        ),
        pytest.param(
            _A.DRAFT,
            _A.UNDER_REVIEW,
            {"fee_amount": None},
            {},
            "fee_amount",
            legal.FEE_REQUIRED,
            id="paid without a fee",
        ),
        pytest.param(
            _A.DRAFT,
            _A.UNDER_REVIEW,
            {"operator": lambda: OperatorFactory.create(siret="", siren="", rna="")},
            {},
            "operator",
            legal.IDENTIFIERS_INVALID,
            id="unidentified occupant",
        ),
        pytest.param(
            _A.DRAFT,
            _A.UNDER_REVIEW,
            {
                "operator": lambda: OperatorFactory.create(
                    siret="73282932000075", siren="732829320", rna=""
                )
            },
            {},
            "operator",
            legal.IDENTIFIERS_INVALID,
            id="SIRET failing Luhn",
        ),
        pytest.param(
            _A.UNDER_REVIEW,
            _A.APPROVED,
            {"ddfip_opinion_reference": ""},
            {},
            "ddfip_opinion_reference",
            legal.DDFIP_OPINION_REQUIRED,
            id="paid without DDFiP opinion",
        ),
        pytest.param(
            _A.UNDER_REVIEW,
            _A.APPROVED,
            {"ddfip_opinion_date": days(5)},
            {},
            "ddfip_opinion_date",
            legal.DDFIP_OPINION_LATER,
            id="DDFiP opinion after approval",
        ),
        pytest.param(
            _A.UNDER_REVIEW,
            _A.APPROVED,
            {
                "regime": Regime.ELAN_ART29,
                "purposes": ["temporary_residence"],
                "sleeping_allowed": True,
                "operator": lambda: OperatorFactory.create(
                    elan_approved_until=days(-1)
                ),
            },
            {},
            "operator",
            legal.ELAN_APPROVAL_MISSING,
            id="ELAN approval lapsed during review",
        ),
        pytest.param(
            _A.UNDER_REVIEW,
            _A.REJECTED,
            {},
            {"reason": ""},
            "reason",
            legal.REJECTION_REASON_REQUIRED,
            id="unmotivated refusal",
        ),
        pytest.param(
            _A.APPROVED,
            _A.WITHDRAWN,
            {},
            {"reason": ""},
            "reason",
            legal.WITHDRAWAL_REASON_REQUIRED,
            id="approved terms withdrawn without reason",
        ),
        pytest.param(
            _A.SIGNED,
            _A.WITHDRAWN,
            {},
            {"reason": "  "},
            "reason",
            legal.WITHDRAWAL_REASON_REQUIRED,
            id="signed agreement withdrawn without reason",
        ),
        pytest.param(
            _A.APPROVED,
            _A.SIGNED,
            {},
            {"signed_on": None},
            "signed_on",
            legal.SIGNED_ON_REQUIRED,
            id="no date of signature",
        ),
        pytest.param(
            _A.APPROVED,
            _A.SIGNED,
            {},
            {"signed_on": days(1)},
            "signed_on",
            legal.DATE_IN_FUTURE,
            id="signed tomorrow",
        ),
        pytest.param(
            _A.APPROVED,
            _A.SIGNED,
            {
                "regime": Regime.ELAN_ART29,
                "purposes": ["temporary_residence"],
                "sleeping_allowed": True,
                "operator": lambda: OperatorFactory.create(
                    elan_approved_until=days(-10)
                ),
            },
            {"signed_on": days(-5)},
            "operator",
            legal.ELAN_APPROVAL_MISSING,
            id="ELAN approval expired at signature",
        ),
        pytest.param(
            _A.SIGNED,
            _A.ACTIVE,
            {},
            {"on": days(-61), "entry_inventory_on": days(-61)},
            "start",
            legal.START_NOT_REACHED,
            id="before the start",
        ),
        pytest.param(
            _A.SIGNED,
            _A.ACTIVE,
            {},
            {"entry_inventory_on": None},
            "entry_inventory_on",
            legal.ENTRY_INVENTORY_REQUIRED,
            id="no entry inventory",
        ),
        pytest.param(
            _A.SIGNED,
            _A.ACTIVE,
            {
                "regime": Regime.ELAN_ART29,
                "purposes": ["workspaces"],
                "mayor_notified_on": days(-70),
            },
            {},
            "prefect_notified_on",
            legal.PREFECT_NOT_NOTIFIED,
            id="ELAN prefect not informed",
        ),
        pytest.param(
            _A.SIGNED,
            _A.ACTIVE,
            {
                "regime": Regime.ELAN_ART29,
                "purposes": ["workspaces"],
                "prefect_notified_on": days(-70),
            },
            {},
            "mayor_notified_on",
            legal.MAYOR_NOT_NOTIFIED,
            id="ELAN mayor not informed",
        ),
        pytest.param(
            _A.SIGNED,
            _A.ACTIVE,
            {"purposes": ["emergency_shelter"], "sleeping_allowed": True},
            {},
            "safety_inspections",
            legal.SAFETY_OPINION_REQUIRED,
            id="shelter without safety opinion",
        ),
        pytest.param(
            _A.ACTIVE,
            _A.SUSPENDED,
            {},
            {"reason": ""},
            "reason",
            legal.REASON_REQUIRED,
            id="suspension without reason",
        ),
        pytest.param(
            _A.ACTIVE,
            _A.ENDING,
            {},
            {"reason": ""},
            "reason",
            legal.ENDING_TOO_EARLY,
            id="ending early without notice",
        ),
        pytest.param(
            _A.ACTIVE,
            _A.REVOKED,
            {},
            {"revocation_motive": ""},
            "revocation_motive",
            legal.REVOCATION_MOTIVE_REQUIRED,
            id="revocation without motive",
        ),
        pytest.param(
            _A.ENDING,
            _A.TERMINATED,
            {},
            {"reason": " "},
            "reason",
            legal.REASON_REQUIRED,
            id="termination without reason",
        ),
        pytest.param(
            _A.ENDING,
            _A.EXPIRED,
            {},
            {},
            "end",
            legal.END_NOT_PASSED,
            id="expiry before the end",
        ),
        pytest.param(
            _A.EXPIRED,
            _A.CLOSED,
            {},
            {"exit_inventory_on": None},
            "exit_inventory_on",
            legal.EXIT_INVENTORY_REQUIRED,
            id="no exit inventory",
        ),
        pytest.param(
            _A.TERMINATED,
            _A.CLOSED,
            {},
            {"exit_inventory_on": days(2)},
            "exit_inventory_on",
            legal.DATE_IN_FUTURE,
            id="exit inventory in the future",
        ),
    ],
)
def test_guards_refuse_with_a_clear_message_on_the_right_field(
    old: str,
    new: str,
    overrides: dict[str, Any],
    inputs: dict[str, Any],
    field: str,
    expected: Any,
) -> None:
    agreement = agreement_in(old, **overrides)
    building_before = building_status(agreement)
    with pytest.raises(DomainError) as caught:
        move(agreement, new, **inputs)
    assert caught.value.field == field
    assert caught.value.message.startswith(str(expected).split("{")[0])
    assert refreshed(agreement).status == old
    assert building_status(agreement) == building_before
    assert not AgreementStatusChange.objects.filter(agreement=agreement).exists()


@pytest.mark.parametrize("old", [_A.DRAFT, _A.UNDER_REVIEW])
def test_an_application_is_withdrawn_without_a_reason(old: str) -> None:
    """Before any decision the applicant drops its own application: nothing was
    granted, so no reason is asked (the history keeps the move all the same)."""
    agreement = agreement_in(old)
    assert move(agreement, _A.WITHDRAWN, reason="").status == _A.WITHDRAWN
    change = AgreementStatusChange.objects.get(agreement=agreement)
    assert (change.from_status, change.to_status, change.reason) == (
        old,
        _A.WITHDRAWN,
        "",
    )


@pytest.mark.parametrize("old", [_A.APPROVED, _A.SIGNED])
def test_withdrawing_approved_terms_records_the_reason(old: str) -> None:
    agreement = agreement_in(old)
    move(agreement, _A.WITHDRAWN, reason="Le bâtiment est cédé plus tôt que prévu.")
    change = AgreementStatusChange.objects.get(agreement=agreement)
    assert change.reason == "Le bâtiment est cédé plus tôt que prévu."
    assert refreshed(agreement).status == _A.WITHDRAWN


def test_a_submission_without_spaces_is_refused() -> None:
    agreement = agreement_in(_A.DRAFT)
    _no_spaces(agreement)
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.UNDER_REVIEW)
    assert caught.value.field == "spaces"


def test_an_association_without_siret_is_identified_by_its_rna() -> None:
    operator = OperatorFactory.create(siret="", siren="")
    agreement = agreement_in(_A.DRAFT, operator=operator)
    assert move(agreement, _A.UNDER_REVIEW).status == _A.UNDER_REVIEW


def test_a_free_agreement_is_approved_without_a_ddfip_opinion() -> None:
    agreement = agreement_in(
        _A.UNDER_REVIEW, free=True, ddfip_opinion_reference="", ddfip_opinion_date=None
    )
    assert move(agreement, _A.APPROVED).status == _A.APPROVED


def test_the_terms_are_checked_again_at_approval() -> None:
    """A building whose next use moved closer since the draft blocks the approval."""
    agreement = agreement_in(_A.UNDER_REVIEW)
    Building.objects.filter(pk=agreement.building_id).update(next_use_date=days(100))
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.APPROVED)
    assert caught.value.field == "end"


@pytest.mark.parametrize(
    ("valid_from", "valid_until"),
    [(days(-59), days(600)), (days(-400), days(-61))],
    ids=["starting after the start", "ended before the start"],
)
def test_a_signature_needs_insurance_on_the_start_date(
    valid_from: date, valid_until: date
) -> None:
    agreement = agreement_in(_A.APPROVED)
    agreement.insurance_certificates.all().delete()
    InsuranceCertificateFactory.create(
        agreement=agreement, valid_from=valid_from, valid_until=valid_until
    )
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.SIGNED)
    assert caught.value.field == "insurance_certificates"


def test_an_elan_agreement_starts_once_prefect_and_mayor_are_informed() -> None:
    agreement = agreement_in(
        _A.SIGNED,
        regime=Regime.ELAN_ART29,
        purposes=[Purpose.WORKSPACES],
        prefect_notified_on=days(-65),
        mayor_notified_on=days(-65),
    )
    assert move(agreement, _A.ACTIVE).status == _A.ACTIVE


@pytest.mark.parametrize(
    ("result", "headcount", "accepted"),
    [
        (InspectionResult.FAVOURABLE, 80, True),
        (InspectionResult.FAVOURABLE, 79, False),
        (InspectionResult.UNFAVOURABLE, 200, False),
        (InspectionResult.POSTPONED, 200, False),
    ],
)
def test_sleeping_on_site_needs_a_favourable_safety_opinion_for_the_headcount(
    result: str, headcount: int, accepted: bool
) -> None:
    agreement = agreement_in(_A.SIGNED, shelter=True)  # 80 people
    SafetyInspectionFactory.create(
        building=agreement.building, result=result, max_headcount=headcount
    )
    if accepted:
        assert move(agreement, _A.ACTIVE).status == _A.ACTIVE
    else:
        with pytest.raises(DomainError) as caught:
            move(agreement, _A.ACTIVE)
        assert caught.value.field == "safety_inspections"


def test_the_latest_safety_opinion_is_the_one_that_counts() -> None:
    agreement = agreement_in(_A.SIGNED, shelter=True)
    SafetyInspectionFactory.create(building=agreement.building, date=days(-200))
    SafetyInspectionFactory.create(
        building=agreement.building,
        date=days(-10),
        result=InspectionResult.UNFAVOURABLE,
    )
    with pytest.raises(DomainError):
        move(agreement, _A.ACTIVE)


def test_the_safety_opinion_covers_every_agreement_occupying_the_building() -> None:
    first = agreement_in(_A.ACTIVE, shelter=True)  # 80 people
    building = first.building
    SafetyInspectionFactory.create(building=building, max_headcount=120)
    second = AgreementFactory.create(
        building=building,
        signed=True,
        shelter=True,
        max_headcount=50,
        period=DateRange(days(-10), days(300)),
        entry_inventory_on=days(-10),
    )
    with pytest.raises(DomainError) as caught:
        move(second, _A.ACTIVE)
    assert caught.value.message == message(legal.SAFETY_OPINION_REQUIRED, headcount=130)


def test_a_building_open_to_the_public_needs_a_safety_opinion() -> None:
    agreement = agreement_in(_A.SIGNED)
    Building.objects.filter(pk=agreement.building_id).update(erp=True)
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.ACTIVE)
    assert caught.value.field == "safety_inspections"


def test_an_agreement_ends_without_notice_within_the_last_six_months() -> None:
    agreement = agreement_in(_A.ACTIVE)
    on = agreement.end - timedelta(days=150)
    assert move(agreement, _A.ENDING, reason="", on=on).status == _A.ENDING


def test_an_agreement_expires_the_day_after_its_last_day() -> None:
    agreement = agreement_in(_A.ENDING)
    with pytest.raises(DomainError):
        move(agreement, _A.EXPIRED, on=agreement.end - timedelta(days=1))
    assert move(agreement, _A.EXPIRED, on=agreement.end).status == _A.EXPIRED


@pytest.mark.parametrize("status", [StayStatus.ACTIVE, StayStatus.EXIT_PLANNED])
def test_an_agreement_closes_only_once_every_stay_has_exited(status: str) -> None:
    agreement = agreement_in(_A.EXPIRED)
    StayFactory.create(agreement=agreement, status=status)
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.CLOSED)
    assert caught.value.field == "stays"


def test_an_agreement_closes_only_once_every_residence_contract_has_ended() -> None:
    agreement = agreement_in(_A.REVOKED, elan=True, revocation_motive="occupant_fault")
    contract = ResidenceContractFactory.create(agreement=agreement)
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.CLOSED)
    assert caught.value.field == "residence_contracts"
    type(contract).objects.filter(pk=contract.pk).update(status=ResidenceStatus.ENDED)
    assert move(agreement, _A.CLOSED).status == _A.CLOSED


def test_facts_can_be_recorded_ahead_of_the_transition_that_needs_them() -> None:
    agreement = agreement_in(_A.APPROVED)
    svc.agreement_record(agreement=agreement, by=None, signed_on=days(-1))
    assert move(agreement, _A.SIGNED, signed_on=days(-1)).signed_on == days(-1)
    with pytest.raises(DomainError) as caught:
        svc.agreement_record(agreement=agreement, by=None, status="active")
    assert caught.value.field == "status"


@pytest.mark.parametrize("status", [_A.DRAFT, _A.UNDER_REVIEW])
def test_a_signature_is_recorded_once_the_terms_are_approved(status: str) -> None:
    """A date of signature recorded on a draft (or with its submission) was kept,
    and the signature guard took it at face value after the approval."""
    agreement = agreement_in(status)
    with pytest.raises(DomainError) as caught:
        svc.agreement_record(agreement=agreement, by=None, signed_on=days(-1))
    assert caught.value.field == "signed_on"
    to = _A.UNDER_REVIEW if status == _A.DRAFT else _A.APPROVED
    with pytest.raises(DomainError) as caught:
        move(agreement, to, signed_on=days(-1))
    assert caught.value.field == "signed_on"
    agreement.refresh_from_db()
    assert (agreement.status, agreement.signed_on) == (status, None)
    assert not agreement.status_changes.exists()


def test_a_signature_cannot_precede_the_approval() -> None:
    agreement = agreement_in(_A.UNDER_REVIEW, ddfip_opinion_date=days(-30))
    move(agreement, _A.APPROVED)
    approved_on = TODAY
    with pytest.raises(DomainError) as caught:
        move(agreement, _A.SIGNED, signed_on=approved_on - timedelta(days=1))
    assert caught.value.field == "signed_on"
    assert refreshed(agreement).status == _A.APPROVED
    assert refreshed(agreement).signed_on is None
    with pytest.raises(DomainError) as caught:
        svc.agreement_record(
            agreement=agreement, by=None, signed_on=approved_on - timedelta(days=1)
        )
    assert caught.value.field == "signed_on"
    assert move(agreement, _A.SIGNED, signed_on=approved_on).status == _A.SIGNED


def test_purposes_and_spaces_named_twice_count_once() -> None:
    """A space named twice in a new draft broke agreement_space_unique (a 409 on
    no field); a purpose named twice was stored twice."""
    building = BuildingFactory.create()
    space = SpaceFactory.create(building=building, workshop=True)
    agreement = create(
        building=building,
        purposes=["workspaces", "culture", "workspaces"],
        spaces=[space, space],
    )
    assert agreement.purposes == ["workspaces", "culture"]
    assert [row.space for row in agreement.agreement_spaces.all()] == [space]
    updated = svc.agreement_update(
        agreement=agreement, by=None, purposes=["culture", "culture"]
    )
    assert refreshed(updated).purposes == ["culture"]


def test_recorded_facts_keep_their_order_and_their_stage() -> None:
    """agreement_record checked only that dates were not in the future: an active
    agreement took a revocation motive, an exit inventory from before its start and
    a signature before the DDFiP opinion (audit, domain.md §D.2)."""
    opinion = days(-90)
    agreement = agreement_in(_A.ACTIVE, ddfip_opinion_date=opinion)
    refused: dict[str, dict[str, Any]] = {
        "revocation_motive": {"revocation_motive": "occupant_fault"},
        "exit_inventory_on": {"exit_inventory_on": days(-1)},
    }
    for field, facts in refused.items():
        with pytest.raises(DomainError) as caught:
            svc.agreement_record(agreement=agreement, by=None, **facts)
        assert caught.value.field == field
    with pytest.raises(DomainError) as caught:
        svc.agreement_record(
            agreement=agreement, by=None, signed_on=opinion - timedelta(days=1)
        )
    assert caught.value.field == "signed_on"
    agreement.refresh_from_db()
    assert agreement.revocation_motive == ""
    assert agreement.exit_inventory_on is None

    ending = agreement_in(_A.ENDING)
    with pytest.raises(DomainError) as caught:
        svc.agreement_record(
            agreement=ending,
            by=None,
            exit_inventory_on=ending.start - timedelta(days=1),
        )
    assert caught.value.field == "exit_inventory_on"
    recorded = svc.agreement_record(
        agreement=ending, by=None, exit_inventory_on=days(-1)
    )
    assert recorded.exit_inventory_on == days(-1)


@pytest.mark.parametrize("status", [_A.APPROVED, _A.SIGNED, _A.ACTIVE, _A.ENDING])
def test_the_ddfip_opinion_an_approval_rests_on_no_longer_changes(status: str) -> None:
    """agreement_record rewrote the DDFiP opinion of an approved agreement, whose
    approval rested on it (found by a review): a conflict on the field, as terms
    after approval."""
    agreement = agreement_in(status)
    reference = agreement.ddfip_opinion_reference
    opinion = agreement.ddfip_opinion_date
    assert reference
    assert opinion
    for field, value in (
        ("ddfip_opinion_reference", "AVIS-DDFIP-REECRIT"),
        ("ddfip_opinion_date", opinion - timedelta(days=1)),
    ):
        with pytest.raises(Conflict) as caught:
            svc.agreement_record(agreement=agreement, by=None, **{field: value})
        assert caught.value.field == field
        assert field in caught.value.message
    # The same opinion again changes nothing, so it is no rewrite.
    svc.agreement_record(
        agreement=agreement, by=None, ddfip_opinion_reference=reference
    )
    agreement.refresh_from_db()
    assert (agreement.ddfip_opinion_reference, agreement.ddfip_opinion_date) == (
        reference,
        opinion,
    )


def test_a_move_does_not_rewrite_the_ddfip_opinion_either() -> None:
    agreement = agreement_in(_A.APPROVED)
    with pytest.raises(Conflict) as caught:
        move(agreement, _A.SIGNED, ddfip_opinion_date=days(-1))
    assert caught.value.field == "ddfip_opinion_date"
    assert refreshed(agreement).status == _A.APPROVED


def test_the_ddfip_opinion_changes_freely_until_approval() -> None:
    agreement = agreement_in(_A.UNDER_REVIEW)
    svc.agreement_record(
        agreement=agreement, by=None, ddfip_opinion_reference="AVIS-DDFIP-2"
    )
    approved = move(agreement, _A.APPROVED, ddfip_opinion_date=days(-2))
    assert (approved.ddfip_opinion_reference, approved.ddfip_opinion_date) == (
        "AVIS-DDFIP-2",
        days(-2),
    )


def test_a_free_agreement_approved_without_opinion_records_one_once() -> None:
    """A free agreement's approval needs no DDFiP opinion: one may come later, and
    is then fixed in turn."""
    agreement = agreement_in(
        _A.APPROVED, free=True, ddfip_opinion_reference="", ddfip_opinion_date=None
    )
    svc.agreement_record(
        agreement=agreement,
        by=None,
        ddfip_opinion_reference="AVIS-GRATUITE-13",
        ddfip_opinion_date=days(-1),
    )
    with pytest.raises(Conflict) as caught:
        svc.agreement_record(
            agreement=agreement, by=None, ddfip_opinion_reference="AVIS-AUTRE"
        )
    assert caught.value.field == "ddfip_opinion_reference"
    assert refreshed(agreement).ddfip_opinion_reference == "AVIS-GRATUITE-13"


# --- The building follows (domain.md §D.1) ----------------------------------------
def test_the_building_follows_its_agreement_from_signature_to_release(
    actor: User,
) -> None:
    agreement = agreement_in(_A.UNDER_REVIEW)
    building = agreement.building
    steps = [
        (_A.APPROVED, {}, _B.AVAILABLE),
        (_A.SIGNED, {}, _B.UNDER_AGREEMENT),
        (_A.ACTIVE, {}, _B.OCCUPIED),
        (_A.ENDING, {}, _B.RELEASING),
        (_A.EXPIRED, {"on": agreement.end}, _B.RELEASING),
        (_A.CLOSED, {"on": agreement.end}, _B.RELEASING),
    ]
    for status, inputs, expected in steps:
        move(agreement, status, by=actor, **inputs)
        assert building_status(agreement) == expected, status
    history = BuildingStatusChange.objects.filter(building=building).order_by("pk")
    assert [(c.from_status, c.to_status) for c in history] == [
        (_B.AVAILABLE, _B.UNDER_AGREEMENT),
        (_B.UNDER_AGREEMENT, _B.OCCUPIED),
        (_B.OCCUPIED, _B.RELEASING),
    ]
    assert all(change.changed_by == actor for change in history)
    assert agreement.reference in history[0].reason


@pytest.mark.parametrize(
    ("status", "new"),
    [
        (_B.ASSESSED, _A.SIGNED),
        (_B.ILLEGALLY_OCCUPIED, _A.SIGNED),
        (_B.UNSAFE, _A.SIGNED),
        (_B.RELEASING, _A.ACTIVE),
        (_B.SUSPENDED, _A.ACTIVE),
    ],
)
def test_an_agreement_cannot_move_a_building_its_lifecycle_does_not_allow(
    status: str, new: str
) -> None:
    old = _A.APPROVED if new == _A.SIGNED else _A.SIGNED
    agreement = agreement_in(old)
    Building.objects.filter(pk=agreement.building_id).update(status=status)
    with pytest.raises(Conflict) as caught:
        move(agreement, new)
    assert caught.value.field == "building"
    assert str(BuildingStatus(status).label) in caught.value.message
    assert refreshed(agreement).status == old
    assert building_status(agreement) == status


@pytest.mark.parametrize(
    ("old", "new"),
    [(_A.SIGNED, _A.WITHDRAWN), (_A.APPROVED, _A.WITHDRAWN)],
)
def test_a_withdrawn_agreement_gives_the_building_back(old: str, new: str) -> None:
    agreement = agreement_in(old)
    Building.objects.filter(pk=agreement.building_id).update(status=_B.UNDER_AGREEMENT)
    move(agreement, new)
    assert building_status(agreement) == _B.AVAILABLE


def test_the_building_stays_under_agreement_while_another_live_agreement_holds_it() -> (
    None
):
    agreement = agreement_in(_A.SIGNED)
    AgreementFactory.create(building=agreement.building, approved=True)
    move(agreement, _A.WITHDRAWN)
    assert building_status(agreement) == _B.UNDER_AGREEMENT


def test_a_second_agreement_signs_and_starts_on_an_occupied_building() -> None:
    first = agreement_in(_A.ACTIVE)
    second = AgreementFactory.create(
        building=first.building,
        approved=True,
        period=DateRange(days(-5), days(300)),
        entry_inventory_on=days(-5),
    )
    InsuranceCertificateFactory.create(agreement=second)
    move(second, _A.SIGNED)
    move(second, _A.ACTIVE)
    assert building_status(first) == _B.OCCUPIED
    move(second, _A.TERMINATED)
    assert building_status(first) == _B.OCCUPIED, "the first still occupies it"
    move(first, _A.REVOKED)
    assert building_status(first) == _B.RELEASING


def test_a_suspension_closes_the_building_and_a_resumption_reopens_it() -> None:
    agreement = agreement_in(_A.ACTIVE)
    move(agreement, _A.SUSPENDED)
    assert building_status(agreement) == _B.SUSPENDED
    move(agreement, _A.ACTIVE)
    assert building_status(agreement) == _B.OCCUPIED


def test_a_revocation_of_a_suspended_agreement_releases_the_building() -> None:
    agreement = agreement_in(_A.SUSPENDED)
    move(agreement, _A.REVOKED, revocation_motive="occupant_fault")
    assert building_status(agreement) == _B.RELEASING


def test_an_ending_agreement_leaves_an_unsafe_building_where_it_is() -> None:
    agreement = agreement_in(_A.ACTIVE)
    Building.objects.filter(pk=agreement.building_id).update(status=_B.UNSAFE)
    move(agreement, _A.ENDING)
    assert building_status(agreement) == _B.UNSAFE


# --- Spaces and the no-overlap constraint -----------------------------------------
def live_on(space: Any, start: date, end: date, status: str = _A.APPROVED) -> Agreement:
    return AgreementFactory.create(
        building=space.building,
        status=status,
        period=DateRange(start, end),
        spaces=[space],
    )


def test_two_live_agreements_cannot_hold_one_space_on_the_same_day() -> None:
    space = SpaceFactory.create(name="Atelier 12")
    first = live_on(space, days(0), days(365))
    second = live_on(space, days(364), days(700), status=_A.UNDER_REVIEW)
    with pytest.raises(Conflict) as caught:
        move(second, _A.APPROVED)
    assert caught.value.field == "spaces"
    assert caught.value.message == message(
        svc.SPACES_OVERLAP, space="Atelier 12", other=first.reference
    )
    assert refreshed(second).status == _A.UNDER_REVIEW
    assert not AgreementSpace.objects.get(agreement=second).is_live


def test_adjacent_periods_share_a_space_since_the_end_is_exclusive() -> None:
    space = SpaceFactory.create()
    live_on(space, days(0), days(365))
    second = live_on(space, days(365), days(700), status=_A.UNDER_REVIEW)
    assert move(second, _A.APPROVED).status == _A.APPROVED


def test_drafts_may_overlap_since_they_hold_nothing_yet() -> None:
    space = SpaceFactory.create()
    live_on(space, days(0), days(365), status=_A.DRAFT)
    live_on(space, days(100), days(200), status=_A.DRAFT)
    assert AgreementSpace.objects.filter(space=space).count() == 2


@pytest.mark.parametrize(
    ("old", "new", "inputs"),
    [
        (_A.APPROVED, _A.WITHDRAWN, {}),
        (_A.SIGNED, _A.WITHDRAWN, {}),
        (_A.UNDER_REVIEW, _A.REJECTED, {}),
        (_A.TERMINATED, _A.CLOSED, {}),
    ],
)
def test_an_agreement_that_ends_frees_its_spaces(
    old: str, new: str, inputs: dict[str, Any]
) -> None:
    space = SpaceFactory.create()
    first = live_on(space, days(0), days(365), status=old)
    move(first, new, **inputs)
    second = live_on(space, days(10), days(200), status=_A.UNDER_REVIEW)
    assert move(second, _A.APPROVED).status == _A.APPROVED


def test_a_live_agreement_takes_a_new_space_only_if_it_is_free() -> None:
    space = SpaceFactory.create()
    live_on(space, days(0), days(365))
    other = live_on(SpaceFactory.create(building=space.building), days(100), days(200))
    with pytest.raises(Conflict) as caught:
        svc.agreement_set_spaces(agreement=other, spaces=[space], by=None)
    assert caught.value.field == "spaces"
    assert AgreementSpace.objects.filter(agreement=other).count() == 1


def test_setting_spaces_adds_and_removes_and_keeps_the_period() -> None:
    agreement = agreement_in(_A.ACTIVE)
    kept = agreement.agreement_spaces.get().space
    added = SpaceFactory.create(building=agreement.building)
    svc.agreement_set_spaces(agreement=agreement, spaces=[added], by=None)
    rows = AgreementSpace.objects.filter(agreement=agreement)
    assert [row.space for row in rows] == [added]
    assert rows.get().is_live
    assert rows.get().period == agreement.period
    assert not AgreementSpace.objects.filter(space=kept).exists()


def test_a_space_of_another_building_is_refused() -> None:
    agreement = agreement_in(_A.DRAFT)
    with pytest.raises(DomainError) as caught:
        svc.agreement_set_spaces(
            agreement=agreement, spaces=[SpaceFactory.create()], by=None
        )
    assert caught.value.field == "spaces"


def test_a_space_with_a_running_stay_stays_in_the_agreement() -> None:
    stay = StayFactory.create()
    AgreementSpaceFactory.create(agreement=stay.agreement, space=stay.space)
    with pytest.raises(DomainError) as caught:
        svc.agreement_set_spaces(agreement=stay.agreement, spaces=[], by=None)
    assert caught.value.field == "spaces"


def test_the_database_refuses_overlaps_whatever_the_path() -> None:
    space = SpaceFactory.create()
    live_on(space, days(0), days(365))
    other = AgreementFactory.create(building=space.building, approved=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        AgreementSpaceFactory.create(
            agreement=other,
            space=space,
            period=DateRange(days(100), days(101)),
            is_live=True,
        )
    assert CONSTRAINT_ERRORS["agreement_space_no_overlap"][0] == "spaces"


# --- Amendments -------------------------------------------------------------------
def elan_active(**overrides: Any) -> Agreement:
    return agreement_in(_A.ACTIVE, elan=True, **overrides)


def test_an_elan_prorogation_of_one_year_moves_the_agreement_and_its_spaces() -> None:
    agreement = elan_active()
    new_end = agreement.end + timedelta(days=365)
    amendment = svc.amendment_add(
        agreement=agreement,
        kind=AmendmentKind.PROROGATION,
        new_end=new_end,
        owner_justification="La cession est reportée : le PLU est en révision.",
        signed_on=TODAY,
        by=None,
    )
    assert amendment.new_end == new_end
    assert refreshed(agreement).end == new_end
    assert AgreementSpace.objects.get(agreement=agreement).period.upper == new_end


@pytest.mark.parametrize(
    ("extra_days", "justification", "field", "expected"),
    [
        (
            400,
            "Changement d'usage reporté.",
            "new_end",
            legal.ELAN_PROROGATION_TOO_LONG,
        ),
        (100, "", "owner_justification", legal.OWNER_JUSTIFICATION_REQUIRED),
        (0, "Changement d'usage reporté.", "new_end", legal.NEW_END_NOT_LATER),
    ],
)
def test_an_elan_prorogation_is_a_justified_step_of_at_most_one_year(
    extra_days: int, justification: str, field: str, expected: Any
) -> None:
    agreement = elan_active(period=DateRange(date(2026, 1, 1), date(2028, 1, 1)))
    with pytest.raises(DomainError) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.PROROGATION,
            new_end=agreement.end + timedelta(days=extra_days),
            owner_justification=justification,
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == field
    assert caught.value.message.startswith(str(expected).split("{")[0])
    assert refreshed(agreement).end == date(2028, 1, 1)
    assert not agreement.amendments.exists()


def test_a_public_domain_prorogation_needs_no_owner_justification() -> None:
    agreement = agreement_in(_A.ACTIVE)
    svc.amendment_add(
        agreement=agreement,
        kind=AmendmentKind.PROROGATION,
        new_end=agreement.end + timedelta(days=500),
        signed_on=TODAY,
        by=None,
    )
    assert refreshed(agreement).end == days(1100)


@pytest.mark.parametrize(
    ("overrides", "new_end"),
    [
        ({"selection_exemption": "urgency", "economic_activity": True}, days(310)),
        ({}, days(5 * 365 + 1)),
    ],
    ids=["beyond the urgency year", "past the building's next use"],
)
def test_a_prorogation_never_lifts_the_absolute_caps(
    overrides: dict[str, Any], new_end: date
) -> None:
    agreement = agreement_in(_A.ACTIVE, **overrides)
    if overrides:
        Agreement.objects.filter(pk=agreement.pk).update(
            period=DateRange(days(-60), days(300))
        )
    with pytest.raises(DomainError) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.PROROGATION,
            new_end=new_end,
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == "new_end"


def test_a_prorogation_into_the_next_agreement_on_a_space_is_a_conflict() -> None:
    agreement = agreement_in(_A.ACTIVE)
    space = agreement.agreement_spaces.get().space
    next_one = live_on(space, agreement.end, agreement.end + timedelta(days=365))
    with pytest.raises(Conflict) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.PROROGATION,
            new_end=agreement.end + timedelta(days=30),
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == "new_end"
    assert next_one.reference in caught.value.message
    assert refreshed(agreement).end == days(600)
    assert not agreement.amendments.exists()


@pytest.mark.parametrize("status", [_A.DRAFT, _A.APPROVED, _A.ENDING, _A.CLOSED])
def test_amendments_apply_from_signature_until_the_end_begins(status: str) -> None:
    agreement = agreement_in(status)
    with pytest.raises(Conflict) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.FEE,
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == "status"


def test_a_lapsed_agreement_is_not_prorogued() -> None:
    """Nothing moves an agreement past its end by itself: one still "active" a
    month after its last day took a one-year prorogation signed today."""
    agreement = elan_active(period=DateRange(days(-400), days(-30)))
    with pytest.raises(DomainError) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.PROROGATION,
            new_end=days(300),
            owner_justification="La cession est reportée.",
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == "signed_on"
    assert str(days(-31)) in caught.value.message
    assert refreshed(agreement).end == days(-30)
    assert not agreement.amendments.exists()
    # Signed on the last day, it still runs.
    amendment = svc.amendment_add(
        agreement=agreement,
        kind=AmendmentKind.PROROGATION,
        new_end=days(300),
        owner_justification="La cession est reportée.",
        signed_on=days(-31),
        by=None,
    )
    assert refreshed(agreement).end == amendment.new_end


def test_only_a_prorogation_changes_the_end() -> None:
    agreement = agreement_in(_A.ACTIVE)
    with pytest.raises(DomainError) as caught:
        svc.amendment_add(
            agreement=agreement,
            kind=AmendmentKind.SCOPE,
            new_end=days(700),
            signed_on=TODAY,
            by=None,
        )
    assert caught.value.field == "new_end"
    fee = svc.amendment_add(
        agreement=agreement, kind=AmendmentKind.FEE, signed_on=TODAY, by=None
    )
    assert fee.new_end is None


# --- Insurance --------------------------------------------------------------------
def test_an_insurance_certificate_is_recorded() -> None:
    agreement = agreement_in(_A.APPROVED)
    certificate = svc.insurance_add(
        agreement=agreement,
        insurer=" MAIF ",
        policy_number="RC-2026-114",
        valid_from=days(-60),
        valid_until=days(305),
        by=None,
    )
    assert (certificate.insurer, certificate.valid_until) == ("MAIF", days(305))


@pytest.mark.parametrize(
    ("insurer", "valid_until", "field"),
    [("", days(10), "insurer"), ("MAIF", days(-61), "valid_until")],
)
def test_a_certificate_names_its_insurer_and_ends_after_it_starts(
    insurer: str, valid_until: date, field: str
) -> None:
    agreement = agreement_in(_A.APPROVED)
    with pytest.raises(DomainError) as caught:
        svc.insurance_add(
            agreement=agreement,
            insurer=insurer,
            valid_from=days(-60),
            valid_until=valid_until,
            by=None,
        )
    assert caught.value.field == field


# --- Documents --------------------------------------------------------------------
def upload(content: bytes, name: str = "convention.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_a_real_pdf_is_stored_under_a_random_name_with_its_hash_and_size(
    media_root: Path, actor: User
) -> None:
    agreement = agreement_in(_A.SIGNED)
    document = svc.document_add(
        agreement=agreement,
        kind=DocumentKind.AGREEMENT,
        title="Convention signée",
        uploaded_file=upload(MINIMAL_PDF, "Convention Coco Velten.pdf"),
        by=actor,
    )
    assert document.size == len(MINIMAL_PDF)
    assert document.sha256 == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert document.uploaded_by == actor
    name = document.file.name or ""
    assert "Velten" not in name
    assert name.endswith(".pdf")
    assert (media_root / name).read_bytes() == MINIMAL_PDF


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        pytest.param(PNG, "scan.pdf", documents.NOT_A_PDF, id="a renamed PNG"),
        pytest.param(
            b"<!doctype html><html><body>Convention</body></html>",
            "x.pdf",
            documents.NOT_A_PDF,
            id="an HTML page called x.pdf",
        ),
        pytest.param(
            b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF",
            "poly.pdf",
            documents.MARKUP_IN_PDF,
            id="a PDF/HTML polyglot",
        ),
        pytest.param(
            MINIMAL_PDF[:-7], "cut.pdf", documents.TRUNCATED_PDF, id="a truncated PDF"
        ),
        pytest.param(
            b"%PDF-\n%%EOF",
            "bare.pdf",
            documents.NOT_A_PDF,
            id="a header without version",
        ),
        pytest.param(b"", "empty.pdf", documents.EMPTY_FILE, id="an empty file"),
        pytest.param(
            MINIMAL_PDF,
            "convention.exe",
            documents.NOT_A_PDF_NAME,
            id="a PDF with another extension",
        ),
        pytest.param(
            MINIMAL_PDF,
            "convention",
            documents.NOT_A_PDF_NAME,
            id="a PDF without extension",
        ),
    ],
)
def test_anything_but_a_pdf_is_refused_before_it_is_stored(
    media_root: Path, content: bytes, name: str, expected: Any
) -> None:
    agreement = agreement_in(_A.SIGNED)
    with pytest.raises(DomainError) as caught:
        svc.document_add(
            agreement=agreement,
            kind=DocumentKind.OTHER,
            title="Pièce jointe",
            uploaded_file=upload(content, name),
            by=None,
        )
    assert caught.value.field == "file"
    assert caught.value.message.startswith(str(expected).split("{")[0])
    assert not agreement.documents.exists()
    assert not any(media_root.rglob("*.pdf"))


def test_a_pdf_over_the_size_limit_is_refused(
    media_root: Path, settings: Settings
) -> None:
    settings.OCCUPANCY_RULES = {"document_max_bytes": 64}
    agreement = agreement_in(_A.SIGNED)
    with pytest.raises(DomainError) as caught:
        svc.document_add(
            agreement=agreement,
            kind=DocumentKind.OTHER,
            title="Gros fichier",
            uploaded_file=upload(MINIMAL_PDF + b" " * 10),
            by=None,
        )
    assert caught.value.message == message(
        documents.TOO_LARGE, limit=filesizeformat(64)
    )


@pytest.mark.parametrize(
    ("kind", "title", "field"),
    [("photo", "Façade", "kind"), (DocumentKind.INVENTORY, " ", "title")],
)
def test_a_document_has_a_known_kind_and_a_title(
    media_root: Path, kind: str, title: str, field: str
) -> None:
    agreement = agreement_in(_A.SIGNED)
    with pytest.raises(DomainError) as caught:
        svc.document_add(
            agreement=agreement,
            kind=kind,
            title=title,
            uploaded_file=upload(MINIMAL_PDF),
            by=None,
        )
    assert caught.value.field == field


@pytest.mark.parametrize("status", sorted(svc.FINISHED_STATUSES))
def test_nothing_is_attached_to_a_finished_agreement(
    media_root: Path, status: str
) -> None:
    """A closed or withdrawn agreement took documents, not insurance certificates
    (found by a review): both are refused alike, and nothing is stored."""
    agreement = agreement_in(status)
    with pytest.raises(Conflict) as insurance:
        svc.insurance_add(
            agreement=agreement,
            insurer="MAIF",
            valid_from=days(-60),
            valid_until=days(305),
            by=None,
        )
    with pytest.raises(Conflict) as document:
        svc.document_add(
            agreement=agreement,
            kind=DocumentKind.INVENTORY,
            title="État des lieux de sortie",
            uploaded_file=upload(MINIMAL_PDF),
            by=None,
        )
    assert (document.value.field, document.value.message) == (
        insurance.value.field,
        insurance.value.message,
    )
    assert document.value.field == "status"
    assert agreement.insurance_certificates.count() == 1  # the factory's own
    assert not agreement.documents.exists()
    assert not any(media_root.rglob("*.pdf"))
