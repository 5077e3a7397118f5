from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from organizations.identifiers import (
    LA_POSTE_SIREN,
    RNA_PATTERN,
    SIREN_PATTERN,
    SIRET_PATTERN,
    validate_rna,
    validate_siren,
    validate_siret,
)

# Corsica has been 2A and 2B since 1976: "20" is no département.
if TYPE_CHECKING:
    from organizations.selectors import Scope

DEPARTMENT_CODE_PATTERN = r"^(0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2A|2B|97[1-6])$"
# The same codes as a list, for array columns (Corsica is 2A/2B since 1976: no 20).
DEPARTMENT_CODES = [
    *(f"{n:02d}" for n in range(1, 96) if n != 20),
    "2A",
    "2B",
    *(str(n) for n in range(971, 977)),
]


class OrganizationKind(models.TextChoices):
    STATE_SERVICE = "state_service", _("State service")
    OPERATOR = "operator", _("Social-economy operator")
    FUNDER = "funder", _("Funder")
    OTHER = "other", _("Other")


class LegalForm(models.TextChoices):
    STATE = "state", _("State administration")
    LOCAL_AUTHORITY = "local_authority", _("Local authority")
    PUBLIC_BODY = "public_body", _("Public body")
    ASSOCIATION = "association", _("Association")
    FOUNDATION = "foundation", _("Foundation")
    COOPERATIVE = "cooperative", _("Cooperative (SCOP, SCIC)")
    COMPANY = "company", _("Company")
    OTHER = "other", _("Other")


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def state_services(self) -> OrganizationQuerySet:
        return self.filter(kind=OrganizationKind.STATE_SERVICE)

    def operators(self) -> OrganizationQuerySet:
        return self.filter(kind=OrganizationKind.OPERATOR)

    def funders(self) -> OrganizationQuerySet:
        return self.filter(kind=OrganizationKind.FUNDER)

    def visible_to(self, scope: Scope) -> OrganizationQuerySet:
        """State agents see the whole directory; others, their own organizations."""
        if scope.is_state_agent:
            return self.all()
        return self.filter(pk__in=scope.organization_ids)


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices)
    legal_form = models.CharField(
        _("legal form"),
        max_length=20,
        choices=LegalForm.choices,
        default=LegalForm.OTHER,
    )
    siren = models.CharField(
        "SIREN", max_length=9, blank=True, validators=[validate_siren]
    )
    siret = models.CharField(
        _("SIRET of the head office"),
        max_length=14,
        blank=True,
        validators=[validate_siret],
    )
    rna = models.CharField(
        _("RNA number"),
        max_length=10,
        blank=True,
        validators=[validate_rna],
        help_text=_(
            "Associations only; those under Alsace-Moselle local law may lack one."
        ),
    )
    is_non_profit = models.BooleanField(
        _("non-profit"),
        default=False,
        help_text=_("Required for the non-profit basis of a free-of-charge agreement."),
    )
    # State services: the départements of their territory; empty means national (DIE).
    territory_departments = ArrayField(
        models.CharField(max_length=3),
        blank=True,
        default=list,
        verbose_name=_("territory (départements)"),
    )
    esus_approved_until = models.DateField(
        _("ESUS approval valid until"), null=True, blank=True
    )
    esus_by_right = models.BooleanField(
        _("ESUS by right"),
        default=False,
        help_text=_(
            "CHRS and other bodies listed by the law are ESUS without approval."
        ),
    )
    elan_approval_number = models.CharField(
        _("ELAN art. 29 approval number"), max_length=50, blank=True
    )
    elan_approved_until = models.DateField(
        _("ELAN art. 29 approval valid until"), null=True, blank=True
    )
    elan_departments = ArrayField(
        models.CharField(max_length=3),
        blank=True,
        default=list,
        verbose_name=_("départements covered by the ELAN approval"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OrganizationKind.values),
                name="organization_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(legal_form__in=LegalForm.values),
                name="organization_legal_form_valid",
            ),
            models.CheckConstraint(
                condition=Q(siren="") | Q(siren__regex=SIREN_PATTERN),
                name="organization_siren_format",
            ),
            models.CheckConstraint(
                condition=Q(siret="") | Q(siret__regex=SIRET_PATTERN),
                name="organization_siret_format",
            ),
            models.CheckConstraint(
                condition=Q(siret="") | Q(siren="") | Q(siret__startswith=F("siren")),
                name="organization_siret_extends_siren",
            ),
            models.CheckConstraint(
                condition=Q(rna="") | Q(rna__regex=RNA_PATTERN),
                name="organization_rna_format",
            ),
            models.CheckConstraint(
                condition=Q(rna="") | Q(legal_form="association"),
                name="organization_rna_only_for_associations",
            ),
            models.CheckConstraint(
                condition=Q(elan_approval_number="")
                | Q(elan_approved_until__isnull=False),
                name="organization_elan_approval_has_expiry",
            ),
            models.UniqueConstraint(
                fields=["siret"],
                condition=~Q(siret=""),
                name="organization_siret_unique",
            ),
            models.UniqueConstraint(
                fields=["rna"], condition=~Q(rna=""), name="organization_rna_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.siret and self.siren and not self.siret.startswith(self.siren):
            errors["siret"] = _("The SIRET must start with the organization's SIREN.")
        if self.siret and not self.siren:
            # La Poste's SIREN fails Luhn, so derive it rather than re-validate.
            self.siren = self.siret[:9]
            if self.siren != LA_POSTE_SIREN:
                try:
                    validate_siren(self.siren)
                except ValidationError as exc:
                    errors["siret"] = exc.messages[0]
        if self.rna and self.legal_form != LegalForm.ASSOCIATION:
            errors["rna"] = _("Only associations have an RNA number.")
        if self.elan_approval_number and not self.elan_approved_until:
            errors["elan_approved_until"] = _("An ELAN approval has an expiry date.")
        for field in ("territory_departments", "elan_departments"):
            bad = [code for code in getattr(self, field) if not _is_department(code)]
            if bad:
                errors[field] = _("Unknown département code(s): %(codes)s") % {
                    "codes": ", ".join(bad)
                }
        if errors:
            raise ValidationError(errors)

    def is_esus(self, on: date) -> bool:
        return self.esus_by_right or bool(
            self.esus_approved_until and self.esus_approved_until >= on
        )

    def elan_approval_covers(self, department: str, on: date) -> bool:
        return bool(
            self.elan_approval_number
            and self.elan_approved_until
            and self.elan_approved_until >= on
            and department in self.elan_departments
        )


def _is_department(code: str) -> bool:
    return bool(re.fullmatch(DEPARTMENT_CODE_PATTERN, code))


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    EDITOR = "editor", _("Editor")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                name="membership_user_organization_unique",
            ),
            models.CheckConstraint(
                condition=Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.organization} ({self.role})"
