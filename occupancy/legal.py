"""The legal rules on agreements: their terms (reference/domain.md §C.4) and the
guards of their lifecycle (§D.2), each with its source.

Pure checks on an agreement and the rows around it: they read, never write, and
raise a DomainError naming the input at fault (first failure first). The services
(occupancy/services.py) call them under their locks. Caps and durations come from
``occupancy.rules``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from django.db.backends.postgresql.psycopg_any import DateRange
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from buildings.models import BuildingStatus, Domaniality
from config.errors import DomainError
from occupancy.models import (
    PUBLIC_DOMAIN_REGIMES,
    SLEEPING_PURPOSES,
    Agreement,
    AgreementStatus,
    FeeExemptionBasis,
    FeePeriod,
    InspectionKind,
    InspectionResult,
    Purpose,
    Regime,
    ResidenceStatus,
    RevocationMotive,
    SafetyInspection,
    SelectionExemption,
    StayStatus,
)
from occupancy.rules import add_months, add_years, rules
from organizations.identifiers import rna_ok, siret_ok
from organizations.models import LegalForm, Organization, OrganizationKind

_A = AgreementStatus
_B = BuildingStatus

# --- Messages -----------------------------------------------------------------------
# Terms of the agreement (§C.4)
END_NOT_AFTER_START = _("The end date must be after the start date.")
BUILDING_GONE = _("The building is “{status}”: no agreement can be made on it.")
DEPARTMENT_UNKNOWN = _("The building's département is unknown.")
GRANTOR_NOT_STATE = _("The grantor must be a State service.")
GRANTOR_OUTSIDE_TERRITORY = _(
    "{grantor} does not cover the département ({department}) of the building."
)
OPERATOR_NOT_OPERATOR = _("The occupant must be a social-economy operator.")
REGIME_UNKNOWN = _("Unknown regime “{regime}”.")
REGIME_WRONG_DOMAIN = _(
    "The building is on the {domain} domain: “{regime}” is a title of the other one."
)
PURPOSES_REQUIRED = _("Choose at least one purpose.")
PURPOSE_UNKNOWN = _("Unknown purpose “{purpose}”.")
SLEEPING_NOT_ALLOWED = _(
    "Shelter, residence or tourism purposes need sleeping to be allowed."
)
ELAN_TOO_LONG = _(
    "An ELAN art. 29 agreement lasts at most {months} months (loi ELAN art. 29): "
    "end it by {limit} and extend it by prorogations."
)
ELAN_APPROVAL_MISSING = _(
    "{operator} holds no ELAN art. 29 approval valid on {on} for the "
    "département {department} (loi ELAN art. 29, décret 2024-260)."
)
URGENCY_TOO_LONG = _(
    "An occupation exempted from selection for urgency lasts at most {months} "
    "months (CG3P L.2122-1-2): end it by {limit}."
)
REAL_RIGHTS_TOO_LONG = _(
    "An occupation permit with real rights lasts at most {years} years "
    "(CG3P L.2122-6): end it by {limit}."
)
PAST_NEXT_USE = _(
    "The occupation must end by {limit}, when the building's next use begins."
)
SELECTION_REQUIRED = _(
    "An economic activity needs a selection procedure or a recorded exemption "
    "(CG3P L.2122-1-1 and L.2122-1-2)."
)
SELECTION_EXEMPTION_UNKNOWN = _("Unknown exemption “{value}”.")
FREE_WITH_FEE = _("A free-of-charge agreement has no fee: leave its amount empty.")
FREE_WITH_FEE_PERIOD = _("A free-of-charge agreement has no fee period.")
FREE_WITH_FEE_INDEXATION = _("A free-of-charge agreement has no fee indexation.")
WAIVER_BASIS_REQUIRED = _(
    "A free-of-charge occupation needs its legal basis (CG3P L.2125-1)."
)
WAIVER_BASIS_UNKNOWN = _("Unknown legal basis “{value}”.")
WAIVER_JUSTIFICATION_REQUIRED = _("Justify the free-of-charge occupation.")
WAIVER_NONPROFIT_ONLY = _(
    "The non-profit basis (CG3P L.2125-1 6°) is only for a non-profit association "
    "or foundation."
)
WAIVER_WITHOUT_FREE = _("A waiver basis only applies to a free-of-charge agreement.")
FEE_NOT_POSITIVE = _("A paid agreement's fee must be above zero (CG3P L.2125-1).")
FEE_PERIOD_REQUIRED = _("Say whether the fee is annual, monthly or one-off.")
# Lifecycle (§D.2)
SPACES_REQUIRED = _("Attach at least one space.")
HEADCOUNT_REQUIRED = _("Record the maximum headcount.")
FEE_REQUIRED = _("Record the fee of a paid agreement (CG3P L.2125-1).")
IDENTIFIERS_INVALID = _(
    "{operator} needs a valid SIRET, or an RNA number for an association."
)
DDFIP_OPINION_REQUIRED = _(
    "A paid agreement needs the DDFiP's financial opinion before approval "
    "(CG3P R.2125-1, R.2222-1)."
)
DDFIP_OPINION_LATER = _("The DDFiP opinion is dated after the approval ({on}).")
REASON_REQUIRED = _("Give the reason.")
REJECTION_REASON_REQUIRED = _(
    "A refusal of an occupation permit must be motivated (CRPA L.211-2)."
)
WITHDRAWAL_REASON_REQUIRED = _(
    "An agreement already approved or signed is withdrawn only with its reason."
)
SIGNED_ON_REQUIRED = _("Record the date of signature.")
DATE_IN_FUTURE = _("This date ({value}) is after {on}.")
INSURANCE_REQUIRED = _(
    "Attach an insurance certificate valid on the start date ({start})."
)
START_NOT_REACHED = _("The occupation starts on {start}.")
ENTRY_INVENTORY_REQUIRED = _("Record the entry inventory of fixtures.")
PREFECT_NOT_NOTIFIED = _(
    "The approved body informs the prefect before the occupation starts "
    "(loi ELAN art. 29)."
)
MAYOR_NOT_NOTIFIED = _(
    "The approved body informs the mayor before the occupation starts "
    "(loi ELAN art. 29)."
)
SAFETY_OPINION_REQUIRED = _(
    "Sleeping or receiving the public needs a favourable safety commission opinion "
    "on the building for at least {headcount} people (CCH, ERP rules)."
)
ENDING_TOO_EARLY = _(
    "Before {limit} an agreement ends only on a notice of non-renewal: "
    "give it as the reason."
)
REVOCATION_MOTIVE_REQUIRED = _(
    "A revocation needs its motive: general interest or the occupant's fault "
    "(CG3P L.2122-3)."
)
END_NOT_PASSED = _("The occupation runs until {last_day}: it expires after that.")
EXIT_INVENTORY_REQUIRED = _("Record the exit inventory of fixtures.")
STAYS_ACTIVE = _(
    "{count} stay(s) are still running: the premises are returned free of any "
    "occupant (loi ELAN art. 29)."
)
CONTRACTS_ACTIVE = _("{count} residence contract(s) are still running.")
# Prorogations
NEW_END_REQUIRED = _("A prorogation sets a new end date.")
NEW_END_NOT_LATER = _("The new end must be after the current end ({end}).")
ELAN_PROROGATION_TOO_LONG = _(
    "An ELAN art. 29 agreement is prorogued by at most {months} months at a time "
    "(loi ELAN art. 29): end it by {limit}."
)
PROROGATION_AFTER_END = _(
    "The agreement ran until {last_day}: a lapsed title is not prorogued, a new "
    "one is granted."
)
SIGNED_BEFORE_APPROVAL = _(
    "The signature ({signed}) cannot precede the approval of the agreement "
    "({approved})."
)
OWNER_JUSTIFICATION_REQUIRED = _(
    "A prorogation of an ELAN art. 29 agreement needs the owner's justification "
    "that the planned change of use cannot take place (loi ELAN art. 29)."
)


def fail(message: Promise, field: str | None, **params: object) -> DomainError:
    return DomainError(str(message).format(**params), field=field)


# --- Vocabulary -----------------------------------------------------------------------
# Titles of the public domain (CG3P L.2122-1 s.; occupancy.models.PUBLIC_DOMAIN_REGIMES)
# and of the private domain (R.2222-1); ELAN art. 29 conventions may be on either.
PRIVATE_DOMAIN_REGIMES: Final = frozenset(
    {Regime.PRIVATE_PRECARIOUS, Regime.PRIVATE_LEASE}
)
NON_PROFIT_FORMS: Final = frozenset({LegalForm.ASSOCIATION, LegalForm.FOUNDATION})
# No agreement can ever be signed on a building in these statuses.
GONE_BUILDING_STATUSES: Final = frozenset({_B.DISPOSED, _B.DEMOLISHED})
# An agreement under which people may be on site.
OCCUPYING_STATUSES: Final = frozenset({_A.ACTIVE, _A.SUSPENDED})
RUNNING_STAY_STATUSES: Final = frozenset({StayStatus.ACTIVE, StayStatus.EXIT_PLANNED})
RUNNING_CONTRACT_STATUSES: Final = frozenset(
    {ResidenceStatus.ACTIVE, ResidenceStatus.NOTICE_GIVEN}
)


def start_of(agreement: Agreement) -> date:
    start: date = agreement.period.lower
    return start


def end_of(agreement: Agreement) -> date:
    end: date = agreement.period.upper
    return end


def period_of(start: date, end: date) -> Any:
    if not end > start:
        raise fail(END_NOT_AFTER_START, "end")
    return DateRange(start, end, "[)")


# --- Terms ------------------------------------------------------------------------
def _check_parties(agreement: Agreement) -> None:
    building = agreement.building
    if building.status in GONE_BUILDING_STATUSES:
        raise fail(BUILDING_GONE, "building", status=building.get_status_display())
    grantor = agreement.grantor
    if grantor.kind != OrganizationKind.STATE_SERVICE:
        raise fail(GRANTOR_NOT_STATE, "grantor")
    # A departmental service grants on its own territory; an empty territory is
    # national (the DIE).
    if grantor.territory_departments and (
        building.department_id not in grantor.territory_departments
    ):
        raise fail(
            GRANTOR_OUTSIDE_TERRITORY,
            "grantor",
            grantor=grantor,
            department=building.department_id or "?",
        )
    if agreement.operator.kind != OrganizationKind.OPERATOR:
        raise fail(OPERATOR_NOT_OPERATOR, "operator")


def _check_regime_and_purposes(agreement: Agreement) -> None:
    regime = agreement.regime
    if regime not in Regime.values:
        raise fail(REGIME_UNKNOWN, "regime", regime=regime)
    domain = agreement.building.domaniality
    if (domain == Domaniality.PUBLIC and regime in PRIVATE_DOMAIN_REGIMES) or (
        domain == Domaniality.PRIVATE and regime in PUBLIC_DOMAIN_REGIMES
    ):
        raise fail(
            REGIME_WRONG_DOMAIN,
            "regime",
            domain=agreement.building.get_domaniality_display(),
            regime=Regime(regime).label,
        )
    if not agreement.purposes:
        raise fail(PURPOSES_REQUIRED, "purposes")
    for purpose in agreement.purposes:
        if purpose not in Purpose.values:
            raise fail(PURPOSE_UNKNOWN, "purposes", purpose=purpose)
    if SLEEPING_PURPOSES & set(agreement.purposes) and not agreement.sleeping_allowed:
        raise fail(SLEEPING_NOT_ALLOWED, "sleeping_allowed")


def _check_duration(agreement: Agreement, *, end: date) -> None:
    """Caps on the initial term, by regime and selection exemption (§C.4)."""
    r = rules()
    start = start_of(agreement)
    if agreement.regime == Regime.ELAN_ART29:
        limit = add_months(start, r.elan_agreement_max_months)
        if end > limit:
            raise fail(
                ELAN_TOO_LONG, "end", months=r.elan_agreement_max_months, limit=limit
            )
    check_absolute_caps(agreement, end=end, field="end")


def check_absolute_caps(agreement: Agreement, *, end: date, field: str) -> None:
    """Caps no prorogation can lift: urgency, real rights, the building's next use."""
    r = rules()
    start = start_of(agreement)
    if agreement.selection_exemption == SelectionExemption.URGENCY:
        limit = add_months(start, r.urgency_max_months)
        if end > limit:
            raise fail(
                URGENCY_TOO_LONG, field, months=r.urgency_max_months, limit=limit
            )
    if agreement.regime == Regime.AOT_REAL_RIGHTS:
        limit = add_years(start, r.real_rights_max_years)
        if end > limit:
            raise fail(
                REAL_RIGHTS_TOO_LONG, field, years=r.real_rights_max_years, limit=limit
            )
    # Interim use must not hold up the building's next use (§C.4 [D]); ``end`` is
    # exclusive, so ending on the very day the next use begins is allowed.
    next_use = agreement.building.next_use_date
    if next_use is not None and end > next_use:
        raise fail(PAST_NEXT_USE, field, limit=next_use)


def check_elan_approval(agreement: Agreement, *, on: date) -> None:
    if agreement.regime != Regime.ELAN_ART29:
        return
    department = agreement.building.department_id
    if not department:
        raise fail(DEPARTMENT_UNKNOWN, "building")
    operator: Organization = agreement.operator
    if not operator.elan_approval_covers(department, on):
        raise fail(
            ELAN_APPROVAL_MISSING,
            "operator",
            operator=operator,
            on=on,
            department=department,
        )


def _check_selection(agreement: Agreement) -> None:
    exemption = agreement.selection_exemption
    if exemption and exemption not in SelectionExemption.values:
        raise fail(SELECTION_EXEMPTION_UNKNOWN, "selection_exemption", value=exemption)
    # Mirrors the agreement_economic_selection constraint: the selection duty of
    # L.2122-1-1 binds economic use of the public domain only (domain.md §B.3).
    if (
        agreement.economic_activity
        and agreement.regime in PUBLIC_DOMAIN_REGIMES
        and not agreement.selection_reference.strip()
        and not exemption
    ):
        raise fail(SELECTION_REQUIRED, "selection_reference")


def _check_fee(agreement: Agreement) -> None:
    basis = agreement.fee_exemption_basis
    if basis and basis not in FeeExemptionBasis.values:
        raise fail(WAIVER_BASIS_UNKNOWN, "fee_exemption_basis", value=basis)
    if agreement.free_of_charge:
        # CG3P L.2125-1: every occupation pays a fee, save the listed cases; the
        # associations have no right to it (CAA Paris, 22 Feb 2018, 16PA01554).
        # A waived fee is no fee at all, not one of 0 € a year: a free agreement
        # carries no amount, period or indexation (agreement_free_has_no_fee).
        if agreement.fee_amount is not None:
            raise fail(FREE_WITH_FEE, "fee_amount")
        if agreement.fee_period:
            raise fail(FREE_WITH_FEE_PERIOD, "fee_period")
        if agreement.fee_indexation:
            raise fail(FREE_WITH_FEE_INDEXATION, "fee_indexation")
        if not basis:
            raise fail(WAIVER_BASIS_REQUIRED, "fee_exemption_basis")
        if not agreement.waiver_justification.strip():
            raise fail(WAIVER_JUSTIFICATION_REQUIRED, "waiver_justification")
        operator = agreement.operator
        if basis == FeeExemptionBasis.NONPROFIT_GENERAL_INTEREST and not (
            operator.is_non_profit and operator.legal_form in NON_PROFIT_FORMS
        ):
            raise fail(WAIVER_NONPROFIT_ONLY, "fee_exemption_basis")
        return
    if basis:
        raise fail(WAIVER_WITHOUT_FREE, "fee_exemption_basis")
    if agreement.fee_amount is not None:
        if agreement.fee_amount <= Decimal(0):
            raise fail(FEE_NOT_POSITIVE, "fee_amount")
        if agreement.fee_period not in FeePeriod.values:
            raise fail(FEE_PERIOD_REQUIRED, "fee_period")


def check_terms(agreement: Agreement, *, on: date) -> None:
    """The legal rules on an agreement's terms, first failure first (§C.4)."""
    _check_parties(agreement)
    _check_regime_and_purposes(agreement)
    _check_duration(agreement, end=end_of(agreement))
    check_elan_approval(agreement, on=on)
    _check_selection(agreement)
    _check_fee(agreement)


def check_prorogation(
    agreement: Agreement,
    new_end: date | None,
    owner_justification: str,
    *,
    signed_on: date,
) -> None:
    """A prorogation moves the end by an express, signed amendment: no title is
    renewed tacitly. On the public domain the title is temporary and precarious
    (CG3P L.2122-2, L.2122-3) and a tacit renewal would escape the selection rules
    (L.2122-1-1), so the schema has no renewal field at all; ELAN art. 29 allows
    one-year prorogations on the owner's justification. It is signed while the
    title runs: nothing moves an agreement past its end by itself, so one still
    "active" after its last day has lapsed all the same."""
    if new_end is None:
        raise fail(NEW_END_REQUIRED, "new_end")
    end = end_of(agreement)
    if signed_on >= end:
        raise fail(PROROGATION_AFTER_END, "signed_on", last_day=end - timedelta(days=1))
    if new_end <= end:
        raise fail(NEW_END_NOT_LATER, "new_end", end=end)
    if agreement.regime == Regime.ELAN_ART29:
        months = rules().elan_prorogation_max_months
        limit = add_months(end, months)
        if new_end > limit:
            raise fail(ELAN_PROROGATION_TOO_LONG, "new_end", months=months, limit=limit)
        if not owner_justification.strip():
            raise fail(OWNER_JUSTIFICATION_REQUIRED, "owner_justification")
    check_absolute_caps(agreement, end=new_end, field="new_end")


# --- Lifecycle guards (§D.2) ---------------------------------------------------------
Guard = Callable[[Agreement, date, str], None]


def _guard_submission(agreement: Agreement, on: date, reason: str) -> None:
    """DRAFT → UNDER_REVIEW: complete, lawful terms and identifiable occupant."""
    check_terms(agreement, on=on)
    if not agreement.agreement_spaces.exists():
        raise fail(SPACES_REQUIRED, "spaces")
    if not agreement.max_headcount:
        raise fail(HEADCOUNT_REQUIRED, "max_headcount")
    if not agreement.free_of_charge and agreement.fee_amount is None:
        raise fail(FEE_REQUIRED, "fee_amount")
    operator = agreement.operator
    identified = (operator.siret and siret_ok(operator.siret)) or (
        operator.legal_form == LegalForm.ASSOCIATION
        and operator.rna
        and rna_ok(operator.rna)
    )
    if not identified:
        raise fail(IDENTIFIERS_INVALID, "operator", operator=operator)


def _guard_approval(agreement: Agreement, on: date, reason: str) -> None:
    """UNDER_REVIEW → APPROVED: DDFiP conditions when paid (R.2125-1), selection or
    exemption when economic, waiver basis when free, ELAN approval valid."""
    _guard_submission(agreement, on, reason)
    if not agreement.free_of_charge:
        opinion_date = agreement.ddfip_opinion_date
        if not agreement.ddfip_opinion_reference.strip() or opinion_date is None:
            raise fail(DDFIP_OPINION_REQUIRED, "ddfip_opinion_reference")
        if opinion_date > on:
            raise fail(DDFIP_OPINION_LATER, "ddfip_opinion_date", on=on)


def _guard_rejection(agreement: Agreement, on: date, reason: str) -> None:
    if not reason.strip():
        raise fail(REJECTION_REASON_REQUIRED, "reason")


def _guard_reason(agreement: Agreement, on: date, reason: str) -> None:
    if not reason.strip():
        raise fail(REASON_REQUIRED, "reason")


def _guard_withdrawal(agreement: Agreement, on: date, reason: str) -> None:
    """APPROVED/SIGNED → WITHDRAWN: the State approved these terms, and the parties
    may have signed them (a title is withdrawn early only on a legitimate motive,
    §B.1 [V 9]): the reason is kept in the status history, as for a refusal or a
    termination. A draft or an application under review is the applicant's own to
    drop before any decision: nothing was granted, no reason is asked."""
    if not reason.strip():
        raise fail(WITHDRAWAL_REASON_REQUIRED, "reason")


def _guard_signature(agreement: Agreement, on: date, reason: str) -> None:
    """APPROVED → SIGNED: the date of signature and insurance from the start."""
    signed_on = agreement.signed_on
    if signed_on is None:
        raise fail(SIGNED_ON_REQUIRED, "signed_on")
    start = start_of(agreement)
    insured = agreement.insurance_certificates.filter(
        valid_from__lte=start, valid_until__gte=start
    ).exists()
    if not insured:
        raise fail(INSURANCE_REQUIRED, "insurance_certificates", start=start)
    check_signed_after_approval(agreement)
    # The ELAN approval must be valid when the convention is signed (loi ELAN art. 29).
    check_elan_approval(agreement, on=signed_on)


def check_signed_after_approval(
    agreement: Agreement, *, approved_on: date | None = None
) -> None:
    """The parties sign the terms the State approved, not a draft of them: the
    date of signature is not before the approval (``approved_on``, else the last
    one in the status history; none recorded, nothing to compare)."""
    signed_on = agreement.signed_on
    if approved_on is None:
        approved_at = (
            agreement.status_changes.filter(to_status=_A.APPROVED)
            .order_by("-changed_at", "-pk")
            .values_list("changed_at", flat=True)
            .first()
        )
        approved_on = timezone.localdate(approved_at) if approved_at else None
    if signed_on and approved_on and signed_on < approved_on:
        raise fail(
            SIGNED_BEFORE_APPROVAL, "signed_on", signed=signed_on, approved=approved_on
        )


def _needs_safety_opinion(agreement: Agreement) -> bool:
    sleeping = bool(SLEEPING_PURPOSES & set(agreement.purposes))
    return sleeping or agreement.sleeping_allowed or bool(agreement.building.erp)


def _check_safety(agreement: Agreement, on: date) -> None:
    """A favourable opinion of the safety commission on the building, the latest one
    on record, for at least the headcount of every agreement occupying it [V 31]."""
    if not _needs_safety_opinion(agreement):
        return
    others = (
        Agreement.objects.filter(
            building_id=agreement.building_id, status__in=OCCUPYING_STATUSES
        )
        .exclude(pk=agreement.pk)
        .values_list("max_headcount", flat=True)
    )
    headcount = (agreement.max_headcount or 0) + sum(n or 0 for n in others)
    latest = (
        SafetyInspection.objects.filter(
            building_id=agreement.building_id,
            space__isnull=True,
            kind=InspectionKind.SAFETY_COMMISSION,
            date__lte=on,
        )
        .order_by("-date", "-pk")
        .first()
    )
    if (
        latest is None
        or latest.result != InspectionResult.FAVOURABLE
        or (latest.max_headcount or 0) < headcount
    ):
        raise fail(
            SAFETY_OPINION_REQUIRED, "safety_inspections", headcount=max(headcount, 1)
        )


def _guard_activation(agreement: Agreement, on: date, reason: str) -> None:
    """SIGNED → ACTIVE: start reached, entry inventory, ELAN notifications, safety."""
    start = start_of(agreement)
    if on < start:
        raise fail(START_NOT_REACHED, "start", start=start)
    if agreement.entry_inventory_on is None:
        raise fail(ENTRY_INVENTORY_REQUIRED, "entry_inventory_on")
    if agreement.regime == Regime.ELAN_ART29:
        if agreement.prefect_notified_on is None:
            raise fail(PREFECT_NOT_NOTIFIED, "prefect_notified_on")
        if agreement.mayor_notified_on is None:
            raise fail(MAYOR_NOT_NOTIFIED, "mayor_notified_on")
    _check_safety(agreement, on)


def _guard_resumption(agreement: Agreement, on: date, reason: str) -> None:
    """SUSPENDED → ACTIVE: reopening after a closure needs the safety opinion again."""
    _check_safety(agreement, on)


def _guard_ending(agreement: Agreement, on: date, reason: str) -> None:
    """ACTIVE → ENDING: N months before the end, or earlier on a notice (§D.2)."""
    limit = add_months(end_of(agreement), -rules().releasing_notice_months)
    if on < limit and not reason.strip():
        raise fail(ENDING_TOO_EARLY, "reason", limit=limit)


def _guard_revocation(agreement: Agreement, on: date, reason: str) -> None:
    # CG3P: precarious and revocable title; early withdrawal needs a legitimate
    # motive, general interest or the occupant's fault [V 9].
    if agreement.revocation_motive not in RevocationMotive.values:
        raise fail(REVOCATION_MOTIVE_REQUIRED, "revocation_motive")


def _guard_expiry(agreement: Agreement, on: date, reason: str) -> None:
    end = end_of(agreement)
    if on < end:
        raise fail(END_NOT_PASSED, "end", last_day=end - timedelta(days=1))


def _guard_closure(agreement: Agreement, on: date, reason: str) -> None:
    """→ CLOSED: exit inventory and premises returned free of any occupant."""
    if agreement.exit_inventory_on is None:
        raise fail(EXIT_INVENTORY_REQUIRED, "exit_inventory_on")
    stays = agreement.stays.filter(status__in=RUNNING_STAY_STATUSES).count()
    if stays:
        raise fail(STAYS_ACTIVE, "stays", count=stays)
    contracts = agreement.residence_contracts.filter(
        status__in=RUNNING_CONTRACT_STATUSES
    ).count()
    if contracts:
        raise fail(CONTRACTS_ACTIVE, "residence_contracts", count=contracts)


GUARDS: dict[tuple[str, str], Guard] = {
    (_A.DRAFT, _A.UNDER_REVIEW): _guard_submission,
    (_A.UNDER_REVIEW, _A.APPROVED): _guard_approval,
    (_A.UNDER_REVIEW, _A.REJECTED): _guard_rejection,
    (_A.APPROVED, _A.SIGNED): _guard_signature,
    (_A.APPROVED, _A.WITHDRAWN): _guard_withdrawal,
    (_A.SIGNED, _A.WITHDRAWN): _guard_withdrawal,
    (_A.SIGNED, _A.ACTIVE): _guard_activation,
    (_A.ACTIVE, _A.SUSPENDED): _guard_reason,
    (_A.SUSPENDED, _A.ACTIVE): _guard_resumption,
    (_A.ACTIVE, _A.ENDING): _guard_ending,
    (_A.ACTIVE, _A.REVOKED): _guard_revocation,
    (_A.SUSPENDED, _A.REVOKED): _guard_revocation,
    (_A.ENDING, _A.REVOKED): _guard_revocation,
    (_A.ACTIVE, _A.TERMINATED): _guard_reason,
    (_A.SUSPENDED, _A.TERMINATED): _guard_reason,
    (_A.ENDING, _A.TERMINATED): _guard_reason,
    (_A.ENDING, _A.EXPIRED): _guard_expiry,
    (_A.EXPIRED, _A.CLOSED): _guard_closure,
    (_A.REVOKED, _A.CLOSED): _guard_closure,
    (_A.TERMINATED, _A.CLOSED): _guard_closure,
}
