"""Temporary-occupancy agreements, the spaces they cover, and the pseudonymous
residents who live and work there (reference/domain.md §B, §C.4, §C.5, §D.2–D.4).

Rules that a single row can hold are database constraints; rules that depend on
other rows or on configuration (durations, fee caps) live in occupancy/services.py.
The schema holds no name, health, nationality, social-security number or free-text
social note for residents, by design (domain.md §F).
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from buildings.models import Building
from organizations.models import Organization

_M = TypeVar("_M", bound=models.Model)


# Every write on these tables — API, admin, bulk or raw SQL — is recorded by database
# triggers (django-pghistory) with the actor and request id of its context. Event rows
# are append-only: a Protect trigger refuses UPDATE and DELETE; only the retention
# purge (occupancy/residents/gdpr.py) lifts it, inside its own transaction.
def audited(model: type[_M]) -> type[_M]:
    # Fresh trackers per model: pghistory binds each tracker to one event model.
    track = pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        append_only=True,
    )
    return track(model)  # type: ignore[no-any-return]


# --- Agreements -------------------------------------------------------------------
class Regime(models.TextChoices):
    AOT_UNILATERAL = "aot_unilateral", _("Unilateral occupation permit (AOT)")
    COT_PUBLIC_DOMAIN = (
        "cot_public_domain",
        _("Occupation agreement on the public domain"),
    )
    AOT_REAL_RIGHTS = "aot_real_rights", _("Occupation permit with real rights")
    PRIVATE_PRECARIOUS = "private_precarious", _("Precarious agreement, private domain")
    PRIVATE_LEASE = "private_lease", _("Lease, private domain")
    ELAN_ART29 = "elan_art29", _("ELAN art. 29 temporary residents")


PUBLIC_DOMAIN_REGIMES = (
    Regime.AOT_UNILATERAL,
    Regime.COT_PUBLIC_DOMAIN,
    Regime.AOT_REAL_RIGHTS,
)


class Purpose(models.TextChoices):
    EMERGENCY_SHELTER = "emergency_shelter", _("Emergency shelter")
    INSERTION_SHELTER = "insertion_shelter", _("Insertion shelter")
    TEMPORARY_RESIDENCE = "temporary_residence", _("Temporary residence")
    WORKSPACES = "workspaces", _("Workspaces")
    CULTURE = "culture", _("Culture")
    CATERING = "catering", _("Catering")
    TOURISM = "tourism", _("Tourism")
    OTHER = "other", _("Other")


SLEEPING_PURPOSES = frozenset(
    {Purpose.EMERGENCY_SHELTER, Purpose.INSERTION_SHELTER, Purpose.TEMPORARY_RESIDENCE,
     Purpose.TOURISM}
)  # fmt: skip


class SelectionExemption(models.TextChoices):
    PUBLIC_PROCUREMENT = "public_procurement", _("Within a public procurement")
    URGENCY = "urgency", _("Urgency (occupation limited to one year)")
    PROLONGATION = "prolongation", _("Prolongation of an existing title")
    SINGLE_POSSIBLE_OCCUPANT = (
        "single_possible_occupant",
        _("Only one possible occupant"),
    )
    OTHER_L2122_1_3 = "other_l2122_1_3", _("Other case of art. L.2122-1-3 CG3P")


class FeeExemptionBasis(models.TextChoices):
    PUBLIC_SERVICE_WORKS = (
        "public_service_works",
        _("Works of a public service free to all (L.2125-1 1°)"),
    )
    CONSERVATION = "conservation", _("Conservation of the public domain (L.2125-1 2°)")
    STATE_SECURITY = "state_security", _("State security missions (L.2125-1 3°)")
    RAIL = "rail", _("Rail or guided transport works (L.2125-1 4°)")
    FISHING = "fishing", _("Fishing leases (L.2125-1 5°)")
    NONPROFIT_GENERAL_INTEREST = (
        "nonprofit_general_interest",
        _("Non-profit association of general interest (L.2125-1 6°)"),
    )
    PROCUREMENT_SOLE_BENEFIT = (
        "procurement_sole_benefit",
        _("Procurement contract for the sole benefit of the public person"),
    )


class FeePeriod(models.TextChoices):
    ANNUAL = "annual", _("Annual")
    MONTHLY = "monthly", _("Monthly")
    ONE_OFF = "one_off", _("One-off")


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    UNDER_REVIEW = "under_review", _("Under review")
    APPROVED = "approved", _("Approved")
    SIGNED = "signed", _("Signed")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    ENDING = "ending", _("Ending")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")
    TERMINATED = "terminated", _("Terminated")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    CLOSED = "closed", _("Closed")


_A = AgreementStatus
# domain.md §D.2. Extensions are amendments of an active agreement, not a status.
AGREEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    _A.DRAFT: frozenset({_A.UNDER_REVIEW, _A.WITHDRAWN}),
    _A.UNDER_REVIEW: frozenset({_A.APPROVED, _A.REJECTED, _A.DRAFT, _A.WITHDRAWN}),
    _A.APPROVED: frozenset({_A.SIGNED, _A.WITHDRAWN}),
    _A.SIGNED: frozenset({_A.ACTIVE, _A.WITHDRAWN}),
    _A.ACTIVE: frozenset({_A.SUSPENDED, _A.ENDING, _A.REVOKED, _A.TERMINATED}),
    _A.SUSPENDED: frozenset({_A.ACTIVE, _A.REVOKED, _A.TERMINATED}),
    _A.ENDING: frozenset({_A.EXPIRED, _A.REVOKED, _A.TERMINATED}),
    _A.EXPIRED: frozenset({_A.CLOSED}),
    _A.REVOKED: frozenset({_A.CLOSED}),
    _A.TERMINATED: frozenset({_A.CLOSED}),
    _A.REJECTED: frozenset(),
    _A.WITHDRAWN: frozenset(),
    _A.CLOSED: frozenset(),
}
# An agreement holds its spaces from approval until it ends.
LIVE_STATUSES = frozenset({_A.APPROVED, _A.SIGNED, _A.ACTIVE, _A.SUSPENDED, _A.ENDING})


class RevocationMotive(models.TextChoices):
    GENERAL_INTEREST = "general_interest", _("General interest")
    OCCUPANT_FAULT = "occupant_fault", _("Occupant's fault")


class AgreementQuerySet(models.QuerySet["Agreement"]):
    def live(self) -> AgreementQuerySet:
        return self.filter(status__in=LIVE_STATUSES)


@audited
class Agreement(models.Model):
    reference = models.CharField(_("reference"), max_length=50, unique=True)
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="agreements"
    )
    grantor = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="granted_agreements"
    )
    operator = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="agreements"
    )
    regime = models.CharField(_("regime"), max_length=20, choices=Regime.choices)
    purposes = ArrayField(
        models.CharField(max_length=25, choices=Purpose.choices),
        verbose_name=_("purposes"),
    )
    # [start, end): the end is required, an occupation of State property is temporary.
    period = DateRangeField(_("period"))
    economic_activity = models.BooleanField(_("economic activity"), default=False)
    selection_reference = models.CharField(
        _("selection procedure (publicity reference)"), max_length=300, blank=True
    )
    selection_exemption = models.CharField(
        _("exemption from selection"),
        max_length=30,
        choices=SelectionExemption.choices,
        blank=True,
    )
    free_of_charge = models.BooleanField(_("free of charge"), default=False)
    fee_amount = models.DecimalField(
        _("fee (€)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    fee_period = models.CharField(
        _("fee period"), max_length=10, choices=FeePeriod.choices, blank=True
    )
    fee_indexation = models.CharField(_("fee indexation"), max_length=200, blank=True)
    fee_exemption_basis = models.CharField(
        _("legal basis of the waiver"),
        max_length=30,
        choices=FeeExemptionBasis.choices,
        blank=True,
    )
    waiver_justification = models.TextField(
        _("justification of the waiver"), blank=True
    )
    ddfip_opinion_reference = models.CharField(
        _("DDFiP financial opinion"), max_length=100, blank=True
    )
    ddfip_opinion_date = models.DateField(
        _("date of the DDFiP opinion"), null=True, blank=True
    )
    market_rent_yearly = models.DecimalField(
        _("market rent estimate (€/year)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
    )
    max_headcount = models.PositiveIntegerField(
        _("maximum headcount"), null=True, blank=True
    )
    sleeping_allowed = models.BooleanField(_("sleeping allowed"), default=False)
    prefect_notified_on = models.DateField(
        _("prefect notified on"), null=True, blank=True
    )
    mayor_notified_on = models.DateField(_("mayor notified on"), null=True, blank=True)
    signed_on = models.DateField(_("signed on"), null=True, blank=True)
    entry_inventory_on = models.DateField(
        _("entry inventory on"), null=True, blank=True
    )
    exit_inventory_on = models.DateField(_("exit inventory on"), null=True, blank=True)
    revocation_motive = models.CharField(
        _("revocation motive"),
        max_length=20,
        choices=RevocationMotive.choices,
        blank=True,
    )
    status = models.CharField(
        _("status"), max_length=15, choices=AgreementStatus.choices, default=_A.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AgreementStatus.values),
                name="agreement_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(regime__in=Regime.values), name="agreement_regime_valid"
            ),
            models.CheckConstraint(
                condition=Q(period__isempty=False, period__upper_inf=False),
                name="agreement_period_bounded",
            ),
            models.CheckConstraint(
                condition=Q(fee_amount__isnull=True) | Q(fee_amount__gte=0),
                name="agreement_fee_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(free_of_charge=False) | ~Q(fee_exemption_basis=""),
                name="agreement_waiver_has_basis",
            ),
            models.CheckConstraint(
                condition=Q(free_of_charge=True)
                | Q(fee_amount__isnull=True)
                | Q(fee_amount__gt=0),
                name="agreement_paid_fee_positive",
            ),
            # A waived fee is no fee at all (CG3P L.2125-1): no 0 € a year.
            models.CheckConstraint(
                condition=Q(free_of_charge=False)
                | Q(fee_amount__isnull=True, fee_period="", fee_indexation=""),
                name="agreement_free_has_no_fee",
            ),
            # Selection duties bind economic use of the public domain only (L.2122-1-1);
            # the private domain has none (domain.md §B.3).
            models.CheckConstraint(
                condition=Q(economic_activity=False)
                | ~Q(regime__in=PUBLIC_DOMAIN_REGIMES)
                | ~Q(selection_reference="")
                | ~Q(selection_exemption=""),
                name="agreement_economic_selection",
            ),
            models.CheckConstraint(
                condition=Q(market_rent_yearly__isnull=True)
                | Q(market_rent_yearly__gte=0),
                name="agreement_market_rent_not_negative",
            ),
        ]
        indexes = [
            # Alerts: agreements ending soon, by status.
            models.Index(fields=["status", "building"], name="agreement_status_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def start(self) -> date:
        return self.period.lower  # type: ignore[no-any-return]

    @property
    def end(self) -> date:
        return self.period.upper  # type: ignore[no-any-return]


class AgreementStatusChange(models.Model):
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=15, choices=AgreementStatus.choices)
    to_status = models.CharField(max_length=15, choices=AgreementStatus.choices)
    reason = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["agreement", "to_status"], name="agreement_change_to_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreement_id}: {self.from_status} → {self.to_status}"


class AmendmentKind(models.TextChoices):
    PROROGATION = "prorogation", _("Prorogation")
    SCOPE = "scope", _("Scope")
    FEE = "fee", _("Fee")
    OTHER = "other", _("Other")


@audited
class Amendment(models.Model):
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="amendments"
    )
    kind = models.CharField(_("kind"), max_length=15, choices=AmendmentKind.choices)
    new_end = models.DateField(_("new end date"), null=True, blank=True)
    owner_justification = models.TextField(_("owner's justification"), blank=True)
    signed_on = models.DateField(_("signed on"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("amendment")
        verbose_name_plural = _("amendments")
        ordering = ["signed_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="prorogation") | Q(new_end__isnull=False),
                name="amendment_prorogation_has_end",
            )
        ]

    def __str__(self) -> str:
        return f"{self.agreement} · {self.kind} ({self.signed_on})"


@audited
class InsuranceCertificate(models.Model):
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="insurance_certificates"
    )
    insurer = models.CharField(_("insurer"), max_length=200)
    policy_number = models.CharField(_("policy number"), max_length=100, blank=True)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("insurance certificate")
        verbose_name_plural = _("insurance certificates")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gte=models.F("valid_from")),
                name="insurance_dates_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.insurer} until {self.valid_until}"


class DocumentKind(models.TextChoices):
    AGREEMENT = "agreement", _("Signed agreement")
    AMENDMENT = "amendment", _("Amendment")
    DDFIP_OPINION = "ddfip_opinion", _("DDFiP financial opinion")
    SAFETY_REPORT = "safety_report", _("Safety commission report")
    INSURANCE = "insurance", _("Insurance certificate")
    ELAN_APPROVAL = "elan_approval", _("ELAN approval")
    INVENTORY = "inventory", _("Inventory of fixtures")
    ANNUAL_REPORT = "annual_report", _("Annual report")
    OTHER = "other", _("Other")


@audited
class Document(models.Model):
    """A PDF attached to an agreement; type and size are checked from the content."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=DocumentKind.choices)
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to="agreements/%Y/")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")

    def __str__(self) -> str:
        return self.title


# --- Spaces and safety ------------------------------------------------------------
class SpaceKind(models.TextChoices):
    ROOM = "room", _("Individual room")
    DORMITORY = "dormitory", _("Dormitory")
    FAMILY_ROOM = "family_room", _("Family room")
    OFFICE = "office", _("Office")
    WORKSHOP = "workshop", _("Workshop")
    COMMONS = "commons", _("Commons")
    HOSTEL_ROOM = "hostel_room", _("Hostel room")


class SpaceUse(models.TextChoices):
    SLEEPING = "sleeping", _("Sleeping")
    WORK = "work", _("Work")
    PUBLIC = "public", _("Open to the public")
    OTHER = "other", _("Other")


@audited
class Space(models.Model):
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="spaces"
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=15, choices=SpaceKind.choices)
    use = models.CharField(_("use"), max_length=10, choices=SpaceUse.choices)
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    surface_m2 = models.DecimalField(
        _("surface (m²)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    capacity = models.PositiveIntegerField(_("capacity (places)"))
    # The operator that added the space (the API); None for a space a State agent
    # added (the admin, the importers). While no agreement claims the space, that
    # operator alone changes it: two operators sharing a building never both hold
    # the pen on a free room (occupancy/api/scopes.py).
    created_by = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="spaces_created",
        verbose_name=_("created by (operator)"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("space")
        verbose_name_plural = _("spaces")
        ordering = ["building", "floor", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["building", "name"], name="space_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=SpaceKind.values), name="space_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(use__in=SpaceUse.values), name="space_use_valid"
            ),
            models.CheckConstraint(
                condition=Q(surface_m2__isnull=True) | Q(surface_m2__gt=0),
                name="space_surface_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


@audited
class AgreementSpace(models.Model):
    """A space covered by an agreement, over the agreement's period.

    ``period`` and ``is_live`` copy the agreement's so that the exclusion constraint
    can hold in the database: two live agreements never cover one space on the same
    day (adjacent ``[)`` periods are allowed). The occupancy services keep the copies.
    """

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="agreement_spaces"
    )
    space = models.ForeignKey(
        Space, on_delete=models.PROTECT, related_name="agreement_spaces"
    )
    period = DateRangeField()
    is_live = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "space"], name="agreement_space_unique"
            ),
            ExclusionConstraint(
                name="agreement_space_no_overlap",
                expressions=[
                    ("space", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
                condition=Q(is_live=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement_id} · {self.space_id}"


class InspectionKind(models.TextChoices):
    SAFETY_COMMISSION = "safety_commission", _("Safety commission")
    ASBESTOS = "asbestos", _("Asbestos")
    LEAD = "lead", _("Lead")
    ELECTRICITY = "electricity", _("Electricity")
    STRUCTURE = "structure", _("Structure")
    ACCESSIBILITY = "accessibility", _("Accessibility")


class InspectionResult(models.TextChoices):
    FAVOURABLE = "favourable", _("Favourable")
    UNFAVOURABLE = "unfavourable", _("Unfavourable")
    POSTPONED = "postponed", _("Postponed")


@audited
class SafetyInspection(models.Model):
    building = models.ForeignKey(
        Building, on_delete=models.PROTECT, related_name="safety_inspections"
    )
    space = models.ForeignKey(
        Space,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=InspectionKind.choices)
    date = models.DateField(_("date"))
    result = models.CharField(
        _("result"), max_length=15, choices=InspectionResult.choices
    )
    max_headcount = models.PositiveIntegerField(
        _("maximum headcount"), null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("safety inspection")
        verbose_name_plural = _("safety inspections")
        ordering = ["-date", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.date}: {self.result}"


# --- Residents (pseudonymous) -----------------------------------------------------
class OccupantKind(models.TextChoices):
    PERSON = "person", _("Person")
    HOUSEHOLD = "household", _("Household")
    ORGANIZATION = "organization", _("Hosted organization")


class OccupantCategory(models.TextChoices):
    SHELTERED = "sheltered", _("Sheltered person")
    HOUSEHOLD = "household", _("Sheltered household")
    EMPLOYEE = "employee", _("Employee")
    INHABITANT = "inhabitant", _("Inhabitant (temporary resident)")
    ARTIST = "artist", _("Artist or associate")
    HOSTED_ORGANIZATION = "hosted_organization", _("Hosted association or company")
    VISITOR = "visitor", _("Visitor or tourist")


class AgeBand(models.TextChoices):
    UNDER_18 = "under_18", _("Under 18")
    AGE_18_24 = "18_24", "18–24"
    AGE_25_34 = "25_34", "25–34"
    AGE_35_49 = "35_49", "35–49"
    AGE_50_64 = "50_64", "50–64"
    AGE_65_PLUS = "65_plus", _("65 and over")
    UNKNOWN = "unknown", _("Unknown")


class OrientationSource(models.TextChoices):
    SIAO_115 = "siao_115", _("SIAO / 115")
    OUTREACH = "outreach", _("Street outreach")
    DIRECT = "direct", _("Direct")
    OTHER = "other", _("Other")


@audited
class Occupant(models.Model):
    """A pseudonymous person or household, or a hosted organization.

    ``pseudonym`` is an HMAC-SHA256 of an identifier the operator keeps in its own
    files, with a key from the environment (RESIDENT_PSEUDONYM_KEY): it lets the
    operator find its resident again without the platform knowing who it is.
    """

    operator = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="occupants"
    )
    pseudonym = models.CharField(max_length=64)
    kind = models.CharField(_("kind"), max_length=15, choices=OccupantKind.choices)
    category = models.CharField(
        _("category"), max_length=20, choices=OccupantCategory.choices
    )
    household_size = models.PositiveSmallIntegerField(_("household size"), default=1)
    age_band = models.CharField(
        _("age band"), max_length=10, choices=AgeBand.choices, default=AgeBand.UNKNOWN
    )
    orientation_source = models.CharField(
        _("orientation source"),
        max_length=10,
        choices=OrientationSource.choices,
        blank=True,
    )
    # Homeless in distress (CASF L.345-2-2): caps an ELAN residence fee at 75 €.
    homeless_l345_2_2 = models.BooleanField(default=False)
    hosted_organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="hosted_in",
    )
    anonymised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("occupant")
        verbose_name_plural = _("occupants")
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "pseudonym"], name="occupant_pseudonym_unique"
            ),
            models.CheckConstraint(
                condition=Q(household_size__gte=1, household_size__lte=20),
                name="occupant_household_size_range",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OccupantKind.values), name="occupant_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=OccupantCategory.values),
                name="occupant_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.pseudonym[:8]}"


class StructureType(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency shelter (HU)")
    INSERTION = "insertion", _("Insertion")
    STABILISATION = "stabilisation", _("Stabilisation")
    RHVS = "rhvs", _("Social hotel residence (RHVS)")
    CHRS = "chrs", _("CHRS")
    NOT_SHELTER = "not_shelter", _("Not a shelter stay")


class StayStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXIT_PLANNED = "exit_planned", _("Exit planned")
    EXITED = "exited", _("Exited")


class ExitDestination(models.TextChoices):
    SOCIAL_HOUSING = "social_housing", _("Social housing")
    PRIVATE_HOUSING = "private_housing", _("Private housing")
    ADAPTED_HOUSING = "adapted_housing", _("Adapted housing")
    OTHER_SHELTER = "other_shelter", _("Other shelter")
    HOSPITAL_CARE = "hospital_care", _("Hospital or care")
    FAMILY_FRIENDS = "family_friends", _("Family or friends")
    STREET = "street", _("Street")
    INSTITUTION = "institution", _("Institution")
    DECEASED = "deceased", _("Deceased")
    INTERNAL_MOVE = "internal_move", _("Moved to another space of the site")
    # Not a departure: the stay goes on from that day in a new row carrying the
    # household's new size (occupancy/residents/stays.py, stays_follow_household).
    HOUSEHOLD_CHANGE = (
        "household_change",
        _("Household size changed (the stay goes on)"),
    )
    UNKNOWN = "unknown", _("Unknown")


HOUSING_DESTINATIONS = frozenset(
    {ExitDestination.SOCIAL_HOUSING, ExitDestination.PRIVATE_HOUSING,
     ExitDestination.ADAPTED_HOUSING}
)  # fmt: skip


@audited
class Stay(models.Model):
    """An occupant in a space over ``[entry, exit)``; an open upper bound is ongoing."""

    occupant = models.ForeignKey(
        Occupant, on_delete=models.PROTECT, related_name="stays"
    )
    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="stays")
    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="stays"
    )
    period = DateRangeField()
    places = models.PositiveSmallIntegerField(default=1)
    # The occupant's household size over this stay: a change of size ends the
    # running stay and goes on in a new one, so that the persons housed in a past
    # period stay what they were (occupancy/indicators.py).
    household_size = models.PositiveSmallIntegerField(_("household size"), default=1)
    structure_type = models.CharField(
        max_length=15, choices=StructureType.choices, default=StructureType.NOT_SHELTER
    )
    status = models.CharField(
        max_length=15, choices=StayStatus.choices, default=StayStatus.ACTIVE
    )
    exit_destination = models.CharField(
        max_length=20, choices=ExitDestination.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stay")
        verbose_name_plural = _("stays")
        constraints = [
            models.CheckConstraint(
                condition=Q(period__isempty=False, period__lower_inf=False),
                name="stay_period_has_entry",
            ),
            models.CheckConstraint(
                condition=Q(places__gte=1), name="stay_places_positive"
            ),
            models.CheckConstraint(
                condition=Q(household_size__gte=1, household_size__lte=20),
                name="stay_household_size_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=StayStatus.values), name="stay_status_valid"
            ),
            # An exit records where the person went.
            models.CheckConstraint(
                condition=~Q(status="exited")
                | (Q(period__upper_inf=False) & ~Q(exit_destination="")),
                name="stay_exit_recorded",
            ),
            # Emergency shelter has no end date set in advance (CASF L.345-2-3).
            models.CheckConstraint(
                condition=~Q(structure_type="emergency")
                | Q(status="exited")
                | Q(period__upper_inf=True),
                name="stay_emergency_no_planned_end",
            ),
            ExclusionConstraint(
                name="stay_one_at_a_time_per_occupant",
                expressions=[
                    ("occupant", RangeOperators.EQUAL),
                    ("period", RangeOperators.OVERLAPS),
                ],
            ),
        ]
        indexes = [
            models.Index(fields=["space", "status"], name="stay_space_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occupant_id} in {self.space_id} {self.period}"


class ResidenceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    NOTICE_GIVEN = "notice_given", _("Notice given")
    ENDED = "ended", _("Ended")


@audited
class ResidenceContract(models.Model):
    """An ELAN art. 29 temporary-residence contract (décret 2019-497; §C.4)."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="residence_contracts"
    )
    occupant = models.ForeignKey(
        Occupant, on_delete=models.PROTECT, related_name="residence_contracts"
    )
    start = models.DateField(_("start"))
    initial_end = models.DateField(_("initial end"))
    current_end = models.DateField(_("current end"))
    monthly_fee = models.DecimalField(
        _("monthly fee, charges included (€)"), max_digits=14, decimal_places=2
    )
    status = models.CharField(
        max_length=15, choices=ResidenceStatus.choices, default=ResidenceStatus.ACTIVE
    )
    notice_date = models.DateField(_("notice given on"), null=True, blank=True)
    notice_by = models.CharField(max_length=10, blank=True)
    effective_end = models.DateField(_("effective end"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("residence contract")
        verbose_name_plural = _("residence contracts")
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_fee__gte=0), name="residence_fee_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(initial_end__gt=models.F("start"))
                & Q(current_end__gte=models.F("initial_end")),
                name="residence_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occupant_id} {self.start}–{self.current_end}"


class ResidentAccess(models.Model):
    """One read of resident-level rows (reliability.md §H3; CNIL délibération
    2021-122 on logging): who, when, through which endpoint or command, and which
    occupants, by id only: never a pseudonym or any value of the rows read.

    Append-only like the audit trail: a Protect trigger refuses UPDATE and DELETE;
    only its own retention purge (occupancy/residents/gdpr.py) lifts it.
    """

    at = models.DateTimeField(_("read at"), auto_now_add=True, db_index=True)
    # A user is deactivated, not deleted, while the log names them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # "api:occupants.retrieve", "command:export_occupant"…
    channel = models.CharField(_("channel"), max_length=80)
    method = models.CharField(max_length=10, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    occupant_ids = ArrayField(models.BigIntegerField(), verbose_name=_("occupants"))

    class Meta:
        verbose_name = _("read of resident data")
        verbose_name_plural = _("reads of resident data")
        triggers = [
            pgtrigger.Protect(
                name="append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.channel}"
