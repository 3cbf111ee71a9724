"""Normalize: free-text titles and skills of new or changed profiles to ROME sheets and items."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from connectors.reference import Reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.normalize import CONCEPT_ID, LABEL, QUERY_ID, TEXT, TaxonomyIndex
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
    """Codes per seeker: known codes kept, free text resolved, core items of the sheets when no skill.
    ``indexes``: the title and skill indexes (default: ROME's, lexical); ``memo``: the (term, code) of the
    titles and skills earlier batches searched, read and extended (code null: no concept close enough)."""
    known_sheets = ref.rome.sheets.get_column(c.ROME_CODE).implode()
    known_items = ref.rome.items.get_column("item_code").implode()

    def split(column: str, known: pl.Series) -> pl.DataFrame:
        return (
            profiles.select(c.SEEKER_ID, column)
            .explode(column)
            .drop_nulls(column)
            .rename({column: "term"})
            .with_columns(pl.col("term").is_in(known).alias("is_code"))
        )

    titles, skills = split(c.OCCUPATIONS, known_sheets), split(c.SKILLS, known_items)
    resolved = []
    title_idx, skill_idx = indexes or (title_index(ref), skill_index(ref))
    memo = memo if memo is not None else {}
    for name, terms, index in (("titles", titles, title_idx), ("skills", skills, skill_idx)):
        searched = memo.get(name, pl.DataFrame(schema={"term": pl.String, "code": pl.String}))
        # only terms no earlier batch searched: a term's concept depends on it alone
        free = (
            terms.filter(~pl.col("is_code"))
            .select(pl.col("term").unique().sort())
            .join(searched, on="term", how="anti")
        )
        queries = free.select(pl.col("term").alias(QUERY_ID), pl.col("term").alias(TEXT))
        best = index.best(queries, min_score=MIN_NORMALIZE_SCORE) if free.height else None
        if best is not None:
            found = best.select(pl.col(QUERY_ID).alias("term"), pl.col(CONCEPT_ID).alias("code"))
            searched = pl.concat([searched, free.join(found, on="term", how="left")])  # unresolved: code null
        memo[name] = searched
        # left order kept: a seeker's unresolved terms are listed in the order of the profile, not of a hash join
        resolved.append(
            terms.join(searched, on="term", how="left", maintain_order="left").with_columns(
                pl.when(pl.col("is_code")).then(pl.col("term")).otherwise(pl.col("code")).alias("code")
            )
        )
    sheets = (
        resolved[0]
        .group_by(c.SEEKER_ID)
        .agg(
            pl.col("code").drop_nulls().unique().sort().alias(c.ROME_CODES),
            pl.col("term").filter(pl.col("code").is_null()).alias("_bad_titles"),
        )
    )
    items = (
        resolved[1]
        .group_by(c.SEEKER_ID)
        .agg(
            pl.col("code").drop_nulls().unique().sort().alias(c.ITEM_CODES),
            pl.col("term").filter(pl.col("code").is_null()).alias("_bad_skills"),
        )
    )
    core = ref.rome.core_items.group_by(c.ROME_CODE).agg(pl.col("item_code").sort().alias("_core"))
    implied = (
        sheets.select(c.SEEKER_ID, c.ROME_CODES)
        .explode(c.ROME_CODES)
        .join(core, left_on=c.ROME_CODES, right_on=c.ROME_CODE)
        .group_by(c.SEEKER_ID)
        .agg(pl.col("_core").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().alias("_implied"))
    )
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    out = (
        profiles.select(c.SEEKER_ID, pl.col(c.UPDATED_AT).alias("profile_updated_at"))
        .join(sheets, on=c.SEEKER_ID, how="left")
        .join(items, on=c.SEEKER_ID, how="left")
        .join(implied, on=c.SEEKER_ID, how="left")
        .with_columns(
            pl.col(c.ROME_CODES).fill_null(empty_list),
            pl.when(pl.col(c.ITEM_CODES).list.len().fill_null(0) > 0)
            .then(pl.col(c.ITEM_CODES))
            .otherwise(pl.col("_implied").fill_null(empty_list))
            .alias(c.ITEM_CODES),
            pl.concat_list(
                pl.col("_bad_titles").fill_null(empty_list), pl.col("_bad_skills").fill_null(empty_list)
            ).alias("unresolved"),
        )
        .select(c.SEEKER_ID, c.ROME_CODES, c.ITEM_CODES, "unresolved", "profile_updated_at")
    )
    counts = {
        "free_text_titles": int((~titles.get_column("is_code")).sum()),
        "free_text_skills": int((~skills.get_column("is_code")).sum()),
        "unresolved": int(out.get_column("unresolved").list.len().sum()),
    }
    return out, counts
