"""Administration of the inventory.

Staff see their territory only (the scope of the pages), status moves only through
the lifecycle service, and the map widget loads OpenLayers from our static files
and its tiles from settings.BASEMAP_URL: Django's own widget pulls OpenLayers from
a CDN and tiles from OpenStreetMap's servers (DESIGN.md: no CDN).
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.forms import OSMWidget
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from buildings.models import (
    Building,
    BuildingQuerySet,
    BuildingStatus,
    BuildingStatusChange,
    Commune,
    Department,
    Friche,
    Region,
    Site,
)
from buildings.selectors import site_list
from buildings.services import (
    EDITABLE_FIELDS,
    allowed_transitions,
    building_create,
    building_location_check,
    building_transition,
    building_update,
)
from buildings.views import may_write_inventory
from config.admin import CheckedAutocompleteMixin, ReadOnlyAdminMixin, TransitionAdmin
from config.errors import DomainError
from organizations.selectors import scope_for, writable_departments

# Metropolitan France, when a geometry is still empty.
FRANCE_LON, FRANCE_LAT, FRANCE_ZOOM = 2, 47, 5


class BasemapWidget(OSMWidget):
    """Django's OpenLayers widget, on local assets and the configured basemap.

    Its options travel in a data attribute read by buildings/admin_map.js: the
    stock template starts the map with an inline script, which our CSP refuses.
    """

    template_name = "buildings/widgets/basemap_map.html"
    default_lon = FRANCE_LON
    default_lat = FRANCE_LAT
    default_zoom = FRANCE_ZOOM

    class Media:
        # extend = False drops the parent's Media, which loads OpenLayers from a CDN.
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js", "buildings/admin_map.js")

    def _render(
        self, template_name: str, context: dict[str, Any], renderer: Any = None
    ) -> SafeString:
        # Django's default form renderer reads app template directories only; this
        # template lives in the project's templates/ with the other pages.
        return mark_safe(render_to_string(template_name, context))

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(name, value, attrs)
        context["map_options"] = json.dumps(
            {
                "id": context["id"],
                "map_id": f"{context['id']}_map",
                "name": context["name"],
                "geom_name": context["geom_type"],
                "map_srid": context["map_srid"],
                "default_lon": context["default_lon"],
                "default_lat": context["default_lat"],
                "default_zoom": context["default_zoom"],
                "basemap_url": settings.BASEMAP_URL,
                "basemap_attribution": settings.BASEMAP_ATTRIBUTION,
            }
        )
        return context


class MapAdmin(CheckedAutocompleteMixin, GISModelAdmin):  # type: ignore[type-arg]
    gis_widget = BasemapWidget


# --- Reference layers: loaded by manage.py load_reference_layers, read here.
class ReferenceLayerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    # A commune's outline is megabytes of coordinates: never drawn in a form.
    exclude = ("geometry",)
    show_full_result_count = False


@admin.register(Region)
class RegionAdmin(ReferenceLayerAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Department)
class DepartmentAdmin(ReferenceLayerAdmin):
    list_display = ("code", "name", "region")
    list_select_related = ("region",)
    search_fields = ("code", "name")


@admin.register(Commune)
class CommuneAdmin(ReferenceLayerAdmin):
    list_display = ("code", "name", "department", "population")
    list_select_related = ("department",)
    list_filter = ("department",)
    search_fields = ("code", "name")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Commune], search_term: str
    ) -> tuple[QuerySet[Commune], bool]:
        communes, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        # The site form's autocomplete offers a territorial editor the communes
        # it may name (SiteAdmin.get_form), not the whole of France.
        if (request.GET.get("model_name"), request.GET.get("field_name")) == (
            "site",
            "commune",
        ):
            departments = writable_departments(
                scope=scope_for(request.user), user=request.user
            )
            if departments is not None:
                communes = communes.filter(department_id__in=departments)
        return communes, may_have_duplicates


@admin.register(Friche)
class FricheAdmin(MapAdmin):
    list_display = (
        "site_id",
        "site_nom",
        "comm_insee",
        "site_statut",
        "is_state_owned",
    )
    list_filter = ("is_state_owned", "site_statut")
    search_fields = ("site_id", "site_nom", "comm_insee")
    show_full_result_count = False


# --- Inventory
def _scope_departments(request: HttpRequest) -> frozenset[str] | None:
    """The départements the staff member covers; None for all of them."""
    scope = scope_for(request.user)
    if not scope.is_state_agent:
        return frozenset()
    return scope.departments


class InventoryWriteAdminMixin:
    """Adds and changes for admins and editors of a State service, on rows whose
    building lies in its territory (the département at ``department_path`` of the
    row, or ``may_change`` where a row has no single one), as on the pages and the API
    (buildings.views.may_write_inventory): Django's model permissions alone let a
    viewer write, or an agent write where it only reads."""

    department_path = "department_id"

    def may_change(self, request: HttpRequest, obj: Any) -> bool:
        department = attrgetter(self.department_path)(obj)
        return may_write_inventory(
            scope_for(request.user), request.user, department=department
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request) and may_write_inventory(  # type: ignore[misc]
            scope_for(request.user), request.user
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):  # type: ignore[misc]
            return False
        if obj is None:
            return may_write_inventory(scope_for(request.user), request.user)
        return self.may_change(request, obj)


@admin.register(Site)
class SiteAdmin(
    InventoryWriteAdminMixin,
    CheckedAutocompleteMixin,
    admin.ModelAdmin,  # type: ignore[type-arg]
):
    list_display = ("code", "designation", "commune")
    list_select_related = ("commune",)
    search_fields = ("code", "designation")
    autocomplete_fields = ("commune",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return site_list(departments=_scope_departments(request))

    # A site lies in a territory through its commune or one of its buildings
    # (site_list). Model permissions alone let a territorial editor create a site
    # anywhere, or rename and move any site its read scope shows.
    def may_change(self, request: HttpRequest, obj: Site) -> bool:
        departments = writable_departments(
            scope=scope_for(request.user), user=request.user
        )
        return (
            departments is None
            or site_list(departments=departments).filter(pk=obj.pk).exists()
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A site no building holds any more (PROTECT): deleting it is a change.
        return super().has_delete_permission(
            request, obj
        ) and self.has_change_permission(request, obj)

    def get_form(
        self,
        request: HttpRequest,
        obj: Site | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ModelForm[Site]]:
        form: type[ModelForm[Site]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        departments = writable_departments(
            scope=scope_for(request.user), user=request.user
        )
        field = form.base_fields.get("commune")
        if departments is not None and isinstance(field, forms.ModelChoiceField):
            # A commune of the territory; a site's current commune elsewhere (it
            # is here through a building) may stay. Blanked, a new site would be
            # no territory's, out of its editor's reach at once.
            within = Q(department_id__in=departments)
            if obj is not None and obj.commune_id is not None:
                within |= Q(pk=obj.commune_id)
            field.queryset = Commune.objects.filter(within)
            field.required = True
        return form


class BuildingStatusChangeInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = BuildingStatusChange
    fields = ("changed_at", "changed_by", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[BuildingStatusChange]:
        changes: QuerySet[BuildingStatusChange] = super().get_queryset(request)
        return changes.select_related("changed_by")


def _service_fields(form: ModelForm[Building]) -> dict[str, Any]:
    """What the services are given from a valid form: the changed fields of a
    building, every field of a new one."""
    names = form.changed_data if form.instance.pk else list(form.cleaned_data)
    return {
        name: getattr(form.instance, name) for name in names if name in EDITABLE_FIELDS
    }


class BuildingForm(ModelForm[Building]):
    """Shows the services' location refusals as field errors (save_model runs
    after validation: raised there, they were a 500)."""

    # After ModelForm's own _post_clean (untyped in django-stubs), which puts the
    # form's values on the instance, as save_model then reads them.
    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            building_location_check(
                building=self.instance, changed=_service_fields(self)
            )
        except DomainError as error:
            self.add_error(
                error.field if error.field in self.fields else None, error.message
            )


@admin.register(Building)
class BuildingAdmin(InventoryWriteAdminMixin, TransitionAdmin[Building], MapAdmin):
    form = BuildingForm
    change_form_template = "buildings/admin/building_change_form.html"
    list_display = (
        "designation",
        "inventory_id",
        "status",
        "department",
        "commune",
        "surface_m2",
        "suitability_mixed",
        "is_confidential",
    )
    list_filter = ("status", "department", "is_confidential")
    list_select_related = ("department", "commune")
    search_fields = ("designation", "address", "inventory_id")
    autocomplete_fields = ("site", "commune", "department")
    show_full_result_count = False
    inlines = (BuildingStatusChangeInline,)
    # status moves only through building_transition (the buttons under the form);
    # scores and provenance are computed or written by the importers.
    readonly_fields = (
        "status",
        "source",
        "source_vintage",
        "outside_declared_commune",
        "suitability_shelter",
        "suitability_workspace",
        "suitability_mixed",
        "suitability_completeness",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            gettext_lazy("Identification"),
            {
                "fields": (
                    "designation", "inventory_id", "code_chorus", "site", "status",
                    "asset_type", "function", "ministry", "manager_label",
                    "manager_type", "owner_type", "domaniality", "is_confidential",
                    "source", "source_vintage",
                )
            },
        ),
        (
            gettext_lazy("Location"),
            {
                "fields": (
                    "address", "postal_code", "city", "country", "commune",
                    "department", "point", "footprint", "outside_declared_commune",
                    "parcel_ids", "rnb_ids",
                )
            },
        ),
        (
            gettext_lazy("Surfaces and condition"),
            {
                "fields": (
                    "surface_m2", "surface_kind", "year_built", "condition",
                    "energy_kwh_ef", "heating_type", "accessibility",
                )
            },
        ),
        (
            gettext_lazy("Safety and public access (ERP)"),
            {"fields": ("erp", "erp_type", "erp_category")},
        ),
        (
            gettext_lazy("Vacancy and next use"),
            {
                "fields": (
                    "vacancy_since", "vacancy_cause", "next_use", "next_use_date",
                    "guarding_cost_monthly",
                )
            },
        ),
        (
            gettext_lazy("Suitability for temporary use"),
            {
                "fields": (
                    "suitability_shelter", "suitability_workspace",
                    "suitability_mixed", "suitability_completeness",
                    "created_at", "updated_at",
                )
            },
        ),
    )  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[Building]:
        buildings = cast(BuildingQuerySet, super().get_queryset(request))
        scope = scope_for(request.user)
        if not scope.is_state_agent:
            return buildings.none()
        return buildings.visible_to(scope)

    # Staff write as the API's editors do (buildings.api.views): as admin or
    # editor of a State service, within its territory. Django's model permissions
    # alone let a viewer edit, and a territorial editor move a building to, or
    # create one in, any département or site (reliability.md B4, B8).
    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        departments = writable_departments(
            scope=scope_for(request.user), user=request.user
        )
        if departments is not None and db_field.name == "department":
            kwargs["queryset"] = Department.objects.filter(code__in=departments)
            # Blanked, the building would leave its editor's territory too.
            kwargs["required"] = True
        elif departments is not None and db_field.name == "site":
            kwargs["queryset"] = site_list(departments=departments)
        field: forms.ModelChoiceField[Any] | None = super().formfield_for_foreignkey(
            db_field, request, **kwargs
        )
        return field

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A building leaves the inventory through its lifecycle (disposed,
        # demolished), which keeps its history; deleting is for mistakes.
        return bool(getattr(request.user, "is_superuser", False))

    def save_model(
        self,
        request: HttpRequest,
        obj: Building,
        form: ModelForm[Building],
        change: bool,
    ) -> None:
        """Writes go through the services, which recompute the suitability score."""
        user = request.user if isinstance(request.user, User) else None
        fields = _service_fields(form)
        if change:
            if fields:
                building_update(building=obj, by=user, **fields)
            return
        created = building_create(by=user, **fields)
        # The admin goes on with ``obj`` (log entry, redirect): make it the new row.
        obj.pk = created.pk
        obj._state.adding = False

    # --- Lifecycle from the change form
    transition_service = staticmethod(building_transition)

    def may_transition(self, request: HttpRequest, obj: Building) -> bool:
        return self.has_change_permission(request, obj) and may_write_inventory(
            scope_for(request.user), request.user, department=obj.department_id
        )

    def transition_choices(self, obj: Building) -> list[tuple[str, StrOrPromise]]:
        return [
            (status, BuildingStatus(status).label)
            for status in allowed_transitions(obj)
        ]

    def transition_arguments(
        self, request: HttpRequest, obj: Building
    ) -> dict[str, Any]:
        return {
            "building": obj,
            "to": request.POST.get("to", ""),
            "reason": request.POST.get("reason", "")[:2000],
        }

    def transition_message(self, obj: Building) -> str:
        return _("“%(building)s” is now “%(status)s”.") % {
            "building": obj,
            "status": obj.get_status_display(),
        }
