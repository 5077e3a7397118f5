"""Demo co-funding of the Marseille story: Coco Velten in the former roads
directorate (DEMO-13-0001), 2018–2023. Idempotent (run by ``load_demo``).

Who is real: the co-funders named by the OECD OPSI case study of LabZéro — the
Caisse des Dépôts, Euroméditerranée, the Fonds de Solidarité Logement — the State's
shelter programme (177, paid by the DDETS), the owner (the DDFiP, whose fee waiver
is valued at its market rent) and the operator's own resources; about 400 k€ of
works, workshop-offices let at 10 €/m²/month, and a guarding reference of about
15,000 €/month for a 24/7 team (reference/domain.md §C.6, §G).

What is not: EVERY AMOUNT, date of decision and reference number. All rows carry
``illustrative=True`` and the pages say so; references start with "DEMO-".

The rows attach to the occupancy demo's agreement when it exists
(occupancy/demo.py); otherwise commitments and costs go on the building and the
agreement-bound rows (fees, sub-lettings) are left out. Everything is written
through the services. Once a demo commitment exists, ``load`` changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from buildings.models import Building
from finance.models import BaselineMethod, Commitment, CostCategory, Nature, Payer
from finance.services import (
    commitment_create,
    cost_line_create,
    disbursement_record,
    fee_payment_record,
    security_baseline_set,
    subletting_create,
)
from occupancy.models import Agreement, SpaceUse
from organizations.demo import DDFIP_13
from organizations.models import LegalForm, Organization, OrganizationKind
from organizations.services import organization_upsert

ROADS_DIRECTORATE = "DEMO-13-0001"
AGREEMENT_REFERENCE = "DEMO-CONV-13-2018-0001"  # occupancy/demo.py
PREFIX = "DEMO-FIN-"
DDETS = "DDETS des Bouches-du-Rhône (programme 177)"
CDC = "Caisse des Dépôts"
EUROMED = "Établissement public d'aménagement Euroméditerranée"
FSL = "Fonds de Solidarité Logement des Bouches-du-Rhône"
OPERATOR = "Yes We Camp"
NOTE = "(montant illustratif)"
RATE = Decimal("10.00")  # €/m²/month, the Coco Velten workshop-offices
SUBLET_FROM = date(2019, 5, 1)
YEARS = range(2019, 2024)


def _d(amount: str) -> Decimal:
    return Decimal(amount)


def load() -> None:
    if Commitment.objects.filter(decision_reference__startswith=PREFIX).exists():
        return
    building = Building.objects.filter(inventory_id=ROADS_DIRECTORATE).first()
    if building is None:  # buildings/demo.py not loaded
        return
    agreement = Agreement.objects.filter(reference=AGREEMENT_REFERENCE).first()
    funders = _funders()
    _commitments(funders, building=building, agreement=agreement)
    _costs(building)
    security_baseline_set(
        by=None,
        building=building,
        method=BaselineMethod.FLAT,
        monthly_amount=_d("15000.00"),
        source=(
            "Référence : équipe de gardiennage 24 h/24 ≈ 15 000 €/mois "
            "(AGAM : 10 000 à 15 000 €/mois) " + NOTE
        ),
        illustrative=True,
    )
    if agreement is not None:
        _fees(agreement)
        _sublettings(agreement)


def _funders() -> dict[str, Organization]:
    ddets = organization_upsert(
        name=DDETS,
        kind=OrganizationKind.STATE_SERVICE,
        legal_form=LegalForm.STATE,
        territory_departments=["13"],
    )
    found = {DDETS: ddets}
    for name in (CDC, EUROMED, FSL, OPERATOR, DDFIP_13):
        found[name] = Organization.objects.get(name=name)
    return found


def _commitments(
    funders: dict[str, Organization],
    *,
    building: Building,
    agreement: Agreement | None,
) -> None:
    target = {"agreement": agreement} if agreement else {"building": building}
    works = (date(2018, 6, 1), date(2019, 6, 1))
    # (funder, nature, amount, start, end, decided on, purpose, programme,
    #  valuation, disbursements as (date, amount))
    rows: list[
        tuple[
            str, str, str, date, date, date, str, str, str, list[tuple[date, str]]
        ]
    ] = [
        (CDC, Nature.CASH_INVESTMENT, "150000.00", *works, date(2018, 5, 15),
         "Travaux de mise en sécurité et d'aménagement", "", "",
         [(date(2018, 7, 2), "75000.00"), (date(2019, 4, 1), "75000.00")]),
        (EUROMED, Nature.CASH_INVESTMENT, "120000.00", *works, date(2018, 5, 22),
         "Travaux : bureaux transformés en chambres", "", "",
         [(date(2018, 9, 3), "60000.00"), (date(2019, 5, 2), "60000.00")]),
        (OPERATOR, Nature.CASH_INVESTMENT, "130000.00", *works, date(2018, 5, 2),
         "Fonds propres de l'occupant pour les travaux", "", "",
         [(date(2018, 10, 1), "130000.00")]),
        (DDFIP_13, Nature.FEE_WAIVER, "1422666.67", date(2018, 5, 1),
         date(2022, 1, 1), date(2018, 3, 20),
         "Mise à disposition du bâtiment sous la valeur locative", "",
         "Valeur locative estimée par la DDFiP (400 000 €/an) moins la redevance "
         "(12 000 €/an), sur la durée initiale de la convention " + NOTE,
         []),
    ]  # fmt: skip
    for year in (2019, 2020, 2021):
        first = date(year, 4, 1) if year == 2019 else date(year, 1, 1)
        rows.append(
            (DDETS, Nature.CASH_OPERATING, "750000.00", first, date(year + 1, 1, 1),
             date(year - 1, 12, 15) if year > 2019 else date(2019, 3, 1),
             "Places d'hébergement (80 places)", "177", "",
             [(date(year, month, 10), "187500.00") for month in (4, 6, 9, 11)])
        )  # fmt: skip
    for year in (2020, 2021):
        rows.append(
            (FSL, Nature.CASH_OPERATING, "40000.00", date(year, 1, 1),
             date(year + 1, 1, 1), date(year - 1, 11, 20),
             "Accompagnement vers le logement (FSL)", "", "",
             [(date(year, 3, 16), "40000.00")] if year == 2020
             else [(date(year, 3, 15), "25000.00")])
        )  # fmt: skip
    for number, row in enumerate(rows, start=1):
        name, nature, amount, start, end, decided, purpose, programme, valuation = row[
            :9
        ]
        commitment = commitment_create(
            by=None,
            funder=funders[name],
            nature=nature,
            amount=_d(amount),
            start=start,
            end=end,
            decision_reference=f"{PREFIX}{number:03d}",
            decision_date=decided,
            purpose=purpose,
            budget_programme=programme,
            valuation_method=valuation,
            illustrative=True,
            **target,
        )
        for index, (on, paid) in enumerate(row[9], start=1):
            disbursement_record(
                commitment=commitment,
                date=on,
                amount=_d(paid),
                evidence=f"DEMO-OP-{number:03d}-{index} {NOTE}",
                idempotency_key=f"demo-{number}-{index}",
                by=None,
            )


def _costs(building: Building) -> None:
    occupant, owner = Payer.OCCUPANT, Payer.OWNER
    cost_line_create(
        by=None,
        building=building,
        category=CostCategory.WORKS,
        payer=occupant,
        amount=_d("400000.00"),
        start=date(2018, 6, 1),
        end=date(2019, 3, 25),
        label="Mise en sécurité, bureaux transformés en chambres " + NOTE,
        illustrative=True,
    )
    yearly = [
        (CostCategory.FLUIDS, occupant, "60000.00", "Énergie et eau"),
        (CostCategory.INSURANCE, occupant, "8000.00", "Assurances"),
        (CostCategory.SOCIAL_STAFF, occupant, "450000.00", "Accompagnement social"),
        (CostCategory.SITE_STAFF, occupant, "250000.00", "Équipe du lieu"),
        (CostCategory.FOOD, occupant, "120000.00", "Restauration"),
        (CostCategory.MAINTENANCE, occupant, "40000.00", "Entretien"),
        (CostCategory.FEE, occupant, "12000.00", "Redevance d'occupation"),
        (CostCategory.SECURITY, owner, "6000.00", "Télésurveillance (propriétaire)"),
        (CostCategory.OTHER, owner, "5000.00", "Taxes (propriétaire)"),
    ]
    for year in YEARS:
        for category, payer, amount, label in yearly:
            cost_line_create(
                by=None,
                building=building,
                category=category,
                payer=payer,
                amount=_d(amount),
                start=date(year, 1, 1),
                end=date(year + 1, 1, 1),
                label=f"{label} {year} {NOTE}",
                illustrative=True,
            )


def _fees(agreement: Agreement) -> None:
    for year in range(2018, 2024):
        fee_payment_record(
            by=None,
            agreement=agreement,
            date=date(year, 5, 1),
            amount=_d("12000.00"),
            reference=f"DEMO-TITRE-{year} {NOTE}",
            illustrative=True,
            idempotency_key=f"demo-fee-{year}",
        )


def _sublettings(agreement: Agreement) -> None:
    """Each workshop-office let to a hosted organisation at 10 €/m²/month."""
    end = min(agreement.end, date(2023, 12, 1))
    workspaces = agreement.building.spaces.filter(
        use=SpaceUse.WORK, surface_m2__isnull=False
    ).order_by("name")
    for space in workspaces:
        if space.surface_m2 is None:  # filtered out above; for the type checker
            continue
        subletting_create(
            by=None,
            agreement=agreement,
            space=space,
            sub_occupant=f"Structure hébergée — {space.name} (exemple)",
            area_m2=space.surface_m2,
            rate_per_m2_month=RATE,
            start=max(SUBLET_FROM, agreement.start),
            end=end,
            illustrative=True,
        )
