"""Row checks on seekers: optional fields are typed, bad values are named."""

from __future__ import annotations

from datetime import date

import polars as pl

from connectors.reference import Reference
from tremplin.validate import validate_seekers, validate_vacancies


def test_qualification_code_is_optional_and_checked(reference: Reference) -> None:
    raw = pl.DataFrame(
        {
            "_line": [2, 3, 4],
            "seeker_id": ["A", "B", "C"],
            "commune": ["07010"] * 3,
            "occupations": ["D1214"] * 3,
            "sms_consent": ["true"] * 3,
            "agency_id": ["FT-07-001"] * 3,
            "updated_at": ["2026-11-01"] * 3,
            "qualification_code": ["6", "", "12"],
        }
    )
    checked = validate_seekers(raw, file="s.csv", communes=reference.communes, default_radius_km=30, max_radius_km=200)
    assert checked.good.sort("seeker_id")["qualification_code"].to_list() == ["6", None]
    assert checked.quarantine.select("line", "field").rows() == [(4, "qualification_code")]


def test_a_vacancy_closing_day_is_optional_and_checked(reference: Reference) -> None:
    raw = pl.DataFrame(
        {
            "_line": [2, 3, 4],
            "vacancy_id": ["V1", "V2", "V3"],
            "title": ["Boulanger"] * 3,
            "rome_code": ["D1102"] * 3,
            "commune": ["07010"] * 3,
            "contract_type": ["CDI"] * 3,
            "working_time": ["full_time"] * 3,
            "updated_at": ["2026-11-01T10:00:00Z"] * 3,
            "closes_on": ["2026-11-30", "", "30/11/2026"],
        }
    )
    checked = validate_vacancies(
        raw, file="v.csv", communes=reference.communes, rome_codes=reference.rome.sheets["rome_code"]
    )
    assert checked.good.sort("vacancy_id")["closes_on"].to_list() == [date(2026, 11, 30), None]
    assert checked.quarantine.select("line", "field", "reason").rows() == [
        (4, "closes_on", "closes_on is not a date (YYYY-MM-DD)")
    ]
