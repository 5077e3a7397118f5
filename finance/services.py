"""Writes on commitments, disbursements, costs, fees, guarding baselines and
sub-lettings. Every function is keyword-only and atomic, and raises a domain error
naming the input at fault; pghistory triggers audit every row (finance/models.py).

Disbursements race: two agents (or one client retrying after a timeout) may pay
against the same commitment at once. ``disbursement_record`` locks the commitment
row first, so writers queue there; the trigger on ``finance_disbursement`` holds
the same invariants for any other writer (and migration 0004's constraint triggers
the decision date's). Lock order: the commitment, nothing else.
Fee payments race the same way on their agreement: ``fee_payment_record`` locks
the agreement row first. Both are recorded once per Idempotency-Key (``_recorded``).
Periods are ``[start, end)``: ``end`` is the day after the last day.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, TypeVar, cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.files import File
from django.db import transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Min, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from buildings.models import Building
from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, DomainError
from finance.models import (
    FUNDER_KINDS,
    MAX_HOURS_PER_MONTH,
    VALUED_NATURES,
    BaselineMethod,
    Commitment,
    CostCategory,
    CostLine,
    Disbursement,
    FeePayment,
    Nature,
    Payer,
    SecurityBaseline,
    SubLetting,
)
from occupancy import documents
from occupancy.indicators import IN_FORCE_STATUSES
from occupancy.models import LIVE_STATUSES, Agreement, Space
from occupancy.rules import rules
from organizations.models import Organization, OrganizationKind

Actor = User | AnonymousUser | None
CENT = Decimal("0.01")

# --- Messages -------------------------------------------------------------------------
FIELD_NOT_EDITABLE = _("“{name}” cannot be changed here.")
NOT_A_FUNDER = _(
    "“{funder}” cannot fund: only funders, State services and operators (for "
    "their own resources) commit money."
)
ONE_TARGET = _("Fund either an agreement or a building: one of the two.")
VALUATION_REQUIRED = _(
    "Say how a contribution in kind or a fee waiver was valued (e.g. the market "
    "rent estimated by the DDFiP)."
)
NATURE_UNKNOWN = _("Unknown nature “{nature}”.")
AMOUNT_NOT_POSITIVE = _("The amount must be more than zero.")
AMOUNT_NEGATIVE = _("The amount cannot be negative.")
AMOUNT_CENTS = _("Amounts are in euros with at most two decimals.")
END_NOT_AFTER_START = _("The period must end after it starts.")
DECISION_REQUIRED = _("Give the reference of the funding decision.")
BELOW_DISBURSED = _(
    "{disbursed} € are already disbursed: the commitment cannot be less."
)
PERIOD_LEAVES_OUT = _(
    "A disbursement is dated {date}: the period must still include that day."
)
PERIOD_LEAVES_OUT_UNKNOWN = _("The period must still include every disbursement.")
DECIDED_AFTER_PAID = _(
    "A disbursement is dated {date}: the decision cannot be dated after it."
)
DATE_OUTSIDE = _(
    "The date must fall within the commitment's period, from {start} to {last}."
)
DATE_OUTSIDE_UNKNOWN = _("The date must fall within the commitment's period.")
OVERDRAFT = _("Only {remaining} € remain to be disbursed on this commitment.")
OVERDRAFT_UNKNOWN = _("Disbursements cannot exceed their commitment.")
KEY_REQUIRED = _("An idempotency key is required (the Idempotency-Key header).")
KEY_TOO_LONG = _("The idempotency key is longer than 255 characters.")
KEY_REUSED = _(
    "This idempotency key already recorded another payment ({amount} € on "
    "{date}): use a new key for a new payment."
)
EVIDENCE_REQUIRED = _("Give the evidence of the payment: a reference or a document.")
CATEGORY_UNKNOWN = _("Unknown cost category “{category}”.")
PAYER_UNKNOWN = _("Unknown payer “{payer}”.")
METHOD_UNKNOWN = _("Unknown method “{method}”.")
HOURLY_FACTORS = _("The hourly method needs an hourly rate and hours per month.")
HOURS_RANGE = _("Hours per month are between 0 and 744 (31 days × 24 hours).")
MONTHLY_REQUIRED = _("Give the monthly amount.")
AREA_NOT_POSITIVE = _("The area must be more than zero.")
SPACE_OTHER_BUILDING = _("“{space}” is not in the agreement's building.")
OUTSIDE_AGREEMENT = _(
    "A sub-letting lies within its agreement's period ({start} to {last})."
)
SUB_OCCUPANT_REQUIRED = _("Name the sub-occupant.")
OPERATOR_FUNDS_OWN = _(
    "“{funder}” is an operator: it funds only its own agreements, from its own "
    "resources."
)
DECISION_IN_FUTURE = _("A funding decision is dated today at the latest.")
DISBURSED_IN_FUTURE = _("A disbursement is a payment made: dated today at the latest.")
DISBURSED_BEFORE_DECISION = _(
    "A disbursement is dated on or after its commitment's decision ({decision})."
)
DISBURSED_BEFORE_DECISION_UNKNOWN = _(
    "A disbursement is dated on or after its commitment's decision."
)
DECIDED_AFTER_PAID_UNKNOWN = _(
    "A disbursement is dated before this day: the decision cannot be dated after it."
)
NOT_IN_FORCE = _("No fee is due on an agreement that never came into force.")
PAYMENT_OUTSIDE = _(
    "A payment falls within the agreement ({start} to {last}) and not after today."
)
AGREEMENT_NOT_LIVE = _(
    "Sub-occupations are recorded on an agreement approved or in force (or once "
    "in force), not on one in the state “{status}”."
)
AREA_ABOVE_SURFACE = _("The area exceeds the surface of {place} ({surface} m²).")

# The API turns these constraint and trigger violations into 409 with a field
# (config/api.py): the services check first, the database has the last word.
CONSTRAINT_ERRORS.update(
    {
        name: (field, cast(str, message))
        for name, field, message in (
            ("commitment_amount_positive", "amount", AMOUNT_NOT_POSITIVE),
            ("commitment_period_bounded", "end", END_NOT_AFTER_START),
            ("commitment_one_target", "agreement", ONE_TARGET),
            ("commitment_valuation_method", "valuation_method", VALUATION_REQUIRED),
            ("commitment_decision_reference", "decision_reference", DECISION_REQUIRED),
            ("commitment_covers_disbursements", "amount", OVERDRAFT_UNKNOWN),
            (
                "commitment_period_covers_disbursements",
                "end",
                PERIOD_LEAVES_OUT_UNKNOWN,
            ),
            ("disbursement_amount_positive", "amount", AMOUNT_NOT_POSITIVE),
            ("disbursement_has_evidence", "evidence_reference", EVIDENCE_REQUIRED),
            ("disbursement_key_present", "idempotency_key", KEY_REQUIRED),
            ("disbursement_within_commitment", "amount", OVERDRAFT_UNKNOWN),
            ("disbursement_date_in_period", "date", DATE_OUTSIDE_UNKNOWN),
            # Constraint triggers of migration 0004, for the decision date.
            ("disbursement_after_decision", "date", DISBURSED_BEFORE_DECISION_UNKNOWN),
            (
                "commitment_decided_before_paid",
                "decision_date",
                DECIDED_AFTER_PAID_UNKNOWN,
            ),
            ("cost_line_amount_not_negative", "amount", AMOUNT_NEGATIVE),
            ("cost_line_period_bounded", "end", END_NOT_AFTER_START),
            ("fee_payment_amount_positive", "amount", AMOUNT_NOT_POSITIVE),
            ("fee_payment_key_present", "idempotency_key", KEY_REQUIRED),
            ("baseline_amount_not_negative", "monthly_amount", AMOUNT_NEGATIVE),
            ("baseline_hourly_product", "monthly_amount", HOURLY_FACTORS),
            ("baseline_hours_range", "hours_per_month", HOURS_RANGE),
            ("subletting_area_positive", "area_m2", AREA_NOT_POSITIVE),
            ("subletting_period_bounded", "end", END_NOT_AFTER_START),
        )
    }
)

COMMITMENT_FIELDS: Final = frozenset(
    {
        "funder", "agreement", "building", "nature", "amount", "start", "end",
        "purpose", "decision_reference", "decision_date", "budget_programme",
        "valuation_method", "illustrative",
    }
)  # fmt: skip
COST_LINE_FIELDS: Final = frozenset(
    {"category", "payer", "amount", "start", "end", "label", "illustrative"}
)


def _fail(message: Any, field: str | None, **params: object) -> DomainError:
    return DomainError(str(message).format(**params), field=field)


def _check_names(changes: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise _fail(FIELD_NOT_EDITABLE, unknown[0], name=unknown[0])


def _money(value: Decimal, *, field: str, positive: bool = True) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise _fail(AMOUNT_CENTS, field)
    if value != value.quantize(CENT):
        raise _fail(AMOUNT_CENTS, field)
    if positive and value <= 0:
        raise _fail(AMOUNT_NOT_POSITIVE, field)
    if value < 0:
        raise _fail(AMOUNT_NEGATIVE, field)
    return value


def _period(start: date, end: date) -> DateRange:
    if end <= start:
        raise _fail(END_NOT_AFTER_START, "end")
    return DateRange(start, end, "[)")


def _user(by: Actor) -> User | None:
    return by if isinstance(by, User) else None


# Agreements whose sub-occupations can be recorded: approved, or in force now or
# before (past sub-lettings of a closed site are history); never a draft, a
# rejected or a withdrawn one.
RECORDED_STATUSES = LIVE_STATUSES | frozenset(IN_FORCE_STATUSES)


# --- Commitments ----------------------------------------------------------------------
def _check_commitment(commitment: Commitment) -> None:
    if commitment.funder.kind not in FUNDER_KINDS:
        raise _fail(NOT_A_FUNDER, "funder", funder=commitment.funder)
    # An operator's own resources go to its own sites: naming it as the funder of
    # another operator's agreement also showed it that commitment.
    if (
        commitment.funder.kind == OrganizationKind.OPERATOR
        and commitment.agreement is not None
        and commitment.agreement.operator_id != commitment.funder_id
    ):
        raise _fail(OPERATOR_FUNDS_OWN, "funder", funder=commitment.funder)
    if commitment.decision_date > timezone.localdate():
        raise _fail(DECISION_IN_FUTURE, "decision_date")
    if (commitment.agreement_id is None) == (commitment.building_id is None):
        raise _fail(ONE_TARGET, "agreement")
    if commitment.nature not in Nature.values:
        raise _fail(NATURE_UNKNOWN, "nature", nature=commitment.nature)
    if commitment.nature in VALUED_NATURES and not commitment.valuation_method.strip():
        raise _fail(VALUATION_REQUIRED, "valuation_method")
    if not commitment.decision_reference.strip():
        raise _fail(DECISION_REQUIRED, "decision_reference")
    _money(commitment.amount, field="amount")


def commitment_create(
    *,
    by: Actor,
    funder: Organization,
    nature: str,
    amount: Decimal,
    start: date,
    end: date,
    decision_reference: str,
    decision_date: date,
    agreement: Agreement | None = None,
    building: Building | None = None,
    purpose: str = "",
    budget_programme: str = "",
    valuation_method: str = "",
    illustrative: bool = False,
) -> Commitment:
    commitment = Commitment(
        funder=funder,
        agreement=agreement,
        building=building,
        nature=nature,
        amount=amount,
        period=_period(start, end),
        purpose=purpose,
        decision_reference=decision_reference,
        decision_date=decision_date,
        budget_programme=budget_programme,
        valuation_method=valuation_method,
        illustrative=illustrative,
    )
    _check_commitment(commitment)
    with transaction.atomic():
        commitment.save()
    return commitment


def commitment_update(
    *, commitment: Commitment, by: Actor, **changes: Any
) -> Commitment:
    """Change a commitment's terms. The amount cannot fall below what is already
    disbursed, the period leave a disbursement out, nor the decision move past a
    disbursement (disbursement_record's rules, seen from the commitment): all are
    read under the commitment's row lock, so a disbursement recorded meanwhile is
    counted."""
    _check_names(changes, COMMITMENT_FIELDS)
    with transaction.atomic():
        locked = (
            Commitment.objects.select_for_update(of=("self",))
            .select_related("funder")
            .get(pk=commitment.pk)
        )
        start = changes.pop("start", locked.start)
        end = changes.pop("end", locked.end)
        if "agreement" in changes or "building" in changes:
            # Naming one target replaces the other: a commitment funds one thing.
            locked.agreement = changes.pop("agreement", None)
            locked.building = changes.pop("building", None)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.period = _period(start, end)
        _check_commitment(locked)
        paid = locked.disbursements.aggregate(total=Sum("amount"), first=Min("date"))
        paid_total: Decimal = paid["total"] or Decimal(0)
        if locked.amount < paid_total:
            raise Conflict(
                str(BELOW_DISBURSED).format(disbursed=paid_total), field="amount"
            )
        outside = (
            locked.disbursements.exclude(date__gte=start, date__lt=end)
            .order_by("date")
            .values_list("date", flat=True)
            .first()
        )
        if outside is not None:
            field = "start" if outside < start else "end"
            raise Conflict(str(PERIOD_LEAVES_OUT).format(date=outside), field=field)
        first_paid: date | None = paid["first"]
        if first_paid is not None and first_paid < locked.decision_date:
            raise Conflict(
                str(DECIDED_AFTER_PAID).format(date=first_paid), field="decision_date"
            )
        locked.save()
    return locked


# --- Payments recorded once: disbursements and fees ---------------------------------
Payment = TypeVar("Payment", Disbursement, FeePayment)


def _key(idempotency_key: str) -> str:
    """The client's Idempotency-Key, checked."""
    key = idempotency_key.strip()
    if not key:
        raise _fail(KEY_REQUIRED, "idempotency_key")
    if len(key) > 255:
        raise _fail(KEY_TOO_LONG, "idempotency_key")
    return key


def _recorded(
    payments: QuerySet[Payment], *, key: str, amount: Decimal, on: date
) -> Payment | None:
    """The payment recorded under ``key`` among ``payments`` (one parent's), for a
    retry to return; None on a first try. Read after locking the parent: READ
    COMMITTED then sees every payment committed by the writers that held the lock
    before, a first try with this key included, so racing retries write one row.
    The same key for another amount or date is a conflict."""
    first = payments.filter(idempotency_key=key).first()
    if first is not None and (first.amount, first.date) != (amount, on):
        raise Conflict(
            str(KEY_REUSED).format(amount=first.amount, date=first.date),
            field="idempotency_key",
        )
    return first


# --- Disbursements --------------------------------------------------------------------
def _evidence(
    evidence: str | File[bytes],
) -> tuple[str, File[bytes] | None, str]:
    """(reference, file, sha256) from a reference or an uploaded PDF."""
    if isinstance(evidence, File):
        facts = documents.check_pdf(evidence, max_bytes=rules().document_max_bytes)
        return "", evidence, facts.sha256
    reference = evidence.strip()
    if not reference:
        raise _fail(EVIDENCE_REQUIRED, "evidence_reference")
    return reference, None, ""


def disbursement_record(
    *,
    commitment: Commitment,
    date: date,
    amount: Decimal,
    evidence: str | File[bytes],
    idempotency_key: str,
    by: Actor,
) -> tuple[Disbursement, bool]:
    """Record a payment against ``commitment``; ``(disbursement, created)``.

    A retry with the same ``idempotency_key`` returns the first disbursement and
    ``created=False`` (also when the retries race each other), provided it asks
    for the same payment; the same key for another amount or date is a conflict.
    The sum of disbursements never exceeds the commitment: concurrent calls queue
    on the commitment's row lock and each sums what the previous ones committed.
    """
    key = _key(idempotency_key)
    _money(amount, field="amount")
    reference, document, digest = _evidence(evidence)
    with transaction.atomic():
        locked = Commitment.objects.select_for_update().get(pk=commitment.pk)
        first = _recorded(locked.disbursements.all(), key=key, amount=amount, on=date)
        if first is not None:
            return first, False
        if not locked.period.lower <= date < locked.period.upper:
            raise _fail(
                DATE_OUTSIDE, "date", start=locked.start, last=_last_day(locked.end)
            )
        # A payment made, and made on a decision: a date ahead inflated "disbursed".
        if date > timezone.localdate():
            raise _fail(DISBURSED_IN_FUTURE, "date")
        if date < locked.decision_date:
            raise _fail(
                DISBURSED_BEFORE_DECISION, "date", decision=locked.decision_date
            )
        paid: Decimal = locked.disbursements.aggregate(total=Sum("amount"))[
            "total"
        ] or Decimal(0)
        if paid + amount > locked.amount:
            raise Conflict(
                str(OVERDRAFT).format(remaining=locked.amount - paid), field="amount"
            )
        disbursement = Disbursement(
            commitment=locked,
            date=date,
            amount=amount,
            evidence_reference=reference,
            evidence_sha256=digest,
            idempotency_key=key,
            recorded_by=_user(by),
        )
        # Stored under a random name, as agreements' documents; the model keeps
        # no trace of the client's file name, only the PDF's sha256.
        with (
            documents.stored(disbursement.evidence_file, document)
            if document is not None
            else nullcontext()
        ):
            disbursement.save()
    return disbursement, True


def _last_day(end: date) -> date:
    return date.fromordinal(end.toordinal() - 1)


# --- Costs, fees, baselines, sub-lettings ---------------------------------------------
def _check_cost_line(line: CostLine) -> None:
    if line.category not in CostCategory.values:
        raise _fail(CATEGORY_UNKNOWN, "category", category=line.category)
    if line.payer not in Payer.values:
        raise _fail(PAYER_UNKNOWN, "payer", payer=line.payer)
    _money(line.amount, field="amount", positive=False)


def cost_line_create(
    *,
    by: Actor,
    building: Building,
    category: str,
    payer: str,
    amount: Decimal,
    start: date,
    end: date,
    label: str = "",
    illustrative: bool = False,
) -> CostLine:
    line = CostLine(
        building=building,
        category=category,
        payer=payer,
        amount=amount,
        period=_period(start, end),
        label=label,
        illustrative=illustrative,
    )
    _check_cost_line(line)
    with transaction.atomic():
        line.save()
    return line


def cost_line_update(*, cost_line: CostLine, by: Actor, **changes: Any) -> CostLine:
    _check_names(changes, COST_LINE_FIELDS)
    with transaction.atomic():
        locked = CostLine.objects.select_for_update().get(pk=cost_line.pk)
        start = changes.pop("start", locked.period.lower)
        end = changes.pop("end", locked.period.upper)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.period = _period(start, end)
        _check_cost_line(locked)
        locked.save()
    return locked


def fee_payment_record(
    *,
    by: Actor,
    agreement: Agreement,
    date: date,
    amount: Decimal,
    idempotency_key: str,
    reference: str = "",
    illustrative: bool = False,
) -> tuple[FeePayment, bool]:
    """Record a fee paid under ``agreement``; ``(payment, created)``.

    As disbursement_record: a retry with the same ``idempotency_key`` returns the
    first payment and ``created=False`` (also when the retries race each other:
    they queue on the agreement's row lock), provided it asks for the same amount
    and date; the same key for another payment is a conflict.
    """
    key = _key(idempotency_key)
    _money(amount, field="amount")
    with transaction.atomic():
        # FOR NO KEY UPDATE: fee writers queue; the agreement's other children
        # (stays, spaces…) still take their foreign-key share lock meanwhile.
        locked = Agreement.objects.select_for_update(no_key=True).get(pk=agreement.pk)
        first = _recorded(locked.fee_payments.all(), key=key, amount=amount, on=date)
        if first is not None:
            return first, False
        # A fee is paid for an occupation (domain.md §B.2): on an agreement that
        # came into force, within its period, and a payment received is past.
        if locked.status not in IN_FORCE_STATUSES:
            raise _fail(NOT_IN_FORCE, "agreement")
        if not locked.start <= date <= min(_last_day(locked.end), timezone.localdate()):
            raise _fail(
                PAYMENT_OUTSIDE, "date", start=locked.start, last=_last_day(locked.end)
            )
        payment = FeePayment.objects.create(
            agreement=locked,
            date=date,
            amount=amount,
            reference=reference,
            illustrative=illustrative,
            idempotency_key=key,
        )
    return payment, True


def security_baseline_set(
    *,
    by: Actor,
    building: Building,
    method: str,
    monthly_amount: Decimal | None = None,
    hourly_rate: Decimal | None = None,
    hours_per_month: Decimal | None = None,
    source: str = "",
    illustrative: bool = False,
) -> SecurityBaseline:
    """The building's one baseline, created or replaced. With the hourly method the
    monthly amount is the product of its factors, rounded to the cent."""
    if method not in BaselineMethod.values:
        raise _fail(METHOD_UNKNOWN, "method", method=method)
    if hours_per_month is not None and not 0 < hours_per_month <= MAX_HOURS_PER_MONTH:
        raise _fail(HOURS_RANGE, "hours_per_month")
    if hourly_rate is not None:
        _money(hourly_rate, field="hourly_rate", positive=False)
    if method == BaselineMethod.HOURLY_RATE:
        if hourly_rate is None or hours_per_month is None:
            raise _fail(HOURLY_FACTORS, "hourly_rate")
        # Half away from zero, as PostgreSQL's round() in baseline_hourly_product:
        # 22.01 × 100.5 = 2,212.005 is 2,212.01 there, 2,212.00 half-even.
        product = hourly_rate * hours_per_month
        monthly_amount = product.quantize(CENT, rounding=ROUND_HALF_UP)
    if monthly_amount is None:
        raise _fail(MONTHLY_REQUIRED, "monthly_amount")
    _money(monthly_amount, field="monthly_amount", positive=False)
    values = {
        "method": method,
        "monthly_amount": monthly_amount,
        "hourly_rate": hourly_rate,
        "hours_per_month": hours_per_month,
        "source": source,
        "illustrative": illustrative,
    }
    with transaction.atomic():
        # The lock on the building makes two first baselines queue, not collide.
        Building.objects.select_for_update().filter(pk=building.pk).first()
        baseline, _created = SecurityBaseline.objects.update_or_create(
            building=building, defaults=values
        )
    return baseline


def subletting_create(
    *,
    by: Actor,
    agreement: Agreement,
    sub_occupant: str,
    area_m2: Decimal,
    rate_per_m2_month: Decimal,
    start: date,
    end: date,
    space: Space | None = None,
    illustrative: bool = False,
) -> SubLetting:
    if not sub_occupant.strip():
        raise _fail(SUB_OCCUPANT_REQUIRED, "sub_occupant")
    if area_m2 <= 0:
        raise _fail(AREA_NOT_POSITIVE, "area_m2")
    _money(rate_per_m2_month, field="rate_per_m2_month", positive=False)
    period = _period(start, end)
    if space is not None and space.building_id != agreement.building_id:
        raise _fail(SPACE_OTHER_BUILDING, "space", space=space)
    if agreement.status not in RECORDED_STATUSES:
        raise _fail(
            AGREEMENT_NOT_LIVE, "agreement", status=agreement.get_status_display()
        )
    # No more area than the premises hold (domain.md §C.4).
    place = space if space is not None else agreement.building
    if place.surface_m2 is not None and area_m2 > place.surface_m2:
        raise _fail(
            AREA_ABOVE_SURFACE, "area_m2", place=place, surface=place.surface_m2
        )
    # A sub-occupation ends with its main agreement (domain.md §C.4).
    if start < agreement.start or end > agreement.end:
        raise _fail(
            OUTSIDE_AGREEMENT,
            "end" if end > agreement.end else "start",
            start=agreement.start,
            last=_last_day(agreement.end),
        )
    with transaction.atomic():
        return SubLetting.objects.create(
            agreement=agreement,
            space=space,
            sub_occupant=sub_occupant.strip(),
            area_m2=area_m2,
            rate_per_m2_month=rate_per_m2_month,
            period=period,
            illustrative=illustrative,
        )
