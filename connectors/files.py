"""Reads input files into all-text frames, keeping each row's line number for quarantine messages.

Formats: CSV (header on line 1), JSON Lines, Parquet (the "line" is the row number, from 1), and the
France Travail "Offres d'emploi v2" JSON shape (one offer per line, or a JSON array / ``resultats``
object) flattened to the vacancy columns of ``docs/inputs.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from matching import columns as c
from tremplin.errors import InputFileError

LINE_COL = "_line"
SEEKERS = "seekers"
VACANCIES = "vacancies"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}
LIST_SEPARATOR = "|"


@dataclass(frozen=True)
class InputFile:
    """One file of the night's inputs."""

    kind: str  # seekers | vacancies
    path: Path
    fmt: str


def discover(day_dir: Path) -> list[InputFile]:
    """The input files of one night, sorted by name: ``seekers*`` and ``vacancies*`` / ``offres*``."""
    if not day_dir.is_dir():
        raise InputFileError(day_dir, "input directory for this date not found")
    found = []
    for path in sorted(day_dir.iterdir()):
        fmt = FORMATS.get(path.suffix.lower())
        name = path.name.lower()
        if fmt is None or not path.is_file():
            continue
        if name.startswith("seekers"):
            found.append(InputFile(SEEKERS, path, fmt))
        elif name.startswith(("vacancies", "offres", "offers")):
            found.append(InputFile(VACANCIES, path, fmt))
    return found


def read_raw(item: InputFile) -> pl.DataFrame:
    """Read one file as text columns plus ``_line``; lists stay ``|``-joined text.

    Raises InputFileError when the file as a whole cannot be read.
    """
    try:
        if item.fmt == "csv":
            frame = pl.read_csv(item.path, infer_schema=False, encoding="utf8", raise_if_empty=False)
            frame = frame.with_row_index(LINE_COL, offset=2)
        elif item.fmt == "parquet":
            frame = pl.read_parquet(item.path).with_row_index(LINE_COL, offset=1)
        else:
            return _read_json_lines(item)
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(item.path, f"unreadable {item.fmt} file ({type(exc).__name__}: {exc})") from exc
    return _as_text(frame)


def read_raw_batches(item: InputFile, *, rows: int) -> Iterator[pl.DataFrame]:
    """``read_raw`` ``rows`` at a time, with the lines of the whole file. Parquet is read a slice at a time,
    so memory follows ``rows``; CSV and JSON are read whole, then cut. An empty file gives one empty frame.

    Raises InputFileError when the file as a whole cannot be read.
    """
    if item.fmt != "parquet":
        whole = read_raw(item)
        for start in range(0, max(whole.height, 1), rows):
            yield whole.slice(start, rows)
        return
    try:
        lazy = pl.scan_parquet(item.path).with_row_index(LINE_COL, offset=1)
        total = lazy.select(pl.len()).collect().item()
        for start in range(0, max(total, 1), rows):
            yield _as_text(lazy.slice(start, rows).collect())
    except Exception as exc:  # raised here only: the caller's own errors do not come back through a yield
        raise InputFileError(item.path, f"unreadable parquet file ({type(exc).__name__}: {exc})") from exc


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text; lists joined with ``|`` so all formats validate the same way."""
    exprs = []
    for name, dtype in frame.schema.items():
        if name == LINE_COL:
            exprs.append(pl.col(name).cast(pl.Int64))
        elif isinstance(dtype, pl.List):
            exprs.append(pl.col(name).cast(pl.List(pl.String)).list.join(LIST_SEPARATOR).alias(name))
        elif dtype == pl.String:
            exprs.append(pl.col(name))
        else:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.select(exprs)


def _read_json_lines(item: InputFile) -> pl.DataFrame:
    """JSON Lines (or a JSON document holding a list of records), one record per line, line kept."""
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    bad: list[tuple[int, str]] = []
    with item.path.open(encoding="utf-8") as handle:
        text = handle.read()
    stripped = text.lstrip()
    if item.fmt == "json" and stripped[:1] in ("[", "{") and not _looks_like_lines(stripped):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(item.path, f"invalid JSON ({exc.msg})", line=exc.lineno) from exc
        rows = doc.get("resultats", []) if isinstance(doc, dict) else doc
        for index, record in enumerate(rows, start=1):
            records.append(record)
            lines.append(index)
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                bad.append((number, f"invalid JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict):
                bad.append((number, "a line must hold one JSON object"))
                continue
            records.append(record)
            lines.append(number)
    if bad and not records:
        raise InputFileError(item.path, f"no readable record; first problem: {bad[0][1]}", line=bad[0][0])
    flat = [_flatten(item.kind, r) for r in records]
    names = sorted({k for r in flat for k in r})
    frame = pl.DataFrame(
        {LINE_COL: lines, **{n: [r.get(n) for r in flat] for n in names}},
        schema={LINE_COL: pl.Int64, **{n: pl.String for n in names}},
    )
    if bad:
        broken = pl.DataFrame(
            {LINE_COL: [b[0] for b in bad], "_unreadable": [b[1] for b in bad]},
            schema={LINE_COL: pl.Int64, "_unreadable": pl.String},
        )
        frame = pl.concat([frame, broken], how="diagonal").sort(LINE_COL)
    return frame


def _looks_like_lines(text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    try:
        return isinstance(json.loads(first), dict) and "\n" in text.strip()
    except json.JSONDecodeError:
        return False


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return LIST_SEPARATOR.join("" if v is None else str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(kind: str, record: dict[str, Any]) -> dict[str, str | None]:
    if kind == VACANCIES and "intitule" in record:
        return france_travail_offer(record)
    return {key: _text(value) for key, value in record.items()}


def france_travail_offer(offer: dict[str, Any]) -> dict[str, str | None]:
    """Flatten one "Offres d'emploi v2" record to the flat vacancy columns (all text)."""
    place = offer.get("lieuTravail") or {}
    skills = [s for s in offer.get("competences") or [] if isinstance(s, dict) and s.get("code")]
    licences = offer.get("permis") or []
    working = (offer.get("dureeTravailLibelleConverti") or "").strip().lower()
    return {
        c.VACANCY_ID: _text(offer.get("id")),
        c.TITLE: _text(offer.get("intitule")),
        c.ROME_CODE: _text(offer.get("romeCode")),
        c.COMMUNE: _text(place.get("commune")),
        c.LATITUDE: _text(place.get("latitude")),
        c.LONGITUDE: _text(place.get("longitude")),
        c.CONTRACT_TYPE: _text(offer.get("typeContrat")),
        "working_time": {"temps plein": c.FULL_TIME, "temps partiel": c.PART_TIME}.get(working, working or None),
        c.SKILL_CODES: LIST_SEPARATOR.join(str(s["code"]) for s in skills),
        c.REQUIRED_SKILL_CODES: LIST_SEPARATOR.join(str(s["code"]) for s in skills if s.get("exigence") == "E"),
        c.LICENCE_REQUIRED: _text(any(isinstance(p, dict) and p.get("exigence") == "E" for p in licences)),
        c.EXPERIENCE_REQUIRED_MONTHS: _text(_experience_months(offer)),
        c.QUALIFICATION_CODE: _text(offer.get("qualificationCode")),
        c.POSITIONS: _text(offer.get("nombrePostes", 1)),
        c.UPDATED_AT: _text(offer.get("dateActualisation") or offer.get("dateCreation")),
    }


def _experience_months(offer: dict[str, Any]) -> int:
    """'E' (required) with a label like '3 Mois' or '2 An(s)'; 'D' (beginner accepted) is 0."""
    if offer.get("experienceExige") != "E":
        return 0
    words = str(offer.get("experienceLibelle") or "").split()
    try:
        amount = int(words[0])
    except (IndexError, ValueError):
        return 0
    unit = words[1].lower() if len(words) > 1 else "mois"
    return amount * 12 if unit.startswith("an") else amount
