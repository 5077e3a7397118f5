"""D1 (reliability.md): Schemathesis over the committed drf-spectacular schema,
in-process through the WSGI application, on the test database (real PostGIS),
once per principal, with the default checks and NUL bytes generated.

Two profiles, chosen by FUZZ_PROFILE: ``fast`` (the default, part of `make test`:
a few derandomized examples per operation and role) and ``deep`` (`make fuzz`:
many more, randomized, and the stateful phase over the schema's links).

Every example starts from the same seeded world (conftest.py) and is rolled back
after its request and its checks, so a failure replays alone. Two project checks
add to Schemathesis's: a refused write changes no row, and a 400 names a field
and a reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckFunction
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
)

from buildings.models import Building
from finance.models import (
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)
from tests.fuzz.conftest import ROLES, Seed
from tests.occupancy.test_api_support import counts

OPENAPI = Path(__file__).resolve().parent.parent / "openapi.yaml"
PROFILE = os.environ.get("FUZZ_PROFILE", "fast")
if PROFILE not in ("fast", "deep"):
    raise RuntimeError("FUZZ_PROFILE is fast (the default) or deep")
DEEP = PROFILE == "deep"

schema = schemathesis.openapi.from_path(OPENAPI)
# fast: about 70 s for the module on two cores, the same requests every run.
# deep: random, with the boundary values of the coverage phase.
schema.config.phases.update(
    phases=["examples", "coverage", "fuzzing", "stateful"]
    if DEEP
    else ["examples", "fuzzing"]
)
schema.config.generation.update(
    allow_x00=True,
    database="none",
    max_examples=300 if DEEP else 8,
    deterministic=not DEEP,
)
application = get_wsgi_application()
schema.app = application

# The mark makes pytest-django create the test database; each test then runs in a
# savepoint inside the module's seeded transaction.
pytestmark = pytest.mark.django_db

# Not among D1's checks: it wants every schema-valid request accepted, but a
# valid-looking id that names no row, a stale If-Match or a period that ends
# before it starts is rightly a 400/412 that no OpenAPI schema can express.
EXCLUDED_CHECKS: list[CheckFunction] = [positive_data_acceptance]
# A conditional write is judged on its If-Match before its body is read
# (RFC 9110 §13.2.1: preconditions are evaluated "prior to processing the request
# content"), so a stale tag with a malformed body is rightly a 412, which
# Schemathesis's list of rejections for invalid data leaves out.
_rejections = schema.config.checks.negative_data_rejection
_rejections.expected_statuses = [*_rejections.expected_statuses, "412"]


UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Besides the occupancy rows test_api_support counts.
COUNTED = (
    Building,
    Commitment,
    CostLine,
    Disbursement,
    FeePayment,
    SecurityBaseline,
    SubLetting,
)


def _rows() -> dict[str, int]:
    return counts() | {
        model.__name__: model._default_manager.count() for model in COUNTED
    }


def _seeded_id(seed: Seed, path: str) -> int | None:
    rest = path.removeprefix("/api/v1/")
    for prefix in sorted(seed.ids, key=len, reverse=True):
        if rest.startswith(prefix + "/"):
            return seed.ids[prefix]
    return None


def _aim_at_seeded_objects(case: Case[Any], seed: Seed) -> None:
    """Half the generated ids (the even ones) are replaced by a seeded object's,
    so the operation reaches real rows; the odd ones stay random (overflow,
    negative, unknown)."""
    params = case.path_parameters or {}
    value = params.get("id")
    if isinstance(value, int) and value % 2 == 0:
        seeded = _seeded_id(seed, case.path)
        if seeded is not None:
            params["id"] = seeded
    document_id = params.get("document_id")
    if isinstance(document_id, int) and document_id % 2 == 0:
        params["document_id"] = seed.world.document.pk


def _headers(seed: Seed, role: str) -> dict[str, str]:
    token = seed.tokens[role]
    return {"Authorization": f"Token {token}"} if token else {}


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    suppress_health_check=list(HealthCheck),
    deadline=None,
)
@pytest.mark.usefixtures("_wsgi_keeps_the_test_connection")
def test_api(case: Case[Any], role: str, seed: Seed) -> None:
    _aim_at_seeded_objects(case, seed)
    cache.clear()  # throttle counters: the fuzzer's pace is not the subject here
    with transaction.atomic():
        before = _rows() if case.method.upper() in UNSAFE else None
        response = case.call(headers=_headers(seed, role))
        try:
            case.validate_response(
                response,
                headers=_headers(seed, role),
                excluded_checks=EXCLUDED_CHECKS,
            )
            _refusal_is_explained(case, response, before)
        finally:
            transaction.set_rollback(True)


def _refusal_is_explained(case: Case[Any], response: Any, before: Any) -> None:
    """Bad input gets a 4xx that names a field and a reason, and changes nothing."""
    status = response.status_code
    if before is not None and 400 <= status < 500:
        after = _rows()
        assert after == before, (
            f"{case.method} {case.formatted_path} answered {status} "
            f"but changed rows: {before} -> {after}"
        )
    if status == 400:
        body = response.json()
        assert body.get("code"), body
        assert body.get("detail"), body
        if body["code"] != "parse_error":  # a body that is not JSON has no field
            errors = body.get("errors")
            assert isinstance(errors, dict), body
            assert errors, body


@pytest.mark.skipif(not DEEP, reason="the stateful phase runs in `make fuzz`")
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.usefixtures("_wsgi_keeps_the_test_connection")
def test_api_workflows(role: str, seed: Seed) -> None:
    """Sequences that follow the links Schemathesis infers (a created object's id
    into its reads and writes): use_after_free and ensure_resource_availability
    need them. Each scenario is rolled back whole."""
    headers = _headers(seed, role)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            cache.clear()
            self.atomic = transaction.atomic()
            self.atomic.__enter__()

        def teardown(self) -> None:
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(
            self,
            response: Any,
            case: Case[Any],
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                headers=headers,
                excluded_checks=EXCLUDED_CHECKS,
                transport_kwargs=kwargs,
            )

    Workflow.run(
        settings=settings(
            max_examples=50,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
