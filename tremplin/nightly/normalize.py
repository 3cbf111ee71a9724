"""Normalize: free-text titles and skills of new or changed profiles to ROME sheets and items."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.normalize import CONCEPT_ID, LABEL, TaxonomyIndex
from matching.profiles import profile_codes
from tremplin.nightly.common import reference
from tremplin.nightly.encoder import title_encoder
from tremplin.settings import Settings

MIN_NORMALIZE_SCORE = 0.6


def title_index(ref: Reference, encoder: str = "none") -> TaxonomyIndex:
    """ROME appellations and sheet labels to sheets; ``encoder``: see ``tremplin.nightly.encoder``."""
    return TaxonomyIndex.build(ref.rome.title_labels.rename({c.ROME_CODE: CONCEPT_ID}), embed=title_encoder(encoder))


def skill_index(ref: Reference) -> TaxonomyIndex:
    return TaxonomyIndex.build(ref.rome.items.select(pl.col("item_code").alias(CONCEPT_ID), LABEL))


NORMALIZE_BATCH = 500_000  # profiles read, normalized and written at a time: memory follows this, not the inputs


def normalize(settings: Settings, run_date: date, *, batch: int = NORMALIZE_BATCH) -> dict[str, Any]:
    """Map free-text titles and skills of new or changed profiles to ROME sheets and items, ``batch``
    profiles at a time (a profile's codes depend on it alone, so the batches change no result)."""
    ref = reference(settings)
    totals = {"seekers": 0, "free_text_titles": 0, "free_text_skills": 0, "unresolved": 0}
    indexes: tuple[TaxonomyIndex, TaxonomyIndex] | None = None
    memo: dict[str, pl.DataFrame] = {}  # terms searched by earlier batches: each distinct term is searched once
    with Warehouse.of(settings) as wh:
        wh.execute("stage_seekers_to_normalize")
        while True:
            todo = wh.frame("select_seekers_to_normalize", {"rows": batch, "skip": totals["seekers"]})
            if todo.is_empty():
                break
            indexes = indexes or (title_index(ref, settings.title_encoder), skill_index(ref))
            codes, counts = normalize_profiles(todo, ref, indexes=indexes, memo=memo)
            with wh.transaction():
                wh.execute("upsert_seeker_codes", None, {"staged_codes": codes})
            totals["seekers"] += todo.height
            for name, count in counts.items():
                totals[name] += count
    return totals


def normalize_profiles(
    profiles: pl.DataFrame,
    ref: Reference,
    *,
    indexes: tuple[TaxonomyIndex, TaxonomyIndex] | None = None,
    memo: dict[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``matching.profiles.profile_codes`` on the reference data; ``indexes`` default to ROME's, lexical."""
    return profile_codes(
        profiles,
        sheet_codes=ref.rome.sheets.get_column(c.ROME_CODE),
        item_codes=ref.rome.items.get_column("item_code"),
        core_items=ref.rome.core_items,
        indexes=indexes or (title_index(ref), skill_index(ref)),
        min_score=MIN_NORMALIZE_SCORE,
        memo=memo,
    )
