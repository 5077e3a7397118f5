"""Administration of agreements, spaces and safety inspections, and a read-only
view of residents for superusers.

Staff see the rows of their territory only (the scope of the pages). Agreements
are read here, never edited: their terms are checked against the law by
occupancy.services, and their status moves only through agreement_transition
(the form under the agreement, as for buildings). Spaces and inspections are
written through occupancy/residents/; a domain error the service would raise
is found first by running the write in a savepoint that is always rolled back,
so it shows as a form error instead of a server error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from buildings.admin import InventoryWriteAdminMixin
from buildings.models import Building
from buildings.views import may_write_inventory
from config.admin import CheckedAutocompleteMixin, ReadOnlyAdminMixin, TransitionAdmin
from config.errors import DomainError
from occupancy.forms import FACTS_BY_TARGET, AgreementTransitionForm
from occupancy.models import (
    AGREEMENT_TRANSITIONS,
    Agreement,
    AgreementSpace,
    AgreementStatus,
    AgreementStatusChange,
    Amendment,
    Document,
    InsuranceCertificate,
    Occupant,
    ResidenceContract,
    ResidentAccess,
    SafetyInspection,
    Space,
    Stay,
)
from occupancy.residents import (
    access_record,
    safety_inspection_record,
    space_create,
    space_update,
)
from occupancy.services import agreement_transition
from organizations.selectors import scope_for, writable_departments


# --- Territory ----------------------------------------------------------------------
def _in_territory(
    queryset: QuerySet[Any], request: HttpRequest, *, through: str
) -> QuerySet[Any]:
    """Rows whose building lies in the staff member's départements (all of them for
    a national service or a superuser); none for anyone who is no State agent."""
    scope = scope_for(request.user)
    if not scope.is_state_agent:
        return queryset.none()
    if scope.departments is None:
        return queryset
    return queryset.filter(**{f"{through}__in": scope.departments})


def _buildings(request: HttpRequest) -> QuerySet[Building]:
    return _in_territory(Building.objects.all(), request, through="department_id")


class _Rollback(Exception):
    pass


def _dry_run(write: Callable[[], object]) -> DomainError | None:
    """The domain error ``write`` raises, if any, with nothing kept."""
    try:
        with transaction.atomic():
            write()
            raise _Rollback
    except _Rollback:
        return None
    except DomainError as error:
        return error


def _form_error(form: forms.BaseForm, error: DomainError | None) -> None:
    if error is not None:
        field = error.field if error.field in form.fields else None
        form.add_error(field, error.message)


def _form_data(form: forms.BaseForm, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data.get(name) for name in fields}


class _ServiceForm(Protocol):
    """A form whose row a service writes: ``write`` runs it on the cleaned data
    (rehearsed by the form's clean() through _dry_run)."""

    def write(self) -> models.Model: ...


# --- Shared admin behaviour -----------------------------------------------------------
class _TerritoryAdmin(CheckedAutocompleteMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows of buildings in the staff member's territory; its forms offer the
    buildings and spaces of that territory only."""

    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows: QuerySet[Any] = super().get_queryset(request)
        return _in_territory(rows, request, through="building__department_id")

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "building":
            kwargs["queryset"] = _buildings(request)
        elif db_field.name == "space":
            kwargs["queryset"] = _in_territory(
                Space.objects.all(), request, through="building__department_id"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class _ServiceAdmin(InventoryWriteAdminMixin, _TerritoryAdmin):
    """Saves through the form's service write (a ``_ServiceForm``); a mistaken row
    is deleted by a superuser.

    Staff write as editors do on the pages and the API: as admin or editor of a
    State service, on buildings of its territory. Model permissions alone let a
    viewer record a space or a safety inspection (which sets who may enter), and
    an agent who reads a territory record one there.
    """

    department_path = "building.department_id"

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        departments = writable_departments(
            scope=scope_for(request.user), user=request.user
        )
        through = {"building": "department_id", "space": "building__department_id"}
        if departments is None:  # a national editor, a superuser
            return field
        rows = field.queryset if field is not None else None
        if field is not None and rows is not None and db_field.name in through:
            field.queryset = rows.filter(
                **{f"{through[db_field.name]}__in": departments}
            )
        return field

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def save_model(
        self, request: HttpRequest, obj: models.Model, form: _ServiceForm, change: bool
    ) -> None:
        saved = form.write()
        # The admin goes on with ``obj`` (log entry, redirect): make it the row.
        obj.pk = saved.pk
        obj._state.adding = False


# --- Agreements ---------------------------------------------------------------------
class _ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = False


class StatusChangeInline(_ReadOnlyInline):
    model = AgreementStatusChange
    fields = ("changed_at", "changed_by", "from_status", "to_status", "reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgreementStatusChange]:
        changes: QuerySet[AgreementStatusChange] = super().get_queryset(request)
        return changes.select_related("changed_by")


class AgreementSpaceInline(_ReadOnlyInline):
    model = AgreementSpace
    fields = ("space", "period", "is_live")
    readonly_fields = fields
    verbose_name = gettext_lazy("space covered")
    verbose_name_plural = gettext_lazy("spaces covered")

    def get_queryset(self, request: HttpRequest) -> QuerySet[AgreementSpace]:
        rows: QuerySet[AgreementSpace] = super().get_queryset(request)
        return rows.select_related("space")


class AmendmentInline(_ReadOnlyInline):
    model = Amendment
    fields = ("kind", "signed_on", "new_end", "owner_justification")
    readonly_fields = fields


class InsuranceInline(_ReadOnlyInline):
    model = InsuranceCertificate
    fields = ("insurer", "policy_number", "valid_from", "valid_until")
    readonly_fields = fields


class DocumentInline(_ReadOnlyInline):
    model = Document
    fields = ("kind", "title", "file", "issued_on", "uploaded_at")
    readonly_fields = fields


# Terms change through the services, which check them against the law; an
# agreement leaves through its lifecycle (withdrawn, rejected, closed), which
# keeps its history. The admin reads them.
@admin.register(Agreement)
class AgreementAdmin(ReadOnlyAdminMixin, TransitionAdmin[Agreement], _TerritoryAdmin):
    change_form_template = "occupancy/admin/agreement_change_form.html"
    list_display = ("reference", "building", "operator", "regime", "status", "period")
    list_filter = ("status", "regime")
    list_select_related = ("building", "operator")
    search_fields = ("reference", "building__designation", "operator__name")
    inlines = (
        StatusChangeInline,
        AgreementSpaceInline,
        AmendmentInline,
        InsuranceInline,
        DocumentInline,
    )

    def view_on_site(self, obj: Agreement) -> str:
        return reverse("occupancy:agreement-detail", args=[obj.pk])

    # --- Lifecycle from the change page
    transition_service = staticmethod(agreement_transition)

    def may_transition(self, request: HttpRequest, obj: Agreement) -> bool:
        return self.has_view_permission(request, obj) and may_write_inventory(
            scope_for(request.user),
            request.user,
            department=obj.building.department_id,
        )

    def transition_choices(self, obj: Agreement) -> list[tuple[str, StrOrPromise]]:
        allowed = AGREEMENT_TRANSITIONS.get(obj.status, frozenset())
        return [
            (status, label)
            for status, label in AgreementStatus.choices
            if status in allowed
        ]

    def transition_context(self, obj: Agreement) -> dict[str, Any]:
        form = AgreementTransitionForm(auto_id="transition-%s")
        facts = sorted({name for names in FACTS_BY_TARGET.values() for name in names})
        return {"transition_fields": [form["reason"], *(form[n] for n in facts)]}

    def transition_arguments(
        self, request: HttpRequest, obj: Agreement
    ) -> dict[str, Any]:
        form = AgreementTransitionForm(request.POST)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return {
            "agreement": obj,
            "to": form.cleaned_data["to"],
            "reason": form.cleaned_data["reason"],
            **form.facts(obj),
        }

    def transition_message(self, obj: Agreement) -> str:
        return _("Agreement %(reference)s is now “%(status)s”.") % {
            "reference": obj.reference,
            "status": obj.get_status_display(),
        }


# --- Spaces -------------------------------------------------------------------------
SPACE_FIELDS = ("building", "name", "kind", "use", "floor", "surface_m2", "capacity")


def _space_write(space: Space, data: dict[str, Any]) -> Space:
    if space.pk is None:
        return space_create(**data)
    fields = {name: value for name, value in data.items() if name != "building"}
    return space_update(space=space, **fields)


class SpaceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Space
        fields = SPACE_FIELDS

    def write(self) -> Space:
        return _space_write(self.instance, _form_data(self, SPACE_FIELDS))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            _form_error(self, _dry_run(self.write))
        return cleaned


@admin.register(Space)
class SpaceAdmin(_ServiceAdmin):
    form = SpaceForm
    list_display = ("name", "building", "kind", "use", "floor", "capacity")
    list_filter = ("use", "kind")
    list_select_related = ("building",)
    search_fields = ("name", "building__designation", "building__inventory_id")
    autocomplete_fields = ("building",)

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> tuple[str, ...]:
        # A space belongs to its building for good: stays and agreements point at it.
        # Its creator is shown (an operator's free space is that operator's to
        # change through the API), never set here: an agent's space has none.
        return ("building", "created_by") if obj is not None else ()


# --- Safety inspections -------------------------------------------------------------
INSPECTION_FIELDS = ("building", "space", "kind", "date", "result", "max_headcount")


class SafetyInspectionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SafetyInspection
        fields = INSPECTION_FIELDS

    def write(self) -> SafetyInspection:
        return safety_inspection_record(**_form_data(self, INSPECTION_FIELDS))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and self.instance.pk is None:
            _form_error(self, _dry_run(self.write))
        return cleaned


@admin.register(SafetyInspection)
class SafetyInspectionAdmin(_ServiceAdmin):
    form = SafetyInspectionForm
    list_display = ("building", "space", "kind", "date", "result", "max_headcount")
    list_filter = ("kind", "result")
    list_select_related = ("building", "space")
    search_fields = ("building__designation", "building__inventory_id")
    autocomplete_fields = ("building", "space")
    date_hierarchy = "date"

    # An inspection is a fact on record (the lifecycle guards read it): it is
    # added, not rewritten; a mistaken one is deleted by a superuser.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Residents: superusers only, read-only ------------------------------------------
# Occupants, stays and residence contracts are the operators' data on the people
# they shelter (GDPR: the operator is the controller, domain.md §F.1, §F.4): State
# staff see aggregates only, on the agreement pages. The platform's superusers may
# need to look at a row (a support request, a right-of-access check), but never
# write one here: every write goes through the services, which hold the rules and
# whose audit trail records it, and erasure is the retention purge's.
class SuperusersReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


# Anonymised occupants and their stays, kept for the indicators only, are not shown.
# Every page that shows rows is a read of resident data, logged (reliability.md §H3).
class ResidentAdmin(SuperusersReadOnlyAdmin):
    # The lookup naming the occupant's anonymisation date from this model, and the
    # attribute holding the occupant's id.
    anonymised_lookup = "occupant__anonymised_at"
    occupant_attribute = "occupant_id"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(**{self.anonymised_lookup: None})

    def _log_read(self, request: HttpRequest, view: str, rows: Iterable[Any]) -> None:
        access_record(
            user=request.user,
            channel=f"admin:{self.opts.model_name}.{view}",
            occupant_ids=[getattr(row, self.occupant_attribute) for row in rows],
            method=request.method or "",
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if response.status_code == 200 and changelist is not None:
            self._log_read(request, "changelist", changelist.result_list)
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = self.get_object(request, unquote(object_id))
        if response.status_code == 200 and shown is not None:
            self._log_read(request, "change", [shown])
        return response


@admin.register(Occupant)
class OccupantAdmin(ResidentAdmin):
    anonymised_lookup = "anonymised_at"
    occupant_attribute = "pk"
    list_display = ("__str__", "operator", "kind", "category", "household_size")
    list_filter = ("kind", "category")
    list_select_related = ("operator",)
    exclude = ("pseudonym",)
    readonly_fields = ("pseudonym_prefix",)

    @admin.display(description=gettext_lazy("pseudonym (first characters)"))
    def pseudonym_prefix(self, obj: Occupant) -> str:
        return f"{obj.pseudonym[:8]}…"


@admin.register(Stay)
class StayAdmin(ResidentAdmin):
    list_display = ("occupant", "space", "agreement", "period", "status")
    list_filter = ("status", "structure_type")
    list_select_related = ("occupant", "space", "agreement")


@admin.register(ResidenceContract)
class ResidenceContractAdmin(ResidentAdmin):
    list_display = ("occupant", "agreement", "start", "current_end", "status")
    list_filter = ("status",)
    list_select_related = ("occupant", "agreement")


# The log of reads of resident data, for the DPO's checks (reliability.md §H3): ids
# and channels only, nothing to hide, nothing to change.
@admin.register(ResidentAccess)
class ResidentAccessAdmin(SuperusersReadOnlyAdmin):
    list_display = ("at", "user", "channel", "method", "occupant_ids", "request_id")
    list_filter = ("channel",)
    list_select_related = ("user",)
    search_fields = ("request_id",)
    date_hierarchy = "at"
