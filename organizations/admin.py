"""Organizations, memberships and user accounts: superusers only.

These rows decide what everyone else may see and do (organizations.selectors):
a membership's role makes an editor, a State service's territory its reach, a
user's flags a superuser. Django's model permissions would let a staff member
holding them grant itself any of these, so the admin ignores them here
(config.admin.SuperusersOnlyAdminMixin).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from config.admin import CheckedAutocompleteMixin, SuperusersOnlyAdminMixin
from organizations.models import Membership, Organization


class MembershipInline(
    SuperusersOnlyAdminMixin,
    CheckedAutocompleteMixin,
    admin.TabularInline[Membership, Organization],
):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(SuperusersOnlyAdminMixin, admin.ModelAdmin[Organization]):
    list_display = ["name", "kind", "legal_form", "siren", "siret", "rna"]
    list_filter = ["kind", "legal_form"]
    search_fields = ["name", "siren", "siret", "rna"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(
    SuperusersOnlyAdminMixin, CheckedAutocompleteMixin, admin.ModelAdmin[Membership]
):
    list_display = ["user", "organization", "role"]
    list_filter = ["role", "organization__kind"]
    autocomplete_fields = ["user", "organization"]


# Django's own: a staff member with change_user could tick is_superuser on itself.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AccountAdmin(SuperusersOnlyAdminMixin, UserAdmin):  # type: ignore[type-arg]
    pass


@admin.register(Group)
class GroupsAdmin(SuperusersOnlyAdminMixin, GroupAdmin):
    pass
