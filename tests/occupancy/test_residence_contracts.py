"""ELAN art. 29 temporary-residence contracts (décret 2019-497; domain.md §C.4, §D.3).

Each rule: the lawful case is accepted, the unlawful one refused on its field.
The ELAN agreement runs from 1 January 2026 to 1 January 2028.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.backends.postgresql.psycopg_any import DateRange

from config.errors import Conflict, DomainError, InvalidTransition
from occupancy.models import (
    Agreement,
    AgreementStatus,
    Occupant,
    OccupantCategory,
    Regime,
    ResidenceContract,
    ResidenceStatus,
)
from occupancy.residents import (
    ContractEndGround,
    residence_contract_create,
    residence_contract_end,
    residence_contract_notify_non_renewal,
    residence_contract_renew,
    residence_contract_terminate_by_body,
    residence_contract_terminate_by_resident,
)
from tests.occupancy.factories import AgreementFactory, OccupantFactory

pytestmark = pytest.mark.django_db

TODAY = date(2027, 12, 1)


@pytest.fixture
def agreement() -> Agreement:
    return AgreementFactory.create(
        elan=True,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2028, 1, 1)),
    )


@pytest.fixture
def resident(agreement: Agreement) -> Occupant:
    return OccupantFactory.create(
        operator=agreement.operator, category=OccupantCategory.INHABITANT
    )


def create(
    agreement: Agreement,
    occupant: Occupant,
    *,
    start: date = date(2026, 3, 1),
    initial_end: date = date(2026, 9, 1),
    fee: str = "150.00",
) -> ResidenceContract:
    return residence_contract_create(
        agreement=agreement,
        occupant=occupant,
        start=start,
        initial_end=initial_end,
        monthly_fee=Decimal(fee),
    )


def refused(field: str) -> pytest.RaisesExc[DomainError]:
    return pytest.raises(DomainError, check=lambda error: error.field == field)


# --- Creation ------------------------------------------------------------------------
def test_a_contract_needs_an_elan_agreement(resident: Occupant) -> None:
    other = AgreementFactory.create(
        regime=Regime.COT_PUBLIC_DOMAIN,
        operator=resident.operator,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2028, 1, 1)),
    )
    with refused("agreement"):
        create(other, resident)


def test_a_contract_needs_an_active_agreement(
    agreement: Agreement, resident: Occupant
) -> None:
    Agreement.objects.filter(pk=agreement.pk).update(status=AgreementStatus.SIGNED)
    agreement.refresh_from_db()
    with refused("agreement"):
        create(agreement, resident)


def test_the_initial_duration_is_two_months_at_least(
    agreement: Agreement, resident: Occupant
) -> None:
    # 31 January + 2 months = 31 March (date to date).
    with refused("initial_end"):
        create(
            agreement, resident, start=date(2026, 1, 31), initial_end=date(2026, 3, 30)
        )
    contract = create(
        agreement, resident, start=date(2026, 1, 31), initial_end=date(2026, 3, 31)
    )
    assert contract.current_end == date(2026, 3, 31)


def test_a_contract_lasts_eighteen_months_at_most(
    agreement: Agreement, resident: Occupant
) -> None:
    # 1 March 2026 + 18 months = 1 September 2027.
    with refused("initial_end"):
        create(agreement, resident, initial_end=date(2027, 9, 2))
    assert create(agreement, resident, initial_end=date(2027, 9, 1)).pk


def test_a_contract_does_not_outlast_the_agreement(resident: Occupant) -> None:
    short = AgreementFactory.create(
        elan=True,
        operator=resident.operator,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2026, 8, 1)),
    )
    with refused("initial_end"):
        create(short, resident, initial_end=date(2026, 8, 2))
    assert create(short, resident, initial_end=date(2026, 8, 1)).pk


@pytest.mark.parametrize(
    ("homeless", "lawful", "unlawful"),
    [(False, "200.00", "200.01"), (True, "75.00", "75.01")],
)
def test_the_monthly_fee_charges_included_is_capped(
    agreement: Agreement, homeless: bool, lawful: str, unlawful: str
) -> None:
    occupant = OccupantFactory.create(
        operator=agreement.operator, homeless_l345_2_2=homeless
    )
    with refused("monthly_fee"):
        create(agreement, occupant, fee=unlawful)
    assert create(agreement, occupant, fee=lawful).monthly_fee == Decimal(lawful)


def test_a_negative_fee_is_refused(agreement: Agreement, resident: Occupant) -> None:
    with refused("monthly_fee"):
        create(agreement, resident, fee="-1.00")


def test_a_hosted_organization_gets_no_residence_contract(
    agreement: Agreement,
) -> None:
    organization = OccupantFactory.create(
        operator=agreement.operator,
        kind="organization",
        category="hosted_organization",
        hosted_organization=agreement.operator,
    )
    with refused("occupant"):
        create(agreement, organization)


def test_a_resident_holds_one_contract_at_a_time(
    agreement: Agreement, resident: Occupant
) -> None:
    create(agreement, resident)
    with pytest.raises(Conflict):
        create(
            agreement, resident, start=date(2026, 8, 1), initial_end=date(2026, 12, 1)
        )
    # From the first contract's term on, a new one may start.
    assert create(
        agreement, resident, start=date(2026, 9, 1), initial_end=date(2026, 12, 1)
    ).pk


# --- Tacit renewal -------------------------------------------------------------------
def test_tacit_renewal_repeats_the_initial_duration(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)  # 1 March → 1 September 2026
    contract = residence_contract_renew(contract=contract)
    assert contract.current_end == date(2027, 3, 1)  # six months again
    assert contract.initial_end == date(2026, 9, 1)


def test_renewal_stops_at_eighteen_months(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident, initial_end=date(2027, 3, 1))
    contract = residence_contract_renew(contract=contract)
    assert contract.current_end == date(2027, 9, 1)  # capped: 1 March 2026 + 18 months
    with refused("new_end"):
        residence_contract_renew(contract=contract)


def test_renewals_keep_the_day_of_the_month_the_contract_started_on(
    resident: Occupant,
) -> None:
    """Each renewal counts from the start, not from the last term: a contract of
    30 November to 28 February (three months; February has no 30th) renewed to
    the 28th of every third month, lost two days each time and ended with a
    two-day "renewal" to reach the 18-month total."""
    elan = AgreementFactory.create(
        elan=True,
        operator=resident.operator,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2029, 1, 1)),
    )
    contract = create(
        elan, resident, start=date(2026, 11, 30), initial_end=date(2027, 2, 28)
    )
    terms = []
    for _ in range(5):
        contract = residence_contract_renew(contract=contract)
        terms.append(contract.current_end)
    assert terms == [
        date(2027, 5, 30),
        date(2027, 8, 30),
        date(2027, 11, 30),
        date(2028, 2, 29),
        date(2028, 5, 30),  # 30 November 2026 + 18 months
    ]
    with refused("new_end"):
        residence_contract_renew(contract=contract)


def test_an_explicit_renewal_beyond_eighteen_months_is_refused(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    with refused("new_end"):
        residence_contract_renew(contract=contract, new_end=date(2027, 9, 2))
    assert residence_contract_renew(
        contract=contract, new_end=date(2027, 9, 1)
    ).current_end == date(2027, 9, 1)


# --- Notice by the body --------------------------------------------------------------
def test_non_renewal_is_notified_a_month_before_the_term(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)  # term 1 September 2026
    with refused("notice_date"):
        residence_contract_notify_non_renewal(
            contract=contract, notice_date=date(2026, 8, 2), today=TODAY
        )
    contract = residence_contract_notify_non_renewal(
        contract=contract, notice_date=date(2026, 8, 1), today=TODAY
    )
    assert (contract.status, contract.notice_by, contract.effective_end) == (
        ResidenceStatus.NOTICE_GIVEN,
        "body",
        date(2026, 9, 1),
    )
    with pytest.raises(InvalidTransition):
        residence_contract_renew(contract=contract)


def test_the_body_terminates_only_after_the_first_two_months(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident, initial_end=date(2027, 3, 1))
    with refused("notice_date"):
        residence_contract_terminate_by_body(
            contract=contract,
            notice_date=date(2026, 4, 30),  # start + 2 months = 1 May
            effective_end=date(2026, 6, 1),
            reason="resident_breach",
            today=TODAY,
        )
    contract = residence_contract_terminate_by_body(
        contract=contract,
        notice_date=date(2026, 5, 1),
        effective_end=date(2026, 6, 1),
        reason="resident_breach",
        today=TODAY,
    )
    assert (contract.status, contract.effective_end) == (
        "notice_given",
        date(2026, 6, 1),
    )


def test_the_body_gives_a_motivated_reason(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident, initial_end=date(2027, 3, 1))
    with refused("reason"):
        residence_contract_terminate_by_body(
            contract=contract,
            notice_date=date(2026, 6, 1),
            effective_end=date(2026, 7, 1),
            reason="convenience",
            today=TODAY,
        )
    assert residence_contract_terminate_by_body(
        contract=contract,
        notice_date=date(2026, 6, 1),
        effective_end=date(2026, 7, 1),
        reason="stipulated_cause",
        today=TODAY,
    ).pk


def test_the_body_gives_a_month_notice(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident, initial_end=date(2027, 3, 1))
    with refused("effective_end"):
        residence_contract_terminate_by_body(
            contract=contract,
            notice_date=date(2026, 6, 15),
            effective_end=date(2026, 7, 14),
            reason="stipulated_cause",
            today=TODAY,
        )
    assert residence_contract_terminate_by_body(
        contract=contract,
        notice_date=date(2026, 6, 15),
        effective_end=date(2026, 7, 15),
        reason="stipulated_cause",
        today=TODAY,
    ).pk


def test_a_notice_is_recorded_once_given(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    with refused("notice_date"):
        residence_contract_terminate_by_resident(
            contract=contract,
            notice_date=date(2026, 6, 1),
            effective_end=date(2026, 6, 16),
            today=date(2026, 5, 31),
        )


# --- Notice by the resident ----------------------------------------------------------
def test_the_resident_leaves_with_fifteen_days_notice(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    with refused("effective_end"):
        residence_contract_terminate_by_resident(
            contract=contract,
            notice_date=date(2026, 4, 1),
            effective_end=date(2026, 4, 15),
            today=TODAY,
        )
    contract = residence_contract_terminate_by_resident(
        contract=contract,
        notice_date=date(2026, 4, 1),
        effective_end=date(2026, 4, 16),
        today=TODAY,
    )
    assert (contract.notice_by, contract.effective_end) == (
        "resident",
        date(2026, 4, 16),
    )


def test_a_notice_takes_effect_by_the_term(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    with refused("effective_end"):
        residence_contract_terminate_by_resident(
            contract=contract,
            notice_date=date(2026, 8, 25),
            effective_end=date(2026, 9, 10),
            today=TODAY,
        )


# --- End ------------------------------------------------------------------------------
def test_a_contract_ends_at_its_term(agreement: Agreement, resident: Occupant) -> None:
    contract = create(agreement, resident)
    with refused("end_date"):
        residence_contract_end(
            contract=contract, end_date=date(2026, 8, 1), ground=ContractEndGround.TERM
        )
    contract = residence_contract_end(
        contract=contract, end_date=date(2026, 9, 1), ground=ContractEndGround.TERM
    )
    assert (contract.status, contract.effective_end) == ("ended", date(2026, 9, 1))
    with pytest.raises(InvalidTransition):
        residence_contract_renew(contract=contract)


def test_after_a_notice_the_resident_may_leave_before_it_runs_out(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    contract = residence_contract_terminate_by_resident(
        contract=contract,
        notice_date=date(2026, 4, 1),
        effective_end=date(2026, 4, 30),
        today=TODAY,
    )
    with refused("end_date"):
        residence_contract_end(
            contract=contract, end_date=date(2026, 5, 1), ground="notice"
        )
    contract = residence_contract_end(
        contract=contract, end_date=date(2026, 4, 20), ground="notice"
    )
    assert contract.effective_end == date(2026, 4, 20)


def test_death_or_abandonment_ends_the_contract_any_day(
    agreement: Agreement, resident: Occupant
) -> None:
    contract = create(agreement, resident)
    contract = residence_contract_end(
        contract=contract,
        end_date=date(2026, 3, 20),
        ground=ContractEndGround.DEATH_OR_ABANDONMENT,
    )
    assert contract.status == ResidenceStatus.ENDED


def test_flagging_a_resident_l345_2_2_keeps_the_running_fees_within_75() -> None:
    """The flag rectified after a 200 € contract left that fee in force: the cap
    binds the contracts running now, as it binds a new one."""
    from occupancy.residents import occupant_update
    from tests.occupancy.factories import ResidenceContractFactory

    contract = ResidenceContractFactory.create(monthly_fee=Decimal("200.00"))
    occupant = contract.occupant
    assert not occupant.homeless_l345_2_2

    with pytest.raises(DomainError) as refused:
        occupant_update(occupant=occupant, homeless_l345_2_2=True)

    assert refused.value.field == "monthly_fee"
    occupant.refresh_from_db()
    assert not occupant.homeless_l345_2_2
    ResidenceContract.objects.filter(pk=contract.pk).update(
        status=ResidenceStatus.ENDED
    )
    assert occupant_update(occupant=occupant, homeless_l345_2_2=True).homeless_l345_2_2
