"""Seekers' titles and skills to taxonomy codes: the pure part of the nightly normalize step.

Known codes are kept, free text is looked up in the taxonomy's indexes (``matching.normalize``), and a
seeker with no skill gets the core skills of their sheets.
"""

from __future__ import annotations

import polars as pl

from matching import columns as c
from matching.normalize import CONCEPT_ID, QUERY_ID, TEXT, TaxonomyIndex


def profile_codes(
    profiles: pl.DataFrame,
    *,
    sheet_codes: pl.Series,
    item_codes: pl.Series,
    core_items: pl.DataFrame,
    indexes: tuple[TaxonomyIndex, TaxonomyIndex],
    min_score: float,
    memo: dict[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Codes per seeker: known codes kept, free text resolved, core items of the sheets when no skill.

    ``sheet_codes`` and ``item_codes``: the taxonomy's known sheet and item codes; ``core_items``: (sheet,
    item) pairs of core skills; ``indexes``: the title and skill indexes; ``min_score``: below it a term stays
    unresolved; ``memo``: the (term, code) of the titles and skills earlier batches searched, read and extended
    (code null: no concept close enough)."""
    known_sheets = sheet_codes.implode()
    known_items = item_codes.implode()

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
    title_idx, skill_idx = indexes
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
        best = index.best(queries, min_score=min_score) if free.height else None
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
    core = core_items.group_by(c.ROME_CODE).agg(pl.col("item_code").sort().alias("_core"))
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
