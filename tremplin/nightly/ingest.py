"""Ingest: validate and load the night's input files; bad rows go to quarantine with their reason."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from connectors import files
from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from tremplin import clock, code_version
from tremplin.errors import InputFileError
from tremplin.nightly.common import reference
from tremplin.nightly.validate import (
    SEEKER_REQUIRED,
    VACANCY_REQUIRED,
    missing_columns,
    validate_seekers,
    validate_vacancies,
)
from tremplin.settings import Settings

INGEST_BATCH = 500_000  # rows of one input file validated at a time: memory follows this, not the file


def ingest(settings: Settings, run_date: date, *, batch: int = INGEST_BATCH) -> dict[str, Any]:
    """Validate and load the night's files; bad rows go to quarantine, good rows are upserted."""
    ref = reference(settings)
    day_dir = settings.inbox / run_date.isoformat()
    inputs = files.discover(day_dir)
    if not inputs:
        raise InputFileError(day_dir, "no seekers*, vacancies* or offres* file (.csv, .jsonl, .json, .parquet)")
    per_file: list[dict[str, Any]] = []
    with Warehouse.of(settings) as wh, wh.transaction():
        _open_manifest(wh, settings, run_date, ref, inputs)
        wh.execute("delete_quarantine", {"run_date": run_date})
        wh.execute("delete_ingest_stats", {"run_date": run_date})
        for item in inputs:
            per_file.append(_ingest_file(wh, settings, ref, item, run_date, batch=batch))
        # the record names each input by fingerprint and says how many rows it gave, even if a later step fails
        wh.execute("update_run_manifest_inputs", {"run_date": run_date, "inputs_json": json.dumps(per_file)})
    return {"files": per_file}


def _ingest_file(
    wh: Warehouse,
    settings: Settings,
    ref: Reference,
    item: files.InputFile,
    run_date: date,
    *,
    batch: int = INGEST_BATCH,
) -> dict[str, Any]:
    """Validate one file ``batch`` rows at a time and load it: every batch's good rows go to a staging table
    of the file, its bad rows to quarantine; then the newest row per id of the whole file is upserted."""
    name = item.path.name
    seekers = item.kind == files.SEEKERS
    kind = "seekers" if seekers else "vacancies"
    read, bad_rows, staged = 0, 0, 0
    for number, raw in enumerate(files.read_raw_batches(item, rows=batch)):
        if number == 0:
            absent = missing_columns(raw, SEEKER_REQUIRED if seekers else VACANCY_REQUIRED)
            if absent and raw.height:
                raise InputFileError(item.path, f"missing required column(s): {', '.join(absent)}", line=1)
        if seekers:
            checked = validate_seekers(
                raw,
                file=name,
                communes=ref.communes,
                default_radius_km=settings.default_radius_km,
                max_radius_km=settings.max_radius_km,
            )
        else:
            checked = validate_vacancies(
                raw, file=name, communes=ref.communes, rome_codes=ref.rome.sheets.get_column(c.ROME_CODE)
            )
        if checked.good.height:
            if seekers:
                step = "append_file_seekers" if staged else "stage_file_seekers"
            else:
                step = "append_file_vacancies" if staged else "stage_file_vacancies"
            numbered = checked.good.with_columns(pl.lit(number, dtype=pl.Int32).alias("batch"))
            wh.execute(step, None, {f"batch_{kind}": numbered})
            staged += 1
        if checked.quarantine.height:
            wh.execute("insert_quarantine", {"run_date": run_date}, {"staged_quarantine": checked.quarantine})
        read += checked.read
        bad_rows += checked.quarantine.get_column(c.LINE).n_unique()
    if staged and seekers:
        wh.execute("upsert_seekers", {"source_file": name})
        wh.execute("upsert_seeker_protected")
    elif staged:
        wh.execute("upsert_vacancies", {"source_file": name})
    stats = {
        "file": name,
        "kind": item.kind,
        "rows_read": read,
        "rows_loaded": read - bad_rows,
        "rows_quarantined": bad_rows,
    }
    fingerprint = _fingerprint(item.path)
    wh.execute("upsert_ingest_stats", {"run_date": run_date, **stats, "fingerprint": fingerprint})
    return {**stats, "sha256_16": fingerprint}


def _open_manifest(
    wh: Warehouse, settings: Settings, run_date: date, ref: Reference, inputs: list[files.InputFile]
) -> None:
    wh.execute(
        "upsert_run_manifest",
        {
            "run_date": run_date,
            "run_id": f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}",
            "started_at": clock.now(),
            "code_version": code_version(),
            "settings_hash": settings.fingerprint(),
            "settings_json": json.dumps(settings.public_dict(), sort_keys=True, default=str),
            "taxonomy_version": ref.rome.version,
            "inputs_json": json.dumps(
                [{"file": i.path.name, "kind": i.kind, "sha256_16": _fingerprint(i.path)} for i in inputs]
            ),
        },
    )


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
