"""Reads the reference data (ROME 4.0, communes with coordinates, the INSEE density grid).

Every file is checked on the way in: a missing file, a missing column or an unreadable value stops
the run with a :class:`ReferenceDataError` that names the file and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import polars as pl

from matching import columns as c
from tremplin.errors import ReferenceDataError

ROME_DIR = "rome"
GEO_DIR = "geo"
ROME_FILES = {
    "sheets": "unix_referentiel_code_rome_v460_utf8.csv",
    "appellations": "unix_referentiel_appellation_v460_utf8.csv",
    "items": "unix_item_v460_utf8.csv",
    "skills": "unix_referentiel_competence_v460_utf8.csv",
    "sheet_items": "unix_coherence_item_v460_utf8.csv",
    "mobility": "unix_rubrique_mobilite_v460_utf8.csv",
}
COMMUNES_FILE = "communes_coordinates.csv"
DENSITY_FILE = "insee_grille_densite_7_niveaux_2024.csv"
# 150 real France Travail offers (Ardèche, May 2025), for the demo, the quality benchmark and tests
REAL_OFFERS_FILE = Path("offers") / "france_travail_offres_ardeche_2025-05.jsonl"
ROME_CODE_PATTERN = r"^[A-N]\d{4}$"


@dataclass(frozen=True)
class Rome:
    """ROME 4.0 as frames: sheets, job titles, items, sheet-to-item links and mobility links."""

    version: str
    sheets: pl.DataFrame  # rome_code, label
    appellations: pl.DataFrame  # appellation_code, label, rome_code, classification
    items: pl.DataFrame  # item_code, label, is_skill
    sheet_items: pl.DataFrame  # rome_code, item_code, core
    mobility: pl.DataFrame  # rome_code, target_rome_code

    @property
    def core_items(self) -> pl.DataFrame:
        """rome_code, item_code of every sheet's core items (coeur_metier "Principale")."""
        return self.sheet_items.filter(pl.col("core")).select(c.ROME_CODE, "item_code")

    @property
    def title_labels(self) -> pl.DataFrame:
        """rome_code, label of every job title and sheet label: what free-text titles are matched against."""
        return pl.concat([self.appellations.select(c.ROME_CODE, "label"), self.sheets.select(c.ROME_CODE, "label")])


@dataclass(frozen=True)
class Reference:
    """Everything the pipeline reads besides its inputs."""

    rome: Rome
    communes: pl.DataFrame  # commune, name, department, latitude, longitude, density_level, population


def _read_csv(path: Path, needed: dict[str, type[pl.DataType] | pl.DataType]) -> pl.DataFrame:
    if not path.is_file():
        raise ReferenceDataError(path, "file not found (check the reference data directory setting)")
    try:
        header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except Exception as exc:  # polars raises several types for unreadable files
        raise ReferenceDataError(path, f"not a readable CSV file ({exc})") from exc
    missing = [name for name in needed if name not in header]
    if missing:
        raise ReferenceDataError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    try:
        frame = pl.read_csv(path, columns=list(needed), infer_schema=False)
        return frame.with_columns(
            [pl.col(name).cast(dtype, strict=True) for name, dtype in needed.items() if dtype != pl.String]
        )
    except Exception as exc:
        raise ReferenceDataError(path, f"malformed value ({exc})") from exc


def load_rome(data_dir: Path) -> Rome:
    """Read ROME 4.0 from ``data_dir/rome``."""
    base = Path(data_dir) / ROME_DIR
    s = pl.String
    sheets = _read_csv(base / ROME_FILES["sheets"], {"code_rome": s, "libelle_rome": s}).rename(
        {"code_rome": c.ROME_CODE, "libelle_rome": "label"}
    )
    bad = sheets.filter(~pl.col(c.ROME_CODE).str.contains(ROME_CODE_PATTERN))
    if bad.height:
        raise ReferenceDataError(
            base / ROME_FILES["sheets"],
            f"{bad.height} code_rome values are not ROME codes, e.g. {bad[0, 0]!r}",
        )
    appellations = _read_csv(
        base / ROME_FILES["appellations"],
        {"code_ogr": s, "libelle_appellation_long": s, "code_rome": s, "classification": s},
    ).rename(
        {
            "code_ogr": "appellation_code",
            "libelle_appellation_long": "label",
            "code_rome": c.ROME_CODE,
        }
    )
    items = _read_csv(base / ROME_FILES["items"], {"code_ogr": s, "libelle": s}).rename(
        {"code_ogr": "item_code", "libelle": "label"}
    )
    skill_codes = _read_csv(base / ROME_FILES["skills"], {"code_ogr": s})["code_ogr"]
    items = items.with_columns(pl.col("item_code").is_in(skill_codes.implode()).alias("is_skill"))
    sheet_items = (
        _read_csv(base / ROME_FILES["sheet_items"], {"code_rome": s, "code_ogr": s, "coeur_metier": s})
        .rename({"code_rome": c.ROME_CODE, "code_ogr": "item_code"})
        .with_columns((pl.col("coeur_metier") == "Principale").fill_null(False).alias("core"))
        .drop("coeur_metier")
        .unique([c.ROME_CODE, "item_code"], keep="first", maintain_order=True)
    )
    mobility = (
        _read_csv(base / ROME_FILES["mobility"], {"code_rome": s, "code_rome_cible": s})
        .rename({"code_rome": c.ROME_CODE, "code_rome_cible": "target_rome_code"})
        .unique(maintain_order=True)
    )
    version = _rome_version(base / "version.txt")
    return Rome(version, sheets, appellations, items, sheet_items, mobility)


def _rome_version(path: Path) -> str:
    if not path.is_file():
        return "unknown"
    text = path.read_text(encoding="utf-8", errors="replace")
    found = re.search(r"Numero de version\s*:\s*(\S+)", text)
    return f"ROME 4.0 v{found.group(1)}" if found else "unknown"


def load_communes(data_dir: Path) -> pl.DataFrame:
    """Communes with centroid, département, density level (1 to 7) and population."""
    base = Path(data_dir) / GEO_DIR
    coords = _read_csv(
        base / COMMUNES_FILE,
        {
            "REF_INSEE": pl.String,
            "NAME": pl.String,
            "DEPARTMENT": pl.String,
            "LATITUDE": pl.Float64,
            "LONGITUDE": pl.Float64,
        },
    ).rename(
        {
            "REF_INSEE": c.COMMUNE,
            "NAME": "name",
            "DEPARTMENT": "department",
            "LATITUDE": c.LATITUDE,
            "LONGITUDE": c.LONGITUDE,
        }
    )
    out_of_range = coords.filter(~pl.col(c.LATITUDE).is_between(-90, 90) | ~pl.col(c.LONGITUDE).is_between(-180, 180))
    if out_of_range.height:
        raise ReferenceDataError(
            base / COMMUNES_FILE, f"coordinates out of range for commune {out_of_range[0, c.COMMUNE]}"
        )
    density = _read_csv(base / DENSITY_FILE, {"CODGEO": pl.String, "DENS": pl.Int8, "PMUN21": pl.Int64}).rename(
        {"CODGEO": c.COMMUNE, "DENS": c.DENSITY_LEVEL, "PMUN21": "population"}
    )
    bad = density.filter(~pl.col(c.DENSITY_LEVEL).is_between(1, 7))
    if bad.height:
        raise ReferenceDataError(base / DENSITY_FILE, f"DENS must be 1 to 7, got {bad[0, c.DENSITY_LEVEL]}")
    return (
        coords.unique(c.COMMUNE, keep="first", maintain_order=True)
        .join(density, on=c.COMMUNE, how="left")
        .with_columns(pl.col("population").fill_null(0))
    )


def load_reference(data_dir: Path) -> Reference:
    """Read and check all reference data under ``data_dir``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ReferenceDataError(data_dir, "reference data directory not found (set TREMPLIN_DATA_DIR or --data-dir)")
    return Reference(load_rome(data_dir), load_communes(data_dir))


@lru_cache(maxsize=2)
def cached_reference(data_dir: str) -> Reference:
    """Reference data read once per process (the frames are never mutated)."""
    return load_reference(Path(data_dir))
