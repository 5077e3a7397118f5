"""Writes on agreements: terms, spaces, lifecycle, amendments, insurance, documents.

Every function is keyword-only, atomic and raises a domain error naming the input at
fault. The legal rules themselves (terms of §C.4, guards of §D.2), each with its
source, are checks in occupancy/legal.py; caps and durations are read from
``occupancy.rules``. The audit trail is written by database triggers
(occupancy/models.py), and each status change also gets an ``AgreementStatusChange``
row saying who, from, to and why.

Lock order, to keep concurrent writers from deadlocking: the agreement row, then its
building, then its spaces (in primary-key order).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, TypeVar, cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from buildings.models import ALLOWED_TRANSITIONS, Building, BuildingStatus
from buildings.services import building_transition
from config.api import CONSTRAINT_ERRORS
from config.errors import Conflict, InvalidTransition
from occupancy import documents, legal
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    LIVE_STATUSES,
    Agreement,
    AgreementSpace,
    AgreementStatus,
    AgreementStatusChange,
    Amendment,
    AmendmentKind,
    Document,
    DocumentKind,
    InsuranceCertificate,
    Space,
    Stay,
)
from occupancy.rules import rules
from organizations.models import Organization

Actor = User | AnonymousUser | None
T = TypeVar("T")
_A = AgreementStatus
_B = BuildingStatus

# --- Messages -----------------------------------------------------------------------
FIELD_NOT_EDITABLE = _("“{name}” cannot be set here.")
REFERENCE_TAKEN = _("The reference “{reference}” is already used.")
NOT_EDITABLE = _(
    "Agreement {agreement} is “{status}”: its terms change only by amendment."
)
# Spaces
SPACE_OTHER_BUILDING = _("“{space}” belongs to another building.")
SIGNED_BEFORE_OPINION = _(
    "The signature ({signed}) cannot precede the DDFiP opinion ({opinion})."
)
EXIT_TOO_EARLY = _(
    "The exit inventory ({exit}) cannot precede the start or the entry inventory "
    "({since})."
)
FACT_NOT_YET = _(
    "“{name}” is recorded once the agreement is {when}, not while it is “{status}”."
)
FACT_FIXED_BY_APPROVAL = _(
    "“{name}” no longer changes once the agreement is approved (it is “{status}”): "
    "the approval rests on it."
)
SPACES_OVERLAP = _(
    "“{space}” is already held by agreement {other} over overlapping dates."
)
SPACES_OVERLAP_UNKNOWN = _(
    "A space is already held by another agreement over overlapping dates."
)
SPACE_HAS_STAYS = _("“{space}” still has stays under this agreement.")
SPACES_FROZEN = _("Agreement {agreement} is “{status}”: its spaces no longer change.")
# Lifecycle (domain.md §D.2)
TRANSITION_REFUSED = _("Agreement {agreement} cannot go from “{old}” to “{new}”.")
BUILDING_CANNOT_FOLLOW = _(
    "The building “{building}” is “{status}”: it cannot become “{target}”, so the "
    "agreement cannot be “{new}”."
)
BUILDING_REASON = _("Agreement {agreement}: {old} → {new}.")
# Amendments
NOT_AMENDABLE = _(
    "Agreement {agreement} is “{status}”: amendments apply from signature until "
    "the agreement starts ending."
)
AMENDMENT_KIND_UNKNOWN = _("Unknown kind of amendment “{kind}”.")
NEW_END_ONLY_FOR_PROROGATION = _("Only a prorogation changes the end date.")
# Insurance and documents
INSURER_REQUIRED = _("Name the insurer.")
INSURANCE_DATES = _("The certificate ends before it starts.")
AGREEMENT_FINISHED = _("Agreement {agreement} is “{status}”.")
DOCUMENT_KIND_UNKNOWN = _("Unknown kind of document “{kind}”.")
TITLE_REQUIRED = _("Give the document a title.")


# The API turns these constraint violations into 409 with a field (config/api.py).
# The messages stay lazy, so they are translated per response (DRF's JSON encoder
# renders lazy strings), not frozen in whichever language was active at import.
CONSTRAINT_ERRORS.update(
    {
        name: (field, cast(str, message))
        for name, field, message in (
            ("agreement_space_no_overlap", "spaces", SPACES_OVERLAP_UNKNOWN),
            (
                "agreement_economic_selection",
                "selection_reference",
                legal.SELECTION_REQUIRED,
            ),
            (
                "agreement_waiver_has_basis",
                "fee_exemption_basis",
                legal.WAIVER_BASIS_REQUIRED,
            ),
            ("agreement_paid_fee_positive", "fee_amount", legal.FEE_NOT_POSITIVE),
            ("agreement_fee_not_negative", "fee_amount", legal.FEE_NOT_POSITIVE),
            ("agreement_free_has_no_fee", "fee_amount", legal.FREE_WITH_FEE),
            ("agreement_period_bounded", "end", legal.END_NOT_AFTER_START),
            ("insurance_dates_ordered", "valid_until", INSURANCE_DATES),
            ("amendment_prorogation_has_end", "new_end", legal.NEW_END_REQUIRED),
        )
    }
)

# --- Vocabulary -----------------------------------------------------------------------
# Terms (dates, fee, purposes…) change freely until approval; afterwards by amendment.
EDITABLE_STATUSES: Final = frozenset({_A.DRAFT, _A.UNDER_REVIEW})
# Spaces change until the agreement starts ending (a scope amendment once signed).
SPACE_EDITABLE_STATUSES: Final = frozenset(
    {_A.DRAFT, _A.UNDER_REVIEW, _A.APPROVED, _A.SIGNED, _A.ACTIVE, _A.SUSPENDED}
)
# An ending agreement's building is being released (no way back to occupied).
AMENDABLE_STATUSES: Final = frozenset({_A.SIGNED, _A.ACTIVE, _A.SUSPENDED})
FINISHED_STATUSES: Final = frozenset({_A.CLOSED, _A.REJECTED, _A.WITHDRAWN})
# Approved terms, whatever became of them since.
APPROVED_SINCE: Final = frozenset(
    {_A.APPROVED, _A.SIGNED, _A.ACTIVE, _A.SUSPENDED, _A.ENDING, _A.EXPIRED,
     _A.REVOKED, _A.TERMINATED}
)  # fmt: skip

# The terms an agent or operator writes (agreement_create/agreement_update).
TERM_FIELDS: Final = frozenset(
    {
        "reference", "grantor", "operator", "regime", "purposes", "start", "end",
        "economic_activity", "selection_reference", "selection_exemption",
        "free_of_charge", "fee_amount", "fee_period", "fee_indexation",
        "fee_exemption_basis", "waiver_justification", "ddfip_opinion_reference",
        "ddfip_opinion_date", "market_rent_yearly", "max_headcount", "sleeping_allowed",
    }
)  # fmt: skip
# Facts recorded along the lifecycle (agreement_record, agreement_transition).
FACT_FIELDS: Final = frozenset(
    {
        "signed_on", "entry_inventory_on", "exit_inventory_on", "prefect_notified_on",
        "mayor_notified_on", "revocation_motive", "ddfip_opinion_reference",
        "ddfip_opinion_date",
    }
)  # fmt: skip
DATE_FACTS: Final = (
    "signed_on", "entry_inventory_on", "exit_inventory_on", "prefect_notified_on",
    "mayor_notified_on", "ddfip_opinion_date",
)  # fmt: skip


def _today() -> date:
    return timezone.localdate()


def _check_names(fields: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise legal.fail(FIELD_NOT_EDITABLE, unknown[0], name=unknown[0])


def _distinct(values: Iterable[T]) -> list[T]:
    """``values`` in their order, each once."""
    return list(dict.fromkeys(values))


def _touch(agreement: Agreement) -> None:
    """A new version of the agreement: its ETag changes with every write on it or
    on what hangs from it (spaces, amendments, insurance, documents)."""
    Agreement.objects.filter(pk=agreement.pk).update(updated_at=timezone.now())


def _locked(agreement: Agreement) -> Agreement:
    return (
        Agreement.objects.select_for_update(of=("self",))
        .select_related("building", "operator", "grantor")
        .get(pk=agreement.pk)
    )


def _check_not_finished(agreement: Agreement) -> None:
    """Nothing is recorded on a closed, rejected or withdrawn agreement: facts,
    insurance certificates, documents (those already there are kept)."""
    if agreement.status in FINISHED_STATUSES:
        raise Conflict(
            str(AGREEMENT_FINISHED).format(
                agreement=agreement, status=agreement.get_status_display()
            ),
            field="status",
        )


# --- Agreements ----------------------------------------------------------------------
def _new_reference(building: Building, start: date) -> str:
    # A random suffix rather than a per-département counter, which would need a
    # locked counter row; agents may give the prefecture's own reference instead.
    department = building.department_id or "FR"
    return f"CONV-{department}-{start:%Y}-{secrets.token_hex(3).upper()}"


def _check_reference_free(reference: str, *, exclude: int | None = None) -> None:
    taken = Agreement.objects.filter(reference=reference)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(
            str(REFERENCE_TAKEN).format(reference=reference), field="reference"
        )


def agreement_create(
    *,
    by: Actor,
    building: Building,
    grantor: Organization,
    operator: Organization,
    regime: str,
    purposes: Iterable[str],
    start: date,
    end: date,
    spaces: Iterable[Space] = (),
    reference: str = "",
    **terms: Any,
) -> Agreement:
    """A draft agreement, its terms checked against the law (§C.4).

    ``terms`` are the other fields of TERM_FIELDS (fee, selection, headcount…).
    The spaces are attached but not held until approval.
    """
    _check_names(terms, TERM_FIELDS)
    agreement = Agreement(
        reference=reference.strip() or _new_reference(building, start),
        building=building,
        grantor=grantor,
        operator=operator,
        regime=regime,
        purposes=_distinct(purposes),
        period=legal.period_of(start, end),
        status=_A.DRAFT,
        **terms,
    )
    # A space named twice is attached once (agreement_space_unique).
    spaces = _distinct(spaces)
    legal.check_terms(agreement, on=_today())
    _check_same_building(agreement, spaces)
    with transaction.atomic():
        _check_reference_free(agreement.reference)
        _full_clean(agreement)
        agreement.save()
        AgreementSpace.objects.bulk_create(
            AgreementSpace(agreement=agreement, space=space, period=agreement.period)
            for space in spaces
        )
    return agreement


def agreement_update(*, agreement: Agreement, by: Actor, **fields: Any) -> Agreement:
    """Change the terms of a draft or an agreement under review."""
    _check_names(fields, TERM_FIELDS)
    with transaction.atomic():
        agreement = _locked(agreement)
        if agreement.status not in EDITABLE_STATUSES:
            raise Conflict(
                str(NOT_EDITABLE).format(
                    agreement=agreement, status=agreement.get_status_display()
                ),
                field="status",
            )
        start = fields.pop("start", legal.start_of(agreement))
        end = fields.pop("end", legal.end_of(agreement))
        if "purposes" in fields:
            fields["purposes"] = _distinct(fields["purposes"])
        if "reference" in fields:
            fields["reference"] = str(fields["reference"]).strip()
            _check_reference_free(fields["reference"], exclude=agreement.pk)
        for name, value in fields.items():
            setattr(agreement, name, value)
        agreement.period = legal.period_of(start, end)
        legal.check_terms(agreement, on=_today())
        _full_clean(agreement)
        agreement.save(update_fields=[*fields, "period", "updated_at"])
        _sync_spaces(agreement, field="end")
    return agreement


def agreement_record(*, agreement: Agreement, by: Actor, **facts: Any) -> Agreement:
    """Record lifecycle facts (signature, inventories, notifications, DDFiP opinion)
    without changing the status; the guards of agreement_transition read them."""
    _check_names(facts, FACT_FIELDS)
    with transaction.atomic():
        agreement = _locked(agreement)
        _check_not_finished(agreement)
        _check_fact_statuses(agreement, facts)
        _apply_facts(agreement, facts, on=_today())
        if "signed_on" in facts:
            legal.check_signed_after_approval(agreement)
        agreement.save(update_fields=[*facts, "updated_at"])
    return agreement


# Facts that belong to a stage of the lifecycle (domain.md §D.2): a date of
# signature once the terms are approved, a revocation motive on a revoked agreement,
# an exit inventory on one that is ending or has ended. A transition records them
# as it moves to that stage.
_FACT_STAGES: Final = {
    # The parties sign the terms the State approved (APPROVED → SIGNED), never a
    # draft: a date of signature recorded earlier would open the signature guard.
    "signed_on": (APPROVED_SINCE, _("approved")),
    "revocation_motive": (frozenset({_A.REVOKED}), _("revoked")),
    "exit_inventory_on": (
        frozenset({_A.ENDING, _A.EXPIRED, _A.REVOKED, _A.TERMINATED}),
        _("ending or ended"),
    ),
}


# Facts the approval rests on, fixed once it is given, as the terms are: the State
# approves them on the DDFiP's financial conditions (R.2125-1, R.2222-1; the
# approval guard reads them). One still blank (a free agreement's, which approval
# does not require) may be recorded later, and is then fixed in turn.
_FIXED_BY_APPROVAL: Final = ("ddfip_opinion_reference", "ddfip_opinion_date")


def _check_fact_statuses(
    agreement: Agreement, facts: Mapping[str, Any], *, to: str | None = None
) -> None:
    """Each fact at its stage: the agreement's status, or the one a transition
    (``to``) moves it to; and no fact the approval rests on rewritten once it is
    given (a Conflict on the fact, as on the terms)."""
    for name, (statuses, when) in _FACT_STAGES.items():
        if facts.get(name) and not {agreement.status, to} & statuses:
            raise legal.fail(
                FACT_NOT_YET,
                name,
                name=name,
                when=when,
                status=agreement.get_status_display(),
            )
    if agreement.status not in APPROVED_SINCE:
        return
    for name in _FIXED_BY_APPROVAL:
        recorded = getattr(agreement, name)
        if name in facts and recorded not in (None, "") and facts[name] != recorded:
            raise Conflict(
                str(FACT_FIXED_BY_APPROVAL).format(
                    name=name, status=agreement.get_status_display()
                ),
                field=name,
            )


def _apply_facts(agreement: Agreement, facts: Mapping[str, Any], *, on: date) -> None:
    for name, value in facts.items():
        setattr(agreement, name, value)
    _full_clean(agreement)
    for name in DATE_FACTS:
        value = getattr(agreement, name) if name in facts else None
        if value is not None and value > on:
            raise legal.fail(legal.DATE_IN_FUTURE, name, value=value, on=on)
    # The order of the facts being recorded against those already there.
    signed, opinion = agreement.signed_on, agreement.ddfip_opinion_date
    if {"signed_on", "ddfip_opinion_date"} & set(facts) and (
        signed and opinion and signed < opinion
    ):
        field = "signed_on" if "signed_on" in facts else "ddfip_opinion_date"
        raise legal.fail(SIGNED_BEFORE_OPINION, field, signed=signed, opinion=opinion)
    exit_on = agreement.exit_inventory_on
    if {"exit_inventory_on", "entry_inventory_on"} & set(facts) and exit_on:
        since = max(filter(None, (agreement.start, agreement.entry_inventory_on)))
        if exit_on < since:
            field = (
                "exit_inventory_on"
                if "exit_inventory_on" in facts
                else "entry_inventory_on"
            )
            raise legal.fail(EXIT_TOO_EARLY, field, exit=exit_on, since=since)


def _full_clean(agreement: Agreement) -> None:
    # Field-level checks only: the foreign keys were loaded from the database, the
    # constraints are the database's and check_terms says the same more clearly.
    agreement.full_clean(
        exclude=["building", "grantor", "operator"],
        validate_unique=False,
        validate_constraints=False,
    )


# --- Spaces -------------------------------------------------------------------------
def _check_same_building(agreement: Agreement, spaces: Iterable[Space]) -> None:
    for space in spaces:
        if space.building_id != agreement.building_id:
            raise legal.fail(SPACE_OTHER_BUILDING, "spaces", space=space)


def _lock_spaces(space_ids: Iterable[int]) -> None:
    # Two writers flipping rows on shared spaces queue here, in primary-key order,
    # instead of deadlocking inside the exclusion constraint's index. NO KEY UPDATE
    # leaves the spaces' foreign keys (stays, inspections) free to insert meanwhile.
    list(
        Space.objects.select_for_update(no_key=True)
        .filter(pk__in=list(space_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    name: str | None = getattr(diag, "constraint_name", None)
    return name


def _overlap_conflict(agreement: Agreement, *, field: str) -> Conflict:
    clash = (
        AgreementSpace.objects.filter(
            space__agreement_spaces__agreement=agreement,
            is_live=True,
            period__overlap=agreement.period,
        )
        .exclude(agreement=agreement)
        .select_related("space", "agreement")
        .order_by("space__name")
        .first()
    )
    if clash is None:  # the other writer rolled back meanwhile
        return Conflict(str(SPACES_OVERLAP_UNKNOWN), field=field)
    message = str(SPACES_OVERLAP).format(space=clash.space, other=clash.agreement)
    return Conflict(message, field=field)


def _sync_spaces(agreement: Agreement, *, field: str) -> None:
    """Copy the agreement's period and liveness onto its AgreementSpace rows, where
    the exclusion constraint ``agreement_space_no_overlap`` holds them apart."""
    live = agreement.status in LIVE_STATUSES
    rows = AgreementSpace.objects.filter(agreement=agreement)
    if live:
        _lock_spaces(rows.values_list("space_id", flat=True))
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives
            rows.update(period=agreement.period, is_live=live)
    except IntegrityError as exc:
        if _constraint_name(exc) != "agreement_space_no_overlap":
            raise
        raise _overlap_conflict(agreement, field=field) from exc


def agreement_set_spaces(
    *, agreement: Agreement, spaces: Iterable[Space], by: Actor
) -> Agreement:
    """Make ``spaces`` the agreement's spaces; a live agreement holds them at once
    (a space held by another live agreement over overlapping dates → Conflict)."""
    spaces = list(spaces)
    with transaction.atomic():
        agreement = _locked(agreement)
        if agreement.status not in SPACE_EDITABLE_STATUSES:
            raise Conflict(
                str(SPACES_FROZEN).format(
                    agreement=agreement, status=agreement.get_status_display()
                ),
                field="spaces",
            )
        _check_same_building(agreement, spaces)
        wanted = {space.pk: space for space in spaces}
        current = set(
            AgreementSpace.objects.filter(agreement=agreement).values_list(
                "space_id", flat=True
            )
        )
        removed = current - set(wanted)
        busy = (
            Stay.objects.filter(
                agreement=agreement,
                space_id__in=removed,
                status__in=legal.RUNNING_STAY_STATUSES,
            )
            .select_related("space")
            .first()
        )
        if busy is not None:
            raise legal.fail(SPACE_HAS_STAYS, "spaces", space=busy.space)
        AgreementSpace.objects.filter(
            agreement=agreement, space_id__in=removed
        ).delete()
        added = [wanted[pk] for pk in sorted(set(wanted) - current)]
        live = agreement.status in LIVE_STATUSES
        if live:
            _lock_spaces(space.pk for space in added)
        try:
            with transaction.atomic():
                AgreementSpace.objects.bulk_create(
                    AgreementSpace(
                        agreement=agreement,
                        space=space,
                        period=agreement.period,
                        is_live=live,
                    )
                    for space in added
                )
        except IntegrityError as exc:
            if _constraint_name(exc) != "agreement_space_no_overlap":
                raise
            raise _overlap_conflict(agreement, field="spaces") from exc
        _touch(agreement)
    return agreement


# --- Lifecycle (domain.md §D.2; the guards are in occupancy/legal.py) ---------------
@dataclass(frozen=True)
class Follow:
    """How the building follows an agreement's move (domain.md §D.1).

    The building goes to ``target`` from one of ``moves_from``, unless another
    agreement on it is in ``unless_others``. ``required`` moves refuse the agreement's
    transition when the building is elsewhere (and not already ``settled`` by another
    agreement); the others leave a building that is already past occupation alone.
    """

    target: str
    moves_from: frozenset[str]
    settled: frozenset[str] = frozenset()
    unless_others: frozenset[str] = frozenset()
    required: bool = False


_RELEASE = Follow(
    target=_B.RELEASING,
    moves_from=frozenset({_B.OCCUPIED, _B.SUSPENDED}),
    unless_others=legal.OCCUPYING_STATUSES,
)
_GIVE_BACK = Follow(
    target=_B.AVAILABLE,
    moves_from=frozenset({_B.UNDER_AGREEMENT}),
    unless_others=LIVE_STATUSES,
)
FOLLOWS: dict[tuple[str, str], Follow] = {
    (_A.APPROVED, _A.SIGNED): Follow(
        target=_B.UNDER_AGREEMENT,
        moves_from=frozenset({_B.AVAILABLE}),
        settled=frozenset({_B.UNDER_AGREEMENT, _B.OCCUPIED}),
        required=True,
    ),
    (_A.SIGNED, _A.ACTIVE): Follow(
        target=_B.OCCUPIED,
        moves_from=frozenset({_B.UNDER_AGREEMENT}),
        settled=frozenset({_B.OCCUPIED}),
        required=True,
    ),
    (_A.SUSPENDED, _A.ACTIVE): Follow(
        target=_B.OCCUPIED,
        moves_from=frozenset({_B.SUSPENDED}),
        settled=frozenset({_B.OCCUPIED}),
        required=True,
    ),
    (_A.ACTIVE, _A.SUSPENDED): Follow(
        target=_B.SUSPENDED,
        moves_from=frozenset({_B.OCCUPIED}),
        unless_others=frozenset({_A.ACTIVE}),
    ),
    (_A.ACTIVE, _A.ENDING): _RELEASE,
    (_A.ACTIVE, _A.REVOKED): _RELEASE,
    (_A.SUSPENDED, _A.REVOKED): _RELEASE,
    (_A.ENDING, _A.REVOKED): _RELEASE,
    (_A.ACTIVE, _A.TERMINATED): _RELEASE,
    (_A.SUSPENDED, _A.TERMINATED): _RELEASE,
    (_A.ENDING, _A.TERMINATED): _RELEASE,
    (_A.UNDER_REVIEW, _A.REJECTED): _GIVE_BACK,
    (_A.DRAFT, _A.WITHDRAWN): _GIVE_BACK,
    (_A.UNDER_REVIEW, _A.WITHDRAWN): _GIVE_BACK,
    (_A.APPROVED, _A.WITHDRAWN): _GIVE_BACK,
    (_A.SIGNED, _A.WITHDRAWN): _GIVE_BACK,
}


def _building_follows(agreement: Agreement, *, old: str, new: str, by: Actor) -> None:
    follow = FOLLOWS.get((old, new))
    if follow is None:
        return
    building = Building.objects.select_for_update().get(pk=agreement.building_id)
    status = building.status
    if status in follow.moves_from and follow.target in ALLOWED_TRANSITIONS[status]:
        others = Agreement.objects.filter(
            building_id=building.pk, status__in=follow.unless_others
        ).exclude(pk=agreement.pk)
        if follow.unless_others and others.exists():
            return
        building_transition(
            building=building,
            to=follow.target,
            by=by,
            reason=str(BUILDING_REASON).format(agreement=agreement, old=old, new=new),
            by_agreement=True,
        )
    elif follow.required and status not in follow.settled:
        raise Conflict(
            str(BUILDING_CANNOT_FOLLOW).format(
                building=building,
                status=building.get_status_display(),
                target=BuildingStatus(follow.target).label,
                new=AgreementStatus(new).label,
            ),
            field="building",
        )


def transition_refused(agreement: Agreement, to: str) -> InvalidTransition | None:
    """Why the lifecycle forbids moving ``agreement`` from its status to ``to``
    (None when it allows it): the error agreement_transition raises, which a page
    also shows when the move it posted is gone (someone moved the agreement)."""
    if to in AGREEMENT_TRANSITIONS.get(agreement.status, frozenset()):
        return None
    labels = dict(AgreementStatus.choices)
    return InvalidTransition(
        str(TRANSITION_REFUSED).format(
            agreement=agreement,
            old=labels.get(agreement.status, agreement.status),
            new=labels.get(to, to),
        )
    )


def agreement_transition(
    *,
    agreement: Agreement,
    to: str,
    by: Actor,
    reason: str = "",
    on: date | None = None,
    **facts: Any,
) -> Agreement:
    """Move ``agreement`` to status ``to`` on day ``on`` (today by default).

    ``facts`` (signed_on, entry_inventory_on, revocation_motive…) are recorded in the
    same step. The row is locked; the guard of §D.2 checks the move; the spaces'
    liveness and the building's status follow in the same transaction.
    """
    _check_names(facts, FACT_FIELDS)
    on = on or _today()
    with transaction.atomic():
        agreement = _locked(agreement)
        old = agreement.status
        refused = transition_refused(agreement, to)
        if refused is not None:
            raise refused
        _check_fact_statuses(agreement, facts, to=to)
        _apply_facts(agreement, facts, on=on)
        if "signed_on" in facts:
            legal.check_signed_after_approval(
                agreement, approved_on=on if to == _A.APPROVED else None
            )
        guard = legal.GUARDS.get((old, to))
        if guard is not None:
            guard(agreement, on, reason)
        agreement.status = to
        agreement.save(update_fields=["status", *facts, "updated_at"])
        _sync_spaces(agreement, field="spaces")
        AgreementStatusChange.objects.create(
            agreement=agreement,
            from_status=old,
            to_status=to,
            reason=reason,
            changed_by=by if isinstance(by, User) else None,
        )
        _building_follows(agreement, old=old, new=to, by=by)
    return agreement


# --- Amendments, insurance, documents ----------------------------------------------
def amendment_add(
    *,
    agreement: Agreement,
    kind: str,
    signed_on: date,
    by: Actor,
    new_end: date | None = None,
    owner_justification: str = "",
) -> Amendment:
    """Record a signed amendment; a prorogation moves the agreement's end and its
    spaces' periods together (the exclusion constraint is checked again)."""
    if kind not in AmendmentKind.values:
        raise legal.fail(AMENDMENT_KIND_UNKNOWN, "kind", kind=kind)
    today = _today()
    if signed_on > today:
        raise legal.fail(legal.DATE_IN_FUTURE, "signed_on", value=signed_on, on=today)
    with transaction.atomic():
        agreement = _locked(agreement)
        if agreement.status not in AMENDABLE_STATUSES:
            raise Conflict(
                str(NOT_AMENDABLE).format(
                    agreement=agreement, status=agreement.get_status_display()
                ),
                field="status",
            )
        if kind != AmendmentKind.PROROGATION:
            if new_end is not None:
                raise legal.fail(NEW_END_ONLY_FOR_PROROGATION, "new_end")
        else:
            legal.check_prorogation(
                agreement, new_end, owner_justification, signed_on=signed_on
            )
        amendment = Amendment.objects.create(
            agreement=agreement,
            kind=kind,
            new_end=new_end,
            owner_justification=owner_justification.strip(),
            signed_on=signed_on,
        )
        if new_end is not None:
            agreement.period = legal.period_of(legal.start_of(agreement), new_end)
            agreement.save(update_fields=["period", "updated_at"])
            _sync_spaces(agreement, field="new_end")
        else:
            _touch(agreement)
    return amendment


def insurance_add(
    *,
    agreement: Agreement,
    insurer: str,
    valid_from: date,
    valid_until: date,
    by: Actor,
    policy_number: str = "",
) -> InsuranceCertificate:
    """An insurance certificate (occupant's civil liability and property damage)."""
    if not insurer.strip():
        raise legal.fail(INSURER_REQUIRED, "insurer")
    if valid_until < valid_from:
        raise legal.fail(INSURANCE_DATES, "valid_until")
    with transaction.atomic():
        agreement = _locked(agreement)
        _check_not_finished(agreement)
        certificate = InsuranceCertificate.objects.create(
            agreement=agreement,
            insurer=insurer.strip(),
            policy_number=policy_number.strip(),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        _touch(agreement)
    return certificate


def document_add(
    *,
    agreement: Agreement,
    kind: str,
    title: str,
    uploaded_file: File[bytes],
    by: Actor,
) -> Document:
    """Attach a PDF, checked from its content (occupancy/documents.py) and stored
    under a random name; its sha256 and size are kept. As insurance certificates,
    never on a closed, rejected or withdrawn agreement."""
    if kind not in DocumentKind.values:
        raise legal.fail(DOCUMENT_KIND_UNKNOWN, "kind", kind=kind)
    if not title.strip():
        raise legal.fail(TITLE_REQUIRED, "title")
    facts = documents.check_pdf(uploaded_file, max_bytes=rules().document_max_bytes)
    with transaction.atomic():
        agreement = _locked(agreement)
        _check_not_finished(agreement)
        document = Document(
            agreement=agreement,
            kind=kind,
            title=title.strip(),
            size=facts.size,
            sha256=facts.sha256,
            uploaded_by=by if isinstance(by, User) else None,
        )
        with documents.stored(document.file, uploaded_file), transaction.atomic():
            document.save()
            _touch(agreement)
    return document
