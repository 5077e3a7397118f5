"""Routes of the finance API, mounted under /api/v1/finance/ by finance/urls.py.

A SimpleRouter: no browsable index of its own (the project's schema documents it).
"""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from finance.api import views

router = SimpleRouter()
router.register("commitments", views.CommitmentViewSet, basename="commitment")
router.register("disbursements", views.DisbursementViewSet, basename="disbursement")
router.register("cost-lines", views.CostLineViewSet, basename="cost-line")
router.register(
    "security-baselines", views.SecurityBaselineViewSet, basename="security-baseline"
)
router.register("fee-payments", views.FeePaymentViewSet, basename="fee-payment")
router.register("sublettings", views.SubLettingViewSet, basename="subletting")

urlpatterns = [
    path("indicators/", views.IndicatorsView.as_view(), name="indicators"),
    *router.urls,
]
