"""Suitability of a building for temporary use: a transparent, documented score.

Each intended use (shelter, workspaces, mixed) weighs six criteria. A criterion
scores between 0 and 1 from the building's facts, or is *unknown* when the input
is missing. The score is ``100 × Σ weight × value / Σ weight`` with unknown
criteria counting 0 — a building we know little about does not look better than
one we know well — and the completeness index says which share of the weights
(those of mixed use) rested on known inputs. The scores are stored (lists filter
and sort on them) with the day they were computed on; each criterion's
contribution is recomputed from the building's inputs as of that day when a page
or the API shows it (``details_on``), so that the breakdown always adds up to
the stored score without 1.2 KB of derived JSON on every row.

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

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
TOTAL_WEIGHTS = {use: sum(weights.values()) for use, weights in WEIGHTS.items()}
FULL_SURFACE_M2 = {"shelter": 1000, "workspace": 500, "mixed": 2000}
# ERP types that may receive people overnight (hotels, dormitories, care homes).
SLEEPING_ERP_TYPES = frozenset({"J", "O", "U"})
CONDITION_VALUES = {"good": 1.0, "fair": 0.7, "poor": 0.3, "ruinous": 0.0}
ACCESSIBILITY_VALUES = {"accessible": 1.0, "partial": 0.5, "not_accessible": 0.0}
# (months left at least, value): the horizon before the next use.
TIME_LEFT_STEPS = ((36, 1.0), (24, 0.85), (12, 0.6), (6, 0.3), (0, 0.0))
# (kWh per m² per year at most, value)
ENERGY_STEPS = ((100, 1.0), (200, 0.7), (300, 0.4))


Details = dict[str, dict[str, dict[str, float | int | None]]]


@dataclass(frozen=True)
class Suitability:
    scores: dict[str, int]
    completeness: int
    details: Details


def _criteria(
    values: Mapping[str, Any], today: date
) -> dict[str, dict[str, float | None]]:
    """Each use's criteria; those that do not depend on the use computed once."""
    surface_m2 = values["surface_m2"]
    surface = float(surface_m2) if surface_m2 else None
    shared: dict[str, float | None] = {
        "condition": CONDITION_VALUES.get(values["condition"]),
        "accessibility": ACCESSIBILITY_VALUES.get(values["accessibility"]),
    }
    next_use_date = values["next_use_date"]
    if next_use_date is None:
        shared["time_left"] = None
    else:
        months = (next_use_date - today).days / 30.44
        shared["time_left"] = next(
            (value for floor, value in TIME_LEFT_STEPS if months >= floor), 0.0
        )
    energy = values["energy_kwh_ef"]
    if energy is None or not surface:
        shared["energy"] = None
    else:
        intensity = float(energy) / surface
        shared["energy"] = next(
            (value for ceiling, value in ENERGY_STEPS if intensity <= ceiling), 0.1
        )
    erp = values["erp"]
    criteria: dict[str, dict[str, float | None]] = {}
    for use in USES:
        safety: float | None
        if erp is None:
            safety = None
        elif erp:
            sleeping = values["erp_type"].upper() in SLEEPING_ERP_TYPES
            safety = 1.0 if use != "shelter" or sleeping else 0.6
        else:
            safety = 0.4
        criteria[use] = {
            **shared,
            "safety": safety,
            "surface": (
                min(1.0, surface / FULL_SURFACE_M2[use])
                if surface is not None
                else None
            ),
        }
    return criteria


def inputs_of(building: Any) -> dict[str, Any]:
    """The building's values the score reads (a Building, or a migration's
    historical model of it)."""
    return {name: getattr(building, name) for name in INPUT_FIELDS}


def suitability(building: Building, *, today: date) -> Suitability:
    return suitability_of(inputs_of(building), today=today)


def suitability_of(values: Mapping[str, Any], *, today: date) -> Suitability:
    """The score of a building given as its field values by name (INPUT_FIELDS)."""
    scores, completeness, terms = _scored(values, today)
    details = {
        use: {
            criterion: {
                "weight": weight,
                "value": None if value is None else round(value, 2),
                "contribution": round(contribution, 1),
            }
            for criterion, weight, value, contribution in terms[use]
        }
        for use in USES
    }
    return Suitability(scores=scores, completeness=completeness, details=details)


Term = tuple[str, int, float | None, float]


def _scored(
    values: Mapping[str, Any], today: date
) -> tuple[dict[str, int], int, dict[str, list[Term]]]:
    """Scores, completeness, and each use's (criterion, weight, value, contribution)."""
    criteria_by_use = _criteria(values, today)
    scores: dict[str, int] = {}
    terms: dict[str, list[Term]] = {}
    known_weight = total_weight = 0
    for use in USES:
        weights = WEIGHTS[use]
        criteria = criteria_by_use[use]
        points = 0.0
        terms[use] = []
        for criterion, weight in weights.items():
            value = criteria[criterion]
            contribution = 0.0 if value is None else weight * value
            points += contribution
            terms[use].append((criterion, weight, value, contribution))
        scores[use] = round(100 * points / TOTAL_WEIGHTS[use])
        if use == "mixed":
            total_weight = TOTAL_WEIGHTS[use]
            known_weight = sum(
                weight
                for criterion, weight in weights.items()
                if criteria[criterion] is not None
            )
    completeness = round(100 * known_weight / total_weight)
    return scores, completeness, terms


def scores_of(values: Mapping[str, Any], *, today: date) -> tuple[dict[str, int], int]:
    """The scores and completeness only, as bulk writes store them."""
    scores, completeness, _terms = _scored(values, today)
    return scores, completeness


def apply(building: Building, *, today: date) -> list[str]:
    """Store the scores on ``building``; returns the fields it set."""
    scores, completeness = scores_of(inputs_of(building), today=today)
    building.suitability_shelter = scores["shelter"]
    building.suitability_workspace = scores["workspace"]
    building.suitability_mixed = scores["mixed"]
    building.suitability_completeness = completeness
    building.suitability_computed_on = today
    return list(SCORE_FIELDS)


def details_on(building: Building) -> Details:
    """Each criterion's weight, value and contribution behind the stored scores:
    computed from the building's inputs as of the day the scores were (empty for
    a building never scored)."""
    if building.suitability_computed_on is None:
        return {}
    return suitability(building, today=building.suitability_computed_on).details


# The building fields the score is stored in.
SCORE_FIELDS = (
    "suitability_shelter",
    "suitability_workspace",
    "suitability_mixed",
    "suitability_completeness",
    "suitability_computed_on",
)


# The building fields the score reads: a write touching one recomputes it.
INPUT_FIELDS = frozenset(
    {"surface_m2", "erp", "erp_type", "condition", "next_use_date", "accessibility",
     "energy_kwh_ef"}
)  # fmt: skip
