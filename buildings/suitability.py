"""Suitability of a building for temporary use: a transparent, documented score.

Each intended use (shelter, workspaces, mixed) weighs six criteria. A criterion
scores between 0 and 1 from the building's facts, or is *unknown* when the input
is missing. The score is ``100 × Σ weight × value / Σ weight`` with unknown
criteria counting 0 — a building we know little about does not look better than
one we know well — and the completeness index says which share of the weights
(those of mixed use) rested on known inputs. Every contribution is stored so that
pages can show it.

Criteria, their input, and when they score 1.0:
- safety: the ERP flag and type; an ERP (for shelter, a type that may host
  people overnight: J, O, U; other ERPs 0.6; a non-ERP 0.4);
- surface: surface_m2; at least 1,000 m² (shelter), 500 (workspaces), 2,000 (mixed);
- condition: good (fair 0.7, poor 0.3, ruinous 0);
- time_left: next_use_date − today; at least 36 months (24: 0.85, 12: 0.6, 6: 0.3);
- accessibility: accessible (partly 0.5, not 0);
- energy: energy_kwh_ef / surface_m2; at most 100 kWh/m²/year (200: 0.7, 300: 0.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildings.models import Building

USES = ("shelter", "workspace", "mixed")
WEIGHTS: dict[str, dict[str, int]] = {
    "shelter": {
        "safety": 25, "surface": 15, "condition": 20, "time_left": 25,
        "accessibility": 10, "energy": 5,
    },
    "workspace": {
        "safety": 15, "surface": 20, "condition": 20, "time_left": 20,
        "accessibility": 15, "energy": 10,
    },
    "mixed": {
        "safety": 20, "surface": 20, "condition": 20, "time_left": 20,
        "accessibility": 10, "energy": 10,
    },
}  # fmt: skip
FULL_SURFACE_M2 = {"shelter": 1000, "workspace": 500, "mixed": 2000}
# ERP types that may receive people overnight (hotels, dormitories, care homes).
SLEEPING_ERP_TYPES = frozenset({"J", "O", "U"})
CONDITION_VALUES = {"good": 1.0, "fair": 0.7, "poor": 0.3, "ruinous": 0.0}
ACCESSIBILITY_VALUES = {"accessible": 1.0, "partial": 0.5, "not_accessible": 0.0}
# (months left at least, value): the horizon before the next use.
TIME_LEFT_STEPS = ((36, 1.0), (24, 0.85), (12, 0.6), (6, 0.3), (0, 0.0))
# (kWh per m² per year at most, value)
ENERGY_STEPS = ((100, 1.0), (200, 0.7), (300, 0.4))


@dataclass(frozen=True)
class Suitability:
    scores: dict[str, int]
    completeness: int
    details: dict[str, dict[str, dict[str, float | int | None]]]


def _criteria(building: Building, use: str, today: date) -> dict[str, float | None]:
    surface = float(building.surface_m2) if building.surface_m2 else None
    values: dict[str, float | None] = {}
    if building.erp is None:
        values["safety"] = None
    elif building.erp:
        sleeping = building.erp_type.upper() in SLEEPING_ERP_TYPES
        values["safety"] = 1.0 if use != "shelter" or sleeping else 0.6
    else:
        values["safety"] = 0.4
    values["surface"] = (
        min(1.0, surface / FULL_SURFACE_M2[use]) if surface is not None else None
    )
    values["condition"] = CONDITION_VALUES.get(building.condition)
    if building.next_use_date is None:
        values["time_left"] = None
    else:
        months = (building.next_use_date - today).days / 30.44
        values["time_left"] = next(
            (value for floor, value in TIME_LEFT_STEPS if months >= floor), 0.0
        )
    values["accessibility"] = ACCESSIBILITY_VALUES.get(building.accessibility)
    if building.energy_kwh_ef is None or not surface:
        values["energy"] = None
    else:
        intensity = float(building.energy_kwh_ef) / surface
        values["energy"] = next(
            (value for ceiling, value in ENERGY_STEPS if intensity <= ceiling), 0.1
        )
    return values


def suitability(building: Building, *, today: date) -> Suitability:
    scores: dict[str, int] = {}
    details: dict[str, dict[str, dict[str, float | int | None]]] = {}
    known_weight = total_weight = 0
    for use in USES:
        weights = WEIGHTS[use]
        values = _criteria(building, use, today)
        points = 0.0
        details[use] = {}
        for criterion, weight in weights.items():
            value = values[criterion]
            contribution = 0.0 if value is None else weight * value
            points += contribution
            details[use][criterion] = {
                "weight": weight,
                "value": None if value is None else round(value, 2),
                "contribution": round(contribution, 1),
            }
        scores[use] = round(100 * points / sum(weights.values()))
        if use == "mixed":
            total_weight = sum(weights.values())
            known_weight = sum(
                weight
                for criterion, weight in weights.items()
                if values[criterion] is not None
            )
    completeness = round(100 * known_weight / total_weight)
    return Suitability(scores=scores, completeness=completeness, details=details)


def apply(building: Building, *, today: date) -> list[str]:
    """Store the scores on ``building``; returns the fields it set."""
    result = suitability(building, today=today)
    building.suitability_shelter = result.scores["shelter"]
    building.suitability_workspace = result.scores["workspace"]
    building.suitability_mixed = result.scores["mixed"]
    building.suitability_completeness = result.completeness
    building.suitability_details = result.details
    return [
        "suitability_shelter",
        "suitability_workspace",
        "suitability_mixed",
        "suitability_completeness",
        "suitability_details",
    ]


# The building fields the score reads: a write touching one recomputes it.
INPUT_FIELDS = frozenset(
    {"surface_m2", "erp", "erp_type", "condition", "next_use_date", "accessibility",
     "energy_kwh_ef"}
)  # fmt: skip
