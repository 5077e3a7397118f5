"""The audit trail of resident data (reliability.md §H1, H2, H4).

Every write on spaces, occupants, stays and residence contracts leaves an event
row, whatever the path — service, bulk_create, queryset.update, raw SQL — with
the request id and user of its context; event rows can be neither changed nor
deleted, and a rolled-back write leaves none.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pghistory
import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Model
from pytest_django.fixtures import Settings

from occupancy.models import (
    AgreementStatus,
    Occupant,
    OccupantCategory,
    OccupantKind,
    ResidenceContract,
    Space,
    SpaceKind,
    SpaceUse,
    Stay,
)
from occupancy.residents import (
    occupant_register,
    occupant_update,
    residence_contract_create,
    residence_contract_renew,
    space_create,
    space_update,
    stay_exit,
    stay_start,
)
from tests.occupancy.factories import (
    AgreementFactory,
    BuildingFactory,
    OccupantFactory,
    ResidenceContractFactory,
    SafetyInspectionFactory,
    SpaceFactory,
    StayFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AUDITED = [Space, Occupant, Stay, ResidenceContract]


@pytest.fixture(autouse=True)
def _key(settings: Settings) -> None:
    settings.RESIDENT_PSEUDONYM_KEY = "k" * 64


def events(model: type[Model], pk: int) -> list[str]:
    event_model = apps.get_model("occupancy", f"{model.__name__}Event")
    return list(
        event_model.objects.filter(pgh_obj_id=pk)
        .order_by("pgh_id")
        .values_list("pgh_label", flat=True)
    )


def test_service_writes_on_all_four_tables_leave_events() -> None:
    space = space_create(
        building=BuildingFactory.create(),
        name="Chambre 1",
        kind=SpaceKind.ROOM,
        use=SpaceUse.SLEEPING,
        capacity=2,
    )
    space_update(space=space, capacity=3, today=date(2026, 6, 1))
    agreement = AgreementFactory.create(
        elan=True,
        building=space.building,
        status=AgreementStatus.ACTIVE,
        period=DateRange(date(2026, 1, 1), date(2028, 1, 1)),
        spaces=[space],
    )
    SafetyInspectionFactory.create(building=space.building, date=date(2025, 12, 1))
    occupant = occupant_register(
        operator=agreement.operator,
        local_identifier="D-1",
        kind=OccupantKind.PERSON,
        category=OccupantCategory.INHABITANT,
    )
    occupant_update(occupant=occupant, age_band="25_34")
    stay = stay_start(
        occupant=occupant,
        space=space,
        agreement=agreement,
        entry=date(2026, 2, 1),
        structure_type="not_shelter",
    )
    stay_exit(
        stay=stay,
        exit_date=date(2026, 3, 1),
        destination="unknown",
        today=date(2026, 6, 1),
    )
    contract = residence_contract_create(
        agreement=agreement,
        occupant=occupant,
        start=date(2026, 2, 1),
        initial_end=date(2026, 6, 1),
        monthly_fee=Decimal("120.00"),
    )
    residence_contract_renew(contract=contract)

    assert events(Space, space.pk) == ["insert", "update"]
    assert events(Occupant, occupant.pk) == ["insert", "update"]
    assert events(Stay, stay.pk) == ["insert", "update"]
    assert events(ResidenceContract, contract.pk) == ["insert", "update"]


def test_bulk_create_and_queryset_update_are_recorded() -> None:
    building = BuildingFactory.create()
    spaces = Space.objects.bulk_create(
        Space(
            building=building, name=f"Bureau {n}", kind="office", use="work", capacity=1
        )
        for n in range(3)
    )
    Space.objects.filter(building=building).update(capacity=2)
    for space in spaces:
        assert events(Space, space.pk) == ["insert", "update"]


def test_raw_sql_writes_are_recorded() -> None:
    occupant = OccupantFactory.create()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE occupancy_occupant SET household_size = 2, kind = 'household' "
            "WHERE id = %s",
            [occupant.pk],
        )
    stay_space = SpaceFactory.create()
    stay = Stay.objects.create(
        occupant=OccupantFactory.create(),
        space=stay_space,
        agreement=AgreementFactory.create(building=stay_space.building),
        period=DateRange(date(2026, 1, 1), None),
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM occupancy_stay WHERE id = %s", [stay.pk])
    assert events(Occupant, occupant.pk) == ["insert", "update"]
    assert events(Stay, stay.pk) == ["insert", "delete"]


def test_events_carry_the_request_id_and_user_of_their_context() -> None:
    user = UserFactory.create()
    with pghistory.context(request_id="abc", user=user.pk):
        occupant = OccupantFactory.create()
    event = apps.get_model("occupancy", "OccupantEvent").objects.get(
        pgh_obj_id=occupant.pk
    )
    assert event.pgh_context.metadata == {"request_id": "abc", "user": user.pk}


def test_a_rolled_back_write_leaves_no_event() -> None:
    building = BuildingFactory.create()

    def write_then_fail() -> None:
        with transaction.atomic():
            Space.objects.create(
                building=building,
                name="Éphémère",
                kind="room",
                use="sleeping",
                capacity=1,
            )
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    event_model = apps.get_model("occupancy", "SpaceEvent")
    assert not event_model.objects.filter(building_id=building.pk).exists()


@pytest.mark.parametrize("model", AUDITED, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET pgh_label = 'forged'", "DELETE FROM {table}"],
    ids=["update", "delete"],
)
def test_event_rows_can_be_neither_changed_nor_deleted(
    model: type[Model], statement: str
) -> None:
    # One row in every event table: a row-level trigger fires per row touched.
    StayFactory.create()
    ResidenceContractFactory.create()
    table = apps.get_model("occupancy", f"{model.__name__}Event")._meta.db_table
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(table=table))
