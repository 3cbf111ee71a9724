"""Publish writes what the counsellor pages read: seekers with the profile the matching used (labelled, no
protected attribute), vacancies, agencies and the night's weights; publishing again changes nothing."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import agencies, counsellor_queue, published_runs, seekers, sms_outbox, vacancies
from connectors.warehouse import Warehouse
from matching import columns as c
from tests.nightly import test_night
from tremplin.nightly import publish
from tremplin.settings import Settings

MONDAY = test_night.MONDAY
night = test_night.night  # the fixture: a generated night on the real reference data, run once for this module
COPIES = (seekers, vacancies, agencies, published_runs)
PROFILE_KEYS = {
    "occupations",
    "skills",
    "radius_km",
    "contract_types",
    "working_time",
    "driving_licence",
    "experience_months",
    "qualification_code",
    "sms_consent",
    "preferred_channel",
    "density_level",
    "channel",
    "route_reason",
    "updated_at",
}


def offered(store: OpStore) -> list[dict[str, Any]]:
    """Tonight's offers, by either channel."""
    return [r for table in (sms_outbox, counsellor_queue) for r in store.table_rows(table) if r["run_date"] == MONDAY]


def rows(store: OpStore, table: sa.Table, key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in store.table_rows(table)}


def keys(value: Any) -> Iterator[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys(inner)


def rome_labels(data_dir: Path, name: str, code: str, label: str) -> dict[str, str]:
    """code -> label straight from a ROME CSV file (not through connectors.reference)."""
    with (data_dir / "rome" / name).open(encoding="utf-8", newline="") as handle:
        return {row[code]: row[label] for row in csv.DictReader(handle)}


def test_every_offered_seeker_and_vacancy_has_its_copy(night: Settings) -> None:
    store = OpStore(night.opstore)
    offers = offered(store)
    published_seekers, published_vacancies = rows(store, seekers, "seeker_id"), rows(store, vacancies, "vacancy_id")
    assert {o["channel"] for o in [r["profile"] for r in published_seekers.values()]} == {"sms", "counsellor"}
    assert set(published_seekers) == {o["seeker_id"] for o in offers}
    assert set(published_vacancies) == {o["vacancy_id"] for o in offers}
    names = rows(store, agencies, "agency_id")
    assert set(names) == {o["agency_id"] for o in offers}
    assert all(row["name"] == f"Agence {agency}" for agency, row in names.items())
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        warehouse_seekers = wh.table("seekers")
        warehouse_vacancies = wh.table("vacancies")
    for o in offers:
        seeker, vacancy = published_seekers[o["seeker_id"]], published_vacancies[o["vacancy_id"]]
        assert seeker["agency_id"] == o["agency_id"] and seeker["run_date"] == MONDAY
        assert vacancy["title"] == o["explanation"]["title"] and vacancy["rome_code"] == o["explanation"]["rome_code"]
    # copied as they are in the warehouse
    source = warehouse_seekers.filter(pl.col(c.SEEKER_ID).is_in(list(published_seekers)))
    assert {r[c.SEEKER_ID]: (r[c.MOBILE], r[c.COMMUNE]) for r in source.iter_rows(named=True)} == {
        seeker_id: (r["phone"], r["commune"]) for seeker_id, r in published_seekers.items()
    }
    source = warehouse_vacancies.filter(pl.col(c.VACANCY_ID).is_in(list(published_vacancies)))
    assert {
        r[c.VACANCY_ID]: (r[c.POSITIONS], r["source_file"], r[c.CONTRACT_TYPE]) for r in source.iter_rows(named=True)
    } == {v: (r["positions"], r["source"], r["contract_type"]) for v, r in published_vacancies.items()}
    assert {r["source"] for r in published_vacancies.values()} <= {"vacancies.csv", "offres.jsonl"}
    # the weights of the night
    (run,) = store.table_rows(published_runs)
    assert run["run_date"] == MONDAY
    assert run["weights"] == {
        "weight_skill": night.weight_skill,
        "weight_occupation": night.weight_occupation,
        "weight_distance": night.weight_distance,
        "min_score": night.min_score,
        "top_k": night.top_k,
        "ranking": "default_weights",
        "reranker": None,
    }


def test_profiles_are_labelled_and_carry_no_protected_attribute(night: Settings, data_dir: Path) -> None:
    published = rows(OpStore(night.opstore), seekers, "seeker_id")
    # one seeker, checked by hand against the ROME 4.0 files and the communes file
    seeker = published["JS00000056"]
    assert (seeker["commune"], seeker["commune_name"]) == ("91665", "La Ville-du-Bois")
    profile = seeker["profile"]
    h3301 = {"code": "H3301", "label": "Conducteur / Conductrice de ligne de conditionnement"}
    assert profile["occupations"] == [h3301]
    assert {"code": "106402", "label": "Techniques d'ensachage"} in profile["skills"]
    assert {"code": "100016", "label": "Gestes et postures de manutention"} in profile["skills"]
    assert (profile["channel"], profile["route_reason"], profile["density_level"]) == ("sms", "sms_default", 1)
    # every seeker: the same keys, labels as in the ROME files, and no protected attribute at any depth
    sheets = rome_labels(data_dir, "unix_referentiel_code_rome_v460_utf8.csv", "code_rome", "libelle_rome")
    items = rome_labels(data_dir, "unix_item_v460_utf8.csv", "code_ogr", "libelle")
    with Warehouse.open(night.warehouse, read_only=True) as wh:
        protected = wh.table("seeker_protected").filter(pl.col(c.SEEKER_ID).is_in(list(published)))
    assert protected.height == len(published)  # they have protected attributes, in the warehouse only
    for row in published.values():
        profile = row["profile"]
        assert set(profile) == PROFILE_KEYS
        assert not set(keys(profile)) & {c.GENDER, c.BIRTH_YEAR, c.DISABILITY, "age"}
        assert profile["occupations"] and all(o["label"] == sheets[o["code"]] for o in profile["occupations"])
        assert profile["skills"] and all(s["label"] == items[s["code"]] for s in profile["skills"])
        json.dumps(profile)  # plain JSON


def snapshot(store: OpStore) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: sorted(store.table_rows(table), key=lambda r: json.dumps(r, sort_keys=True, default=str))
        for table in (*COPIES, sms_outbox, counsellor_queue)
    }


def test_publishing_again_changes_nothing_and_keeps_agency_names(night: Settings) -> None:
    store = OpStore(night.opstore)
    with store.begin() as conn:
        renamed = conn.execute(sa.select(agencies.c.agency_id).limit(1)).scalar_one()
        conn.execute(sa.update(agencies).where(agencies.c.agency_id == renamed).values(name="Agence de Privas"))
    before = snapshot(store)
    again = publish.publish(night, MONDAY)
    assert (again["sms_added"], again["queue_added"], again["agencies_added"]) == (0, 0, 0)
    assert again["seekers_published"] == len(before["seekers"]) > 0
    assert snapshot(store) == before
    assert rows(store, agencies, "agency_id")[renamed]["name"] == "Agence de Privas"


def test_publishing_in_parts_writes_what_one_part_writes(night: Settings, tmp_path: Path) -> None:
    """The night's publish went in one part; publishing the same night in parts of 37 offers into an empty
    store gives the same rows, reply references included (offers to one number share a part)."""
    whole = OpStore(night.opstore)
    routed = len(offered(whole))
    assert routed > 3 * 37, "too few offers to need several parts: the test would show nothing"
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(night.warehouse, warehouse)
    with duckdb.connect(warehouse) as con:  # the copy's night was never published
        con.execute("delete from run_steps where step = 'publish'")
    in_parts = replace(night, warehouse_path=warehouse, opstore_url=f"sqlite:///{tmp_path / 'parts.sqlite'}")
    out = publish.publish(in_parts, MONDAY, batch=37)
    assert 37 * (out["parts"] - 1) < routed <= 37 * out["parts"]  # as few parts of 37 as hold them all
    assert out["sms_added"] + out["queue_added"] == routed
    assert comparable(snapshot(OpStore(in_parts.opstore))) == comparable(snapshot(whole))


def comparable(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The rows without the times of writing and the agency names (another test renames one); times in UTC
    (SQLite gives them naive, PostgreSQL aware)."""
    drop = {"created_at", "published_at", "name"}

    def utc(value: Any) -> Any:
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value

    kept = {
        name: [{k: utc(v) for k, v in row.items() if k not in drop} for row in rows] for name, rows in tables.items()
    }
    return {name: sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str)) for name, rows in kept.items()}


def test_run_weights_name_the_reranker_the_route_step_recorded(settings: Settings) -> None:
    model = {
        "ranking": "reranker",
        "weights": {"skill_score": 0.55, "occupation_score": 0.25, "distance_score": 0.2},
        "feedback_examples": 900,
        "reranker": {
            "version": "lr-abc123",
            "features": ["skill_score", "occupation_score", "distance_score"],
            "coefficients": [0.5, 0.2, 4.0],
            "intercept": -2.0,
            "metrics": {"auc_default": 0.6, "auc_reranker": 0.7},
            "used": True,
        },
    }
    manifest = pl.DataFrame({"run_date": [MONDAY], "model_json": [json.dumps(model)]})
    weights = publish._run_weights(settings, manifest)
    assert weights["ranking"] == "reranker"
    assert weights["reranker"] == {
        "version": "lr-abc123",
        "used": True,
        "coefficients": {"skill_score": 0.5, "occupation_score": 0.2, "distance_score": 4.0},
        "intercept": -2.0,
    }
    # a night without a manifest record (publish run on its own): the settings' weights, no re-ranker
    empty = publish._run_weights(settings, pl.DataFrame(schema={"run_date": pl.Date, "model_json": pl.String}))
    assert (empty["ranking"], empty["reranker"], empty["weight_skill"]) == ("default_weights", None, 0.55)


def test_a_rerun_of_an_older_night_keeps_the_newer_copies(opstore_url):
    from datetime import date

    store = OpStore(opstore_url)

    def copy(night: date, title: str) -> dict:
        return {
            "vacancy_id": "V1",
            "title": title,
            "commune": "07019",
            "commune_name": "Aubenas",
            "positions": 1,
            "run_date": night,
        }

    store.upsert(vacancies, [copy(date(2026, 11, 24), "Boulanger (24 nov.)")], newer="run_date")
    store.upsert(vacancies, [copy(date(2026, 11, 23), "Boulanger (23 nov.)")], newer="run_date")
    assert [r["title"] for r in store.table_rows(vacancies)] == ["Boulanger (24 nov.)"]
    store.upsert(vacancies, [copy(date(2026, 11, 25), "Boulanger (25 nov.)")], newer="run_date")
    assert [r["title"] for r in store.table_rows(vacancies)] == ["Boulanger (25 nov.)"]


def test_seekers_sharing_a_phone_get_different_offer_references(night: Settings) -> None:
    """10,000 fiction numbers for 3,000 seekers: some share one (a family's phone); "OUI 1" must still
    name one offer only."""
    texted = [r for r in OpStore(night.opstore).table_rows(sms_outbox)]
    by_number: dict[str, list[int]] = {}
    for row in texted:
        by_number.setdefault(row["to_number"], []).append(row["reply_ref"])
    shared = {number: refs for number, refs in by_number.items() if len(refs) > 1}
    assert shared, "the sample has no shared number: the test would show nothing"
    assert all(sorted(refs) == list(range(1, len(refs) + 1)) for refs in shared.values()), shared
