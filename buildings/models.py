"""The State's property inventory: reference layers, sites, buildings, status history.

Geometries are stored in EPSG:4326; areas and distances are computed in the
territory's legal projection (buildings/geometry.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, GistIndex
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _

from buildings import suitability
from organizations.models import DEPARTMENT_CODE_PATTERN

if TYPE_CHECKING:
    from organizations.selectors import Scope

# reference/domain.md §C.1: INSEE commune codes (Corsica is 2A/2B, overseas 97x).
COMMUNE_CODE_PATTERN = (
    r"^((0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2[AB])[0-9]{3}|97[1-8][0-9]{2})$"
)
# Saint-Pierre-et-Miquelon, Saint-Barthélemy and Saint-Martin are collectivités
# d'outre-mer, not départements (no Department row: the code list puts them in zone
# "com"), yet the State holds buildings there under INSEE commune codes 975xx,
# 977xx and 978xx. Filters take their code where a département's is expected and
# match their buildings on the commune code (their département is blank).
COLLECTIVITY_CODES = frozenset({"975", "977", "978"})
# What a département filter accepts: a département, or one of those collectivities.
AREA_CODE_PATTERN = r"^(0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2A|2B|97[1-8])$"
# Cadastral parcel id (IDU): INSEE(5) + prefix(3) + section(2, not "00") + number(4).
PARCEL_ID_PATTERN = (
    r"^((0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2[AB])[0-9]{3}|97[1-6][0-9]{2})"
    r"[0-9]{3}(0[1-9A-Z]|[1-9A-Z][0-9A-Z])[0-9]{4}$"
)
RNB_ID_PATTERN = r"^[0-9A-Z]{12}$"


# --- Reference layers
class Region(models.Model):
    code = models.CharField(_("INSEE code"), max_length=2, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    geometry = models.MultiPolygonField(srid=4326, null=True, blank=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    code = models.CharField(_("INSEE code"), max_length=3, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    geometry = models.MultiPolygonField(srid=4326, null=True, blank=True)

    class Meta:
        verbose_name = _("département")
        verbose_name_plural = _("départements")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=DEPARTMENT_CODE_PATTERN),
                name="department_code_format",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Commune(models.Model):
    code = models.CharField(_("INSEE code"), max_length=5, primary_key=True)
    name = models.CharField(_("name"), max_length=150)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Municipal arrondissements of Paris, Lyon and Marseille point to their commune.
    arrondissement_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    population = models.PositiveIntegerField(null=True, blank=True)
    geometry = models.MultiPolygonField(srid=4326, null=True, blank=True)

    class Meta:
        verbose_name = _("commune")
        verbose_name_plural = _("communes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=COMMUNE_CODE_PATTERN),
                name="commune_code_format",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Friche(models.Model):
    """A site of the Cartofriches national inventory (Cerema), a reference layer.

    Field names follow the CNIG "Friches" standard where it has one.
    """

    site_id = models.CharField(max_length=64, unique=True)
    site_nom = models.CharField(max_length=300, blank=True)
    site_type = models.CharField(max_length=100, blank=True)
    site_statut = models.CharField(max_length=100, blank=True)
    site_adresse = models.CharField(max_length=300, blank=True)
    site_surface = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    comm_insee = models.CharField(max_length=5, blank=True, db_index=True)
    dep = models.CharField(max_length=3, blank=True, db_index=True)
    proprio_type = models.CharField(max_length=200, blank=True)
    is_state_owned = models.BooleanField(default=False)
    l_idpar = ArrayField(models.CharField(max_length=14), blank=True, default=list)
    source_nom = models.CharField(max_length=200, blank=True)
    site_actu_date = models.DateField(null=True, blank=True)
    point = models.PointField(srid=4326)

    class Meta:
        verbose_name = _("Cartofriches site")
        verbose_name_plural = _("Cartofriches sites")
        indexes = [
            # "Sites near this building" (selectors.nearby_friches, in metres).
            GistIndex(
                Cast(
                    "point", output_field=models.PointField(geography=True, srid=4326)
                ),
                name="friche_point_geog_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.site_nom or self.site_id


# --- Inventory
class BuildingStatus(models.TextChoices):
    IN_USE = "in_use", _("In use")
    VACANT = "vacant", _("Vacant")
    ASSESSED = "assessed", _("Assessed")
    AVAILABLE = "available", _("Available for temporary use")
    UNDER_AGREEMENT = "under_agreement", _("Under agreement")
    OCCUPIED = "occupied", _("Occupied")
    RELEASING = "releasing", _("Releasing")
    SUSPENDED = "suspended", _("Suspended")
    UNSAFE = "unsafe", _("Unsafe")
    ILLEGALLY_OCCUPIED = "illegally_occupied", _("Illegally occupied")
    DISPOSED = "disposed", _("Disposed")
    REASSIGNED = "reassigned", _("Reassigned")
    DEMOLISHED = "demolished", _("Demolished")


# The vacant stock the public sees: empty buildings waiting for their next use.
PUBLIC_STATUSES = (
    BuildingStatus.VACANT,
    BuildingStatus.ASSESSED,
    BuildingStatus.AVAILABLE,
)


_S = BuildingStatus
# reference/domain.md §D.1. Moves into and out of an agreement (under_agreement,
# occupied) are made by the occupancy services when an agreement is signed or starts.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.IN_USE: frozenset({_S.VACANT, _S.UNSAFE}),
    _S.VACANT: frozenset(
        {
            _S.ASSESSED,
            _S.ILLEGALLY_OCCUPIED,
            _S.UNSAFE,
            _S.DISPOSED,
            _S.REASSIGNED,
            _S.DEMOLISHED,
        }
    ),
    _S.ASSESSED: frozenset(
        {_S.AVAILABLE, _S.VACANT, _S.UNSAFE, _S.DISPOSED, _S.REASSIGNED, _S.DEMOLISHED}
    ),
    _S.AVAILABLE: frozenset(
        {
            _S.UNDER_AGREEMENT,
            _S.ASSESSED,
            _S.VACANT,
            _S.ILLEGALLY_OCCUPIED,
            _S.UNSAFE,
            _S.DISPOSED,
            _S.REASSIGNED,
        }
    ),
    _S.UNDER_AGREEMENT: frozenset(
        {_S.OCCUPIED, _S.AVAILABLE, _S.REASSIGNED, _S.UNSAFE}
    ),
    _S.OCCUPIED: frozenset({_S.RELEASING, _S.SUSPENDED, _S.UNSAFE}),
    _S.SUSPENDED: frozenset({_S.OCCUPIED, _S.RELEASING, _S.UNSAFE}),
    _S.RELEASING: frozenset(
        {_S.VACANT, _S.DISPOSED, _S.REASSIGNED, _S.DEMOLISHED, _S.UNSAFE}
    ),
    _S.ILLEGALLY_OCCUPIED: frozenset({_S.VACANT, _S.UNSAFE}),
    _S.UNSAFE: frozenset({_S.ASSESSED}),
    _S.REASSIGNED: frozenset({_S.IN_USE}),
    _S.DISPOSED: frozenset(),
    _S.DEMOLISHED: frozenset(),
}
# Statuses only an agreement's own lifecycle may set.
AGREEMENT_DRIVEN_STATUSES = frozenset({_S.UNDER_AGREEMENT, _S.OCCUPIED})


class AssetType(models.TextChoices):
    BUILDING = "building", _("Building")
    LAND = "land", _("Land")
    UNKNOWN = "unknown", _("Unknown")


class Domaniality(models.TextChoices):
    PUBLIC = "public", _("Public domain")
    PRIVATE = "private", _("Private domain")
    UNKNOWN = "unknown", _("Unknown")


class SurfaceKind(models.TextChoices):
    SUB = "sub", _("Gross usable area (SUB)")
    SDP = "sdp", _("Floor area (SDP)")
    LAND = "land", _("Land area")
    UNKNOWN = "unknown", _("Unknown")


class Accessibility(models.TextChoices):
    ACCESSIBLE = "accessible", _("Accessible")
    PARTIAL = "partial", _("Partly accessible")
    NOT_ACCESSIBLE = "not_accessible", _("Not accessible")
    UNKNOWN = "unknown", _("Unknown")


class Condition(models.TextChoices):
    GOOD = "good", _("Good")
    FAIR = "fair", _("Fair")
    POOR = "poor", _("Poor")
    RUINOUS = "ruinous", _("Ruinous")
    UNKNOWN = "unknown", _("Unknown")


class VacancyCause(models.TextChoices):
    RELOCATION = "relocation", _("Service relocated")
    OBSOLESCENCE = "obsolescence", _("Obsolete premises")
    AWAITING_SALE = "awaiting_sale", _("Awaiting sale")
    AWAITING_WORKS = "awaiting_works", _("Awaiting works")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Unknown")


class NextUse(models.TextChoices):
    SALE = "sale", _("Sale")
    DEMOLITION = "demolition", _("Demolition")
    REASSIGNMENT = "reassignment", _("Reassignment to a public service")
    URBAN_PROJECT = "urban_project", _("Urban project")
    UNKNOWN = "unknown", _("Unknown")


class Source(models.TextChoices):
    DIE = "die", _("State inventory (DIE open data)")
    CNIG_FRICHES = "cnig-friches", _("CNIG Friches standard")
    FILE = "file", _("Other file")
    MANUAL = "manual", _("Entered by hand")


class Site(models.Model):
    """Buildings under one designation (a campus, a barracks, a city block)."""

    code = models.CharField(
        _("site code"), max_length=200, unique=True, help_text=_("Opaque identifier.")
    )
    designation = models.CharField(_("designation"), max_length=300)
    commune = models.ForeignKey(
        Commune, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.designation


class BuildingQuerySet(models.QuerySet["Building"]):
    def public(self) -> BuildingQuerySet:
        return self.filter(status__in=PUBLIC_STATUSES, is_confidential=False)

    def vacant(self) -> BuildingQuerySet:
        return self.filter(status__in=PUBLIC_STATUSES)

    def in_department(self, code: str) -> BuildingQuerySet:
        return self.filter(department_id=code)

    def visible_to(self, scope: Scope) -> BuildingQuerySet:
        """State agents see their territory whole; everyone else, the public stock."""
        if scope.is_state_agent:
            if scope.departments is None:
                return self.all()
            return self.filter(department_id__in=scope.departments)
        return self.public()


class Building(models.Model):
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="buildings")
    # Natural keys from the State inventory, kept as opaque strings: confidential rows
    # carry hashes with ';', '\\' and quotes in them.
    inventory_id = models.CharField(_("inventory id"), max_length=100, unique=True)
    code_chorus = models.CharField(_("Chorus code"), max_length=100, blank=True)
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.MANUAL
    )
    source_vintage = models.DateField(_("source vintage"), null=True, blank=True)
    # sha256 of the normalised source row: a re-import of an unchanged row is a no-op.
    source_fingerprint = models.CharField(max_length=64, blank=True, editable=False)

    designation = models.CharField(_("designation"), max_length=300)
    asset_type = models.CharField(
        _("asset type"),
        max_length=10,
        choices=AssetType.choices,
        default=AssetType.UNKNOWN,
    )
    function = models.CharField(_("function"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=5, blank=True)
    city = models.CharField(_("city"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=100, default="France")
    # Indexed in Meta.indexes, not by the foreign keys: a key to a varchar code
    # gets a second, pattern-ops index (``…_like``) no query here uses, and each
    # index costs every imported row (migration 0013).
    commune = models.ForeignKey(
        Commune,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("commune"),
        db_index=False,
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("département"),
        db_index=False,
    )
    domaniality = models.CharField(
        _("domaniality"),
        max_length=10,
        choices=Domaniality.choices,
        default=Domaniality.UNKNOWN,
    )
    ministry = models.CharField(_("ministry"), max_length=200, blank=True)
    manager_label = models.CharField(_("manager"), max_length=300, blank=True)
    manager_type = models.CharField(_("manager type"), max_length=100, blank=True)
    owner_type = models.CharField(_("owner type"), max_length=100, blank=True)

    point = models.PointField(_("location"), srid=4326, null=True, blank=True)
    footprint = models.MultiPolygonField(
        _("footprint"), srid=4326, null=True, blank=True
    )
    outside_declared_commune = models.BooleanField(
        _("point outside its declared commune"), default=False
    )

    surface_m2 = models.DecimalField(
        _("surface (m²)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    surface_kind = models.CharField(
        _("kind of surface"),
        max_length=10,
        choices=SurfaceKind.choices,
        default=SurfaceKind.UNKNOWN,
    )
    year_built = models.SmallIntegerField(_("year built"), null=True, blank=True)
    condition = models.CharField(
        _("condition"),
        max_length=10,
        choices=Condition.choices,
        default=Condition.UNKNOWN,
    )
    energy_kwh_ef = models.DecimalField(
        _("final energy use (kWh/year)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
    )
    heating_type = models.CharField(_("heating"), max_length=100, blank=True)
    erp = models.BooleanField(_("open to the public (ERP)"), null=True, blank=True)
    erp_type = models.CharField(_("ERP type"), max_length=2, blank=True)
    erp_category = models.PositiveSmallIntegerField(
        _("ERP category"), null=True, blank=True
    )
    accessibility = models.CharField(
        _("accessibility"),
        max_length=15,
        choices=Accessibility.choices,
        default=Accessibility.UNKNOWN,
    )
    parcel_ids = ArrayField(
        models.CharField(max_length=14),
        blank=True,
        default=list,
        verbose_name=_("cadastral parcels (IDU)"),
    )
    rnb_ids = ArrayField(
        models.CharField(max_length=12),
        blank=True,
        default=list,
        verbose_name=_("RNB ids"),
    )

    status = models.CharField(
        _("status"),
        max_length=20,
        choices=BuildingStatus.choices,
        default=BuildingStatus.IN_USE,
    )
    vacancy_since = models.DateField(_("vacant since"), null=True, blank=True)
    vacancy_cause = models.CharField(
        _("cause of vacancy"),
        max_length=20,
        choices=VacancyCause.choices,
        default=VacancyCause.UNKNOWN,
    )
    next_use = models.CharField(
        _("next planned use"),
        max_length=20,
        choices=NextUse.choices,
        default=NextUse.UNKNOWN,
    )
    next_use_date = models.DateField(_("date of the next use"), null=True, blank=True)
    guarding_cost_monthly = models.DecimalField(
        _("monthly guarding cost baseline (€)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
    )
    is_confidential = models.BooleanField(
        _("confidential"),
        default=False,
        help_text=_("Rows a ministry marks confidential are never public."),
    )

    # Suitability for temporary use (buildings/suitability.py), stored so that lists
    # filter and sort on it; recomputed by every service that changes an input.
    suitability_shelter = models.PositiveSmallIntegerField(
        _("suitability, shelter"), null=True, blank=True
    )
    suitability_workspace = models.PositiveSmallIntegerField(
        _("suitability, workspaces"), null=True, blank=True
    )
    suitability_mixed = models.PositiveSmallIntegerField(
        _("suitability, mixed use"), null=True, blank=True
    )
    suitability_completeness = models.PositiveSmallIntegerField(
        _("suitability, completeness"), null=True, blank=True
    )
    # The day the scores were computed: "time left before the next use" moves
    # with the calendar, so the breakdown behind them is recomputed as of it.
    suitability_computed_on = models.DateField(
        _("suitability computed on"), null=True, blank=True, editable=False
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BuildingQuerySet.as_manager()

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BuildingStatus.values),
                name="building_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(asset_type__in=AssetType.values),
                name="building_asset_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(domaniality__in=Domaniality.values),
                name="building_domaniality_valid",
            ),
            models.CheckConstraint(
                condition=Q(surface_kind__in=SurfaceKind.values),
                name="building_surface_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(condition__in=Condition.values),
                name="building_condition_valid",
            ),
            models.CheckConstraint(
                condition=Q(accessibility__in=Accessibility.values),
                name="building_accessibility_valid",
            ),
            models.CheckConstraint(
                condition=Q(vacancy_cause__in=VacancyCause.values),
                name="building_vacancy_cause_valid",
            ),
            models.CheckConstraint(
                condition=Q(next_use__in=NextUse.values), name="building_next_use_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=Source.values), name="building_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(surface_m2__isnull=True) | Q(surface_m2__gte=0),
                name="building_surface_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(year_built__isnull=True)
                | Q(year_built__gte=1000, year_built__lte=2100),
                name="building_year_built_plausible",
            ),
            models.CheckConstraint(
                condition=Q(erp_category__isnull=True)
                | Q(erp_category__gte=1, erp_category__lte=5),
                name="building_erp_category_range",
            ),
            models.CheckConstraint(
                condition=Q(energy_kwh_ef__isnull=True) | Q(energy_kwh_ef__gte=0),
                name="building_energy_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(guarding_cost_monthly__isnull=True)
                | Q(guarding_cost_monthly__gte=0),
                name="building_guarding_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(postal_code="") | Q(postal_code__regex=r"^[0-9]{5}$"),
                name="building_postal_code_format",
            ),
        ]
        indexes = [
            # The public list, map and tiles: vacant, non-confidential stock.
            models.Index(
                fields=["department", "status"],
                name="building_public_idx",
                condition=Q(status__in=PUBLIC_STATUSES, is_confidential=False),
            ),
            # Agents' lists filtered by territory and status; also the index of
            # the département key (its leading column).
            models.Index(
                fields=["department", "status"], name="building_dept_status_idx"
            ),
            models.Index(fields=["commune"], name="building_commune_idx"),
            # Anonymous bbox pages and public tiles: the point index of the public
            # stock alone. With the full index and building_public_idx combined,
            # a Paris box read 19,256 + 9,769 index entries for 1,000 rows (10 ms
            # of the 30 of a 1,000-feature page; 0.9 ms with this one).
            # (An expression, not fields=["point"]: GeoDjango's spatial index SQL
            # drops the condition of a field index.)
            GistIndex(
                F("point"),
                name="building_public_point_idx",
                condition=Q(status__in=PUBLIC_STATUSES, is_confidential=False),
            ),
            # Distances in metres: ST_DWithin(point::geography, …) in geometry.py.
            GistIndex(
                Cast(
                    "point", output_field=models.PointField(geography=True, srid=4326)
                ),
                name="building_point_geog_idx",
            ),
            # Keyset pages of a large box in id order (``id > last ORDER BY id``):
            # the walk tests each id's point in the index itself, with no heap
            # visit for rows outside the box. A deep page of the Île-de-France
            # box (194k of 1M rows; 5,500 ids read for 1,000 kept) went from
            # 7.9 to 2 ms.
            models.Index(
                fields=["id"], include=["point"], name="building_id_point_idx"
            ),
            # The agents' list in its default order (designation, then id): a
            # national agent's first page read the first 50 rows of this index
            # instead of sorting the whole inventory (200k rows: 360 ms).
            models.Index(fields=["designation", "id"], name="building_designation_idx"),
            # Text search on designation and address (icontains → trigram GIN).
            GinIndex(
                fields=["designation"],
                name="building_designation_trgm",
                opclasses=["gin_trgm_ops"],
            ),
            GinIndex(
                fields=["address"],
                name="building_address_trgm",
                opclasses=["gin_trgm_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.designation

    @property
    def is_located(self) -> bool:
        return self.point is not None

    @property
    def suitability_details(self) -> suitability.Details:
        """Each criterion behind the stored scores (buildings.suitability)."""
        return suitability.details_on(self)


class BuildingStatusChange(models.Model):
    """Who moved a building from which status to which, when and why."""

    building = models.ForeignKey(
        Building, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, choices=BuildingStatus.choices)
    to_status = models.CharField(max_length=20, choices=BuildingStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["building", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.building_id}: {self.from_status} → {self.to_status}"


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """An import run in the background (large files), with its progress and report.

    Progress is written through the ``jobs`` database alias — its own connection in
    autocommit — so the page sees it while the import's transaction is still open.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file_name = models.CharField(_("file"), max_length=255)
    # Server-side path of the uploaded copy, inside IMPORT_UPLOAD_DIR; never user input.
    stored_path = models.CharField(max_length=500, editable=False)
    profile = models.CharField(_("profile"), max_length=20)
    options = models.JSONField(default=dict, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ImportJobStatus.choices,
        default=ImportJobStatus.QUEUED,
    )
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=50, blank=True)
    report = models.JSONField(default=dict, blank=True)
    report_csv = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ImportJobStatus.values),
                name="import_job_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class BuildingFeature(models.Model):
    """Each building's GeoJSON pieces, written by PostgreSQL when the building is.

    The list API, the OGC items and the map's inline layer write up to thousands
    of Features a request. Rendering them from the columns (``ST_AsGeoJSON`` and
    ``row_to_json`` per row) is most of a 1,000-feature page's cost; splicing
    these texts costs a fraction of it (docs/benchmarks.md). Statement-level
    triggers on buildings_building (migration 0005) keep them current for every
    writer — services, the importers' COPY + upsert, the admin, a raw UPDATE — in
    the writer's own transaction; nothing in Python writes here.

    The property sets are buildings.geojson's PUBLIC_PROPERTIES and
    AGENT_PROPERTIES, stored as a head and a tail that pages join with plain
    concatenation (``head || '}'`` for the public, ``head || tail`` for agents:
    no character counting per row, migration 0009);
    tests/buildings/test_geojson.py checks that the stored texts equal the
    columns rendered on the fly, so a property added without a migration fails.
    """

    building = models.OneToOneField(
        Building,
        on_delete=models.DO_NOTHING,  # the delete trigger removes the row
        primary_key=True,
        db_constraint=False,
        related_name="+",
    )
    point_geometry = models.TextField(null=True)
    footprint_geometry = models.TextField(null=True)  # exterior rings CCW
    # The public properties' JSON object without its closing brace.
    properties_head = models.TextField()
    # A comma, the members of AGENT_PROPERTIES the public lacks, the closing brace.
    agent_tail = models.TextField()

    class Meta:
        verbose_name = _("building GeoJSON")
        verbose_name_plural = _("building GeoJSON")

    def __str__(self) -> str:
        return str(self.building_id)
