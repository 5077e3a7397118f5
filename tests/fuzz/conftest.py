"""The seeded world the fuzzer hits: the occupancy access-matrix world (two
operators, three State services, a funder, agreements, spaces, occupants, stays,
a residence contract, a document) plus one row of each finance kind, and one API
token per principal."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core import signals
from django.db import close_old_connections, transaction
from knox.models import AuthToken
from pytest_django import DjangoDbBlocker

from tests.finance.factories import (
    CommitmentFactory,
    CostLineFactory,
    DisbursementFactory,
    FeePaymentFactory,
    SecurityBaselineFactory,
    SubLettingFactory,
)
from tests.occupancy.test_api_support import World, build_world

# The principals of reliability.md §1 that D1 runs as, one token each.
ROLES = ("anonymous", "agent", "operator", "funder", "admin")


@dataclass(frozen=True)
class Seed:
    world: World
    tokens: dict[str, str | None]
    # Path prefix (after /api/v1/) → the id of a seeded object the role may reach.
    ids: dict[str, int]


@pytest.fixture(scope="module")
def _wsgi_keeps_the_test_connection() -> Iterator[None]:
    """A WSGI request ends with close_old_connections, which closes a connection
    inside the test's transaction; Django's test client unhooks it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def seed(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[Seed]:
    """Built once for the module inside a transaction that is rolled back at its
    end (as TestCase.setUpTestData does); each request runs in a savepoint of its
    own, rolled back too, so every example starts from this same world."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed()
        transaction.set_rollback(True)


def _seed() -> Seed:
    world = build_world()
    admin = User.objects.create_superuser("fuzz-admin", password=None)
    users: dict[str, User | None] = {
        "anonymous": None,
        "agent": world.users["agent_13"],
        "operator": world.users["operator_a"],
        "funder": world.users["funder"],
        "admin": admin,
    }
    tokens = {
        role: (AuthToken.objects.create(user)[1] if user is not None else None)
        for role, user in users.items()
    }
    commitment = CommitmentFactory.create(
        funder=world.funder, building=world.building_13
    )
    ids = {
        "agreements": world.active.pk,
        "occupants": world.occupant.pk,
        "spaces": world.room.pk,
        "stays": world.stay.pk,
        "residence-contracts": world.contract.pk,
        "safety-inspections": world.inspection.pk,
        "buildings": world.building_13.pk,
        "organizations": world.operator_a.pk,
        "finance/commitments": commitment.pk,
        "finance/disbursements": DisbursementFactory.create(commitment=commitment).pk,
        "finance/cost-lines": CostLineFactory.create(building=world.building_13).pk,
        "finance/fee-payments": FeePaymentFactory.create(agreement=world.active).pk,
        "finance/security-baselines": SecurityBaselineFactory.create(
            building=world.building_13
        ).pk,
        "finance/sublettings": SubLettingFactory.create(agreement=world.active).pk,
    }
    return Seed(world=world, tokens=tokens, ids=ids)
