"""ELAN temporary-residence contracts (loi ELAN art. 29, décret 2019-497):
signature, renewal, notice, early termination by the body or the resident, and
the end, with the durations, fee caps and notice periods of occupancy/rules.py.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from config.errors import Conflict, InvalidTransition
from occupancy.models import (
    Agreement,
    AgreementStatus,
    Occupant,
    OccupantKind,
    Regime,
    ResidenceContract,
    ResidenceStatus,
)
from occupancy.residents.base import (
    BODY_NOTICE_TOO_SHORT,
    BODY_TERMINATION_REASON,
    BODY_TERMINATION_TOO_EARLY,
    CONTRACT_AGREEMENT_NOT_ACTIVE,
    CONTRACT_BEYOND_AGREEMENT,
    CONTRACT_NOT_A_RESIDENT,
    CONTRACT_NOT_ELAN,
    CONTRACT_OVERLAP,
    CONTRACT_START_OUTSIDE,
    CONTRACT_TOO_LONG,
    CONTRACT_TOO_SHORT,
    CONTRACT_TRANSITION,
    EFFECTIVE_AFTER_TERM,
    END_GROUND_UNKNOWN,
    END_NOT_AT_TERM,
    END_OUTSIDE_CONTRACT,
    END_OUTSIDE_NOTICE,
    FEE_CAP,
    FEE_CAP_L345,
    FEE_NEGATIVE,
    NON_RENEWAL_TOO_LATE,
    NOTICE_BEFORE_START,
    NOTICE_IN_FUTURE,
    OCCUPANT_OTHER_OPERATOR,
    RENEWAL_EXHAUSTED,
    RENEWAL_NOT_LATER,
    RESIDENT_NOTICE_TOO_SHORT,
    error,
    localdate_or,
    locked_agreement,
)
from occupancy.rules import add_months, rules

logger = logging.getLogger(__name__)


class BodyTerminationReason(StrEnum):
    """The two grounds on which the body may end a contract early (décret 2019-497)."""

    STIPULATED_CAUSE = "stipulated_cause"
    RESIDENT_BREACH = "resident_breach"


class ContractEndGround(StrEnum):
    TERM = "term"
    NOTICE = "notice"
    # The contract ends; a spouse, PACS partner or cohabitant living there keeps the
    # right of use until the term, under a contract of their own (décret 2019-497).
    DEATH_OR_ABANDONMENT = "death_or_abandonment"


_R = ResidenceStatus
RESIDENCE_TRANSITIONS: dict[str, frozenset[str]] = {
    _R.ACTIVE: frozenset({_R.ACTIVE, _R.NOTICE_GIVEN, _R.ENDED}),  # ACTIVE: renewal
    _R.NOTICE_GIVEN: frozenset({_R.ENDED}),
    _R.ENDED: frozenset(),
}


def _contract_transition(contract: ResidenceContract, new: str) -> None:
    if new not in RESIDENCE_TRANSITIONS[contract.status]:
        raise InvalidTransition(
            _(CONTRACT_TRANSITION).format(old=contract.status, new=new),
            field="status",
        )


def _check_fee(*, occupant: Occupant, monthly_fee: Decimal) -> None:
    if monthly_fee < 0:
        raise error(FEE_NEGATIVE, field="monthly_fee")
    cap = (
        rules().residence_fee_cap_homeless
        if occupant.homeless_l345_2_2
        else rules().residence_fee_cap
    )
    if monthly_fee > cap:
        basis = _(FEE_CAP_L345) if occupant.homeless_l345_2_2 else ""
        raise error(FEE_CAP, field="monthly_fee", cap=cap, basis=basis)


def check_running_fees(occupant: Occupant) -> None:
    """Each contract of ``occupant`` not yet ended within the fee cap that applies
    to them now (a rectified L.345-2-2 flag lowers it)."""
    running = occupant.residence_contracts.exclude(status=ResidenceStatus.ENDED)
    for fee in running.values_list("monthly_fee", flat=True):
        _check_fee(occupant=occupant, monthly_fee=fee)


def _check_term(*, contract: ResidenceContract, end: date, field: str) -> None:
    """``end`` within the 18-month total and the agreement."""
    longest = rules().residence_max_months
    latest = add_months(contract.start, longest)
    if end > latest:
        raise error(
            CONTRACT_TOO_LONG, field=field, months=longest, latest=latest.isoformat()
        )
    # The body returns the premises free of any occupant at the agreement's term
    # (loi ELAN art. 29 III), so no contract runs past it.
    if end > contract.agreement.period.upper:
        raise error(
            CONTRACT_BEYOND_AGREEMENT,
            field=field,
            end=contract.agreement.period.upper.isoformat(),
        )


def residence_contract_create(
    *,
    agreement: Agreement,
    occupant: Occupant,
    start: date,
    initial_end: date,
    monthly_fee: Decimal,
) -> ResidenceContract:
    """A temporary-residence contract (loi ELAN art. 29, décret 2019-497).

    The fee is a single monthly amount, charges included (water, energy, heating):
    the schema has no separate charge line, so none can be added on top.
    """
    with transaction.atomic():
        # Agreement first, as the agreement services lock it: no contract starts
        # while the agreement is being suspended or closed. The occupant lock
        # serialises one resident's contracts, so two overlapping ones never commit.
        agreement = locked_agreement(agreement)
        occupant = Occupant.objects.select_for_update(no_key=True).get(pk=occupant.pk)
        if agreement.regime != Regime.ELAN_ART29:
            raise error(CONTRACT_NOT_ELAN, field="agreement")
        if agreement.status != AgreementStatus.ACTIVE:
            raise error(CONTRACT_AGREEMENT_NOT_ACTIVE, field="agreement")
        if occupant.operator_id != agreement.operator_id:
            raise error(OCCUPANT_OTHER_OPERATOR, field="occupant")
        if occupant.kind == OccupantKind.ORGANIZATION or occupant.anonymised_at:
            raise error(CONTRACT_NOT_A_RESIDENT, field="occupant")
        if not agreement.period.lower <= start < agreement.period.upper:
            raise error(CONTRACT_START_OUTSIDE, field="start")
        shortest = rules().residence_min_months
        earliest = add_months(start, shortest)
        if initial_end < earliest:
            raise error(
                CONTRACT_TOO_SHORT,
                field="initial_end",
                months=shortest,
                earliest=earliest.isoformat(),
            )
        contract = ResidenceContract(
            agreement=agreement,
            occupant=occupant,
            start=start,
            initial_end=initial_end,
            current_end=initial_end,
            monthly_fee=monthly_fee,
            status=ResidenceStatus.ACTIVE,
        )
        _check_term(contract=contract, end=initial_end, field="initial_end")
        _check_fee(occupant=occupant, monthly_fee=monthly_fee)
        contract.full_clean()
        # A contract runs to its effective end once notice is given, else its term.
        overlapping = ResidenceContract.objects.annotate(
            runs_until=Coalesce("effective_end", "current_end")
        ).filter(occupant=occupant, start__lt=initial_end, runs_until__gt=start)
        if overlapping.exists():
            raise Conflict(_(CONTRACT_OVERLAP), field="occupant")
        contract.save()
    return contract


def _locked_contract(contract: ResidenceContract) -> ResidenceContract:
    return (
        ResidenceContract.objects.select_related("agreement", "occupant")
        .select_for_update(no_key=True, of=("self",))
        .get(pk=contract.pk)
    )


def _whole_months(start: date, end: date) -> int | None:
    """How many calendar months ``end`` is after ``start``, if a whole number."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months if add_months(start, months) == end else None


def _renewed_term(contract: ResidenceContract) -> date:
    """The term after renewing for the initial duration: in months when the initial
    duration is whole months (1 March → 1 September renews to 1 March), else days.
    Months count from the start while the term is still a whole number of months
    after it: 30 November → 28 February renews to 30 May, not to the 28th (a
    term chained from a month-end-clamped date would lose days at each renewal)."""
    start, current_end = contract.start, contract.current_end
    months = _whole_months(start, contract.initial_end)
    if months is None:
        return current_end + (contract.initial_end - start)
    so_far = _whole_months(start, current_end)
    if so_far is not None:
        return add_months(start, so_far + months)
    return add_months(current_end, months)


def residence_contract_renew(
    *, contract: ResidenceContract, new_end: date | None = None
) -> ResidenceContract:
    """Tacit renewal. Without ``new_end``, for the initial duration again, within the
    18-month total and the agreement's period."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.ACTIVE)
        if new_end is None:
            latest = min(
                add_months(contract.start, rules().residence_max_months),
                contract.agreement.period.upper,
            )
            new_end = min(_renewed_term(contract), latest)
            if new_end <= contract.current_end:
                raise error(RENEWAL_EXHAUSTED, field="new_end")
        if new_end <= contract.current_end:
            raise error(
                RENEWAL_NOT_LATER,
                field="new_end",
                end=contract.current_end.isoformat(),
            )
        _check_term(contract=contract, end=new_end, field="new_end")
        contract.current_end = new_end
        contract.full_clean()
        contract.save(update_fields=["current_end", "updated_at"])
    return contract


def _locked_for_notice(
    contract: ResidenceContract, notice_date: date, today: date | None
) -> ResidenceContract:
    """The contract, locked, once a notice given on ``notice_date`` may apply to it
    (the transaction is the caller's)."""
    contract = _locked_contract(contract)
    _contract_transition(contract, ResidenceStatus.NOTICE_GIVEN)
    if notice_date > localdate_or(today):
        raise error(NOTICE_IN_FUTURE, field="notice_date")
    if notice_date < contract.start:
        raise error(NOTICE_BEFORE_START, field="notice_date")
    return contract


def _check_within_term(contract: ResidenceContract, effective_end: date) -> None:
    if effective_end > contract.current_end:
        raise error(
            EFFECTIVE_AFTER_TERM,
            field="effective_end",
            end=contract.current_end.isoformat(),
        )


def _give_notice(
    contract: ResidenceContract, *, by: str, notice_date: date, effective_end: date
) -> ResidenceContract:
    contract.status = ResidenceStatus.NOTICE_GIVEN
    contract.notice_by = by
    contract.notice_date = notice_date
    contract.effective_end = effective_end
    contract.full_clean()
    contract.save(
        update_fields=[
            "status",
            "notice_by",
            "notice_date",
            "effective_end",
            "updated_at",
        ]
    )
    return contract


def residence_contract_notify_non_renewal(
    *, contract: ResidenceContract, notice_date: date, today: date | None = None
) -> ResidenceContract:
    """The body does not renew: notified at least one month before the term
    (registered letter or bailiff, décret 2019-497); the contract ends at term."""
    with transaction.atomic():
        contract = _locked_for_notice(contract, notice_date, today)
        months = rules().residence_notice_by_body_months
        latest = add_months(contract.current_end, -months)
        if notice_date > latest:
            raise error(
                NON_RENEWAL_TOO_LATE,
                field="notice_date",
                months=months,
                latest=latest.isoformat(),
            )
        return _give_notice(
            contract,
            by="body",
            notice_date=notice_date,
            effective_end=contract.current_end,
        )


def residence_contract_terminate_by_body(
    *,
    contract: ResidenceContract,
    notice_date: date,
    effective_end: date,
    reason: BodyTerminationReason | str,
    today: date | None = None,
) -> ResidenceContract:
    """Early termination by the body: only after the first two months, on a
    motivated cause (stipulated in the contract, or the resident's breach), with
    one month's notice (décret 2019-497). The resident pays only for the time
    actually occupied during the notice."""
    with transaction.atomic():
        contract = _locked_for_notice(contract, notice_date, today)
        if reason not in BodyTerminationReason.__members__.values():
            raise error(BODY_TERMINATION_REASON, field="reason")
        initial = rules().residence_min_months
        earliest_notice = add_months(contract.start, initial)
        if notice_date < earliest_notice:
            raise error(
                BODY_TERMINATION_TOO_EARLY,
                field="notice_date",
                months=initial,
                earliest=earliest_notice.isoformat(),
            )
        months = rules().residence_notice_by_body_months
        earliest = add_months(notice_date, months)
        if effective_end < earliest:
            raise error(
                BODY_NOTICE_TOO_SHORT,
                field="effective_end",
                months=months,
                earliest=earliest.isoformat(),
            )
        _check_within_term(contract, effective_end)
        # The motive is held in the body's registered letter: the schema keeps no
        # free text on residents (domain.md §F.2).
        logger.info("residence contract %s: body termination (%s)", contract.pk, reason)
        return _give_notice(
            contract, by="body", notice_date=notice_date, effective_end=effective_end
        )


def residence_contract_terminate_by_resident(
    *,
    contract: ResidenceContract,
    notice_date: date,
    effective_end: date,
    today: date | None = None,
) -> ResidenceContract:
    """The resident leaves at any time with 15 days' notice (décret 2019-497)."""
    with transaction.atomic():
        contract = _locked_for_notice(contract, notice_date, today)
        notice_days = rules().residence_notice_by_resident_days
        earliest = notice_date + timedelta(days=notice_days)
        if effective_end < earliest:
            raise error(
                RESIDENT_NOTICE_TOO_SHORT,
                field="effective_end",
                days=notice_days,
                earliest=earliest.isoformat(),
            )
        _check_within_term(contract, effective_end)
        return _give_notice(
            contract,
            by="resident",
            notice_date=notice_date,
            effective_end=effective_end,
        )


def residence_contract_end(
    *,
    contract: ResidenceContract,
    end_date: date,
    ground: ContractEndGround | str,
) -> ResidenceContract:
    """Close a contract: at its term, when a notice runs out (the resident may leave
    earlier during it), or on the resident's death or abandonment."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        _contract_transition(contract, ResidenceStatus.ENDED)
        if ground == ContractEndGround.TERM:
            if end_date != contract.current_end:
                raise error(
                    END_NOT_AT_TERM,
                    field="end_date",
                    end=contract.current_end.isoformat(),
                )
        elif ground == ContractEndGround.NOTICE:
            notice, effective = contract.notice_date, contract.effective_end
            if notice is None or effective is None:
                raise InvalidTransition(
                    _(CONTRACT_TRANSITION).format(
                        old=contract.status, new=ResidenceStatus.ENDED
                    ),
                    field="ground",
                )
            if not notice <= end_date <= effective:
                raise error(
                    END_OUTSIDE_NOTICE,
                    field="end_date",
                    notice=notice.isoformat(),
                    effective=effective.isoformat(),
                )
        elif ground == ContractEndGround.DEATH_OR_ABANDONMENT:
            if not contract.start < end_date <= contract.current_end:
                raise error(
                    END_OUTSIDE_CONTRACT,
                    field="end_date",
                    start=contract.start.isoformat(),
                    end=contract.current_end.isoformat(),
                )
        else:
            raise error(END_GROUND_UNKNOWN, field="ground", ground=ground)
        contract.status = ResidenceStatus.ENDED
        contract.effective_end = end_date
        contract.full_clean()
        contract.save(update_fields=["status", "effective_end", "updated_at"])
    return contract
