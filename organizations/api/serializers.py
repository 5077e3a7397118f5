from __future__ import annotations

from typing import Any

from rest_framework import serializers

from organizations.models import Membership, Organization


class TokenRequestSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class TokenSerializer(serializers.Serializer[dict[str, Any]]):
    token = serializers.CharField(help_text="Shown once; only its hash is stored.")
    expiry = serializers.DateTimeField()


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "legal_form", "siren", "siret", "rna"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    organization = OrganizationSerializer()

    class Meta:
        model = Membership
        fields = ["organization", "role"]


class MeSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField()
    persona = serializers.CharField()
    memberships = MembershipSerializer(many=True)
