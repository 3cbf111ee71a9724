"""Row checks on seekers: optional fields are typed, bad values are named."""

from __future__ import annotations

import polars as pl

from connectors.reference import Reference
from tremplin.validate import validate_seekers


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
