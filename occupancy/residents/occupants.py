"""Pseudonymous occupants: registration (idempotent on the operator's file
number), lookup and rectification (domain.md §F.1–F.3).

The operator's file number never reaches the database: ``pseudonym_for`` turns it
into a keyed hash with a key held outside the database and its backups.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from occupancy.models import (
    AgeBand,
    Occupant,
    OccupantKind,
)
from occupancy.residents.base import (
    ANONYMISED,
    HOSTED_ORGANIZATION_REQUIRED,
    IDENTIFIER_EMPTY,
    KEY_MISSING,
    L345_ONLY_FOR_PEOPLE,
    NOT_AN_OPERATOR,
    PERSON_HOUSEHOLD_SIZE,
    constraint_name,
    error,
)
from occupancy.residents.contracts import check_running_fees
from occupancy.residents.stays import stays_follow_household
from organizations.models import Organization, OrganizationKind


def pseudonym_for(*, operator_id: int, local_identifier: str) -> str:
    """HMAC-SHA256 of ``"{operator_id}:{identifier}"`` with RESIDENT_PSEUDONYM_KEY, hex.

    The operator's own file number never reaches the database: only this keyed hash
    does, so a leaked table cannot be matched back to people without the key, which
    lives outside the database and its backups (GDPR art. 4(5), art. 32; CNIL on
    SI-SIAO, domain.md §F.3). The operator id in the message keeps two operators'
    file numbers from colliding.
    """
    key = settings.RESIDENT_PSEUDONYM_KEY
    if len(key) < 32:
        raise ImproperlyConfigured(KEY_MISSING)
    identifier = local_identifier.strip()
    if not identifier:
        raise error(IDENTIFIER_EMPTY, field="local_identifier")
    message = f"{operator_id}:{identifier}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def occupant_register(
    *,
    operator: Organization,
    local_identifier: str,
    kind: str,
    category: str,
    household_size: int = 1,
    age_band: str = AgeBand.UNKNOWN,
    orientation_source: str = "",
    homeless_l345_2_2: bool = False,
    hosted_organization: Organization | None = None,
) -> Occupant:
    """The operator's resident for ``local_identifier``, created on first call.

    Registering twice returns the first row unchanged (rectification is
    ``occupant_update``), so a retried request or a re-import creates no duplicate.
    """
    if operator.kind != OrganizationKind.OPERATOR:
        raise error(NOT_AN_OPERATOR, field="operator")
    pseudonym = pseudonym_for(
        operator_id=operator.pk, local_identifier=local_identifier
    )
    occupant = Occupant(
        operator=operator,
        pseudonym=pseudonym,
        kind=kind,
        category=category,
        household_size=household_size,
        age_band=age_band,
        orientation_source=orientation_source,
        homeless_l345_2_2=homeless_l345_2_2,
        hosted_organization=hosted_organization,
    )
    _occupant_check(occupant)
    occupant.full_clean(validate_constraints=False)
    with transaction.atomic():
        existing = Occupant.objects.filter(operator=operator, pseudonym=pseudonym)
        found = existing.first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                occupant.save()
        except IntegrityError as exc:
            # A concurrent registration of the same resident won the insert.
            if constraint_name(exc) != "occupant_pseudonym_unique":
                raise
            return existing.get()
    return occupant


def occupant_find(*, operator: Organization, local_identifier: str) -> Occupant | None:
    pseudonym = pseudonym_for(
        operator_id=operator.pk, local_identifier=local_identifier
    )
    return Occupant.objects.filter(operator=operator, pseudonym=pseudonym).first()


def occupant_update(
    *,
    occupant: Occupant,
    category: str | None = None,
    household_size: int | None = None,
    age_band: str | None = None,
    orientation_source: str | None = None,
    homeless_l345_2_2: bool | None = None,
    today: date | None = None,
) -> Occupant:
    """Rectify an occupant's attributes (GDPR art. 16).

    A new household size applies from ``today`` (the local date by default): the
    running stays follow it (``stays_follow_household``), or the change is refused
    when the household no longer fits its space; past nights keep the size they had.
    """
    changes = {
        "category": category,
        "household_size": household_size,
        "age_band": age_band,
        "orientation_source": orientation_source,
        "homeless_l345_2_2": homeless_l345_2_2,
    }
    with transaction.atomic():
        occupant = Occupant.objects.select_for_update(no_key=True).get(pk=occupant.pk)
        if occupant.anonymised_at is not None:
            raise error(ANONYMISED, field="occupant")
        size_before = occupant.household_size
        fields = [name for name, value in changes.items() if value is not None]
        for name in fields:
            setattr(occupant, name, changes[name])
        _occupant_check(occupant)
        if occupant.homeless_l345_2_2:
            # The 75 € cap (CASF L.345-2-2) binds the contracts running now: the
            # flag set after a 200 € contract left that fee in force.
            check_running_fees(occupant)
        occupant.full_clean(validate_constraints=False)
        occupant.save(update_fields=[*fields, "updated_at"])
        if occupant.household_size != size_before:
            stays_follow_household(
                occupant=occupant,
                old=size_before,
                new=occupant.household_size,
                today=today,
            )
    return occupant


def _occupant_check(occupant: Occupant) -> None:
    if occupant.kind == OccupantKind.PERSON and occupant.household_size != 1:
        raise error(PERSON_HOUSEHOLD_SIZE, field="household_size")
    is_organization = occupant.kind == OccupantKind.ORGANIZATION
    if is_organization != (occupant.hosted_organization_id is not None):
        raise error(HOSTED_ORGANIZATION_REQUIRED, field="hosted_organization")
    if is_organization and occupant.homeless_l345_2_2:
        raise error(L345_ONLY_FOR_PEOPLE, field="homeless_l345_2_2")
