"""``tremplin generate``: realistic, deterministic job seekers and vacancies for demos, tests and benchmarks.

The files follow ``docs/inputs.md``. Everything is drawn from the reference data: seekers live in communes in
proportion to their population, vacancies concentrate in towns (population ** 1.1), occupations and skills
come from ROME 4.0 sheets (core items drawn three times as often), and a small share of rows is broken on
purpose so that a demo shows the quarantine. Mobile numbers come only from the range ARCEP reserves for
fiction (06 39 98 00 00 to 06 39 98 99 99): nothing generated can ever text a real person.

Determinism: rows are drawn in fixed blocks of :data:`BLOCK_ROWS`, each block from its own
``SeedSequence(seed, spawn_key=(kind, block))``. ``chunk_size`` only decides how many rows are written at a
time, so the same seed gives the same rows whatever the chunk size, and the same bytes in CSV and JSON Lines
(Parquet row groups follow the chunk size). The clock is never read: timestamps count back from ``as_of``.

Every scalar column is written as text in every format (the ingest validates text, and a bad value such as
``radius_km = "-5"`` must survive the trip); list columns are ``|``-joined in CSV and real lists in Parquet
and JSON Lines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.reference import Reference
from matching import columns as c
from tremplin.errors import TremplinError

FORMATS = ("csv", "parquet", "jsonl")
LIST_SEPARATOR = "|"
BLOCK_ROWS = 32_768  # rows drawn from one random stream; fixed so that chunk_size never changes the output
DEFAULT_AS_OF = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

SEEKER_COLUMNS = (
    c.SEEKER_ID,
    c.MOBILE,
    c.COMMUNE,
    c.RADIUS_KM,
    c.OCCUPATIONS,
    c.SKILLS,
    c.CONTRACT_TYPES,
    c.WORKING_TIME,
    c.DRIVING_LICENCE,
    c.EXPERIENCE_MONTHS,
    c.SMS_CONSENT,
    c.PREFERRED_CHANNEL,
    c.AGENCY_ID,
    c.UPDATED_AT,
    c.GENDER,
    c.BIRTH_YEAR,
    c.DISABILITY,
)
SEEKER_LISTS = (c.OCCUPATIONS, c.SKILLS, c.CONTRACT_TYPES)
VACANCY_COLUMNS = (
    c.VACANCY_ID,
    c.TITLE,
    c.ROME_CODE,
    c.COMMUNE,
    c.LATITUDE,
    c.LONGITUDE,
    c.CONTRACT_TYPE,
    c.WORKING_TIME,
    c.SKILL_CODES,
    c.REQUIRED_SKILL_CODES,
    c.LICENCE_REQUIRED,
    c.EXPERIENCE_REQUIRED_MONTHS,
    c.QUALIFICATION_CODE,
    c.POSITIONS,
    c.UPDATED_AT,
)
VACANCY_LISTS = (c.SKILL_CODES, c.REQUIRED_SKILL_CODES)

SEEKER_ID_PREFIX = "JS"
VACANCY_ID_PREFIX = "GEN"
# ARCEP: 06 39 98 00 00 to 06 39 98 99 99 is reserved for fiction.
FICTION_FIRST = 639_980_000
FICTION_LAST = 639_989_999

# Bad values written on purpose (each must be caught by the ingest validation).
BAD_COMMUNE = "99999"
BAD_MOBILE = "06 12"
BAD_RADIUS = "-5"
BAD_SEEKER_ID = ""
BAD_TIMESTAMP = "yesterday"
BAD_ROME_CODE = "Z9999"
BAD_POSITIONS = "0"
SEEKER_BAD_VALUES = {
    c.COMMUNE: BAD_COMMUNE,
    c.MOBILE: BAD_MOBILE,
    c.RADIUS_KM: BAD_RADIUS,
    c.SEEKER_ID: BAD_SEEKER_ID,
    c.UPDATED_AT: BAD_TIMESTAMP,
}
VACANCY_BAD_VALUES = {
    c.ROME_CODE: BAD_ROME_CODE,
    c.POSITIONS: BAD_POSITIONS,
    c.COMMUNE: BAD_COMMUNE,
    c.UPDATED_AT: BAD_TIMESTAMP,
}

# Distributions (value, weight).
SHEET_ZIPF_EXPONENT = 0.8
SECOND_SHEET_RATE = 0.3
FREE_TEXT_OCCUPATION_RATE = 0.15
FREE_TEXT_SKILLS_RATE = 0.10
CORE_WEIGHT = 3.0
NO_MOBILE_RATE = 0.06
MOBILE_FORMATS = (
    0.45,
    0.25,
    0.15,
    0.10,
    0.05,
)  # "06 39 98 12 34", "0639981234", "+33 6 ...", "+33639...", dots
RADII = (("10", 0.15), ("20", 0.25), ("30", 0.35), ("50", 0.15), ("80", 0.05), (None, 0.05))
CONTRACT_CHOICES = (
    (("CDI", "CDD"), 0.35),
    (("CDI",), 0.18),
    ((), 0.15),
    (("CDI", "CDD", "MIS"), 0.10),
    (("CDD",), 0.08),
    (("MIS",), 0.04),
    (("CDD", "MIS"), 0.04),
    (("CDD", "SAI"), 0.03),
    (("SAI",), 0.03),
)
SEEKER_WORKING_TIME = ((c.FULL_TIME, 0.55), (c.ANY, 0.30), (c.PART_TIME, 0.15))
PREFERRED_CHANNEL = (("none", 0.80), (c.CHANNEL_SMS, 0.15), (c.CHANNEL_COUNSELLOR, 0.05))
GENDERS = (("F", 0.49), ("M", 0.49), ("X", 0.02))
AGENCIES_PER_DEPARTMENT = (2, 12)  # min, max
AGENCY_POPULATION = 150_000  # inhabitants per agency
VACANCY_CONTRACT = (("CDI", 0.45), ("CDD", 0.35), ("MIS", 0.15), ("SAI", 0.05))
VACANCY_WORKING_TIME = ((c.FULL_TIME, 0.80), (c.PART_TIME, 0.20))
EXPERIENCE_REQUIRED = ("0", "0", "6", "12", "24")
QUALIFICATIONS = tuple(zip((str(code) for code in range(1, 10)), (2, 4, 8, 6, 30, 14, 10, 10, 16), strict=True))
POSITIONS = (("1", 0.85), ("2", 0.10), ("3", 0.05))
SEEKER_WINDOW_S = 90 * 86_400
VACANCY_WINDOW_S = 30 * 86_400
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class _Tables:
    """The reference data flattened into arrays the draws index into."""

    commune_codes: pl.Series  # communes with population > 0
    departments: pl.Series  # aligned with commune_codes
    overseas: np.ndarray  # commune in an overseas département (971 to 976)
    agency_base: np.ndarray  # first agency (0-based) serving the commune
    agency_span: np.ndarray  # how many agencies share the commune
    agency_count: np.ndarray  # agencies in the commune's département
    seeker_commune_cdf: np.ndarray
    vacancy_commune_cdf: np.ndarray
    sheet_codes: pl.Series
    sheet_cdf: np.ndarray
    item_codes: pl.Series
    item_labels: pl.Series
    sheet_item_offsets: np.ndarray  # CSR by sheet index
    sheet_item_items: np.ndarray  # index into item_codes
    sheet_item_weights: np.ndarray
    max_sheet_items: int
    appellation_offsets: np.ndarray  # CSR by sheet index
    appellation_labels: pl.Series
    mobility_offsets: np.ndarray  # CSR by sheet index
    mobility_targets: np.ndarray  # sheet index


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def _csr(group_index: np.ndarray, groups: int) -> np.ndarray:
    """Offsets of a group-sorted array (``group_index`` sorted ascending)."""
    return np.searchsorted(group_index, np.arange(groups + 1)).astype(np.int64)


def _tables(reference: Reference, seed: int) -> _Tables:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    communes = (
        reference.communes.filter(pl.col("population") > 0)
        .select(c.COMMUNE, "department", "population")
        .sort(c.COMMUNE)
    )
    if communes.height == 0:
        raise TremplinError("the communes reference has no commune with a population: nothing to generate")
    population = communes.get_column("population").to_numpy().astype(np.float64)
    # Agencies: a few per département, each serving a contiguous range of commune codes; a big city is
    # shared by several agencies (one per AGENCY_POPULATION inhabitants), picked per seeker.
    lo, hi = AGENCIES_PER_DEPARTMENT
    agencies = communes.with_columns(
        pl.int_range(pl.len()).over("department").alias("_rank"),
        pl.len().over("department").alias("_count"),
        (pl.col("population").sum().over("department") / AGENCY_POPULATION)
        .round()
        .clip(lo, hi)
        .cast(pl.Int64)
        .alias("_agencies"),
    ).with_columns(
        (pl.col("_rank") * pl.col("_agencies") // pl.col("_count")).alias("_base"),
        (pl.col("population") / AGENCY_POPULATION).ceil().cast(pl.Int64).clip(1, pl.col("_agencies")).alias("_span"),
    )
    rome = reference.rome
    sheets = rome.sheets.get_column(c.ROME_CODE).sort()
    n_sheets = sheets.len()
    ranks = rng.permutation(n_sheets)  # popularity rank of each sheet
    popularity = 1.0 / (ranks + 1.0) ** SHEET_ZIPF_EXPONENT

    sheet_idx = pl.DataFrame({c.ROME_CODE: sheets, "_sheet": np.arange(n_sheets, dtype=np.int64)})
    items = rome.items.select("item_code", "label").unique("item_code", keep="first").sort("item_code")
    item_idx = items.with_row_index("_item").select("item_code", pl.col("_item").cast(pl.Int64))
    links = (
        rome.sheet_items.join(sheet_idx, on=c.ROME_CODE, how="inner")
        .join(item_idx, on="item_code", how="inner")
        .sort("_sheet", "item_code")
    )
    link_sheets = links.get_column("_sheet").to_numpy()
    item_offsets = _csr(link_sheets, n_sheets)
    if np.any(np.diff(item_offsets) < 4):
        empty = sheets[int(np.argmax(np.diff(item_offsets) < 4))]
        raise TremplinError(f"ROME sheet {empty} has fewer than 4 items: cannot draw skills for it")
    weights = np.where(links.get_column("core").to_numpy(), CORE_WEIGHT, 1.0).astype(np.float32)

    apps = rome.appellations.join(sheet_idx, on=c.ROME_CODE, how="inner").sort("_sheet", "appellation_code")
    app_offsets = _csr(apps.get_column("_sheet").to_numpy(), n_sheets)
    # A sheet without appellations falls back to the sheet label.
    missing = np.flatnonzero(np.diff(app_offsets) == 0)
    if missing.size:
        extra = pl.DataFrame(
            {
                "_sheet": missing.astype(np.int64),
                "label": rome.sheets.sort(c.ROME_CODE)["label"].gather(missing),
            }
        )
        apps = pl.concat([apps.select("_sheet", "label"), extra]).sort("_sheet", maintain_order=True)
        app_offsets = _csr(apps.get_column("_sheet").to_numpy(), n_sheets)

    mobility = (
        rome.mobility.join(sheet_idx, on=c.ROME_CODE, how="inner")
        .join(sheet_idx.rename({c.ROME_CODE: "target_rome_code", "_sheet": "_target"}), on="target_rome_code")
        .filter(pl.col("_sheet") != pl.col("_target"))
        .sort("_sheet", "_target")
    )
    return _Tables(
        commune_codes=communes.get_column(c.COMMUNE),
        departments=agencies.get_column("department"),
        overseas=agencies.get_column("department").str.starts_with("97").to_numpy(),
        agency_base=agencies.get_column("_base").to_numpy(),
        agency_span=agencies.get_column("_span").to_numpy(),
        agency_count=agencies.get_column("_agencies").to_numpy(),
        seeker_commune_cdf=_cdf(population),
        vacancy_commune_cdf=_cdf(population**1.1),
        sheet_codes=sheets,
        sheet_cdf=_cdf(popularity),
        item_codes=items.get_column("item_code"),
        item_labels=items.get_column("label"),
        sheet_item_offsets=item_offsets,
        sheet_item_items=links.get_column("_item").to_numpy(),
        sheet_item_weights=weights,
        max_sheet_items=int(np.diff(item_offsets).max()),
        appellation_offsets=app_offsets,
        appellation_labels=apps.get_column("label"),
        mobility_offsets=_csr(mobility.get_column("_sheet").to_numpy(), n_sheets),
        mobility_targets=mobility.get_column("_target").to_numpy(),
    )


# --- draws -------------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """Indices drawn with the probabilities whose cumulative sum is ``cdf``."""
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _choice(rng: np.random.Generator, options: Any, n: int) -> pl.Series:
    """Values drawn from ``(value, weight)`` pairs, as a string Series (None allowed)."""
    values, weights = zip(*options, strict=True)
    picked = _pick(rng, _cdf(np.asarray(weights, dtype=np.float64)), n)
    return pl.Series(values, dtype=pl.String).gather(picked)


def _flag(rng: np.random.Generator, rate: float, n: int) -> np.ndarray:
    return rng.random(n) < rate


def _bool_text(values: np.ndarray) -> pl.Series:
    return pl.Series(["false", "true"], dtype=pl.String).gather(values.astype(np.int64))


def _draw_items(
    rng: np.random.Generator, t: _Tables, sheets: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, ``counts[i]`` distinct items of sheet ``sheets[i]``, weighted (core x3), without replacement.

    Exponential keys divided by the weight, smallest first (Efraimidis-Spirakis). Returns a ``(n, max)``
    matrix of item indices in draw order and the mask of the cells in use.
    """
    width = t.max_sheet_items
    start = t.sheet_item_offsets[sheets]
    size = t.sheet_item_offsets[sheets + 1] - start
    col = np.arange(width)
    valid = col[None, :] < size[:, None]
    link = np.where(valid, start[:, None] + col[None, :], 0)
    keys = rng.standard_exponential((len(sheets), width), dtype=np.float32) / t.sheet_item_weights[link]
    keys[~valid] = np.inf
    most = int(counts.max()) if len(counts) else 1
    smallest = np.argpartition(keys, most - 1, axis=1)[:, :most]
    order = np.argsort(np.take_along_axis(keys, smallest, axis=1), axis=1, kind="stable")
    chosen = np.take_along_axis(smallest, order, axis=1)
    items = t.sheet_item_items[np.take_along_axis(link, chosen, axis=1)]
    return items, col[:most][None, :] < counts[:, None]


def _list_series(name: str, values: pl.Series, counts: np.ndarray) -> pl.Series:
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    array = pa.LargeListArray.from_arrays(pa.array(offsets), values.to_arrow())
    series = pl.Series(name, array)
    assert isinstance(series.dtype, pl.List)
    return series


def _strip_accents(text: pl.Expr) -> pl.Expr:
    return text.str.normalize("NFD").str.replace_all(r"\p{M}", "")


def _noisy(rng: np.random.Generator, text: pl.Series, lower: float, accents: float, typo: float) -> pl.Series:
    """Light noise: lowercase, accents stripped, one character swapped or dropped."""
    n = text.len()
    frame = pl.DataFrame(
        {
            "s": text,
            "lower": _flag(rng, lower, n),
            "accents": _flag(rng, accents, n),
            "typo": np.where(_flag(rng, typo, n), rng.integers(1, 3, n), 0),
            "u": rng.random(n),
        }
    )
    s = pl.col("s")
    s = pl.when(pl.col("lower")).then(s.str.to_lowercase()).otherwise(s)
    s = pl.when(pl.col("accents")).then(_strip_accents(s)).otherwise(s)
    frame = frame.with_columns(s.alias("s"))
    s = pl.col("s")
    length = s.str.len_chars()
    at = (pl.col("u") * (length - 3).clip(lower_bound=0)).floor().cast(pl.Int64) + 1
    swapped = pl.concat_str(s.str.slice(0, at), s.str.slice(at + 1, 1), s.str.slice(at, 1), s.str.slice(at + 2))
    dropped = pl.concat_str(s.str.slice(0, at), s.str.slice(at + 1))
    typo_ok = length >= 5
    out = (
        pl.when(typo_ok & (pl.col("typo") == 1))
        .then(swapped)
        .when(typo_ok & (pl.col("typo") == 2))
        .then(dropped)
        .otherwise(s)
    )
    return frame.select(out.alias(text.name)).to_series()


def _gender_reduced(rng: np.random.Generator, labels: pl.Series) -> pl.Series:
    """``"Vendeur / Vendeuse en X"`` → ``"Vendeur en X"`` or ``"Vendeuse en X"`` (sometimes kept whole)."""
    form = _pick(rng, _cdf(np.array([0.4, 0.4, 0.2])), labels.len())
    frame = pl.DataFrame({"s": labels, "form": form})
    s = pl.col("s")
    out = (
        pl.when(pl.col("form") == 0)
        .then(s.str.replace(r" / \S+", ""))
        .when(pl.col("form") == 1)
        .then(s.str.replace(r"\S+ / ", ""))
        .otherwise(s)
    )
    return frame.select(out.alias(labels.name)).to_series()


def _timestamps(rng: np.random.Generator, as_of: datetime, window_s: int, n: int) -> pl.Series:
    base = int(as_of.timestamp())
    seconds = base - rng.integers(0, window_s, n)
    return pl.Series(seconds * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")).dt.strftime(TIMESTAMP_FORMAT)


def _ids(prefix: str, start: int, n: int, width: int) -> pl.Series:
    number = pl.int_range(start + 1, start + n + 1, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return pl.select(pl.format(prefix + "{}", number)).to_series()


def _agencies(rng: np.random.Generator, t: _Tables, commune: np.ndarray) -> pl.Series:
    """``FT-<département>-<nnn>``: the agency serving the commune (one of several in a big city)."""
    span = t.agency_span[commune]
    number = (t.agency_base[commune] + (rng.random(len(commune)) * span).astype(np.int64)) % t.agency_count[commune] + 1
    frame = pl.DataFrame({"dept": t.departments.gather(commune), "n": number})
    return frame.select(
        pl.format("FT-{}-{}", "dept", pl.col("n").cast(pl.String).str.zfill(3)).alias(c.AGENCY_ID)
    ).to_series()


def _mobiles(rng: np.random.Generator, overseas: np.ndarray) -> pl.Series:
    """Fiction-range mobiles in mixed formats.

    Overseas seekers get the international form only: the ingest reads a national number with the region of
    the commune, and "06 39 98 .." read in Mayotte (+262 639 ..) would leave the range reserved for fiction.
    """
    n = len(overseas)
    digits = rng.integers(0, 10_000, n)
    form = _pick(rng, _cdf(np.asarray(MOBILE_FORMATS)), n)
    form = np.where(overseas, 2 + form % 2, form)
    missing = _flag(rng, NO_MOBILE_RATE, n)
    frame = pl.DataFrame({"d": digits, "form": form, "missing": missing}).with_columns(
        pl.col("d").cast(pl.String).str.zfill(4).alias("d")
    )
    d = pl.col("d")
    a, b = d.str.slice(0, 2), d.str.slice(2, 2)
    out = (
        pl.when(pl.col("missing"))
        .then(pl.lit(None, pl.String))
        .when(pl.col("form") == 0)
        .then(pl.concat_str(pl.lit("06 39 98 "), a, pl.lit(" "), b))
        .when(pl.col("form") == 1)
        .then(pl.concat_str(pl.lit("063998"), d))
        .when(pl.col("form") == 2)
        .then(pl.concat_str(pl.lit("+33 6 39 98 "), a, pl.lit(" "), b))
        .when(pl.col("form") == 3)
        .then(pl.concat_str(pl.lit("+3363998"), d))
        .otherwise(pl.concat_str(pl.lit("06.39.98."), a, pl.lit("."), b))
    )
    return frame.select(out.alias(c.MOBILE)).to_series()


def _break_rows(
    rng: np.random.Generator, frame: pl.DataFrame, bad_values: dict[str, str], rate: float
) -> tuple[pl.DataFrame, int]:
    """Spoil about ``rate`` of the rows, each with one bad value from ``bad_values``."""
    n = frame.height
    bad = rng.random(n) < rate
    kind = rng.integers(0, len(bad_values), n)
    flags = pl.DataFrame({"_bad": bad, "_kind": kind})
    frame = pl.concat([frame, flags], how="horizontal")
    exprs = [
        pl.when(pl.col("_bad") & (pl.col("_kind") == k)).then(pl.lit(value)).otherwise(pl.col(name)).alias(name)
        for k, (name, value) in enumerate(bad_values.items())
    ]
    return frame.with_columns(exprs).drop("_bad", "_kind"), int(bad.sum())


def _seeker_block(
    t: _Tables, seed: int, block: int, n: int, as_of: datetime, bad_rate: float
) -> tuple[pl.DataFrame, int]:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, block)))
    start = block * BLOCK_ROWS
    commune = _pick(rng, t.seeker_commune_cdf, n)
    sheet = _pick(rng, t.sheet_cdf, n)

    # Occupations: the main sheet (a code, or for some a free-text title), sometimes a second by mobility.
    mob_start = t.mobility_offsets[sheet]
    mob_count = t.mobility_offsets[sheet + 1] - mob_start
    second = _flag(rng, SECOND_SHEET_RATE, n) & (mob_count > 0)
    pick = mob_start + (rng.random(n) * mob_count).astype(np.int64)
    target = t.mobility_targets[np.minimum(pick, len(t.mobility_targets) - 1)] if second.any() else sheet
    free_title = _flag(rng, FREE_TEXT_OCCUPATION_RATE, n)
    app_start = t.appellation_offsets[sheet]
    app_count = t.appellation_offsets[sheet + 1] - app_start
    app = app_start + (rng.random(n) * app_count).astype(np.int64)
    titles = t.appellation_labels.gather(app[free_title])
    titles = _noisy(rng, _gender_reduced(rng, titles), lower=0.5, accents=0.25, typo=0.1)
    main = t.sheet_codes.gather(sheet).scatter(np.flatnonzero(free_title), titles)

    # Skills: 4 to 12 items of the main sheet, core x3, plus 0 to 2 items from anywhere; some in free text.
    counts = rng.integers(4, 13, n)
    matrix, used = _draw_items(rng, t, sheet, counts)
    noise_count = _pick(rng, _cdf(np.array([0.6, 0.3, 0.1])), n)
    noise = rng.integers(0, t.item_codes.len(), (n, 2))
    matrix = np.concatenate([matrix, noise], axis=1)
    used = np.concatenate([used, np.arange(2)[None, :] < noise_count[:, None]], axis=1)
    free_skill_rows = _flag(rng, FREE_TEXT_SKILLS_RATE, n)
    free_skill_count = rng.integers(1, 4, n)
    position = np.arange(matrix.shape[1])[None, :]
    free_cells = (free_skill_rows[:, None] & (position < free_skill_count[:, None]))[used]
    flat = matrix[used]
    free_at = np.flatnonzero(free_cells)
    free_labels = _noisy(rng, t.item_labels.gather(flat[free_at]), lower=0.5, accents=0.2, typo=0.05)
    skills = t.item_codes.gather(flat).scatter(free_at, free_labels)

    contracts = pl.Series([list(v) for v, _ in CONTRACT_CHOICES], dtype=pl.List(pl.String)).gather(
        _pick(rng, _cdf(np.array([w for _, w in CONTRACT_CHOICES])), n)
    )
    experience = np.where(_flag(rng, 0.12, n), 0, np.minimum(np.round(rng.exponential(40.0, n)), 480)).astype(np.int64)

    frame = pl.DataFrame(
        {
            c.SEEKER_ID: _ids(SEEKER_ID_PREFIX, start, n, 8),
            c.MOBILE: _mobiles(rng, t.overseas[commune]),
            c.COMMUNE: t.commune_codes.gather(commune),
            c.RADIUS_KM: _choice(rng, RADII, n),
            "_main": main,
            "_second": t.sheet_codes.gather(target),
            "_has_second": second,
            c.SKILLS: _list_series(c.SKILLS, skills, used.sum(axis=1)),
            c.CONTRACT_TYPES: contracts,
            c.WORKING_TIME: _choice(rng, SEEKER_WORKING_TIME, n),
            c.DRIVING_LICENCE: _bool_text(_flag(rng, 0.75, n)),
            c.EXPERIENCE_MONTHS: pl.Series(experience).cast(pl.String),
            c.SMS_CONSENT: _bool_text(_flag(rng, 0.85, n)),
            c.PREFERRED_CHANNEL: _choice(rng, PREFERRED_CHANNEL, n),
            c.AGENCY_ID: _agencies(rng, t, commune),
            c.UPDATED_AT: _timestamps(rng, as_of, SEEKER_WINDOW_S, n),
            c.GENDER: _choice(rng, GENDERS, n),
            c.BIRTH_YEAR: pl.Series(rng.integers(1958, 2008, n)).cast(pl.String),
            c.DISABILITY: _bool_text(_flag(rng, 0.08, n)),
        }
    ).with_columns(
        pl.concat_list("_main", pl.when("_has_second").then("_second")).list.drop_nulls().alias(c.OCCUPATIONS)
    )
    frame, bad = _break_rows(rng, frame.select(SEEKER_COLUMNS), SEEKER_BAD_VALUES, bad_rate)
    return frame, bad


def _vacancy_block(
    t: _Tables, seed: int, block: int, n: int, as_of: datetime, bad_rate: float
) -> tuple[pl.DataFrame, int]:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2, block)))
    start = block * BLOCK_ROWS
    commune = _pick(rng, t.vacancy_commune_cdf, n)
    sheet = _pick(rng, t.sheet_cdf, n)
    app_start = t.appellation_offsets[sheet]
    app_count = t.appellation_offsets[sheet + 1] - app_start
    app = app_start + (rng.random(n) * app_count).astype(np.int64)
    counts = rng.integers(5, 11, n)
    matrix, used = _draw_items(rng, t, sheet, counts)
    required_count = rng.integers(1, 4, n)
    required = used & (np.arange(matrix.shape[1])[None, :] < required_count[:, None])
    null_text = pl.Series([None] * n, dtype=pl.String)
    frame = pl.DataFrame(
        {
            c.VACANCY_ID: _ids(VACANCY_ID_PREFIX, start, n, 8),
            c.TITLE: t.appellation_labels.gather(app),
            c.ROME_CODE: t.sheet_codes.gather(sheet),
            c.COMMUNE: t.commune_codes.gather(commune),
            c.LATITUDE: null_text,
            c.LONGITUDE: null_text,
            c.CONTRACT_TYPE: _choice(rng, VACANCY_CONTRACT, n),
            c.WORKING_TIME: _choice(rng, VACANCY_WORKING_TIME, n),
            c.SKILL_CODES: _list_series(c.SKILL_CODES, t.item_codes.gather(matrix[used]), used.sum(axis=1)),
            c.REQUIRED_SKILL_CODES: _list_series(
                c.REQUIRED_SKILL_CODES, t.item_codes.gather(matrix[required]), required.sum(axis=1)
            ),
            c.LICENCE_REQUIRED: _bool_text(_flag(rng, 0.25, n)),
            c.EXPERIENCE_REQUIRED_MONTHS: pl.Series(EXPERIENCE_REQUIRED, dtype=pl.String).gather(
                rng.integers(0, len(EXPERIENCE_REQUIRED), n)
            ),
            c.QUALIFICATION_CODE: _choice(rng, QUALIFICATIONS, n),
            c.POSITIONS: _choice(rng, POSITIONS, n),
            c.UPDATED_AT: _timestamps(rng, as_of, VACANCY_WINDOW_S, n),
        }
    )
    frame, bad = _break_rows(rng, frame.select(VACANCY_COLUMNS), VACANCY_BAD_VALUES, bad_rate)
    return frame, bad


# --- writing -----------------------------------------------------------------------------------------------


def _arrow_schema(columns: tuple[str, ...], lists: tuple[str, ...]) -> pa.Schema:
    return pa.schema([(name, pa.list_(pa.string()) if name in lists else pa.string()) for name in columns])


class _Writer:
    """Appends chunks to one file: CSV (lists ``|``-joined), Parquet (one row group a chunk) or JSON Lines."""

    def __init__(self, path: Path, fmt: str, columns: tuple[str, ...], lists: tuple[str, ...]) -> None:
        self.path = path
        self.fmt = fmt
        self.lists = lists
        self.schema = _arrow_schema(columns, lists)
        self.rows = 0
        self._file: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        if fmt == "parquet":
            self._parquet = pq.ParquetWriter(path, self.schema, compression="zstd")
        else:
            self._file = path.open("wb")

    def write(self, frame: pl.DataFrame) -> None:
        if self._parquet is not None:
            self._parquet.write_table(frame.to_arrow().cast(self.schema), row_group_size=max(frame.height, 1))
        elif self.fmt == "csv":
            assert self._file is not None
            joined = frame.with_columns(pl.col(name).list.join(LIST_SEPARATOR) for name in self.lists)
            joined.write_csv(self._file, include_header=self.rows == 0)
        else:
            assert self._file is not None
            frame.write_ndjson(self._file)
        self.rows += frame.height

    def close(self) -> None:
        if self._parquet is not None:
            if self.rows == 0:  # an empty file still carries its schema
                self._parquet.write_table(self.schema.empty_table())
            self._parquet.close()
        if self._file is not None:
            if self.rows == 0 and self.fmt == "csv":
                pl.DataFrame(schema=dict.fromkeys(self.schema.names, pl.String)).write_csv(self._file)
            self._file.close()


def _write_kind(
    block: Callable[[int, int], tuple[pl.DataFrame, int]],
    rows: int,
    path: Path,
    fmt: str,
    columns: tuple[str, ...],
    lists: tuple[str, ...],
    chunk_size: int,
    progress: Progress | None,
) -> int:
    """Draw ``rows`` rows block by block, write them ``chunk_size`` at a time; returns the bad-row count."""
    temporary = path.with_name(f".{path.name}.partial")  # not picked up by the ingest while being written
    writer = _Writer(temporary, fmt, columns, lists)
    pending: list[pl.DataFrame] = []
    pending_rows = 0
    bad_total = 0

    def flush(frame: pl.DataFrame) -> None:
        writer.write(frame)
        if progress is not None:
            progress(frame.height)

    try:
        for number in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
            frame, bad = block(number, min(BLOCK_ROWS, rows - number * BLOCK_ROWS))
            bad_total += bad
            pending.append(frame)
            pending_rows += frame.height
            while pending_rows >= chunk_size:
                buffered = pl.concat(pending, rechunk=False)
                flush(buffered.slice(0, chunk_size))
                rest = buffered.slice(chunk_size)
                pending, pending_rows = ([rest], rest.height) if rest.height else ([], 0)
        if pending_rows:
            flush(pl.concat(pending, rechunk=False))
    finally:
        writer.close()
    os.replace(temporary, path)
    return bad_total


def generate(
    reference: Reference,
    *,
    seekers: int,
    vacancies: int,
    seed: int,
    out_dir: Path,
    fmt: str = "csv",
    chunk_size: int = 200_000,
    bad_row_rate: float = 0.005,
    progress: Progress | None = None,
    as_of: datetime = DEFAULT_AS_OF,
) -> dict[str, Any]:
    """Write ``seekers.<fmt>`` and ``vacancies.<fmt>`` into ``out_dir``; same seed, same rows.

    ``progress`` is called after every chunk with the number of rows just written (an increment, as
    ``typer.progressbar().update`` expects). ``as_of`` anchors ``updated_at`` (seekers within 90 days before
    it, vacancies within 30 days), so the output never depends on the clock.
    """
    if fmt not in FORMATS:
        raise TremplinError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if seekers < 0 or vacancies < 0:
        raise TremplinError("the numbers of seekers and vacancies must be >= 0")
    if chunk_size < 1:
        raise TremplinError("chunk_size must be >= 1")
    if not 0.0 <= bad_row_rate <= 1.0:
        raise TremplinError(f"bad_row_rate must be between 0 and 1, got {bad_row_rate}")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = _tables(reference, seed)
    seekers_path = out_dir / f"seekers.{fmt}"
    vacancies_path = out_dir / f"vacancies.{fmt}"
    bad_seekers = _write_kind(
        lambda block, n: _seeker_block(tables, seed, block, n, as_of, bad_row_rate),
        seekers,
        seekers_path,
        fmt,
        SEEKER_COLUMNS,
        SEEKER_LISTS,
        chunk_size,
        progress,
    )
    bad_vacancies = _write_kind(
        lambda block, n: _vacancy_block(tables, seed, block, n, as_of, bad_row_rate),
        vacancies,
        vacancies_path,
        fmt,
        VACANCY_COLUMNS,
        VACANCY_LISTS,
        chunk_size,
        progress,
    )
    return {
        "seed": seed,
        "format": fmt,
        "as_of": as_of.isoformat(),
        "seekers": seekers,
        "vacancies": vacancies,
        "bad_seekers": bad_seekers,
        "bad_vacancies": bad_vacancies,
        "seekers_path": str(seekers_path),
        "vacancies_path": str(vacancies_path),
        "seconds": round(time.perf_counter() - started, 3),
    }
