from __future__ import annotations

from django.contrib import admin

from config.admin import CheckedAutocompleteMixin
from organizations.forms import AdminLoginForm
from organizations.models import Membership, Organization

admin.site.login_form = AdminLoginForm


class MembershipInline(
    CheckedAutocompleteMixin, admin.TabularInline[Membership, Organization]
):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ["name", "kind", "legal_form", "siren", "siret", "rna"]
    list_filter = ["kind", "legal_form"]
    search_fields = ["name", "siren", "siret", "rna"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(CheckedAutocompleteMixin, admin.ModelAdmin[Membership]):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization__kind"]
    autocomplete_fields = ["user", "organization"]
