"""Row validation for seekers and vacancies: text frames in, typed good rows and quarantine rows out.

Pure: no files, no clock. Every failed check gives one quarantine row naming the line, the field and
the reason, so a file with many problems reports them all at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import polars as pl

from connectors.files import LINE_COL, LIST_SEPARATOR
from matching import columns as c
from matching.score import QUALIFICATION_LADDER
from tremplin.nightly import schema

ROME_CODE_PATTERN = r"^[A-N]\d{4}$"
QUALIFICATION_CODES = sorted(QUALIFICATION_LADDER)  # the codes the scorer knows how to compare
TRUE_WORDS = ("true", "1", "oui", "yes", "vrai", "o", "y")
FALSE_WORDS = ("false", "0", "non", "no", "faux", "n")
# ARCEP reserves 06 39 98 00 00 to 06 39 98 99 99 for fiction; phonenumbers calls it invalid, but the
# generator uses it on purpose so that nothing real is ever texted.
FICTION_PREFIX = "+3363998"
OVERSEAS_REGIONS = {
    "971": "GP",
    "972": "MQ",
    "973": "GF",
    "974": "RE",
    "976": "YT",
    "975": "PM",
    "977": "BL",
    "978": "MF",
}
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z")
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")

# the columns, from the one statement of the input schema (its types are checked against the output by a test)
SEEKER_REQUIRED = schema.required(schema.SEEKERS)
VACANCY_REQUIRED = schema.required(schema.VACANCIES)
SEEKER_OPTIONAL = schema.optional(schema.SEEKERS)
VACANCY_OPTIONAL = schema.optional(schema.VACANCIES)

QUARANTINE_SCHEMA = {
    c.FILE: pl.String,
    c.LINE: pl.Int64,
    c.FIELD: pl.String,
    c.REASON: pl.String,
    c.RAW: pl.String,
}


@dataclass(frozen=True)
class Checked:
    """The outcome of validating one file."""

    good: pl.DataFrame
    quarantine: pl.DataFrame  # file, line, field, reason, raw
    read: int


def missing_columns(frame: pl.DataFrame, required: Iterable[str]) -> list[str]:
    """Required columns absent from the file header (the whole file is then unreadable)."""
    return [name for name in required if name not in frame.columns]


def _text(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars()


def _empty(name: str) -> pl.Expr:
    return _text(name).is_null() | (_text(name) == "")


def _list(name: str) -> pl.Expr:
    parts = _text(name).fill_null("").str.split(LIST_SEPARATOR).list.eval(pl.element().str.strip_chars())
    return parts.list.eval(pl.element().filter(pl.element() != "")).alias(name)


def _bool(name: str) -> pl.Expr:
    low = _text(name).str.to_lowercase()
    return pl.when(low.is_in(TRUE_WORDS)).then(True).when(low.is_in(FALSE_WORDS)).then(False).otherwise(None)


def _bad_bool(name: str) -> pl.Expr:
    return ~_empty(name) & _bool(name).is_null()


def _timestamp(name: str) -> pl.Expr:
    value = _text(name).str.replace(r"Z$", "+00:00")
    aware = [value.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in TIMESTAMP_FORMATS]
    naive = [value.str.strptime(pl.Datetime("us"), f, strict=False).dt.replace_time_zone("UTC") for f in NAIVE_FORMATS]
    return pl.coalesce([*aware, *naive])


def _date(name: str) -> pl.Expr:
    return _text(name).str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _number(name: str, dtype: type[pl.DataType] = pl.Float64) -> pl.Expr:
    return _text(name).str.replace(",", ".").cast(dtype, strict=False)


def _ensure(frame: pl.DataFrame, names: Iterable[str]) -> pl.DataFrame:
    absent = [pl.lit(None, pl.String).alias(n) for n in names if n not in frame.columns]
    return frame.with_columns(absent) if absent else frame


@lru_cache(maxsize=200_000)
def to_e164(number: str, region: str) -> str | None:
    """A mobile number in E.164, or None when it is not a mobile number.

    >>> to_e164("06 39 98 12 34", "FR")
    '+33639981234'
    >>> to_e164("0690 12 34 56", "GP")
    '+590690123456'
    """
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164.startswith(FICTION_PREFIX) and len(e164) == 12:
        return e164
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    if phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in kinds:
        return e164
    return None


def _phones(frame: pl.DataFrame) -> pl.Series:
    region = pl.col(c.COMMUNE).str.slice(0, 3).replace_strict(OVERSEAS_REGIONS, default="FR")
    pairs = frame.select(_text(c.MOBILE).alias("m"), region.alias("r"))
    return pl.Series(
        c.MOBILE,
        [None if m is None or m == "" else to_e164(m, r) for m, r in pairs.iter_rows()],
        dtype=pl.String,
    )


def _quarantine(frame: pl.DataFrame, file: str, checks: list[tuple[str, pl.Expr, str]]) -> pl.DataFrame:
    """One row per failed check: file, line, field, reason and the raw row as JSON."""
    raw_cols = [n for n in frame.columns if not n.startswith("_")]
    raw = pl.struct(raw_cols).struct.json_encode() if raw_cols else pl.lit("{}")
    parts = [
        frame.filter(bad.fill_null(False)).select(
            pl.lit(file).alias(c.FILE),
            pl.col(LINE_COL).alias(c.LINE),
            pl.lit(field).alias(c.FIELD),
            pl.lit(reason).alias(c.REASON),
            raw.alias(c.RAW),
        )
        for field, bad, reason in checks
    ]
    if "_unreadable" in frame.columns:
        parts.append(
            frame.filter(pl.col("_unreadable").is_not_null()).select(
                pl.lit(file).alias(c.FILE),
                pl.col(LINE_COL).alias(c.LINE),
                pl.lit("*").alias(c.FIELD),
                pl.col("_unreadable").alias(c.REASON),
                pl.lit("").alias(c.RAW),
            )
        )
    if not parts:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat([p.cast(QUARANTINE_SCHEMA) for p in parts]).sort([c.LINE, c.FIELD])  # type: ignore[arg-type]


def _newest_per_id(good: pl.DataFrame, key: str) -> pl.DataFrame:
    """Within one file, a repeated id keeps its newest row (the last line on a tie)."""
    return good.sort([c.UPDATED_AT, LINE_COL]).unique(key, keep="last").sort(LINE_COL)


def validate_seekers(
    raw: pl.DataFrame,
    *,
    file: str,
    communes: pl.DataFrame,
    default_radius_km: float,
    max_radius_km: float,
) -> Checked:
    """Check and type seeker rows (schema in tremplin.nightly.schema); phone numbers come out in E.164."""
    frame = _ensure(raw, SEEKER_OPTIONAL)
    if "_unreadable" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("_unreadable"))
    readable = frame.filter(pl.col("_unreadable").is_null())
    known = communes.get_column(c.COMMUNE).implode()
    radius = _number(c.RADIUS_KM)
    phones = _phones(readable)
    readable = readable.with_columns(phones.alias("_e164"))
    checks: list[tuple[str, pl.Expr, str]] = [
        (c.SEEKER_ID, _empty(c.SEEKER_ID), "missing seeker id"),
        (c.COMMUNE, _empty(c.COMMUNE), "missing commune code"),
        (c.COMMUNE, ~_empty(c.COMMUNE) & ~_text(c.COMMUNE).is_in(known), "unknown INSEE commune code"),
        (c.MOBILE, ~_empty(c.MOBILE) & pl.col("_e164").is_null(), "not a valid mobile phone number"),
        (c.RADIUS_KM, ~_empty(c.RADIUS_KM) & radius.is_null(), "radius is not a number"),
        (
            c.RADIUS_KM,
            (radius <= 0) | (radius > max_radius_km),
            f"radius must be > 0 and <= {max_radius_km:g} km",
        ),
        (c.OCCUPATIONS, _list(c.OCCUPATIONS).list.len() == 0, "at least one desired occupation is required"),
        (
            c.CONTRACT_TYPES,
            _list(c.CONTRACT_TYPES).list.eval(~pl.element().str.to_uppercase().is_in(c.CONTRACT_CODES)).list.any(),
            f"unknown contract type (expected {', '.join(c.CONTRACT_CODES)})",
        ),
        (
            c.WORKING_TIME,
            ~_empty(c.WORKING_TIME) & ~_text(c.WORKING_TIME).str.to_lowercase().is_in(c.WORKING_TIMES),
            "working_time must be full_time, part_time or any",
        ),
        (c.DRIVING_LICENCE, _bad_bool(c.DRIVING_LICENCE), "driving_licence must be true or false"),
        (
            c.EXPERIENCE_MONTHS,
            ~_empty(c.EXPERIENCE_MONTHS) & ~(_number(c.EXPERIENCE_MONTHS, pl.Int64) >= 0).fill_null(False),
            "experience_months must be a whole number >= 0",
        ),
        (
            c.QUALIFICATION_CODE,
            ~_empty(c.QUALIFICATION_CODE) & ~_text(c.QUALIFICATION_CODE).is_in(QUALIFICATION_CODES).fill_null(False),
            "qualification_code must be a France Travail qualification code 1 to 9",
        ),
        (c.SMS_CONSENT, _bool(c.SMS_CONSENT).is_null(), "sms_consent must be true or false"),
        (
            c.PREFERRED_CHANNEL,
            ~_empty(c.PREFERRED_CHANNEL) & ~_text(c.PREFERRED_CHANNEL).str.to_lowercase().is_in(c.PREFERRED_CHANNELS),
            "preferred_channel must be sms, counsellor or none",
        ),
        (c.AGENCY_ID, _empty(c.AGENCY_ID), "missing agency id"),
        (c.UPDATED_AT, _timestamp(c.UPDATED_AT).is_null(), "updated_at is not an ISO 8601 timestamp"),
        (
            c.BIRTH_YEAR,
            ~_empty(c.BIRTH_YEAR) & _number(c.BIRTH_YEAR, pl.Int64).is_null(),
            "birth_year is not a year",
        ),
        (c.DISABILITY, _bad_bool(c.DISABILITY), "disability must be true or false"),
    ]
    quarantine = _quarantine(frame.filter(pl.col("_unreadable").is_not_null()), file, []).vstack(
        _quarantine(readable.drop("_unreadable"), file, checks)
    )
    bad_lines = quarantine.get_column(c.LINE).implode()
    good = readable.filter(~pl.col(LINE_COL).is_in(bad_lines)).select(
        pl.col(LINE_COL),
        _text(c.SEEKER_ID).alias(c.SEEKER_ID),
        pl.col("_e164").alias(c.MOBILE),
        _text(c.COMMUNE).alias(c.COMMUNE),
        radius.fill_null(default_radius_km).alias(c.RADIUS_KM),
        _list(c.OCCUPATIONS),
        _list(c.SKILLS),
        _list(c.CONTRACT_TYPES).list.eval(pl.element().str.to_uppercase()),
        _text(c.WORKING_TIME).str.to_lowercase().fill_null(c.ANY).replace("", c.ANY).alias(c.WORKING_TIME),
        _bool(c.DRIVING_LICENCE).fill_null(False).alias(c.DRIVING_LICENCE),
        _number(c.EXPERIENCE_MONTHS, pl.Int64).fill_null(0).cast(pl.Int32).alias(c.EXPERIENCE_MONTHS),
        _text(c.QUALIFICATION_CODE).replace("", None).alias(c.QUALIFICATION_CODE),
        _bool(c.SMS_CONSENT).alias(c.SMS_CONSENT),
        _text(c.PREFERRED_CHANNEL).str.to_lowercase().fill_null("none").replace("", "none").alias(c.PREFERRED_CHANNEL),
        _text(c.AGENCY_ID).alias(c.AGENCY_ID),
        _timestamp(c.UPDATED_AT).alias(c.UPDATED_AT),
        _text(c.GENDER).str.to_uppercase().replace("", None).alias(c.GENDER),
        _number(c.BIRTH_YEAR, pl.Int64).cast(pl.Int32).alias(c.BIRTH_YEAR),
        _bool(c.DISABILITY).alias(c.DISABILITY),
    )
    return Checked(_newest_per_id(good, c.SEEKER_ID).drop(LINE_COL), quarantine, raw.height)


def validate_vacancies(
    raw: pl.DataFrame,
    *,
    file: str,
    communes: pl.DataFrame,
    rome_codes: pl.Series,
) -> Checked:
    """Check and type vacancy rows; the workplace falls back to the commune centroid."""
    frame = _ensure(raw, VACANCY_OPTIONAL)
    if "_unreadable" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("_unreadable"))
    readable = frame.filter(pl.col("_unreadable").is_null()).drop("_unreadable")
    known = communes.get_column(c.COMMUNE).implode()
    lat, lon = _number(c.LATITUDE), _number(c.LONGITUDE)
    positions = _number(c.POSITIONS, pl.Int64)
    checks: list[tuple[str, pl.Expr, str]] = [
        (c.VACANCY_ID, _empty(c.VACANCY_ID), "missing vacancy id"),
        (c.TITLE, _empty(c.TITLE), "missing title"),
        (c.ROME_CODE, _empty(c.ROME_CODE), "missing ROME code"),
        (
            c.ROME_CODE,
            ~_empty(c.ROME_CODE) & ~_text(c.ROME_CODE).is_in(rome_codes.implode()),
            "unknown ROME code (not in ROME 4.0)",
        ),
        (c.COMMUNE, _empty(c.COMMUNE), "missing commune code"),
        (c.COMMUNE, ~_empty(c.COMMUNE) & ~_text(c.COMMUNE).is_in(known), "unknown INSEE commune code"),
        (
            c.LATITUDE,
            ~_empty(c.LATITUDE) & ~lat.is_between(-90, 90).fill_null(False),
            "latitude out of range",
        ),
        (
            c.LONGITUDE,
            ~_empty(c.LONGITUDE) & ~lon.is_between(-180, 180).fill_null(False),
            "longitude out of range",
        ),
        (
            c.CONTRACT_TYPE,
            ~_text(c.CONTRACT_TYPE).str.to_uppercase().is_in(c.CONTRACT_CODES).fill_null(False),
            f"unknown contract type (expected {', '.join(c.CONTRACT_CODES)})",
        ),
        (
            c.WORKING_TIME,
            ~_text(c.WORKING_TIME).str.to_lowercase().is_in([c.FULL_TIME, c.PART_TIME]).fill_null(False),
            "working_time must be full_time or part_time",
        ),
        (
            c.SKILL_CODES,
            _list(c.SKILL_CODES).list.eval(~pl.element().str.contains(r"^\d+$")).list.any(),
            "skill codes must be ROME item codes (digits)",
        ),
        (
            c.REQUIRED_SKILL_CODES,
            _list(c.REQUIRED_SKILL_CODES).list.eval(~pl.element().str.contains(r"^\d+$")).list.any(),
            "required skill codes must be ROME item codes (digits)",
        ),
        (c.LICENCE_REQUIRED, _bad_bool(c.LICENCE_REQUIRED), "licence_required must be true or false"),
        (
            c.EXPERIENCE_REQUIRED_MONTHS,
            ~_empty(c.EXPERIENCE_REQUIRED_MONTHS)
            & ~(_number(c.EXPERIENCE_REQUIRED_MONTHS, pl.Int64) >= 0).fill_null(False),
            "experience_required_months must be a whole number >= 0",
        ),
        (c.POSITIONS, ~_empty(c.POSITIONS) & ~(positions >= 1).fill_null(False), "positions must be >= 1"),
        (c.UPDATED_AT, _timestamp(c.UPDATED_AT).is_null(), "updated_at is not an ISO 8601 timestamp"),
        (c.CLOSES_ON, ~_empty(c.CLOSES_ON) & _date(c.CLOSES_ON).is_null(), "closes_on is not a date (YYYY-MM-DD)"),
    ]
    quarantine = _quarantine(frame.filter(pl.col("_unreadable").is_not_null()), file, []).vstack(
        _quarantine(readable, file, checks)
    )
    bad_lines = quarantine.get_column(c.LINE).implode()
    centroids = communes.select(c.COMMUNE, pl.col(c.LATITUDE).alias("_lat"), pl.col(c.LONGITUDE).alias("_lon"))
    good = (
        readable.filter(~pl.col(LINE_COL).is_in(bad_lines))
        .with_columns(_text(c.COMMUNE).alias(c.COMMUNE))
        .join(centroids, on=c.COMMUNE, how="left")
        .select(
            pl.col(LINE_COL),
            _text(c.VACANCY_ID).alias(c.VACANCY_ID),
            _text(c.TITLE).alias(c.TITLE),
            _text(c.ROME_CODE).alias(c.ROME_CODE),
            pl.col(c.COMMUNE),
            pl.coalesce(lat, pl.col("_lat")).alias(c.LATITUDE),
            pl.coalesce(lon, pl.col("_lon")).alias(c.LONGITUDE),
            _text(c.CONTRACT_TYPE).str.to_uppercase().alias(c.CONTRACT_TYPE),
            _text(c.WORKING_TIME).str.to_lowercase().alias(c.WORKING_TIME),
            _list(c.SKILL_CODES),
            _list(c.REQUIRED_SKILL_CODES),
            _bool(c.LICENCE_REQUIRED).fill_null(False).alias(c.LICENCE_REQUIRED),
            _number(c.EXPERIENCE_REQUIRED_MONTHS, pl.Int64)
            .fill_null(0)
            .cast(pl.Int32)
            .alias(c.EXPERIENCE_REQUIRED_MONTHS),
            _text(c.QUALIFICATION_CODE).alias(c.QUALIFICATION_CODE),
            positions.fill_null(1).cast(pl.Int32).alias(c.POSITIONS),
            _timestamp(c.UPDATED_AT).alias(c.UPDATED_AT),
            _date(c.CLOSES_ON).alias(c.CLOSES_ON),
        )
    )
    return Checked(_newest_per_id(good, c.VACANCY_ID).drop(LINE_COL), quarantine, raw.height)
