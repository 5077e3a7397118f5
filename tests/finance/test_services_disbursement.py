"""disbursement_record: no overdraft, no duplicate, dates inside the commitment,
whoever writes and however many write at once (reliability.md §E3)."""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pgtrigger
import pytest
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.backends.utils import CursorWrapper
from django.db.models import Sum
from django.utils import timezone
from pytest_django.fixtures import Settings

from config.errors import Conflict, DomainError
from finance.models import Commitment, Disbursement
from finance.services import commitment_update, disbursement_record
from tests.finance.factories import CommitmentFactory, DisbursementFactory

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def pay(
    commitment: Commitment,
    amount: str,
    *,
    key: str,
    on: date = date(2024, 3, 1),
    evidence: str | File[bytes] = "OP-2024-001",
) -> tuple[Disbursement, bool]:
    return disbursement_record(
        commitment=commitment,
        date=on,
        amount=Decimal(amount),
        evidence=evidence,
        idempotency_key=key,
        by=None,
    )


def paid(commitment: Commitment) -> Decimal:
    total = Disbursement.objects.filter(commitment=commitment).aggregate(
        s=Sum("amount")
    )["s"]
    return total or Decimal(0)


@pytest.mark.django_db
class TestRecording:
    def test_a_disbursement_within_the_commitment_is_recorded(self) -> None:
        commitment = CommitmentFactory.create(amount=Decimal("1000.00"))
        disbursement, created = pay(commitment, "400.00", key="a")
        assert created
        assert (disbursement.amount, disbursement.date) == (
            Decimal("400.00"),
            date(2024, 3, 1),
        )
        assert disbursement.evidence_reference == "OP-2024-001"

    def test_paying_the_exact_remainder_is_allowed_one_cent_more_is_not(
        self,
    ) -> None:
        commitment = CommitmentFactory.create(amount=Decimal("1000.00"))
        pay(commitment, "999.99", key="a")
        with pytest.raises(Conflict) as refused:
            pay(commitment, "0.02", key="b")
        assert refused.value.field == "amount"
        assert "0.01" in refused.value.message
        pay(commitment, "0.01", key="c")
        assert paid(commitment) == Decimal("1000.00")

    def test_a_retry_with_the_same_key_returns_the_first_and_creates_nothing(
        self,
    ) -> None:
        commitment = CommitmentFactory.create()
        first, created = pay(commitment, "500.00", key="retry-me")
        again, created_again = pay(commitment, "500.00", key="retry-me")
        assert (created, created_again) == (True, False)
        assert again.pk == first.pk
        assert Disbursement.objects.count() == 1

    def test_the_same_key_for_another_payment_is_a_conflict(self) -> None:
        commitment = CommitmentFactory.create()
        pay(commitment, "500.00", key="k")
        with pytest.raises(Conflict) as refused:
            pay(commitment, "600.00", key="k")
        assert refused.value.field == "idempotency_key"

    def test_keys_are_per_commitment(self) -> None:
        one, two = CommitmentFactory.create(), CommitmentFactory.create()
        pay(one, "10.00", key="same")
        _, created = pay(two, "10.00", key="same")
        assert created

    @pytest.mark.parametrize(
        ("on", "field"),
        [(date(2023, 12, 31), "date"), (date(2025, 1, 1), "date")],
    )
    def test_a_date_outside_the_commitments_period_is_refused(
        self, on: date, field: str
    ) -> None:
        commitment = CommitmentFactory.create()  # [2024-01-01, 2025-01-01)
        with pytest.raises(DomainError) as refused:
            pay(commitment, "10.00", key="x", on=on)
        assert refused.value.field == field

    def test_a_payment_is_not_dated_after_today(self) -> None:
        today = timezone.localdate()
        commitment = CommitmentFactory.create(
            period=DateRange(today - timedelta(days=10), today + timedelta(days=800)),
            decision_date=today - timedelta(days=10),
        )
        with pytest.raises(DomainError) as refused:
            pay(commitment, "10.00", key="x", on=today + timedelta(days=1))
        assert refused.value.field == "date"
        _, created = pay(commitment, "10.00", key="y", on=today)
        assert created

    def test_a_payment_is_not_dated_before_the_funding_decision(self) -> None:
        commitment = CommitmentFactory.create(decision_date=date(2024, 6, 1))
        with pytest.raises(DomainError) as refused:
            pay(commitment, "10.00", key="x", on=date(2024, 5, 31))
        assert refused.value.field == "date"
        _, created = pay(commitment, "10.00", key="y", on=date(2024, 6, 1))
        assert created

    def test_the_last_day_of_the_period_is_inside(self) -> None:
        commitment = CommitmentFactory.create()
        _, created = pay(commitment, "10.00", key="x", on=date(2024, 12, 31))
        assert created

    @pytest.mark.parametrize("amount", ["0.00", "-5.00", "10.005"])
    def test_amounts_are_positive_euros_and_cents(self, amount: str) -> None:
        commitment = CommitmentFactory.create()
        with pytest.raises(DomainError) as refused:
            pay(commitment, amount, key="x")
        assert refused.value.field == "amount"

    @pytest.mark.parametrize("key", ["", "   ", "k" * 256])
    def test_a_usable_idempotency_key_is_required(self, key: str) -> None:
        with pytest.raises(DomainError) as refused:
            pay(CommitmentFactory.create(), "1.00", key=key)
        assert refused.value.field == "idempotency_key"

    def test_evidence_is_a_reference_or_a_pdf(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        settings.MEDIA_ROOT = tmp_path
        commitment = CommitmentFactory.create()
        with pytest.raises(DomainError) as refused:
            pay(commitment, "1.00", key="a", evidence="  ")
        assert refused.value.field == "evidence_reference"
        with pytest.raises(DomainError):
            pay(commitment, "1.00", key="b", evidence=File(BytesIO(b"<html>"), "x.pdf"))
        disbursement, _ = pay(
            commitment, "1.00", key="c", evidence=File(BytesIO(PDF), "ordre.pdf")
        )
        assert (disbursement.evidence_file.name or "").endswith(".pdf")
        assert disbursement.evidence_sha256 == hashlib.sha256(PDF).hexdigest()

    def test_an_evidence_pdf_is_stored_under_a_random_name(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """As agreements' documents: the client's name (a person's, a path) never
        reaches the storage."""
        settings.MEDIA_ROOT = tmp_path
        commitment = CommitmentFactory.create()
        client_name = "../../Ordre de paiement M. Dupont.pdf"
        first, _ = pay(
            commitment, "1.00", key="a", evidence=File(BytesIO(PDF), client_name)
        )
        second, _ = pay(
            commitment, "1.00", key="b", evidence=File(BytesIO(PDF), client_name)
        )
        names = [first.evidence_file.name or "", second.evidence_file.name or ""]
        for name in names:
            assert re.fullmatch(r"finance/evidence/\d{4}/[0-9a-f]{32}\.pdf", name), name
            assert (tmp_path / name).read_bytes() == PDF
        assert names[0] != names[1]
        assert [p.name for p in tmp_path.rglob("*") if "Dupont" in p.name] == []

    def test_a_refused_insert_leaves_no_evidence_file_behind(
        self, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings.MEDIA_ROOT = tmp_path
        commitment = CommitmentFactory.create()

        def refused(*args: object, **kwargs: object) -> None:
            raise IntegrityError("disbursement_within_commitment")

        monkeypatch.setattr(Disbursement, "save", refused)
        with pytest.raises(IntegrityError):
            pay(commitment, "1.00", key="a", evidence=File(BytesIO(PDF), "ordre.pdf"))
        assert not [path for path in tmp_path.rglob("*") if path.is_file()]


@pytest.mark.django_db
class TestTheDatabaseHoldsTheInvariants:
    """Writers that skip the service (admin, raw SQL) meet the trigger."""

    def test_an_overdraft_written_directly_is_refused(self) -> None:
        commitment = CommitmentFactory.create(amount=Decimal("100.00"))
        DisbursementFactory.create(commitment=commitment, amount=Decimal("60.00"))
        with pytest.raises(IntegrityError) as refused, transaction.atomic():
            DisbursementFactory.create(commitment=commitment, amount=Decimal("40.01"))
        diag = getattr(refused.value.__cause__, "diag", None)
        assert (
            getattr(diag, "constraint_name", None) == "disbursement_within_commitment"
        )

    def test_a_date_outside_the_period_written_directly_is_refused(self) -> None:
        commitment = CommitmentFactory.create()
        with pytest.raises(IntegrityError), transaction.atomic():
            DisbursementFactory.create(commitment=commitment, date=date(2025, 1, 1))

    def test_lowering_a_commitment_below_its_disbursements_is_refused(self) -> None:
        commitment = CommitmentFactory.create(amount=Decimal("100.00"))
        DisbursementFactory.create(commitment=commitment, amount=Decimal("60.00"))
        with pytest.raises(IntegrityError), transaction.atomic():
            Commitment.objects.filter(pk=commitment.pk).update(amount=Decimal("59.99"))
        Commitment.objects.filter(pk=commitment.pk).update(amount=Decimal("60.00"))

    def test_a_disbursement_needs_evidence(self) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            DisbursementFactory.create(evidence_reference="")


@contextmanager
def refused_by(constraint: str) -> Iterator[CursorWrapper]:
    """A cursor for raw SQL, in a savepoint the write must fail on ``constraint``."""
    with (
        pytest.raises(IntegrityError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        yield cursor
    diag = getattr(refused.value.__cause__, "diag", None)
    assert getattr(diag, "constraint_name", None) == constraint


@pytest.mark.django_db
class TestNoPaymentBeforeTheDecision:
    """Migration 0004's constraint triggers: a disbursement dated before its
    commitment's decision, or a decision moved past a disbursement, is refused
    whoever writes it (raw SQL, a queryset update, triggers lifted)."""

    def test_a_payment_before_the_decision_written_directly_is_refused(self) -> None:
        commitment = CommitmentFactory.create(decision_date=date(2024, 6, 1))
        with refused_by("disbursement_after_decision"):
            DisbursementFactory.create(commitment=commitment, date=date(2024, 5, 31))
        with refused_by("disbursement_after_decision") as cursor:
            cursor.execute(
                "INSERT INTO finance_disbursement (commitment_id, date, amount, "
                "evidence_reference, evidence_file, evidence_sha256, "
                "idempotency_key, created_at, updated_at) VALUES "
                "(%s, '2024-05-31', 10, 'OP-1', '', '', 'raw', now(), now())",
                [commitment.pk],
            )
        assert not commitment.disbursements.exists()
        # The decision's own day is allowed.
        DisbursementFactory.create(commitment=commitment, date=date(2024, 6, 1))

    def test_a_payment_moved_before_the_decision_is_refused(self) -> None:
        commitment = CommitmentFactory.create(decision_date=date(2024, 6, 1))
        paid = DisbursementFactory.create(commitment=commitment, date=date(2024, 6, 3))
        with refused_by("disbursement_after_decision") as cursor:
            cursor.execute(
                "UPDATE finance_disbursement SET date = '2024-05-31' WHERE id = %s",
                [paid.pk],
            )
        decided_later = CommitmentFactory.create(decision_date=date(2024, 7, 1))
        with refused_by("disbursement_after_decision"):
            Disbursement.objects.filter(pk=paid.pk).update(commitment=decided_later)
        paid.refresh_from_db()
        assert (paid.commitment_id, paid.date) == (commitment.pk, date(2024, 6, 3))

    def test_a_decision_moved_past_a_payment_directly_is_refused(self) -> None:
        commitment = CommitmentFactory.create()  # decided on 15 December 2023
        DisbursementFactory.create(commitment=commitment, date=date(2024, 3, 1))
        with refused_by("commitment_decided_before_paid") as cursor:
            cursor.execute(
                "UPDATE finance_commitment SET decision_date = '2024-03-02' "
                "WHERE id = %s",
                [commitment.pk],
            )
        commitment.refresh_from_db()
        assert commitment.decision_date == date(2023, 12, 15)
        # Up to the first payment's day, or earlier, it moves.
        for day in (date(2024, 3, 1), date(2023, 1, 1)):
            Commitment.objects.filter(pk=commitment.pk).update(decision_date=day)

    def test_lifting_the_pgtrigger_triggers_does_not_lift_the_guard(self) -> None:
        """pgtrigger.ignore is a session variable any connection may set; these
        are plain triggers, as occupancy's 0008."""
        commitment = CommitmentFactory.create(decision_date=date(2024, 6, 1))
        with pgtrigger.ignore(), refused_by("disbursement_after_decision"):
            DisbursementFactory.create(commitment=commitment, date=date(2024, 5, 31))

    def test_the_services_paths_still_pass(self) -> None:
        commitment = CommitmentFactory.create(decision_date=date(2024, 2, 1))
        _, created = pay(commitment, "10.00", key="a", on=date(2024, 2, 1))
        assert created
        pay(commitment, "10.00", key="b", on=date(2024, 3, 1))
        for day in (date(2024, 2, 1), date(2023, 11, 1), date(2024, 1, 15)):
            moved = commitment_update(commitment=commitment, by=None, decision_date=day)
            assert moved.decision_date == day
        with pytest.raises(Conflict) as refused:
            commitment_update(
                commitment=commitment, by=None, decision_date=date(2024, 2, 2)
            )
        assert refused.value.field == "decision_date"

    def test_a_correction_of_both_dates_may_defer_the_check_to_the_commit(
        self,
    ) -> None:
        """A decision and its payment moved later together, in either order: the
        triggers are DEFERRABLE, checked at COMMIT when the correction defers
        them ("SET CONSTRAINTS ALL IMMEDIATE" runs that check here, in the test's
        transaction)."""
        commitment = CommitmentFactory.create()  # decided on 15 December 2023
        paid = DisbursementFactory.create(commitment=commitment, date=date(2024, 3, 1))
        defer = (
            "SET CONSTRAINTS disbursement_after_decision, "
            "commitment_decided_before_paid DEFERRED"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(defer)
            Commitment.objects.filter(pk=commitment.pk).update(
                decision_date=date(2024, 6, 1)
            )
            Disbursement.objects.filter(pk=paid.pk).update(date=date(2024, 6, 3))
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with refused_by("commitment_decided_before_paid") as cursor:
            cursor.execute(defer)
            Commitment.objects.filter(pk=commitment.pk).update(
                decision_date=date(2024, 7, 1)
            )
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        commitment.refresh_from_db()
        assert commitment.decision_date == date(2024, 6, 1)


# --- Concurrency: each thread has its own connection and transaction.
def race(workers: list[Callable[[], object]]) -> list[object]:
    """Run the workers at once (a barrier), each in its own thread and so its own
    database connection; return what each returned or raised."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[object] = [None] * len(workers)

    def run(index: int, work: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=20)
            outcomes[index] = work()
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test reads)
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, work))
        for index, work in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.django_db(transaction=True)
class TestConcurrentDisbursements:
    def test_fifty_concurrent_payments_never_overdraw_the_commitment(self) -> None:
        """50 × 30 € against 1,000 €: exactly 33 pass (990 €), 17 are refused."""
        commitment = CommitmentFactory.create(amount=Decimal("1000.00"))
        outcomes = race(
            [
                functools.partial(pay, commitment, "30.00", key=f"payment-{i}")
                for i in range(50)
            ]
        )
        recorded = [o for o in outcomes if isinstance(o, tuple)]
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert (len(recorded), len(refused)) == (33, 17), outcomes
        assert all(error.field == "amount" for error in refused)
        assert paid(commitment) == Decimal("990.00")

    def test_fifty_concurrent_retries_of_one_payment_record_it_once(self) -> None:
        commitment = CommitmentFactory.create(amount=Decimal("1000.00"))
        outcomes = race(
            [
                functools.partial(pay, commitment, "250.00", key="the-same-key")
                for _ in range(50)
            ]
        )
        results = [o for o in outcomes if isinstance(o, tuple)]
        assert len(results) == 50, outcomes
        assert sum(created for _, created in results) == 1
        assert len({disbursement.pk for disbursement, _ in results}) == 1
        assert Disbursement.objects.filter(commitment=commitment).count() == 1
        assert paid(commitment) == Decimal("250.00")

    def test_a_decision_moved_while_paying_never_ends_up_after_the_payment(
        self,
    ) -> None:
        """The move and the payment queue on the commitment's row lock: whichever
        comes second is refused, on its own field."""
        for _ in range(5):
            commitment = CommitmentFactory.create()  # decided on 15 December 2023
            paying, moving = race(
                [
                    functools.partial(pay, commitment, "10.00", key="a"),  # 1 March
                    functools.partial(
                        commitment_update,
                        commitment=commitment,
                        by=None,
                        decision_date=date(2024, 6, 1),
                    ),
                ]
            )
            if isinstance(paying, tuple):
                assert isinstance(moving, Conflict), moving
                assert moving.field == "decision_date"
            else:
                assert isinstance(moving, Commitment), moving
                assert isinstance(paying, DomainError), paying
                assert paying.field == "date"
            commitment.refresh_from_db()
            assert not commitment.disbursements.filter(
                date__lt=commitment.decision_date
            ).exists()

    def test_raw_concurrent_inserts_are_held_by_the_trigger(self) -> None:
        """Without the service's lock, the trigger's lock still serialises."""
        commitment = CommitmentFactory.create(amount=Decimal("100.00"))

        def insert(i: int) -> object:
            with transaction.atomic():
                return DisbursementFactory.create(
                    commitment=commitment,
                    amount=Decimal("30.00"),
                    idempotency_key=f"raw-{i}",
                )

        outcomes = race([functools.partial(insert, i) for i in range(10)])
        assert sum(isinstance(o, Disbursement) for o in outcomes) == 3, outcomes
        assert paid(commitment) == Decimal("90.00")

    def test_raw_writes_racing_on_the_decision_never_leave_a_payment_before_it(
        self,
    ) -> None:
        """A payment inserted and a decision moved past it at once, by writers
        that skip the services and lift the pgtrigger triggers (the commitment's
        row lock of disbursement_within with them): the constraint triggers still
        serialise them, and whichever comes second is refused."""
        for _ in range(5):
            commitment = CommitmentFactory.create()  # decided on 15 December 2023

            def insert(commitment: Commitment = commitment) -> object:
                with pgtrigger.ignore(), transaction.atomic():
                    return DisbursementFactory.create(
                        commitment=commitment, date=date(2024, 3, 1)
                    )

            def move(commitment: Commitment = commitment) -> object:
                with pgtrigger.ignore(), transaction.atomic():
                    return Commitment.objects.filter(pk=commitment.pk).update(
                        decision_date=date(2024, 6, 1)
                    )

            outcomes = race([insert, move])
            refused = [o for o in outcomes if isinstance(o, IntegrityError)]
            assert len(refused) == 1, outcomes
            commitment.refresh_from_db()
            assert not commitment.disbursements.filter(
                date__lt=commitment.decision_date
            ).exists()
