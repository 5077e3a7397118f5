"""The GDPR duties on resident rows: the retention purge (art. 5(1)(e)), the right
of access (art. 15), history included, and erasure on request (art. 17 and 21)
(domain.md §F; reliability.md §I4, §I5).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pghistory
import pghistory.models
import pgtrigger
from django.apps import apps
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import (
    DateField,
    Exists,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.errors import Conflict
from config.middleware import REQUEST_ID
from occupancy.models import (
    AgeBand,
    ExitDestination,
    Occupant,
    ResidenceContract,
    ResidenceStatus,
    ResidentAccess,
    Stay,
    StayStatus,
)
from occupancy.residents.base import ANONYMISED, ERASE_ONGOING, error
from occupancy.rules import add_months, rules

logger = logging.getLogger(__name__)


# --- Retention (GDPR art. 5(1)(e); CNIL: 2 years after the last contact) --------------
# Two ways, a choice for the DPO (rules().retention_mode; domain.md §F.6 "purge or
# irreversibly anonymise"; reliability.md §I4 "statistics are preserved"):
# - "anonymise" (default): the occupant loses what ties it to the operator's file
#   (its pseudonym is replaced by a random value) and what no indicator reads (age
#   band, orientation, L.345-2-2 flag); its contracts go; its stays stay, with their
#   dates, space and destination, so that the indicators of past periods do not
#   change. No endpoint, page or admin list shows an anonymised row again, and no
#   service writes to it: the rows live on as inputs of aggregates only.
# - "delete": occupants, stays and contracts go; past indicators lose them.
# Either way the audit history of the three goes: an append-only trail that outlives
# the data it traces would keep the data (and the old pseudonym).
_PURGED_TRACKERS = ("Occupant", "Stay", "ResidenceContract")
ANONYMISE, DELETE = "anonymise", "delete"


@dataclass(frozen=True)
class Retired:
    """What one pass of anonymising or deleting (``mode``) changed: deleted rows,
    and occupants anonymised with their stays kept for statistics."""

    mode: str
    occupants: int
    stays: int
    contracts: int
    events: int
    contexts: int
    anonymised: int
    stays_kept: int


@dataclass(frozen=True)
class PurgeReport(Retired):
    cutoff: date
    dry_run: bool
    # Reads of resident data older than their own retention, deleted.
    access_records: int = 0


def purge_cutoff(*, today: date) -> date:
    return add_months(today, -12 * rules().retention_years)


def purge_candidates(*, today: date) -> list[int]:
    """Occupants whose last contact is older than the retention period and who
    hold no ongoing stay or contract. The last contact is the latest of their
    exits and contract ends, or their registration when they have neither.

    Occupants anonymised already are candidates again only for "delete" (a DPO who
    moves from anonymising to deleting has the kept stays deleted too)."""
    cutoff = purge_cutoff(today=today)
    # A planned exit older than the retention period is an exit no one confirmed,
    # not an ongoing stay: it kept the record forever.
    ongoing_stay = Stay.objects.filter(occupant=OuterRef("pk")).filter(
        Q(status=StayStatus.ACTIVE)
        | Q(status=StayStatus.EXIT_PLANNED, period__endswith__gte=cutoff)
    )
    ongoing_contract = ResidenceContract.objects.filter(
        occupant=OuterRef("pk")
    ).exclude(status=ResidenceStatus.ENDED)
    last_exit = (
        Stay.objects.filter(occupant=OuterRef("pk"))
        .values("occupant")
        .annotate(last=Max(Func("period", function="upper", output_field=DateField())))
        .values("last")
    )
    last_contract = (
        ResidenceContract.objects.filter(occupant=OuterRef("pk"))
        .values("occupant")
        .annotate(last=Max(Coalesce("effective_end", "current_end")))
        .values("last")
    )
    ids = (
        Occupant.objects.annotate(
            # PostgreSQL's GREATEST skips NULLs; registration counts only for an
            # occupant who never stayed nor signed.
            last_contact=Coalesce(
                Greatest(Subquery(last_exit), Subquery(last_contract)),
                TruncDate("created_at"),
            )
        )
        .filter(last_contact__lt=cutoff)
        .filter(Q(anonymised_at=None) if rules().retention_mode == ANONYMISE else Q())
        .exclude(Exists(ongoing_stay))
        .exclude(Exists(ongoing_contract))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(ids)


def _call(function: str, *args: Any) -> int:
    """One of the GDPR deletion functions (occupancy migration 0006): they run with
    the privileges of the role that migrates, so that the application's own role
    needs no UPDATE or DELETE on an audit table (reliability.md §H4)."""
    placeholders = ", ".join(["%s"] * len(args))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}({placeholders})", list(args))
        (count,) = cursor.fetchone()
    return int(count)


def _retire(ids: list[int], *, mode: str) -> Retired:
    """Anonymise or delete the occupants ``ids`` (locked by the caller, inside its
    transaction), delete their contracts and the history of all three.

    The history triggers that would record the changes, and the Protect triggers
    that keep the event tables append-only, are lifted for this transaction only
    (pgtrigger.ignore sets a transaction-local variable the triggers read), so no
    other writer ever sees an unprotected event table. The events and contexts go
    through the database's own functions (``_call``): the application's role may
    not delete them itself.
    """
    event_models = {
        name: apps.get_model("occupancy", f"{name}Event") for name in _PURGED_TRACKERS
    }
    lifted = [
        f"occupancy.{name}:{trigger}"
        for name in _PURGED_TRACKERS
        for trigger in ("update_update", "delete_delete")
    ] + [f"occupancy.{name}Event:append_only" for name in _PURGED_TRACKERS]
    stays = Stay.objects.filter(occupant_id__in=ids)
    contracts = ResidenceContract.objects.filter(occupant_id__in=ids)
    stay_ids = list(stays.values_list("pk", flat=True))

    def history(name: str) -> QuerySet[Any]:
        # Every version of every row a version of which names the occupants, as
        # the function deleting them finds it: a stay deleted earlier (admin, raw
        # SQL) still names its occupant in its history.
        manager = event_models[name]._default_manager
        named = manager.filter(occupant_id__in=ids).values("pgh_obj_id")
        versions: QuerySet[Any] = manager.filter(pgh_obj_id__in=named)
        return versions

    events = [
        event_models["Occupant"].objects.filter(pgh_obj_id__in=ids),
        history("Stay"),
        history("ResidenceContract"),
    ]
    context_ids = {
        context_id
        for queryset in events
        for context_id in queryset.exclude(pgh_context_id=None).values_list(
            "pgh_context_id", flat=True
        )
    }
    with pgtrigger.ignore(*lifted):
        contracts_deleted = contracts.delete()[0]
        # An occupant without stays counts in no indicator: nothing to keep.
        kept = (
            set(stays.values_list("occupant_id", flat=True))
            if mode == ANONYMISE
            else set()
        )
        stays_deleted = stays.exclude(occupant_id__in=kept).delete()[0]
        occupants_deleted = (
            Occupant.objects.filter(pk__in=ids).exclude(pk__in=kept).delete()[0]
        )
        # A planned exit older than the retention period is an exit no one
        # confirmed (purge_candidates): a kept stay left "exit planned" would hold
        # its agreement open for ever (closure waits for running stays), and no one
        # can record the exit of a row no one sees any more.
        stays.filter(occupant_id__in=kept, status=StayStatus.EXIT_PLANNED).update(
            status=StayStatus.EXITED, exit_destination=ExitDestination.UNKNOWN
        )
        anonymised = _anonymise(sorted(kept))
        # Every id is deleted or anonymised by now, as the function requires.
        events_deleted = _call("intercalaire_forget_resident_history", ids)
    # A context (request id, user, URL) shared with events that remain stays: it
    # describes those writes too. One left without events goes.
    contexts_deleted = _call("intercalaire_forget_contexts", sorted(context_ids))
    return Retired(
        mode=mode,
        occupants=occupants_deleted,
        stays=stays_deleted,
        contracts=contracts_deleted,
        events=events_deleted,
        contexts=contexts_deleted,
        anonymised=anonymised,
        stays_kept=len(stay_ids) - stays_deleted,
    )


def purge_residents(*, today: date, dry_run: bool = False) -> PurgeReport:
    """Anonymise or delete (rules().retention_mode) every purgeable occupant, delete
    their contracts and the history of all three, in one transaction."""
    cutoff = purge_cutoff(today=today)
    with transaction.atomic():
        # FOR UPDATE on the occupants conflicts with the key-share lock a new stay or
        # contract takes on them: none can start while the purge decides, and the
        # candidates are recomputed under the lock.
        locked = list(
            Occupant.objects.select_for_update()
            .filter(pk__in=purge_candidates(today=today))
            .values_list("pk", flat=True)
        )
        ids = sorted(set(purge_candidates(today=today)) & set(locked))
        retired = _retire(ids, mode=rules().retention_mode)
        report = PurgeReport(
            cutoff=cutoff,
            dry_run=dry_run,
            access_records=_purge_access_log(today=today),
            **dataclasses.asdict(retired),
        )
        if dry_run:
            transaction.set_rollback(True)
    # Counts only: the log of a purge must not keep what it purged.
    logger.info("resident purge %s", report)
    return report


def _purge_access_log(*, today: date) -> int:
    """The reads logged before the retention's first day (in TIME_ZONE); the
    database keeps six months of them whatever ``today`` says."""
    cutoff = add_months(today, -rules().access_log_retention_months)
    first_kept = timezone.make_aware(datetime.combine(cutoff, time.min))
    with pgtrigger.ignore("occupancy.ResidentAccess:append_only"):
        return _call("intercalaire_purge_resident_access", first_kept)


# --- Reads of resident data (reliability.md §H3) --------------------------------------
def access_record(
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    channel: str,
    occupant_ids: Iterable[int],
    method: str = "",
) -> None:
    """Log that ``user`` read rows of these occupants through ``channel``, with the
    request id of the request (or job) at hand. Ids only: the log holds no value."""
    ids = sorted({int(pk) for pk in occupant_ids})
    if not ids:
        return
    ResidentAccess.objects.create(
        user=user if isinstance(user, User) else None,
        channel=channel[:80],
        method=method[:10],
        request_id=REQUEST_ID.get() if REQUEST_ID.get() != "-" else "",
        occupant_ids=ids,
    )


def _still_staying(occupant: Occupant) -> bool:
    """A stay not exited or a contract not ended."""
    return (
        Stay.objects.filter(occupant=occupant)
        .exclude(status=StayStatus.EXITED)
        .exists()
        or ResidenceContract.objects.filter(occupant=occupant)
        .exclude(status=ResidenceStatus.ENDED)
        .exists()
    )


def occupant_erase(*, occupant: Occupant) -> Retired:
    """Erase one resident now, on request (GDPR art. 17, or an objection under
    art. 21), as the retention purge would two years later: anonymised or deleted
    by rules().retention_mode, contracts and history deleted.

    Refused while the resident still stays or holds a running contract: the
    operator records the exit (or ends the contract) first, so that no place is
    held by a row no one can see any more."""
    with transaction.atomic():
        occupant = Occupant.objects.select_for_update().get(pk=occupant.pk)
        if occupant.anonymised_at is not None:
            raise error(ANONYMISED, field="occupant")
        if _still_staying(occupant):
            raise Conflict(_(ERASE_ONGOING), field="occupant")
        mode = rules().retention_mode
        # Written (and flushed to disk) before the erasure commits: a tombstone
        # whose erasure failed only repeats a request the resident made, while an
        # erasure without its tombstone would come back with the next restore.
        _tombstone(occupant, mode=mode)
        report = _retire([occupant.pk], mode=mode)
    logger.info("erasure of one occupant on request %s", report)
    return report


def _tombstone(occupant: Occupant, *, mode: str) -> None:
    path = Path(settings.RESIDENT_ERASURE_LOG)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "occupant": occupant.pk,
        "operator": occupant.operator_id,
        "mode": mode,
        "at": timezone.now().isoformat(),
    }
    with path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
        log.flush()
        os.fsync(log.fileno())


@dataclass(frozen=True)
class Replay:
    erased: int  # restored residents erased again
    absent: int  # gone or anonymised already: nothing to do
    still_staying: list[int]  # restored with a running stay or contract: by hand


def erasures_replay(*, path: Path | None = None) -> Replay:
    """Erase again, after a restore, every resident the erasure log names that
    came back (reliability.md J2), each as its erasure did (anonymise or delete).

    One refused by the restored data (a stay or contract running again, as the
    backup holds them) is listed, not forced: the operator records the exit, then
    the replay runs again."""
    log = Path(path or settings.RESIDENT_ERASURE_LOG)
    if not log.exists():
        return Replay(erased=0, absent=0, still_staying=[])
    entries: dict[int, str] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            entries[int(entry["occupant"])] = str(entry["mode"])
    erased, absent, staying = 0, 0, []
    for occupant_id, mode in sorted(entries.items()):
        with transaction.atomic():
            occupant = (
                Occupant.objects.select_for_update()
                .filter(pk=occupant_id, anonymised_at=None)
                .first()
            )
            if occupant is None:
                absent += 1
                continue
            if _still_staying(occupant):
                staying.append(occupant_id)
                continue
            _retire([occupant_id], mode=mode)
            erased += 1
    report = Replay(erased=erased, absent=absent, still_staying=staying)
    logger.info("erasure log replayed %s", report)
    return report


def _anonymise(ids: list[int]) -> int:
    """Cut each occupant from its file number and strip what no indicator reads,
    in one UPDATE.

    The new pseudonym is random per row (two of PostgreSQL's v4 UUIDs, from its
    strong random source, 244 bits, as 64 hex digits: the column's shape, unique
    per operator); it matches no HMAC of any file number, so a later registration
    of the same person is a new occupant."""
    now = timezone.now()
    return Occupant.objects.filter(pk__in=ids).update(
        pseudonym=RawSQL(
            "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')",
            (),
        ),
        age_band=AgeBand.UNKNOWN,
        orientation_source="",
        homeless_l345_2_2=False,
        anonymised_at=now,
        updated_at=now,
    )


# --- Right of access (GDPR art. 15) ---------------------------------------------------
RECIPIENTS = (
    gettext_noop(
        "the operator that registered the resident (controller of the site's data)"
    ),
    gettext_noop(
        "State services and funders receive aggregate indicators only, cells under "
        "{threshold} people suppressed; never this record"
    ),
)


RETENTION_NOTICE = {
    DELETE: gettext_noop(
        "Deleted, with its history, {years} years after the last exit or "
        "contract end (CNIL, social-sector retention référentiel)."
    ),
    ANONYMISE: gettext_noop(
        "Anonymised {years} years after the last exit or contract end (CNIL, "
        "social-sector retention référentiel): the record is cut from the file "
        "number, contracts and history are deleted, and the stays are kept, with no "
        "link to the person, for the statistics of past periods only."
    ),
}


def _jsonable(value: object) -> object:
    if isinstance(value, DateRange):
        return {
            "from": _jsonable(value.lower),
            "until": _jsonable(value.upper),
        }
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _rows(rows: Iterable[Mapping[str, object]]) -> list[dict[str, Any]]:
    return [{key: _jsonable(value) for key, value in row.items()} for row in rows]


def access_export(*, occupant: Occupant) -> dict[str, Any]:
    """Everything held on one occupant, history included, as JSON-ready data.

    Answers a right-of-access request (GDPR art. 15, within a month, art. 12(3)):
    the record, its stays and contracts, every audit event about them with the
    context of each write (who, which request), the recipients and the retention.
    """
    event_models = {
        name: apps.get_model("occupancy", f"{name}Event") for name in _PURGED_TRACKERS
    }
    stays = Stay.objects.filter(occupant=occupant).order_by("period", "pk")
    contracts = ResidenceContract.objects.filter(occupant=occupant).order_by(
        "start", "pk"
    )
    history = {
        "occupant": event_models["Occupant"].objects.filter(pgh_obj_id=occupant.pk),
        "stays": event_models["Stay"].objects.filter(occupant_id=occupant.pk),
        "residence_contracts": event_models["ResidenceContract"].objects.filter(
            occupant_id=occupant.pk
        ),
    }
    exported_history: dict[str, list[dict[str, Any]]] = {}
    for name, queryset in history.items():
        events = _rows(queryset.order_by("pgh_created_at", "pgh_id").values())
        context_ids = {event["pgh_context_id"] for event in events} - {None}
        contexts = {
            str(pk): metadata
            for pk, metadata in pghistory.models.Context.objects.filter(
                pk__in=context_ids
            ).values_list("pk", "metadata")
        }
        for event in events:
            event["pgh_context"] = _jsonable(contexts.get(event["pgh_context_id"]))
        exported_history[name] = events
    threshold = rules().small_cell_threshold
    return {
        "occupant": _rows(Occupant.objects.filter(pk=occupant.pk).values())[0],
        "stays": _rows(stays.values()),
        "residence_contracts": _rows(contracts.values()),
        "history": exported_history,
        "recipients": [_(text).format(threshold=threshold) for text in RECIPIENTS],
        "retention": _(RETENTION_NOTICE[rules().retention_mode]).format(
            years=rules().retention_years
        ),
    }
