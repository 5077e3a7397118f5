"""A synthetic national inventory of State buildings, seeded from real data.

Where buildings are:
- each site (a group of 1–n buildings) belongs to a commune drawn with a probability
  proportional to its population (official code list, loaded into the benchmark
  database by ``load_reference_layers``; Paris, Lyon and Marseille are drawn through
  their municipal arrondissements);
- when that commune holds real Cartofriches sites (23,878 points, Cerema), the site is
  one of them, jittered by a few hundred metres;
- otherwise it lies around the centroid of its département (IGN boundaries), with a
  spread scaled to the département's size and redrawn until it falls inside it;
- buildings of a site are a few tens of metres apart.

Each building has a footprint: a rotated rectangle of plausible size (from its surface
and a number of storeys), built in the legal projection (Lambert-93, the UTM zones
overseas) and transformed to EPSG:4326 by PostGIS. Attributes follow the State
inventory's distributions (status mix with ~10 % vacant/assessed/available, log-normal
surfaces, construction years, ~15 % ERP, ~3 % confidential rows).

Deterministic: the same seed and size give the same rows. Loading goes through
``COPY`` into an unlogged staging table, then one ``INSERT … SELECT`` that builds the
geometries, with the secondary indexes dropped during the load and rebuilt after,
then ``VACUUM ANALYZE``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.common import (
    BENCH_DB,
    ROOT,
    SHARED_DATA,
    TEMPLATE_DB,
    connect,
    create_database,
    database_url,
    ensure_template,
    log,
)

SEED = 20240310
CARTOFRICHES = SHARED_DATA / "cartofriches" / "cartofriches_france_20240310.gpkg"
CODE_LIST = ROOT / "node_modules/@etalab/decoupage-administratif/data/communes.json"
VINTAGE = date(2023, 12, 31)
TODAY = date(2024, 6, 30)

# --- Vocabularies (values seen in the DIE open-data export)
STATUSES = {
    "in_use": 0.830,
    "vacant": 0.050,
    "assessed": 0.030,
    "available": 0.020,
    "under_agreement": 0.010,
    "occupied": 0.015,
    "releasing": 0.010,
    "suspended": 0.002,
    "unsafe": 0.005,
    "illegally_occupied": 0.003,
    "disposed": 0.010,
    "reassigned": 0.010,
    "demolished": 0.005,
}
PUBLIC = ("vacant", "assessed", "available")
# DIE "type" → (weight, functions, site kind, asset type)
TYPES: list[tuple[str, float, tuple[str, ...], tuple[str, ...], str]] = [
    (
        "Bureau",
        0.26,
        ("Bureau", "Bureau administratif", "Centre des finances publiques"),
        ("CITE ADMINISTRATIVE", "HOTEL DES FINANCES", "PREFECTURE", "DIRECTION"),
        "building",
    ),
    (
        "Logement",
        0.18,
        ("Logement", "Logement de fonction", "Caserne - logement"),
        ("RESIDENCE", "LOGEMENTS", "CASERNE"),
        "building",
    ),
    (
        "Bâtiment technique",
        0.14,
        ("Bâtiment technique", "Atelier", "Garage", "Entrepôt"),
        ("CENTRE TECHNIQUE", "PARC", "BASE", "CENTRE D'EXPLOITATION"),
        "building",
    ),
    (
        "Bâtiment d'enseignement ou de sport",
        0.12,
        ("Bâtiment scolaire/enseignement", "Gymnase", "Laboratoire"),
        ("LYCEE", "UNIVERSITE", "ECOLE NATIONALE", "CAMPUS"),
        "building",
    ),
    (
        "Bâtiment sanitaire ou social",
        0.04,
        ("Etablissement de santé", "Centre social"),
        ("CENTRE HOSPITALIER", "CENTRE MEDICO-SOCIAL"),
        "building",
    ),
    (
        "Bâtiment culturel",
        0.04,
        ("Salle de spectacles", "Musée", "Archives", "Bibliothèque"),
        ("MUSEE", "ARCHIVES", "THEATRE", "CHATEAU"),
        "building",
    ),
    (
        "Bâtiment pénitentiaire",
        0.03,
        ("Détention", "Bâtiment pénitentiaire"),
        ("MAISON D'ARRET", "CENTRE PENITENTIAIRE", "CENTRE DE DETENTION"),
        "building",
    ),
    (
        "Bâtiment de sécurité",
        0.07,
        ("Caserne", "Commissariat", "Brigade de gendarmerie"),
        ("CASERNE", "COMMISSARIAT", "BRIGADE DE GENDARMERIE", "QUARTIER"),
        "building",
    ),
    (
        "Monument et mémorial",
        0.02,
        ("Monument historique", "Mémorial", "Mégalithe"),
        ("SITE", "MONUMENT", "ABBAYE"),
        "building",
    ),
    (
        "Espace naturel",
        0.06,
        ("Forêt domaniale", "Terrain nu", "Terrain d'assiette"),
        ("FORET DOMANIALE", "TERRAIN", "DOMAINE"),
        "land",
    ),
    (
        "Ouvrage d'art",
        0.04,
        ("Ouvrage d'art", "Pont", "Ecluse"),
        ("OUVRAGE", "PORT", "DIGUE"),
        "building",
    ),
]
MINISTRIES = {
    "Armées": 0.18,
    "Intérieur": 0.16,
    "Economie et finances": 0.12,
    "Education nationale - Enseignement supérieur": 0.15,
    "Justice": 0.09,
    "Agriculture": 0.07,
    "Transition écologique": 0.08,
    "Culture": 0.06,
    "Services du Premier ministre": 0.02,
    "Affaires étrangères": 0.02,
    "Solidarités et santé": 0.03,
    "Travail": 0.02,
}
CONFIDENTIAL_LABEL = {
    "Armées": "Bien contrôlé par le ministère des Armées",
    "Intérieur": "Bien contrôlé par le ministère de l'Intérieur",
    "Justice": "Bien contrôlé par le ministère de la Justice",
    "Agriculture": "Bien contrôlé par le MASAF",
    "Education nationale - Enseignement supérieur": (
        "Bien contrôlé par le ministère de l'Education Nationale et de la Jeunesse"
    ),
}
MANAGERS = [
    ("DGFIP - Direction générale des finances publiques", "Etat"),
    ("Services Pénitentiaires", "Etat"),
    ("Gendarmerie nationale", "Etat"),
    ("Police nationale", "Etat"),
    ("Enseignement du second degré.", "Etat"),
    ("ONF - OFFICE NATIONAL DES FORETS", "EPIC"),
    ("CROUS", "EPA"),
    ("Université", "EPSCP"),
    ("CMN - Centre des monuments nationaux", "EPA"),
    ("SGA - Secrétariat général pour l'administration", "Etat"),
    ("Préfecture", "Etat"),
    ("VNF - Voies navigables de France", "EPA"),
]
OWNERS = {
    "public": "ETAT DOMAINE PUBLIC  PARTENAIRE GENERIQUE",
    "private": "ETAT DOMAINE PRIVE  PARTENAIRE GENERIQUE",
    "unknown": "ETAT",
}
CONDITIONS = {
    "good": 0.30,
    "fair": 0.35,
    "poor": 0.15,
    "ruinous": 0.03,
    "unknown": 0.17,
}
CONDITION_DIE = {
    "good": "Satisfaisant",
    "fair": "Peu satisfaisant",
    "poor": "Pas satisfaisant",
    "ruinous": "Très dégradé",
    "unknown": "",
}
ACCESSIBILITY = {
    "accessible": 0.25,
    "partial": 0.2,
    "not_accessible": 0.15,
    "unknown": 0.4,
}
HEATING = [
    "Gaz",
    "Electricité",
    "Fioul",
    "Réseau de chaleur",
    "Bois",
    "Pompe à chaleur",
    "",
]
ERP_TYPES = list("WRLMNOPSTUVXYJ")
VACANCY_CAUSES = [
    "relocation",
    "obsolescence",
    "awaiting_sale",
    "awaiting_works",
    "other",
]
NEXT_USES = ["sale", "demolition", "reassignment", "urban_project", "unknown"]
STREET_TYPES = ["RUE", "AV", "BD", "PL", "CHE", "ALL", "QUAI", "RTE", "LD"]
STREETS = [
    "DE LA REPUBLIQUE",
    "JEAN JAURES",
    "VICTOR HUGO",
    "DU GENERAL DE GAULLE",
    "PASTEUR",
    "DE LA GARE",
    "DE L'EGLISE",
    "GAMBETTA",
    "DES ECOLES",
    "DU MARECHAL FOCH",
    "JULES FERRY",
    "DE LA LIBERATION",
    "NATIONALE",
    "DU 8 MAI 1945",
    "CARNOT",
    "DE VERDUN",
    "DES TILLEULS",
    "DU CHATEAU",
    "DE LA PAIX",
    "ANATOLE FRANCE",
    "DE LA MAIRIE",
    "DU MOULIN",
    "SAINT-MICHEL",
    "DES LILAS",
]
REGION_PREFIX = [
    "IDF1",
    "CHAR",
    "BRET",
    "DOM2",
    "AURA",
    "PACA",
    "OCCI",
    "NAQU",
    "GEST",
    "HDFR",
]
HASH_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\"",
    dtype="S1",
)
B36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype="S1")


# --- Reference inputs
@dataclass
class Reference:
    codes: np.ndarray  # commune codes (str)
    departments: np.ndarray  # their département codes
    weights: np.ndarray  # population shares
    names: dict[str, str]
    postal: dict[str, str]
    friches: dict[str, np.ndarray]  # commune code → (n, 2) lon/lat
    dept_centre: dict[str, tuple[float, float, float]]  # code → lon, lat, sigma (m)
    dept_shape: dict[str, Any] = field(default_factory=dict)  # shapely geometries
    dropped_departments: list[str] = field(default_factory=list)
    srid: dict[str, int] = field(default_factory=dict)


def read_cartofriches() -> tuple[np.ndarray, list[str], list[str]]:
    out = subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "CSV",
            "/vsistdout/",
            str(CARTOFRICHES),
            "-lco",
            "GEOMETRY=AS_XY",
            "-select",
            "comm_insee,dep",
            "friches",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    reader = csv.reader(io.StringIO(out))
    next(reader)
    xy, communes, departments = [], [], []
    for x, y, commune, department in reader:
        if not x or not y:
            continue
        xy.append((float(x), float(y)))
        communes.append(commune)
        departments.append(department)
    return np.array(xy), communes, departments


def load_reference(url: str) -> Reference:
    """Communes, populations and département shapes from the benchmark database."""
    import shapely

    from buildings.geometry import legal_srid

    with connect(url) as conn:
        rows = conn.execute(
            "SELECT c.code, c.name, c.department_id, coalesce(c.population, 0), "
            "  EXISTS (SELECT 1 FROM buildings_commune a WHERE a.arrondissement_of_id "
            "= c.code),"
            "  c.arrondissement_of_id "
            "FROM buildings_commune c WHERE c.department_id IS NOT NULL ORDER BY c.code"
        ).fetchall()
        shapes = conn.execute(
            "SELECT code, ST_AsBinary(geometry), "
            "  ST_X(ST_PointOnSurface(geometry)), ST_Y(ST_PointOnSurface(geometry)), "
            "  ST_Area(geometry::geography) "
            "FROM buildings_department WHERE geometry IS NOT NULL"
        ).fetchall()
    parent = {code: parent for code, _n, _d, _p, _a, parent in rows if parent}
    friche_xy, friche_communes, friche_departments = read_cartofriches()
    by_commune: dict[str, list[int]] = {}
    for index, code in enumerate(friche_communes):
        by_commune.setdefault(code, []).append(index)
        if code in parent:  # a friche in an arrondissement also counts for the city
            by_commune.setdefault(parent[code], []).append(index)
    friches = {code: friche_xy[idx] for code, idx in by_commune.items()}

    dept_centre: dict[str, tuple[float, float, float]] = {}
    dept_shape: dict[str, Any] = {}
    for code, wkb, x, y, area in shapes:
        geometry = shapely.from_wkb(bytes(wkb))
        shapely.prepare(geometry)
        dept_shape[code] = geometry
        dept_centre[code] = (x, y, 0.3 * float(area) ** 0.5)
    # Overseas départements have no boundary here: the mean of their Cartofriches sites.
    by_department: dict[str, list[int]] = {}
    for index, code in enumerate(friche_departments):
        by_department.setdefault(code, []).append(index)
    for code, idx in by_department.items():
        if code not in dept_centre and len(idx) >= 3:
            lon, lat = friche_xy[idx].mean(axis=0)
            dept_centre[code] = (float(lon), float(lat), 8000.0)

    codes, departments, populations = [], [], []
    dropped: set[str] = set()
    for code, _name, department, population, has_arrondissements, _parent in rows:
        if has_arrondissements or population <= 0:
            continue  # drawn through its arrondissements
        if department not in dept_centre and code not in friches:
            dropped.add(department)
            continue
        codes.append(code)
        departments.append(department)
        populations.append(population)
    weights = np.array(populations, dtype=float)
    weights /= weights.sum()

    code_list = json.loads(CODE_LIST.read_text(encoding="utf-8"))
    postal = {c["code"]: (c.get("codesPostaux") or [""])[0] for c in code_list}
    names = {code: name for code, name, *_ in rows}
    all_departments = {d for *_x, d, _p, _a, _q in rows} | set(dept_centre)
    return Reference(
        codes=np.array(codes),
        departments=np.array(departments),
        weights=weights,
        names=names,
        postal=postal,
        friches=friches,
        dept_centre=dept_centre,
        dept_shape=dept_shape,
        dropped_departments=sorted(dropped),
        srid={code: legal_srid(code) for code in all_departments},
    )


# --- Generation
def _metres_to_degrees(
    lat: np.ndarray, dx: np.ndarray, dy: np.ndarray
) -> tuple[Any, Any]:
    dlat = dy / 111_320.0
    dlon = dx / (111_320.0 * np.cos(np.radians(lat)))
    return dlon, dlat


def _choice(rng: np.random.Generator, table: dict[str, float], size: int) -> np.ndarray:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _hashes(
    rng: np.random.Generator, count: int, length: int, serial: np.ndarray
) -> list[str]:
    """Opaque hashed identifiers like the DIE's confidential rows (with ; \\ and ")."""
    body = HASH_ALPHABET[rng.integers(0, len(HASH_ALPHABET), size=(count, length))]
    digits = np.empty((count, 6), dtype="S1")
    value = serial.copy()
    for position in range(5, -1, -1):
        digits[:, position] = B36[value % 36]
        value //= 36
    joined = np.concatenate([body, digits], axis=1).view(f"S{length + 6}").ravel()
    return [item.decode("ascii") for item in joined]


def generate(rows: int, reference: Reference, seed: int = SEED) -> dict[str, Any]:
    """Columns of ``rows`` buildings and their sites, as numpy arrays and lists."""
    import shapely

    started = time.perf_counter()
    rng = np.random.default_rng(seed)

    # Sites: 1–n buildings each (geometric, mean ≈ 2.2), placed first.
    sizes = rng.geometric(0.45, size=rows)
    ends = np.cumsum(sizes)
    n_sites = int(np.searchsorted(ends, rows) + 1)
    sizes = sizes[:n_sites]
    sizes[-1] -= int(ends[n_sites - 1] - rows)
    site_of = np.repeat(np.arange(n_sites), sizes)

    commune_index = rng.choice(len(reference.codes), size=n_sites, p=reference.weights)
    site_commune = reference.codes[commune_index]
    site_department = reference.departments[commune_index]
    lon = np.empty(n_sites)
    lat = np.empty(n_sites)
    from_friche = np.zeros(n_sites, dtype=bool)
    for position, code in enumerate(site_commune):
        points = reference.friches.get(code)
        if points is not None:
            lon[position], lat[position] = points[rng.integers(len(points))]
            from_friche[position] = True
    # Friche sites: a few hundred metres of jitter.
    jitter = rng.normal(0.0, 300.0, size=(n_sites, 2))
    dlon, dlat = _metres_to_degrees(lat, jitter[:, 0], jitter[:, 1])
    lon = np.where(from_friche, lon + dlon, lon)
    lat = np.where(from_friche, lat + dlat, lat)
    # The others: around their département's centroid, inside it.
    rest = np.flatnonzero(~from_friche)
    rest_departments = site_department[rest]
    for department in np.unique(rest_departments):
        members = rest[rest_departments == department]
        cx, cy, sigma = reference.dept_centre[department]
        shape = reference.dept_shape.get(department)
        pending = members
        for _attempt in range(8):
            offsets = rng.normal(0.0, sigma, size=(len(pending), 2))
            plon, plat = _metres_to_degrees(
                np.full(len(pending), cy), offsets[:, 0], offsets[:, 1]
            )
            lon[pending] = cx + plon
            lat[pending] = cy + plat
            if shape is None:
                break
            inside = shapely.contains_xy(shape, lon[pending], lat[pending])
            pending = pending[~inside]
            if len(pending) == 0:
                break
        if len(pending):
            small = rng.normal(0.0, 500.0, size=(len(pending), 2))
            plon, plat = _metres_to_degrees(
                np.full(len(pending), cy), small[:, 0], small[:, 1]
            )
            lon[pending] = cx + plon
            lat[pending] = cy + plat

    # Buildings: tens of metres around their site.
    spread = rng.normal(0.0, 40.0, size=(rows, 2))
    blat0 = lat[site_of]
    dlon, dlat = _metres_to_degrees(blat0, spread[:, 0], spread[:, 1])
    b_lon = lon[site_of] + dlon
    b_lat = blat0 + dlat
    commune = site_commune[site_of]
    department = site_department[site_of]

    # Kind of asset, per site (a campus is one kind).
    type_weights = np.array([t[1] for t in TYPES])
    site_type = rng.choice(
        len(TYPES), size=n_sites, p=type_weights / type_weights.sum()
    )
    b_type = site_type[site_of]
    asset_type = np.array([TYPES[t][4] for t in range(len(TYPES))], dtype=object)[
        b_type
    ]
    asset_type = np.where(rng.random(rows) < 0.02, "unknown", asset_type)
    ministry_site = _choice(rng, MINISTRIES, n_sites)
    ministry = ministry_site[site_of]
    status = _choice(rng, STATUSES, rows)
    confidential = rng.random(rows) < 0.03

    # Surfaces: log-normal (median ≈ 420 m², long tail), 6 % unknown; land is larger.
    surface = np.exp(rng.normal(np.log(420.0), 1.35, size=rows))
    surface = np.where(asset_type == "land", surface * 25.0, surface)
    surface = np.clip(np.round(surface, 2), 5.0, 2_000_000.0)
    surface_known = rng.random(rows) >= 0.06
    surface_kind = np.where(
        asset_type == "land",
        "land",
        _choice(rng, {"sub": 0.7, "sdp": 0.18, "unknown": 0.12}, rows),
    )
    # Construction years: a historic share, a post-war peak, 25 % unknown.
    historic = rng.random(rows) < 0.12
    year = np.where(
        historic,
        rng.integers(1500, 1900, size=rows),
        np.clip(np.round(rng.normal(1968, 24, size=rows)), 1900, 2023),
    ).astype(int)
    year_known = (rng.random(rows) >= 0.25) & (asset_type != "land")
    condition = _choice(rng, CONDITIONS, rows)
    energy = np.round(surface * np.exp(rng.normal(np.log(170.0), 0.5, size=rows)), 2)
    energy_known = (rng.random(rows) < 0.4) & surface_known & (asset_type == "building")
    heating = np.array(HEATING, dtype=object)[rng.integers(0, len(HEATING), size=rows)]
    heating = np.where(asset_type == "building", heating, "")
    erp_draw = rng.random(rows)
    erp = np.where(erp_draw < 0.15, 1, np.where(erp_draw < 0.85, 0, -1))  # -1: unknown
    erp = np.where(asset_type == "land", -1, erp)
    erp_type = np.where(
        erp == 1, np.array(ERP_TYPES)[rng.integers(0, len(ERP_TYPES), rows)], ""
    )
    erp_category = np.where(
        erp == 1, rng.choice(5, size=rows, p=[0.05, 0.1, 0.15, 0.3, 0.4]) + 1, 0
    )
    accessibility = _choice(rng, ACCESSIBILITY, rows)
    domaniality = _choice(rng, {"public": 0.6, "private": 0.35, "unknown": 0.05}, rows)
    manager = rng.integers(0, len(MANAGERS), size=rows)

    # Vacancy: the vacant stock and buildings being released.
    vacant_like = np.isin(
        status, [*PUBLIC, "releasing", "illegally_occupied", "unsafe"]
    )
    vacancy_days = rng.integers(0, (TODAY - date(2012, 1, 1)).days, size=rows)
    vacancy_cause = np.where(
        vacant_like,
        np.array(VACANCY_CAUSES, dtype=object)[
            rng.integers(0, len(VACANCY_CAUSES), rows)
        ],
        "unknown",
    )
    next_use = np.where(
        vacant_like,
        np.array(NEXT_USES, dtype=object)[rng.integers(0, len(NEXT_USES), rows)],
        "unknown",
    )
    next_use_known = vacant_like & (rng.random(rows) < 0.6)
    next_use_days = rng.integers(30, 6 * 365, size=rows)
    guarding = np.round(np.exp(rng.normal(np.log(2500.0), 0.8, size=rows)), 2)
    guarding_known = np.isin(status, PUBLIC) & (rng.random(rows) < 0.2)

    # Footprints: area from surface and storeys, aspect ratio, orientation.
    storeys = 1 + rng.poisson(1.3, size=rows)
    area = np.where(surface_known, surface, 420.0) / np.where(
        asset_type == "land", 1, storeys
    )
    area = np.clip(area, 15.0, 40_000.0)
    aspect = 1.0 + np.abs(rng.normal(0.0, 0.9, size=rows))
    fp_width = np.round(np.sqrt(area / aspect), 2)
    fp_length = np.round(np.sqrt(area * aspect), 2)
    fp_angle = np.round(rng.uniform(0.0, np.pi, size=rows), 4)

    # Identifiers and labels.
    serial = np.arange(rows)
    inventory_id = [f"IB{100_000_000 + i:011d}" for i in range(rows)]
    chorus_a = rng.integers(100_000, 160_000, size=rows)
    chorus_b = rng.integers(300_000, 460_000, size=rows)
    region = rng.integers(0, len(REGION_PREFIX), size=rows)
    code_chorus = [
        f"{REGION_PREFIX[r]}/{a}/{b}"
        for r, a, b in zip(region, chorus_a, chorus_b, strict=True)
    ]
    n_conf = int(confidential.sum())
    conf_index = np.flatnonzero(confidential)
    hashed_ids = _hashes(rng, n_conf, 18, serial[conf_index])
    hashed_chorus = _hashes(rng, n_conf, 60, serial[conf_index])
    for k, position in enumerate(conf_index.tolist()):
        inventory_id[position] = hashed_ids[k]
        code_chorus[position] = hashed_chorus[k]

    names = reference.names
    site_kind = np.array(
        [
            TYPES[t][3][k % len(TYPES[t][3])]
            for t, k in zip(site_type, rng.integers(0, 4, n_sites), strict=True)
        ],
        dtype=object,
    )
    site_designation = [
        f"{kind} {names.get(code, code).upper()}"
        for kind, code in zip(site_kind, site_commune, strict=True)
    ]
    function = np.array(
        [
            TYPES[t][2][k % len(TYPES[t][2])]
            for t, k in zip(b_type, rng.integers(0, 4, rows), strict=True)
        ],
        dtype=object,
    )
    street_number = rng.integers(1, 250, size=rows)
    street_type = rng.integers(0, len(STREET_TYPES), size=rows)
    street = rng.integers(0, len(STREETS), size=rows)
    rank_in_site = np.arange(rows) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    designation: list[str] = []
    address: list[str] = []
    for i in range(rows):
        if confidential[i]:
            designation.append(
                CONFIDENTIAL_LABEL.get(
                    ministry[i], f"Bien contrôlé par le ministère ({ministry[i]})"
                )
            )
            address.append("")
        else:
            site_label = site_designation[site_of[i]]
            designation.append(
                f"{site_label} - BAT {rank_in_site[i] + 1}"
                if sizes[site_of[i]] > 1
                else site_label
            )
            address.append(
                f"{street_number[i]} {STREET_TYPES[street_type[i]]} "
                f"{STREETS[street[i]]}"
            )
    parcels_a = rng.integers(1, 9999, size=rows)
    parcels_b = rng.integers(1, 9999, size=rows)
    two_parcels = rng.random(rows) < 0.3
    sections = np.array(["AB", "AC", "BD", "ZA", "0A", "C1"], dtype=object)[
        rng.integers(0, 6, rows)
    ]
    rnb_known = rng.random(rows) < 0.5
    rnb = B36[rng.integers(0, 36, size=(rows, 12))].view("S12").ravel()

    data = {
        "rows": rows,
        "n_sites": n_sites,
        "site_of": site_of,
        "site_commune": site_commune,
        "site_designation": site_designation,
        "site_from_friche": int(from_friche.sum()),
        "lon": b_lon,
        "lat": b_lat,
        "commune": commune,
        "department": department,
        "type": b_type,
        "asset_type": asset_type,
        "ministry": ministry,
        "status": status,
        "confidential": confidential,
        "surface": surface,
        "surface_known": surface_known,
        "surface_kind": surface_kind,
        "year": year,
        "year_known": year_known,
        "condition": condition,
        "energy": energy,
        "energy_known": energy_known,
        "heating": heating,
        "erp": erp,
        "erp_type": erp_type,
        "erp_category": erp_category,
        "accessibility": accessibility,
        "domaniality": domaniality,
        "manager": manager,
        "vacant_like": vacant_like,
        "vacancy_days": vacancy_days,
        "vacancy_cause": vacancy_cause,
        "next_use": next_use,
        "next_use_known": next_use_known,
        "next_use_days": next_use_days,
        "guarding": guarding,
        "guarding_known": guarding_known,
        "fp_width": fp_width,
        "fp_length": fp_length,
        "fp_angle": fp_angle,
        "inventory_id": inventory_id,
        "code_chorus": code_chorus,
        "designation": designation,
        "address": address,
        "function": function,
        "parcels": (parcels_a, parcels_b, two_parcels, sections),
        "rnb": (rnb_known, rnb),
        "postal": [reference.postal.get(code, "") for code in commune],
        "city": [names.get(code, "") for code in commune],
        "srid": np.array([reference.srid.get(d, 2154) for d in department]),
    }
    data["seconds"] = time.perf_counter() - started
    return data


# --- Suitability (the application's own rules, vectorised and checked against them)
def suitability_columns(
    data: dict[str, Any], *, check: int = 3000
) -> tuple[list[Any], ...]:
    """Scores as buildings.suitability computes them, for every row.

    The rules are applied column-wise with numpy (the per-row function costs ~75 µs,
    75 s for 1M rows); a random sample is recomputed with the real function and
    must agree exactly, or the generation stops.
    """
    from buildings import suitability as rules

    rows = data["rows"]
    nan = np.nan
    surface = np.where(data["surface_known"], data["surface"], nan)
    energy = np.where(data["energy_known"], data["energy"], nan)
    erp = data["erp"]
    sleeping = np.isin(
        np.char.upper(data["erp_type"].astype(str)), list(rules.SLEEPING_ERP_TYPES)
    )
    months = np.where(data["next_use_known"], data["next_use_days"] / 30.44, nan)
    time_left = np.full(rows, nan)
    for floor, step in reversed(rules.TIME_LEFT_STEPS):
        time_left = np.where(months >= floor, step, time_left)
    time_left = np.where(
        np.isnan(months), nan, np.where(np.isnan(time_left), 0.0, time_left)
    )
    condition = np.array(
        [rules.CONDITION_VALUES.get(c, nan) for c in data["condition"]]
    )
    access_map = dict(rules.ACCESSIBILITY_VALUES)
    accessibility = np.array([access_map.get(a, nan) for a in data["accessibility"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        intensity = energy / surface
    energy_value = np.full(rows, 0.1)
    for ceiling, step in reversed(rules.ENERGY_STEPS):
        energy_value = np.where(intensity <= ceiling, step, energy_value)
    energy_value = np.where(np.isnan(energy) | np.isnan(surface), nan, energy_value)

    scores: dict[str, np.ndarray] = {}
    completeness = np.zeros(rows)
    for use in rules.USES:
        weights = rules.WEIGHTS[use]
        safety = np.where(
            erp == -1,
            nan,
            np.where(
                erp == 1, 1.0 if use != "shelter" else np.where(sleeping, 1.0, 0.6), 0.4
            ),
        )
        values = {
            "safety": safety,
            "surface": np.minimum(1.0, surface / rules.FULL_SURFACE_M2[use]),
            "condition": condition,
            "time_left": time_left,
            "accessibility": accessibility,
            "energy": energy_value,
        }
        points: Any = np.zeros(rows)
        for criterion, weight in weights.items():
            value = values[criterion]
            points = points + np.where(np.isnan(value), 0.0, weight * value)
        scores[use] = np.rint(100 * points / sum(weights.values())).astype(int)
        if use == "mixed":
            total = sum(weights.values())
            known = sum(w * ~np.isnan(values[c]) for c, w in weights.items())
            completeness = np.rint(100 * known / total).astype(int)

    # The real function on a sample must agree exactly.
    rng = np.random.default_rng(1)
    for i in rng.choice(rows, size=min(check, rows), replace=False):
        building = SimpleNamespace(
            surface_m2=float(data["surface"][i]) if data["surface_known"][i] else None,
            erp={1: True, 0: False}.get(int(erp[i])),
            erp_type=str(data["erp_type"][i]),
            condition=data["condition"][i],
            next_use_date=TODAY + timedelta(days=int(data["next_use_days"][i]))
            if data["next_use_known"][i]
            else None,
            accessibility=data["accessibility"][i],
            energy_kwh_ef=float(data["energy"][i]) if data["energy_known"][i] else None,
        )
        expected = rules.suitability(building, today=TODAY)  # type: ignore[arg-type]
        got = ({use: int(scores[use][i]) for use in rules.USES}, int(completeness[i]))
        if got != (expected.scores, expected.completeness):
            raise SystemExit(
                f"suitability mismatch on row {i}: {got} != "
                f"{(expected.scores, expected.completeness)}"
            )
    return (
        scores["shelter"].tolist(),
        scores["workspace"].tolist(),
        scores["mixed"].tolist(),
        completeness.tolist(),
    )


# --- Loading
STAGE_COLUMNS = [
    ("id", "bigint"),
    ("site_id", "bigint"),
    ("inventory_id", "text"),
    ("code_chorus", "text"),
    ("designation", "text"),
    ("asset_type", "text"),
    ("function", "text"),
    ("address", "text"),
    ("postal_code", "text"),
    ("city", "text"),
    ("commune_id", "text"),
    ("department_id", "text"),
    ("domaniality", "text"),
    ("ministry", "text"),
    ("manager_label", "text"),
    ("manager_type", "text"),
    ("owner_type", "text"),
    ("lon", "float8"),
    ("lat", "float8"),
    ("fp_width", "float8"),
    ("fp_length", "float8"),
    ("fp_angle", "float8"),
    ("srid", "int"),
    ("surface_m2", "numeric"),
    ("surface_kind", "text"),
    ("year_built", "smallint"),
    ("condition", "text"),
    ("energy_kwh_ef", "numeric"),
    ("heating_type", "text"),
    ("erp", "boolean"),
    ("erp_type", "text"),
    ("erp_category", "smallint"),
    ("accessibility", "text"),
    ("parcel_ids", "text[]"),
    ("rnb_ids", "text[]"),
    ("status", "text"),
    ("vacancy_since", "date"),
    ("vacancy_cause", "text"),
    ("next_use", "text"),
    ("next_use_date", "date"),
    ("guarding_cost_monthly", "numeric"),
    ("is_confidential", "boolean"),
    ("suitability_shelter", "smallint"),
    ("suitability_workspace", "smallint"),
    ("suitability_mixed", "smallint"),
    ("suitability_completeness", "smallint"),
]
# Building columns the staging table does not carry: constants of a DIE load.
CONSTANTS = {
    "source": "'die'",
    "source_vintage": f"DATE '{VINTAGE.isoformat()}'",
    "source_fingerprint": "md5(s.inventory_id) || md5(s.code_chorus)",
    "country": "'France'",
    "outside_declared_commune": "false",
    "created_at": "now()",
    "updated_at": "now()",
    "suitability_computed_on": f"DATE '{TODAY.isoformat()}'",
}
COMPUTED_SQL = {
    "point": "ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)",
    # A rectangle in the legal projection, rotated about its centre, then to WGS84.
    "footprint": (
        "ST_Multi(ST_Transform(ST_Rotate(ST_MakeEnvelope("
        "p.x - s.fp_width / 2, p.y - s.fp_length / 2, p.x + s.fp_width / 2, "
        "p.y + s.fp_length / 2, s.srid), s.fp_angle, p.x, p.y), 4326))"
    ),
}


def _escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def stage_lines(data: dict[str, Any], suit: tuple[list[Any], ...]) -> Any:
    """COPY text lines of the staging table, in chunks."""
    rows = data["rows"]
    vacancy_start = date(2012, 1, 1)
    parcels_a, parcels_b, two_parcels, sections = data["parcels"]
    rnb_known, rnb = data["rnb"]
    shelter, workspace, mixed, completeness = suit
    null = "\\N"
    chunk: list[str] = []
    for i in range(rows):
        code = data["commune"][i]
        department = data["department"][i]
        section = sections[i]
        parcel = f"{code}000{section}{parcels_a[i]:04d}"
        parcels = (
            f"{{{parcel},{code}000{section}{parcels_b[i]:04d}}}"
            if two_parcels[i]
            else f"{{{parcel}}}"
        )
        manager_label, manager_type = MANAGERS[data["manager"][i]]
        erp = {1: "t", 0: "f"}.get(int(data["erp"][i]), null)
        fields = [
            str(i + 1),
            str(int(data["site_of"][i]) + 1),
            _escape(data["inventory_id"][i]),
            _escape(data["code_chorus"][i]),
            data["designation"][i],
            data["asset_type"][i],
            data["function"][i],
            data["address"][i],
            data["postal"][i],
            data["city"][i],
            code,
            department,
            data["domaniality"][i],
            data["ministry"][i],
            manager_label,
            manager_type,
            "Etat",
            f"{data['lon'][i]:.7f}",
            f"{data['lat'][i]:.7f}",
            f"{data['fp_width'][i]:.2f}",
            f"{data['fp_length'][i]:.2f}",
            f"{data['fp_angle'][i]:.4f}",
            str(int(data["srid"][i])),
            f"{data['surface'][i]:.2f}" if data["surface_known"][i] else null,
            data["surface_kind"][i],
            str(int(data["year"][i])) if data["year_known"][i] else null,
            data["condition"][i],
            f"{data['energy'][i]:.2f}" if data["energy_known"][i] else null,
            data["heating"][i],
            erp,
            data["erp_type"][i],
            str(int(data["erp_category"][i])) if data["erp"][i] == 1 else null,
            data["accessibility"][i],
            parcels if not data["confidential"][i] else "{}",
            f"{{{rnb[i].decode()}}}" if rnb_known[i] else "{}",
            data["status"][i],
            (vacancy_start + timedelta(days=int(data["vacancy_days"][i]))).isoformat()
            if data["vacant_like"][i]
            else null,
            data["vacancy_cause"][i],
            data["next_use"][i],
            (TODAY + timedelta(days=int(data["next_use_days"][i]))).isoformat()
            if data["next_use_known"][i]
            else null,
            f"{data['guarding'][i]:.2f}" if data["guarding_known"][i] else null,
            "t" if data["confidential"][i] else "f",
            str(shelter[i]),
            str(workspace[i]),
            str(mixed[i]),
            str(completeness[i]),
        ]
        chunk.append("\t".join(fields))
        if len(chunk) >= 20_000:
            yield ("\n".join(chunk) + "\n").encode()
            chunk = []
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


def _secondary_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the indexes that back no constraint."""
    rows: list[tuple[str, str]] = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i WHERE i.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
        "i.indexrelid)",
        [table],
    ).fetchall()
    return rows


# Slowest first (trigram GIN, geography GiST), so that two builders finish together.
INDEX_COST = (("gin_trgm_ops", 0), ("geography", 1), ("gist", 2))


def build_indexes(url: str, definitions: list[str]) -> None:
    """CREATE INDEX statements on two connections at once: one per core."""
    from concurrent.futures import ThreadPoolExecutor

    def cost(definition: str) -> int:
        return next((rank for marker, rank in INDEX_COST if marker in definition), 3)

    queue = sorted(definitions, key=cost)

    def worker(items: list[str]) -> None:
        with connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            for definition in items:
                conn.execute(definition)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(worker, [queue[0::2], queue[1::2]]))


def check_schema(conn: Any) -> None:
    """Refuse to load when the model gained a NOT NULL column this generator ignores."""
    known = {name for name, _ in STAGE_COLUMNS} | set(CONSTANTS) | set(COMPUTED_SQL)
    rows = conn.execute(
        "SELECT column_name, is_nullable, column_default FROM "
        "information_schema.columns "
        "WHERE table_name = 'buildings_building'"
    ).fetchall()
    missing = [
        name
        for name, nullable, default in rows
        if name not in known and nullable == "NO" and default is None
    ]
    if missing:
        raise SystemExit(
            "buildings_building has NOT NULL columns the generator does not fill: "
            f"{missing}"
        )


def load(data: dict[str, Any], url: str) -> dict[str, float]:
    """COPY the generated rows into the benchmark database; timings in seconds."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    suit = suitability_columns(data)
    timings["suitability"] = time.perf_counter() - t0
    with connect(url, autocommit=True) as conn:
        check_schema(conn)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute("SET work_mem = '256MB'")
        indexes = {
            table: _secondary_indexes(conn, table)
            for table in ("buildings_building", "buildings_site")
        }
        conn.execute(
            "TRUNCATE buildings_building, buildings_site RESTART IDENTITY CASCADE"
        )
        for table_indexes in indexes.values():
            for name, _definition in table_indexes:
                conn.execute(f"DROP INDEX {name}")
        columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS)
        conn.execute("DROP TABLE IF EXISTS bench_stage")
        conn.execute(f"CREATE UNLOGGED TABLE bench_stage ({columns})")

        t0 = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY bench_stage ({', '.join(name for name, _ in STAGE_COLUMNS)}) "
                "FROM STDIN"
            ) as copy,
        ):
            for block in stage_lines(data, suit):
                copy.write(block)
        timings["copy"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY buildings_site (id, code, designation, commune_id, created_at) "
                "FROM STDIN"
            ) as copy,
        ):
            lines = []
            for index, (designation, code) in enumerate(
                zip(data["site_designation"], data["site_commune"], strict=True)
            ):
                lines.append(
                    f"{index + 1}\tS{index + 1:09d}\t{designation}\t{code}\t2024-01-01 "
                    "00:00:00+00"
                )
                if len(lines) >= 50_000:
                    copy.write(("\n".join(lines) + "\n").encode())
                    lines = []
            if lines:
                copy.write(("\n".join(lines) + "\n").encode())
        timings["copy_sites"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        staged_only = {
            "lon",
            "lat",
            "fp_width",
            "fp_length",
            "fp_angle",
            "srid",
        }
        targets = [name for name, _ in STAGE_COLUMNS if name not in staged_only]
        select = [f"s.{name}" for name in targets]
        targets += list(CONSTANTS) + list(COMPUTED_SQL)
        select += list(CONSTANTS.values()) + list(COMPUTED_SQL.values())
        with conn.transaction():
            # Foreign keys hold by construction (checked below): no per-row triggers.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(
                f"INSERT INTO buildings_building ({', '.join(targets)}) "
                f"SELECT {', '.join(select)} FROM bench_stage s "
                "CROSS JOIN LATERAL (SELECT ST_X(q) AS x, ST_Y(q) AS y FROM "
                "ST_Transform(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), s.srid) AS "
                "q) p "
                "ORDER BY s.id"
            )
        timings["insert_geometries"] = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_stage")
        for table in ("buildings_building", "buildings_site"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT "
                f"max(id) FROM {table}))"
            )

        t0 = time.perf_counter()
        build_indexes(
            url, [d for table_indexes in indexes.values() for _n, d in table_indexes]
        )
        timings["indexes"] = time.perf_counter() - t0

        orphans = conn.execute(
            "SELECT (SELECT count(*) FROM buildings_building b LEFT JOIN "
            "buildings_site s ON s.id = b.site_id WHERE s.id IS NULL)"
            " + (SELECT count(*) FROM buildings_building b LEFT JOIN buildings_commune "
            "c ON c.code = b.commune_id WHERE c.code IS NULL)"
            " + (SELECT count(*) FROM buildings_building b LEFT JOIN "
            "buildings_department d ON d.code = b.department_id WHERE d.code IS NULL)"
        ).fetchone()[0]
        if orphans:
            raise SystemExit(f"{orphans} generated rows break a foreign key")
        invalid = conn.execute(
            "SELECT count(*) FROM buildings_building WHERE NOT ST_IsValid(footprint)"
        ).fetchone()[0]
        if invalid:
            raise SystemExit(f"{invalid} invalid footprints")

        # The rows went in with triggers off: their stored GeoJSON (BuildingFeature)
        # is written here, as the insert trigger would have.
        t0 = time.perf_counter()
        conn.execute("SELECT buildings_feature_refresh()")
        timings["features"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) buildings_building")
        conn.execute("VACUUM (ANALYZE) buildings_buildingfeature")
        conn.execute("VACUUM (ANALYZE) buildings_site")
        timings["vacuum_analyze"] = time.perf_counter() - t0
    return timings


def describe(url: str) -> dict[str, Any]:
    with connect(url) as conn:
        total, public, confidential, erp, sites = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status IN "
            "('vacant','assessed','available') AND NOT is_confidential),"
            " count(*) FILTER (WHERE is_confidential), count(*) FILTER (WHERE erp), "
            "(SELECT count(*) FROM buildings_site) "
            "FROM buildings_building"
        ).fetchone()
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('buildings_building'))"
        ).fetchone()[0]
        heap = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size('buildings_building'))"
        ).fetchone()[0]
        in_paris = conn.execute(
            "SELECT count(*) FROM buildings_building WHERE department_id = '75'"
        ).fetchone()[0]
        median_surface = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY surface_m2) FROM "
            "buildings_building"
        ).fetchone()[0]
        median_footprint = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY "
            "ST_Area(footprint::geography)) FROM "
            "(SELECT footprint FROM buildings_building TABLESAMPLE SYSTEM (5)) t"
        ).fetchone()[0]
    return {
        "buildings": total,
        "public": public,
        "confidential": confidential,
        "erp": erp,
        "sites": sites,
        "paris": in_paris,
        "table_size": size,
        "heap_size": heap,
        "median_surface_m2": float(median_surface or 0),
        "median_footprint_m2": round(float(median_footprint or 0), 1),
    }


def run(rows: int, seed: int = SEED) -> dict[str, Any]:
    """generate: (re)create intercalaire_bench with ``rows`` buildings."""
    started = time.perf_counter()
    ensure_template()
    log(f"creating {BENCH_DB} from {TEMPLATE_DB}")
    create_database(BENCH_DB, template=TEMPLATE_DB)
    url = database_url(BENCH_DB)
    reference = load_reference(url)
    log(
        f"reference: {len(reference.codes)} communes weighted by population, "
        f"{sum(len(v) for v in reference.friches.values())} Cartofriches anchors, "
        f"{len(reference.dept_centre)} département centres"
    )
    data = generate(rows, reference, seed)
    log(
        f"generated {rows} buildings on {data['n_sites']} sites in "
        f"{data['seconds']:.1f} s"
    )
    timings = load(data, url)
    timings["generate"] = data["seconds"]
    timings["total"] = time.perf_counter() - started
    facts = describe(url)
    facts["sites_on_friches"] = data["site_from_friche"]
    facts["seed"] = seed
    facts["dropped_departments"] = reference.dropped_departments
    log(
        "loaded: "
        + ", ".join(f"{key} {value:.1f} s" for key, value in timings.items())
        + f"; table {facts['table_size']}"
    )
    return {"rows": rows, "timings": timings, "facts": facts}
