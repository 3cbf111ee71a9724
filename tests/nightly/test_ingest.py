"""Ingest: validation with file, line and field; upsert where the newest wins; re-runs change nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tremplin.dev.generate import generate
from tremplin.errors import InputFileError
from tremplin.nightly import common, ingest, publish
from tremplin.settings import Settings

NIGHT = date(2026, 11, 23)
HEADER = (
    "seeker_id,mobile,commune,radius_km,occupations,skills,contract_types,working_time,driving_licence,"
    "experience_months,sms_consent,preferred_channel,agency_id,updated_at,gender,birth_year,disability"
)
GOOD_1 = (
    "S1,06 39 98 12 34,07010,30,D1214|vendeuse en boulangerie,100341|300375,CDI|CDD,full_time,true,24,"
    "true,none,FT-07-01,2026-11-01T10:00:00Z,F,1990,false"
)
GOOD_2 = "S2,,75056,,M1607,,,any,,0,false,counsellor,FT-75-01,2026-11-02,M,1985,"
BAD_COMMUNE = "S3,0639981235,99999,30,D1214,,,any,false,0,true,none,FT-07-01,2026-11-01T10:00:00Z,,,"
BAD_PHONE_AND_DATE = "S4,06 12,07010,30,D1214,,,any,false,0,true,none,FT-07-01,yesterday,,,"


def write_inbox(settings: Settings, *seeker_lines: str, offers: bool = True) -> Path:
    day = settings.inbox / NIGHT.isoformat()
    day.mkdir(parents=True, exist_ok=True)
    (day / "seekers.csv").write_text("\n".join([HEADER, *seeker_lines]) + "\n", encoding="utf-8")
    if offers:
        shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    return day


def tables(settings: Settings) -> dict[str, pl.DataFrame]:
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        return {
            name: wh.table(name).sort(pl.all())
            for name in ("seekers", "seeker_protected", "vacancies", "quarantine", "ingest_stats")
        }


def test_bad_rows_are_quarantined_with_file_line_field(settings: Settings) -> None:
    write_inbox(settings, GOOD_1, GOOD_2, BAD_COMMUNE, BAD_PHONE_AND_DATE)
    result = ingest.ingest(settings, NIGHT)
    seekers_stats = next(f for f in result["files"] if f["kind"] == "seekers")
    fingerprint = hashlib.sha256((settings.inbox / NIGHT.isoformat() / "seekers.csv").read_bytes()).hexdigest()[:16]
    assert seekers_stats == {
        "file": "seekers.csv",
        "kind": "seekers",
        "rows_read": 4,
        "rows_loaded": 2,
        "rows_quarantined": 2,
        "sha256_16": fingerprint,
    }
    # the run's record names the input by fingerprint, with its counts
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        (manifest,) = wh.table("run_manifest")["inputs_json"].to_list()
    assert seekers_stats in json.loads(manifest)
    t = tables(settings)
    q = t["quarantine"].select("file", "line", "field").sort("line", "field").rows()
    # header is line 1: S3 is on line 4, S4 on line 5
    assert q == [
        ("seekers.csv", 4, "commune"),
        ("seekers.csv", 5, "mobile"),
        ("seekers.csv", 5, "updated_at"),
    ]
    seekers = t["seekers"].sort("seeker_id")
    assert seekers["seeker_id"].to_list() == ["S1", "S2"]
    assert seekers["mobile"].to_list() == ["+33639981234", None]
    assert seekers.row(0, named=True)["occupations"] == ["D1214", "vendeuse en boulangerie"]
    assert seekers.row(1, named=True)["radius_km"] == settings.default_radius_km
    # protected attributes are in their own table, not in the profiles
    assert "gender" not in seekers.columns
    assert t["seeker_protected"].sort("seeker_id")["gender"].to_list() == ["F", "M"]
    assert t["vacancies"].height == 150


def test_the_same_night_twice_leaves_the_warehouse_unchanged(settings: Settings) -> None:
    write_inbox(settings, GOOD_1, GOOD_2, BAD_COMMUNE)
    ingest.ingest(settings, NIGHT)
    first = tables(settings)
    ingest.ingest(settings, NIGHT)
    second = tables(settings)
    for name, frame in first.items():
        assert frame.equals(second[name]), name


def test_newest_updated_at_wins(settings: Settings) -> None:
    write_inbox(settings, GOOD_1, offers=False)
    ingest.ingest(settings, NIGHT)
    older = GOOD_1.replace("2026-11-01T10:00:00Z", "2026-10-01T10:00:00Z").replace(",30,", ",80,")
    newer = GOOD_1.replace("2026-11-01T10:00:00Z", "2026-11-05T10:00:00Z").replace(",30,", ",50,")
    write_inbox(settings, older, offers=False)
    ingest.ingest(settings, NIGHT)
    assert tables(settings)["seekers"]["radius_km"].to_list() == [30.0]
    write_inbox(settings, newer, offers=False)
    ingest.ingest(settings, NIGHT)
    assert tables(settings)["seekers"]["radius_km"].to_list() == [50.0]


def test_missing_required_column_names_file_and_column(settings: Settings) -> None:
    day = write_inbox(settings, offers=False)
    (day / "seekers.csv").write_text("seeker_id,mobile\nS1,0639981234\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"seekers\.csv, line 1: missing required column\(s\): commune"):
        ingest.ingest(settings, NIGHT)


def test_unreadable_file_stops_with_its_name(settings: Settings) -> None:
    day = write_inbox(settings, GOOD_1, offers=False)
    (day / "vacancies.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(InputFileError, match=r"vacancies\.parquet: unreadable parquet file"):
        ingest.ingest(settings, NIGHT)


def test_broken_json_line_is_quarantined_and_the_rest_loads(settings: Settings) -> None:
    day = write_inbox(settings, GOOD_1, offers=False)
    lines = REAL_OFFERS.read_text(encoding="utf-8").splitlines()[:3]
    lines.insert(1, '{"id": "broken", ')
    (day / "offres.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest.ingest(settings, NIGHT)
    t = tables(settings)
    assert t["vacancies"].height == 3
    q = t["quarantine"].filter(pl.col("file") == "offres.jsonl")
    assert q.select("line", "field").rows() == [(2, "*")]
    assert q["reason"].item().startswith("invalid JSON")


def test_vacancies_from_csv_and_parquet_agree(settings: Settings, tmp_path: Path) -> None:
    rows = {
        "vacancy_id": ["V1", "V2"],
        "title": ["Vendeur", "Boulanger"],
        "rome_code": ["D1214", "D1102"],
        "commune": ["07010", "07186"],
        "contract_type": ["CDI", "CDD"],
        "working_time": ["full_time", "part_time"],
        "skill_codes": ["100341|300375", ""],
        "required_skill_codes": ["100341", ""],
        "positions": ["2", ""],
        "updated_at": ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"],
    }
    day = write_inbox(settings, GOOD_1, offers=False)
    pl.DataFrame(rows).write_csv(day / "vacancies.csv")
    ingest.ingest(settings, NIGHT)
    from_csv = tables(settings)["vacancies"].drop("source_file")
    other = Settings.from_env({}, data_dir=settings.data_dir, home=tmp_path / "other")
    day2 = write_inbox(other, GOOD_1, offers=False)
    pl.DataFrame(rows).write_parquet(day2 / "vacancies.parquet")
    ingest.ingest(other, NIGHT)
    from_parquet = tables(other)["vacancies"].drop("source_file")
    assert from_csv.equals(from_parquet)
    v1 = from_csv.filter(pl.col("vacancy_id") == "V1").row(0, named=True)
    assert v1["positions"] == 2
    assert v1["required_skill_codes"] == ["100341"]


def ingest_generated(
    home: Path, data_dir: Path, reference: Reference, fmt: str, *, seekers: int, vacancies: int, seed: int, batch: int
) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """Generate a night's files (5 % bad rows) in ``fmt``, ingest them ``batch`` rows at a time: result, tables."""
    settings = Settings.from_env({}, data_dir=data_dir, home=home)
    out_dir = settings.inbox / NIGHT.isoformat()
    generate(reference, seekers=seekers, vacancies=vacancies, seed=seed, out_dir=out_dir, fmt=fmt, bad_row_rate=0.05)
    result = ingest.ingest(settings, NIGHT, batch=batch)
    return result, tables(settings)


def test_seekers_in_csv_jsonl_and_parquet_load_the_same(tmp_path: Path, data_dir: Path, reference: Reference) -> None:
    loaded = {}
    for fmt in ("csv", "jsonl", "parquet"):
        _, t = ingest_generated(
            tmp_path / fmt, data_dir, reference, fmt, seekers=500, vacancies=50, seed=9, batch=ingest.INGEST_BATCH
        )
        loaded[fmt] = (
            t["seekers"].drop("source_file"),
            # a CSV file's header is line 1, so its rows are one line further down than in JSONL or Parquet
            t["quarantine"].select(pl.col("line") - (1 if fmt == "csv" else 0), "field", "reason").sort(pl.all()),
        )
    assert loaded["csv"][0].height > 400
    assert loaded["csv"][1].height > 0
    for fmt in ("jsonl", "parquet"):
        assert loaded["csv"][0].equals(loaded[fmt][0]), fmt
        assert loaded["csv"][1].equals(loaded[fmt][1]), fmt


def test_a_closing_day_takes_the_vacancy_out_of_matching_and_into_the_outbox_closures(settings: Settings) -> None:
    from connectors.opstore import OpStore
    from connectors.optables import vacancy_closures

    day = write_inbox(settings, GOOD_1, offers=False)
    (day / "vacancies.csv").write_text(
        "vacancy_id,title,rome_code,commune,contract_type,working_time,updated_at,closes_on\n"
        "V-open,Boulanger,D1102,07010,CDI,full_time,2026-11-20T10:00:00Z,\n"
        "V-today,Boulanger,D1102,07010,CDI,full_time,2026-11-20T10:00:00Z,2026-11-23\n"
        "V-gone,Boulanger,D1102,07010,CDI,full_time,2026-11-20T10:00:00Z,2026-11-22\n",
        encoding="utf-8",
    )
    ingest.ingest(settings, NIGHT)
    with Warehouse.open(settings.warehouse) as wh:
        _seekers, vacancies = common.load_match_inputs(wh, settings, NIGHT)
    # open on its last day, gone the day after
    assert sorted(vacancies["vacancy_id"]) == ["V-open", "V-today"]
    assert publish.publish(settings, NIGHT)["vacancy_closures"] == 2
    closures = {r["vacancy_id"]: r["closed_on"] for r in OpStore(settings.opstore).table_rows(vacancy_closures)}
    assert closures == {"V-today": date(2026, 11, 24), "V-gone": date(2026, 11, 23)}


def test_batches_keep_the_newest_row_and_the_last_line_among_equals(settings: Settings) -> None:
    same_time_later_line = GOOD_1.replace(",30,", ",50,")
    older_last_line = GOOD_1.replace("2026-11-01T10:00:00Z", "2026-10-01T10:00:00Z").replace(",30,", ",80,")
    write_inbox(settings, GOOD_1, same_time_later_line, GOOD_2, older_last_line, BAD_COMMUNE, offers=False)
    # one row per batch: S1's three rows are in batches 0, 1 and 3. Of the two with the newest updated_at the
    # later line wins (radius 50), as when the file is read in one piece; the older one never does
    ingest.ingest(settings, NIGHT, batch=1)
    t = tables(settings)
    assert t["seekers"].sort("seeker_id").select("seeker_id", "radius_km").rows() == [("S1", 50.0), ("S2", 30.0)]
    assert t["quarantine"].select("line", "field").rows() == [(6, "commune")]  # header, then lines 2 to 6
    stats = t["ingest_stats"].row(0, named=True)
    assert (stats["rows_read"], stats["rows_loaded"], stats["rows_quarantined"]) == (5, 4, 1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_batches_load_what_one_pass_loads(tmp_path: Path, data_dir: Path, reference: Reference, fmt: str) -> None:
    batched, t_batched = ingest_generated(
        tmp_path / "37", data_dir, reference, fmt, seekers=400, vacancies=120, seed=5, batch=37
    )
    whole, t_whole = ingest_generated(
        tmp_path / "all", data_dir, reference, fmt, seekers=400, vacancies=120, seed=5, batch=ingest.INGEST_BATCH
    )
    assert batched == whole
    assert t_whole["quarantine"].height > 0 and t_whole["seekers"].height > 300
    for name, frame in t_whole.items():
        assert frame.equals(t_batched[name]), name
