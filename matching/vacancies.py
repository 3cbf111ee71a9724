"""Vacancy-side defaults that every consumer of vacancies applies the same way."""

from __future__ import annotations

import polars as pl

from matching import columns as c


def with_default_skills(vacancies: pl.DataFrame, core_items: pl.DataFrame) -> pl.DataFrame:
    """A vacancy that lists no skill asks for the core items of its ROME sheet.

    ``core_items`` has rome_code and item_code of each sheet's core items.

    >>> v = pl.DataFrame({"rome_code": ["D1106"], "skill_codes": [[]]},
    ...                  schema_overrides={"skill_codes": pl.List(pl.String)})
    >>> items = pl.DataFrame({"rome_code": ["D1106", "D1106", "D1214"], "item_code": ["2", "1", "3"]})
    >>> with_default_skills(v, items)["skill_codes"].to_list()
    [['1', '2']]
    """
    core = core_items.group_by(c.ROME_CODE).agg(pl.col("item_code").sort().alias("_core"))
    return (
        vacancies.join(core, on=c.ROME_CODE, how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col(c.SKILL_CODES).list.len() > 0)
            .then(pl.col(c.SKILL_CODES))
            .otherwise(pl.col("_core").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .alias(c.SKILL_CODES)
        )
        .drop("_core")
    )
