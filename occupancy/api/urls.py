"""Occupancy endpoints, registered on the API router under /api/v1/."""

from __future__ import annotations

from django.urls import path

from config.api import router
from occupancy.api.views import (
    AgreementViewSet,
    IndicatorView,
    OccupantViewSet,
    ResidenceContractViewSet,
    SafetyInspectionViewSet,
    SpaceViewSet,
    StayViewSet,
)

router.register("agreements", AgreementViewSet, basename="agreement")
router.register("spaces", SpaceViewSet, basename="space")
router.register(
    "safety-inspections", SafetyInspectionViewSet, basename="safety-inspection"
)
router.register("occupants", OccupantViewSet, basename="occupant")
router.register("stays", StayViewSet, basename="stay")
router.register(
    "residence-contracts", ResidenceContractViewSet, basename="residence-contract"
)

urlpatterns = [
    path("indicators/", IndicatorView.as_view(), name="indicators"),
]
