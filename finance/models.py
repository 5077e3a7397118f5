"""Who pays for a temporary occupation, and what it costs and saves
(reference/domain.md §C.6, §E 8–13 and 17).

- ``Commitment``: a funder's decision to contribute to an agreement or a building,
  in cash, in kind, as a loan or as a fee waiver; ``Disbursement``: what was paid
  against it. Σ disbursements ≤ commitment and every disbursement dated inside its
  commitment's period are enforced by a trigger (below), whatever the write path;
  every disbursement dated on or after its commitment's decision, by the two
  constraint triggers of migration 0004 (which pgtrigger.ignore does not lift).
- ``CostLine``: what the site costs, by category and payer; ``FeePayment``: the
  occupation fee actually paid; ``SecurityBaseline``: what guarding the empty
  building would cost (the counterfactual of indicator 9); ``SubLetting``: space an
  operator lets to hosted organisations (indicator 17: area × rate × months).

Money is ``DecimalField(14, 2)`` in euros, never a float. Every table is audited by
the pghistory triggers of ``occupancy.models.audited``. ``illustrative`` marks the
demo's invented amounts, which the pages label as such.

Who counts as "the State" (indicator 13, leverage): a commitment whose funder is a
State service (kind ``state_service``, e.g. the DDETS paying programme 177) or an
organisation whose legal form is "State administration". Public bodies (the Caisse
des Dépôts, an EPA such as Euroméditerranée) and local authorities are not the State.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import DateRangeField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from buildings.models import Building
from occupancy.models import Agreement, Space, audited
from organizations.models import LegalForm, Organization, OrganizationKind

# 31 days × 24 hours: no month has more hours to guard.
MAX_HOURS_PER_MONTH = Decimal(744)


class Nature(models.TextChoices):
    CASH_OPERATING = "cash_operating", _("Operating grant")
    CASH_INVESTMENT = "cash_investment", _("Investment grant")
    IN_KIND = "in_kind", _("In kind")
    LOAN = "loan", _("Loan")
    FEE_WAIVER = "fee_waiver", _("Fee waiver")


CASH_NATURES = frozenset({Nature.CASH_OPERATING, Nature.CASH_INVESTMENT})
# Contributions that are not money must say how they were valued (domain.md §C.6).
VALUED_NATURES = frozenset({Nature.IN_KIND, Nature.FEE_WAIVER})
# Co-funding shares and leverage count cash and valued in-kind contributions; loans
# are repaid, so they are reported beside them, never inside (domain.md §E 12).
CONTRIBUTION_NATURES = CASH_NATURES | VALUED_NATURES

# Funders: funders proper; State services (programme budgets, the owner's in-kind);
# operators putting in their own resources, so that shares add up to the budget.
FUNDER_KINDS = frozenset(
    {OrganizationKind.FUNDER, OrganizationKind.STATE_SERVICE, OrganizationKind.OPERATOR}
)


def from_state(prefix: str = "") -> Q:
    """The organisations whose money is the State's (see the module docstring)."""
    return Q(**{f"{prefix}kind": OrganizationKind.STATE_SERVICE}) | Q(
        **{f"{prefix}legal_form": LegalForm.STATE}
    )


def is_state(kind: str, legal_form: str) -> bool:
    """``from_state`` for one organisation's kind and legal form."""
    return kind == OrganizationKind.STATE_SERVICE or legal_form == LegalForm.STATE


def _keyed(name: str, parent: str) -> list[models.BaseConstraint]:
    """A payment's ``idempotency_key``: present, and one payment per key under its
    ``parent`` (the row whose lock retries queue on, finance/services.py)."""
    return [
        models.CheckConstraint(
            condition=~Q(idempotency_key=""), name=f"{name}_key_present"
        ),
        models.UniqueConstraint(
            fields=[parent, "idempotency_key"], name=f"{name}_key_unique"
        ),
    ]


def _bounded(name: str) -> models.CheckConstraint:
    # [start, end): both ends known, end after start.
    return models.CheckConstraint(
        condition=Q(period__isempty=False, period__lower_inf=False)
        & Q(period__upper_inf=False),
        name=name,
    )


class CommitmentQuerySet(models.QuerySet["Commitment"]):
    def from_state(self) -> CommitmentQuerySet:
        return self.filter(from_state("funder__"))

    def contributions(self) -> CommitmentQuerySet:
        return self.filter(nature__in=CONTRIBUTION_NATURES)


@audited
class Commitment(models.Model):
    funder = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="commitments"
    )
    # What is funded: one agreement, or a building when no agreement exists yet
    # (works before the keys are handed over) or the money is for the whole site.
    agreement = models.ForeignKey(
        Agreement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commitments",
    )
    building = models.ForeignKey(
        Building,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commitments",
    )
    nature = models.CharField(_("nature"), max_length=20, choices=Nature.choices)
    amount = models.DecimalField(_("amount (€)"), max_digits=14, decimal_places=2)
    period = DateRangeField(_("period"))
    purpose = models.CharField(_("purpose"), max_length=200, blank=True)
    decision_reference = models.CharField(_("decision reference"), max_length=100)
    decision_date = models.DateField(_("decision date"))
    budget_programme = models.CharField(
        _("budget programme"),
        max_length=50,
        blank=True,
        help_text=_("For State money, the LOLF programme (e.g. 177 for shelter)."),
    )
    valuation_method = models.CharField(
        _("valuation method"),
        max_length=300,
        blank=True,
        help_text=_(
            "Required for contributions in kind and fee waivers "
            "(e.g. market rent estimated by the DDFiP)."
        ),
    )
    illustrative = models.BooleanField(
        _("illustrative amount"),
        default=False,
        help_text=_("Demo data: the amount is invented, not a recorded decision."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CommitmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("commitment")
        verbose_name_plural = _("commitments")
        ordering = ["-decision_date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(nature__in=Nature.values), name="commitment_nature_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="commitment_amount_positive"
            ),
            _bounded("commitment_period_bounded"),
            models.CheckConstraint(
                condition=Q(agreement__isnull=False, building__isnull=True)
                | Q(agreement__isnull=True, building__isnull=False),
                name="commitment_one_target",
            ),
            models.CheckConstraint(
                condition=~Q(nature__in=VALUED_NATURES) | ~Q(valuation_method=""),
                name="commitment_valuation_method",
            ),
            models.CheckConstraint(
                condition=~Q(decision_reference=""),
                name="commitment_decision_reference",
            ),
        ]
        indexes = [
            # A funder's dashboard: its commitments, newest decision first.
            models.Index(
                fields=["funder", "-decision_date"], name="commitment_funder_idx"
            ),
        ]
        triggers = [
            # An update may not leave disbursements above the amount or outside the
            # period. Runs on the locked row (BEFORE UPDATE), so it serialises with
            # the disbursement trigger, which locks the same row.
            pgtrigger.Trigger(
                name="commitment_covers_paid",
                when=pgtrigger.Before,
                operation=pgtrigger.UpdateOf("amount", "period"),  # type: ignore[no-untyped-call]
                func="""
                IF NEW.amount < (
                    SELECT COALESCE(SUM(amount), 0) FROM finance_disbursement
                    WHERE commitment_id = NEW.id
                ) THEN
                    RAISE EXCEPTION 'commitment % below its disbursements', NEW.id
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'commitment_covers_disbursements';
                END IF;
                IF EXISTS (
                    SELECT 1 FROM finance_disbursement
                    WHERE commitment_id = NEW.id AND NOT (NEW.period @> date)
                ) THEN
                    RAISE EXCEPTION 'commitment % period leaves out a disbursement',
                        NEW.id
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'commitment_period_covers_disbursements';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.funder} · {self.get_nature_display()} · {self.amount} €"

    @property
    def start(self) -> date:
        return self.period.lower  # type: ignore[no-any-return]

    @property
    def end(self) -> date:
        return self.period.upper  # type: ignore[no-any-return]

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def site(self) -> Building:
        """The building funded, directly or through the agreement."""
        building = self.agreement.building if self.agreement else self.building
        if building is None:  # unsaved: commitment_one_target forbids it in the table
            raise ValueError("A commitment funds an agreement or a building.")
        return building


@audited
class Disbursement(models.Model):
    commitment = models.ForeignKey(
        Commitment, on_delete=models.PROTECT, related_name="disbursements"
    )
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount (€)"), max_digits=14, decimal_places=2)
    evidence_reference = models.CharField(
        _("evidence (payment order, invoice…)"), max_length=200, blank=True
    )
    evidence_file = models.FileField(
        _("evidence document"), upload_to="finance/evidence/%Y/", blank=True
    )
    evidence_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    # The client's key for this payment: a retried request with the same key
    # returns the first disbursement instead of paying twice (finance/services.py).
    idempotency_key = models.CharField(max_length=255)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("disbursement")
        verbose_name_plural = _("disbursements")
        ordering = ["-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="disbursement_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(evidence_reference="") | ~Q(evidence_file=""),
                name="disbursement_has_evidence",
            ),
            # The key's unique index is also that of "disbursements of this
            # commitment" (sums, lists).
            *_keyed("disbursement", "commitment"),
        ]
        indexes = [
            # Dashboards: a commitment's disbursements within a year. Reads always
            # start from the caller's commitments, never from a date alone.
            models.Index(fields=["commitment", "date"], name="disbursement_dated_idx"),
        ]
        triggers = [
            # Σ disbursements ≤ commitment and the date inside its period, for every
            # writer (service, admin, raw SQL). The commitment's row lock serialises
            # concurrent disbursements: each one sums after the previous committed
            # (PL/pgSQL takes a fresh snapshot per statement in READ COMMITTED).
            pgtrigger.Trigger(
                name="disbursement_within",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert
                | pgtrigger.UpdateOf("amount", "date", "commitment_id"),  # type: ignore[no-untyped-call]
                declare=[("ceiling", "numeric"), ("span", "daterange")],
                func="""
                SELECT amount, period INTO ceiling, span FROM finance_commitment
                WHERE id = NEW.commitment_id FOR UPDATE;
                IF NOT (span @> NEW.date) THEN
                    RAISE EXCEPTION 'disbursement dated outside commitment %',
                        NEW.commitment_id
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'disbursement_date_in_period';
                END IF;
                IF NEW.amount + (
                    SELECT COALESCE(SUM(amount), 0) FROM finance_disbursement
                    WHERE commitment_id = NEW.commitment_id
                      AND id IS DISTINCT FROM NEW.id
                ) > ceiling THEN
                    RAISE EXCEPTION 'disbursements exceed commitment %',
                        NEW.commitment_id
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'disbursement_within_commitment';
                END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} · {self.amount} €"


class CostCategory(models.TextChoices):
    WORKS = "works", _("Works")
    FLUIDS = "fluids", _("Fluids (energy, water)")
    SECURITY = "security", _("Security and guarding")
    INSURANCE = "insurance", _("Insurance")
    SOCIAL_STAFF = "social_staff", _("Social support staff")
    SITE_STAFF = "site_staff", _("Site staff")
    FOOD = "food", _("Food")
    MAINTENANCE = "maintenance", _("Maintenance")
    FEE = "fee", _("Occupation fee")
    OTHER = "other", _("Other")


# Operating costs (indicator 8) are every category but works, an investment.
OPERATING_CATEGORIES = frozenset(set(CostCategory) - {CostCategory.WORKS})


class Payer(models.TextChoices):
    OWNER = "owner", _("Owner (the State)")
    OCCUPANT = "occupant", _("Occupant (the operator)")
    PARTNER = "partner", _("Partner")


@audited
class CostLine(models.Model):
    """A cost of the site over a period; indicators spread it evenly over the days
    of that period (a window that covers half the days takes half the amount)."""

    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="cost_lines"
    )
    period = DateRangeField(_("period"))
    category = models.CharField(
        _("category"), max_length=20, choices=CostCategory.choices
    )
    payer = models.CharField(_("payer"), max_length=10, choices=Payer.choices)
    amount = models.DecimalField(_("amount (€)"), max_digits=14, decimal_places=2)
    label = models.CharField(_("label"), max_length=200, blank=True)
    illustrative = models.BooleanField(_("illustrative amount"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cost line")
        verbose_name_plural = _("cost lines")
        ordering = ["building", "period", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=CostCategory.values),
                name="cost_line_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(payer__in=Payer.values), name="cost_line_payer_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="cost_line_amount_not_negative"
            ),
            _bounded("cost_line_period_bounded"),
        ]
        indexes = [
            # Indicators: the costs of the funded buildings, by category and payer.
            models.Index(fields=["building", "category"], name="cost_line_site_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.building} · {self.get_category_display()} · {self.amount} €"


@audited
class FeePayment(models.Model):
    """An occupation fee actually paid (indicators 10 and 11)."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="fee_payments"
    )
    date = models.DateField(_("date"))
    amount = models.DecimalField(_("amount (€)"), max_digits=14, decimal_places=2)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    illustrative = models.BooleanField(_("illustrative amount"), default=False)
    # As a disbursement's: a retry with the same key returns the first payment.
    # Payments recorded before keys were asked for carry "before-keys-<id>"
    # (migration 0003).
    idempotency_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("fee payment")
        verbose_name_plural = _("fee payments")
        ordering = ["-date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="fee_payment_amount_positive"
            ),
            *_keyed("fee_payment", "agreement"),
        ]
        indexes = [
            models.Index(fields=["agreement", "date"], name="fee_payment_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement} · {self.date} · {self.amount} €"


class BaselineMethod(models.TextChoices):
    QUOTE = "quote", _("Quote from a guarding company")
    HOURLY_RATE = "hourly_rate", _("Hourly rate × hours per month")
    FLAT = "flat", _("Flat monthly amount (reference value)")


@audited
class SecurityBaseline(models.Model):
    """What guarding the building empty would cost each month: the counterfactual
    of indicator 9 (domain.md §C.6; references: 22 €/h, about 15,000 €/month for a
    24/7 team, 10–15 k€/month in the AGAM study)."""

    building = models.OneToOneField(
        Building, on_delete=models.PROTECT, related_name="security_baseline"
    )
    method = models.CharField(
        _("method"), max_length=15, choices=BaselineMethod.choices
    )
    hourly_rate = models.DecimalField(
        _("hourly rate (€/h)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    hours_per_month = models.DecimalField(
        _("hours per month"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    monthly_amount = models.DecimalField(
        _("monthly amount (€)"), max_digits=14, decimal_places=2
    )
    source = models.CharField(_("source"), max_length=300, blank=True)
    illustrative = models.BooleanField(_("illustrative amount"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("security baseline")
        verbose_name_plural = _("security baselines")
        ordering = ["building", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(method__in=BaselineMethod.values),
                name="baseline_method_valid",
            ),
            models.CheckConstraint(
                condition=Q(monthly_amount__gte=0), name="baseline_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(hourly_rate__isnull=True) | Q(hourly_rate__gte=0),
                name="baseline_rate_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(hours_per_month__isnull=True)
                | Q(hours_per_month__gt=0, hours_per_month__lte=MAX_HOURS_PER_MONTH),
                name="baseline_hours_range",
            ),
            # The hourly method is the product of its two factors, to the cent.
            models.CheckConstraint(
                condition=~Q(method=BaselineMethod.HOURLY_RATE)
                | Q(
                    hourly_rate__isnull=False,
                    hours_per_month__isnull=False,
                    monthly_amount=Round(F("hourly_rate") * F("hours_per_month"), 2),
                ),
                name="baseline_hourly_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.building} · {self.monthly_amount} €/month"


@audited
class SubLetting(models.Model):
    """Space an operator lets to a hosted organisation (domain.md §C.4
    SubOccupancy): revenue = area × monthly rate × months (indicator 17)."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="sublettings"
    )
    space = models.ForeignKey(
        Space,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sublettings",
    )
    sub_occupant = models.CharField(_("sub-occupant"), max_length=200)
    area_m2 = models.DecimalField(_("area (m²)"), max_digits=10, decimal_places=2)
    rate_per_m2_month = models.DecimalField(
        _("rate (€/m²/month)"), max_digits=8, decimal_places=2
    )
    period = DateRangeField(_("period"))
    illustrative = models.BooleanField(_("illustrative amount"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sub-letting")
        verbose_name_plural = _("sub-lettings")
        ordering = ["agreement", "period", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(area_m2__gt=0), name="subletting_area_positive"
            ),
            models.CheckConstraint(
                condition=Q(rate_per_m2_month__gte=0),
                name="subletting_rate_not_negative",
            ),
            _bounded("subletting_period_bounded"),
        ]

    def __str__(self) -> str:
        return f"{self.sub_occupant} · {self.area_m2} m²"
