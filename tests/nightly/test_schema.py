"""The input schema is stated once (tremplin.nightly.schema): docs/inputs.md, the warehouse tables, the
validator's output and the readers that feed it are checked against it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from connectors.files import france_travail_offer
from connectors.reference import Reference
from tremplin.dev import generate
from tremplin.nightly import schema
from tremplin.nightly.validate import validate_seekers, validate_vacancies
from tremplin.settings import PROJECT_ROOT, Settings

DOCS = PROJECT_ROOT / "docs" / "inputs.md"
SQL = PROJECT_ROOT / "sql"
KINDS = {"Seekers": schema.SEEKERS, "Vacancies": schema.VACANCIES}
# how the warehouse spells each input type (DuckDB's describe)
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "number": "DOUBLE",
    "integer": "INTEGER",
    "bool": "BOOLEAN",
    "list": "VARCHAR[]",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
}


def docs_table(section: str) -> list[str]:
    """The rows of the first table under ``## <section>`` in docs/inputs.md (header and rule line left out)."""
    text = DOCS.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert rows, f"no table under '## {section}' in {DOCS}"
    return rows


def doc_row(column: schema.InputColumn) -> str:
    return f"| `{column.name}` | {column.type} | {'yes' if column.required else 'no'} | {column.rule} |"


@pytest.mark.parametrize("section", list(KINDS))
def test_docs_tables_are_the_schema(section: str) -> None:
    """Every column in docs/inputs.md is in the schema with the same type, requirement and rule, and back."""
    assert docs_table(section) == [doc_row(column) for column in KINDS[section]]


def table_columns(create_file: Path) -> dict[str, tuple[str, bool]]:
    """Column name -> (DuckDB type, nullable) of the table a create_*.sql file makes."""
    con = duckdb.connect()
    con.execute(create_file.read_text(encoding="utf-8"))
    table = create_file.stem.removeprefix("create_")
    described = con.execute(f"describe {table}").fetchall()
    return {name: (kind, null == "YES") for name, kind, null, *_ in described}


@pytest.mark.parametrize("table", schema.TABLES)
def test_the_warehouse_tables_hold_the_schema(table: str) -> None:
    """Each create_*.sql holds exactly the input columns stored there (same type, null only when an empty value
    stays empty) plus the columns the ingest derives, which the schema names."""
    stored = [column for column in schema.SEEKERS + schema.VACANCIES if table in column.tables]
    expected = {
        column.name: (DUCKDB_TYPES[column.type], not column.required and column.default is None) for column in stored
    }
    expected.update({name: (DUCKDB_TYPES[kind], False) for name, kind in schema.DERIVED.get(table, {}).items()})
    assert table_columns(SQL / f"create_{table}.sql") == expected


def test_every_input_column_is_stored_somewhere() -> None:
    """No input column is read and dropped: each lands in at least one warehouse table the schema names."""
    for column in schema.SEEKERS + schema.VACANCIES:
        assert column.tables, column.name
        assert set(column.tables) <= set(schema.TABLES), column.name


def test_validated_rows_have_the_schema_types(reference: Reference) -> None:
    """Rows with the required columns only validate (validation fills the schema's optional columns), and the
    good rows are the schema's columns, in its order, typed as it says."""
    seeker = {
        "seeker_id": "S1",
        "commune": "07010",
        "occupations": "D1214",
        "sms_consent": "oui",
        "agency_id": "FT-07-001",
        "updated_at": "2026-11-01",
    }
    vacancy = {
        "vacancy_id": "V1",
        "title": "Boulanger",
        "rome_code": "D1102",
        "commune": "07010",
        "contract_type": "CDI",
        "working_time": "full_time",
        "updated_at": "2026-11-01T10:00:00Z",
    }
    seekers = validate_seekers(
        pl.DataFrame({"_line": [2], **{k: [v] for k, v in seeker.items()}}),
        file="s.csv",
        communes=reference.communes,
        default_radius_km=30,
        max_radius_km=200,
    )
    vacancies = validate_vacancies(
        pl.DataFrame({"_line": [2], **{k: [v] for k, v in vacancy.items()}}),
        file="v.csv",
        communes=reference.communes,
        rome_codes=reference.rome.sheets["rome_code"],
    )
    assert seekers.quarantine.is_empty() and vacancies.quarantine.is_empty()
    assert seekers.good.schema == schema.polars_schema(schema.SEEKERS)
    assert vacancies.good.schema == schema.polars_schema(schema.VACANCIES)


def test_readers_and_generator_write_only_schema_columns() -> None:
    """The France Travail flattening and the generator name no column the schema does not know."""
    assert set(france_travail_offer({"intitule": "x"})) <= set(schema.names(schema.VACANCIES))
    assert set(generate.SEEKER_COLUMNS) <= set(schema.names(schema.SEEKERS))
    assert set(generate.VACANCY_COLUMNS) <= set(schema.names(schema.VACANCIES))


def test_the_radius_rule_names_the_settings_defaults() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    radius = next(column for column in schema.SEEKERS if column.name == "radius_km")
    assert f"≤ {defaults['max_radius_km']:g}" in radius.rule
    assert f"({defaults['default_radius_km']:g})" in radius.rule


def test_schema_names_are_unique_per_kind() -> None:
    for columns in (schema.SEEKERS, schema.VACANCIES):
        names = schema.names(columns)
        assert len(names) == len(set(names))
        assert all(re.fullmatch(r"[a-z_]+", name) for name in names)
