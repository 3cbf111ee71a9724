"""The input schema, stated once: every column of the seekers and vacancies files.

Pure data. Validation takes its required and optional columns from here; tests check the tables of
``docs/inputs.md`` (row for row), the warehouse's ``sql/create_*.sql`` tables and the validator's output
types against it. A new input column starts here.

>>> required(SEEKERS)[:3]
('seeker_id', 'commune', 'occupations')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from matching import columns as c

Kind = Literal["text", "number", "integer", "bool", "list", "timestamp", "date"]

# the warehouse tables that hold input columns
SEEKERS_TABLE, PROTECTED_TABLE, VACANCIES_TABLE = "seekers", "seeker_protected", "vacancies"
TABLES = (SEEKERS_TABLE, PROTECTED_TABLE, VACANCIES_TABLE)
# warehouse columns that no input gives: the ingest derives them (source_file: the name of the input file)
DERIVED: dict[str, dict[str, Kind]] = {
    SEEKERS_TABLE: {"source_file": "text"},
    VACANCIES_TABLE: {"source_file": "text"},
}
# the type of a column in the validated frame (lists are lists of text; times are UTC)
POLARS_TYPES: dict[Kind, pl.DataType] = {
    "text": pl.String(),
    "number": pl.Float64(),
    "integer": pl.Int32(),
    "bool": pl.Boolean(),
    "list": pl.List(pl.String()),
    "timestamp": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
}


@dataclass(frozen=True)
class InputColumn:
    """One column of an input file."""

    name: str
    type: Kind  # in a CSV a list is written as values separated by |
    required: bool
    rule: str  # meaning and limits, as the table of docs/inputs.md states them
    tables: tuple[str, ...]  # the warehouse tables that store it
    default: str | None = None  # what an empty optional value becomes; None: it stays empty (null)


SEEKERS: tuple[InputColumn, ...] = (
    InputColumn(
        c.SEEKER_ID,
        "text",
        True,
        "unique key; the newest `updated_at` wins",
        (SEEKERS_TABLE, PROTECTED_TABLE),
    ),
    InputColumn(
        c.MOBILE,
        "text",
        False,
        "French mobile number in any usual form (`06 39 98 12 34`, `+33639981234`); stored in E.164; overseas "
        "départements use their own region (GP, MQ, GF, RE, YT) from the commune",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.COMMUNE,
        "text",
        True,
        "INSEE commune code (5 characters), must exist in the communes reference",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.RADIUS_KM,
        "number",
        False,
        "mobility radius, 0 < r ≤ 200; empty means the `default_radius_km` setting (30)",
        (SEEKERS_TABLE,),
        default="the default_radius_km setting",
    ),
    InputColumn(
        c.OCCUPATIONS,
        "list",
        True,
        "desired occupations: ROME codes (`D1214`) or free-text job titles (`vendeuse en boulangerie`)",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.SKILLS,
        "list",
        False,
        "ROME item codes (`100341`) or free-text skills",
        (SEEKERS_TABLE,),
        default="an empty list",
    ),
    InputColumn(
        c.CONTRACT_TYPES,
        "list",
        False,
        "France Travail contract codes accepted (`CDI`, `CDD`, `MIS`, `SAI`, ...); empty means any",
        (SEEKERS_TABLE,),
        default="an empty list",
    ),
    InputColumn(
        c.WORKING_TIME,
        "text",
        False,
        "`full_time`, `part_time` or `any` (default `any`)",
        (SEEKERS_TABLE,),
        default=c.ANY,
    ),
    InputColumn(
        c.DRIVING_LICENCE,
        "bool",
        False,
        "`true`/`false` (also `1`/`0`, `oui`/`non`)",
        (SEEKERS_TABLE,),
        default="false",
    ),
    InputColumn(c.EXPERIENCE_MONTHS, "integer", False, "≥ 0", (SEEKERS_TABLE,), default="0"),
    InputColumn(
        c.QUALIFICATION_CODE,
        "text",
        False,
        "France Travail qualification code 1 to 9 (as in offers' `qualificationCode`); a vacancy more than one "
        "step above it is vetoed; empty means unknown, never vetoed",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.SMS_CONSENT,
        "bool",
        True,
        "whether the seeker agreed to receive offers by SMS",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.PREFERRED_CHANNEL,
        "text",
        False,
        "`sms`, `counsellor` or `none` (default `none`)",
        (SEEKERS_TABLE,),
        default="none",
    ),
    InputColumn(
        c.AGENCY_ID,
        "text",
        True,
        "the France Travail agency that follows the seeker",
        (SEEKERS_TABLE,),
    ),
    InputColumn(
        c.UPDATED_AT,
        "timestamp",
        True,
        "ISO 8601; naive times are read as UTC",
        (SEEKERS_TABLE, PROTECTED_TABLE),
    ),
    InputColumn(
        c.GENDER,
        "text",
        False,
        "protected: `F`, `M`, `X` (not checked: a value is kept upper-cased, so that a protected attribute "
        "never quarantines a row); audit only",
        (PROTECTED_TABLE,),
    ),
    InputColumn(c.BIRTH_YEAR, "integer", False, "protected: audit only", (PROTECTED_TABLE,)),
    InputColumn(c.DISABILITY, "bool", False, "protected (RQTH): audit only", (PROTECTED_TABLE,)),
)

VACANCIES: tuple[InputColumn, ...] = (
    InputColumn(
        c.VACANCY_ID,
        "text",
        True,
        "unique key; the newest `updated_at` wins",
        (VACANCIES_TABLE,),
    ),
    InputColumn(c.TITLE, "text", True, "job title as published", (VACANCIES_TABLE,)),
    InputColumn(c.ROME_CODE, "text", True, "ROME sheet code, must exist in ROME 4.0", (VACANCIES_TABLE,)),
    InputColumn(
        c.COMMUNE,
        "text",
        True,
        "INSEE commune code of the workplace, must exist in the communes reference",
        (VACANCIES_TABLE,),
    ),
    InputColumn(
        c.LATITUDE,
        "number",
        False,
        "workplace, -90 to 90; defaults to the commune centroid",
        (VACANCIES_TABLE,),
        default="the commune centroid's",
    ),
    InputColumn(
        c.LONGITUDE,
        "number",
        False,
        "workplace, -180 to 180; defaults to the commune centroid",
        (VACANCIES_TABLE,),
        default="the commune centroid's",
    ),
    InputColumn(
        c.CONTRACT_TYPE,
        "text",
        True,
        "France Travail contract code (`CDI`, `CDD`, `MIS`, ...)",
        (VACANCIES_TABLE,),
    ),
    InputColumn(c.WORKING_TIME, "text", True, "`full_time` or `part_time`", (VACANCIES_TABLE,)),
    InputColumn(
        c.SKILL_CODES,
        "list",
        False,
        "ROME item codes wanted; empty means the sheet's core items",
        (VACANCIES_TABLE,),
        default="an empty list",
    ),
    InputColumn(
        c.REQUIRED_SKILL_CODES,
        "list",
        False,
        "the subset that is required (`exigence` E)",
        (VACANCIES_TABLE,),
        default="an empty list",
    ),
    InputColumn(
        c.LICENCE_REQUIRED,
        "bool",
        False,
        "a driving licence is required",
        (VACANCIES_TABLE,),
        default="false",
    ),
    InputColumn(c.EXPERIENCE_REQUIRED_MONTHS, "integer", False, "≥ 0", (VACANCIES_TABLE,), default="0"),
    InputColumn(
        c.QUALIFICATION_CODE,
        "text",
        False,
        "France Travail qualification code 1 to 9; empty or another value means unknown, never vetoed",
        (VACANCIES_TABLE,),
    ),
    InputColumn(
        c.POSITIONS,
        "integer",
        False,
        "number of positions, ≥ 1 (default 1)",
        (VACANCIES_TABLE,),
        default="1",
    ),
    InputColumn(c.UPDATED_AT, "timestamp", True, "ISO 8601; naive times are read as UTC", (VACANCIES_TABLE,)),
    InputColumn(
        c.CLOSES_ON,
        "date",
        False,
        "YYYY-MM-DD, the vacancy's last open day: from the next day it is no longer matched, and its SMS offers "
        "still waiting are dropped",
        (VACANCIES_TABLE,),
    ),
)


def names(columns: tuple[InputColumn, ...]) -> tuple[str, ...]:
    """The column names, in the schema's order."""
    return tuple(column.name for column in columns)


def required(columns: tuple[InputColumn, ...]) -> tuple[str, ...]:
    """The columns a file must have (a file without one is unreadable)."""
    return tuple(column.name for column in columns if column.required)


def optional(columns: tuple[InputColumn, ...]) -> tuple[str, ...]:
    """The columns a file may leave out."""
    return tuple(column.name for column in columns if not column.required)


def polars_schema(columns: tuple[InputColumn, ...]) -> pl.Schema:
    """The validated frame's columns and types."""
    return pl.Schema({column.name: POLARS_TYPES[column.type] for column in columns})
