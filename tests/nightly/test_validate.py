"""Row checks on seekers and vacancies: optional fields are typed, bad values are named."""

from __future__ import annotations

from datetime import date

import polars as pl

from connectors.reference import Reference
from tremplin.nightly.validate import validate_seekers, validate_vacancies


def raw_rows(id_column: str, ids: list[str], fixed: dict[str, str], field: str, values: list[str]) -> pl.DataFrame:
    """Raw file rows (lines 2, 3, ...): one id each, the same valid ``fixed`` fields, and ``field`` under test."""
    n = len(ids)
    return pl.DataFrame(
        {"_line": list(range(2, 2 + n)), id_column: ids, **{k: [v] * n for k, v in fixed.items()}, field: values}
    )


def test_qualification_code_is_optional_and_checked(reference: Reference) -> None:
    fixed = {
        "commune": "07010",
        "occupations": "D1214",
        "sms_consent": "true",
        "agency_id": "FT-07-001",
        "updated_at": "2026-11-01",
    }
    raw = raw_rows("seeker_id", ["A", "B", "C"], fixed, "qualification_code", ["6", "", "12"])
    checked = validate_seekers(raw, file="s.csv", communes=reference.communes, default_radius_km=30, max_radius_km=200)
    assert checked.good.sort("seeker_id")["qualification_code"].to_list() == ["6", None]
    assert checked.quarantine.select("line", "field", "reason").rows() == [
        (4, "qualification_code", "qualification_code must be a France Travail qualification code 1 to 9")
    ]


def test_a_vacancy_closing_day_is_optional_and_checked(reference: Reference) -> None:
    fixed = {
        "title": "Boulanger",
        "rome_code": "D1102",
        "commune": "07010",
        "contract_type": "CDI",
        "working_time": "full_time",
        "updated_at": "2026-11-01T10:00:00Z",
    }
    raw = raw_rows("vacancy_id", ["V1", "V2", "V3"], fixed, "closes_on", ["2026-11-30", "", "30/11/2026"])
    checked = validate_vacancies(
        raw, file="v.csv", communes=reference.communes, rome_codes=reference.rome.sheets["rome_code"]
    )
    assert checked.good.sort("vacancy_id")["closes_on"].to_list() == [date(2026, 11, 30), None]
    assert checked.quarantine.select("line", "field", "reason").rows() == [
        (4, "closes_on", "closes_on is not a date (YYYY-MM-DD)")
    ]
