"""Explanations a seeker and a counsellor can read: one short French sentence per match.

Pure: the match columns and the item labels in, a text column out.

>>> sentence(matched=["Encaissement", "Accueil client"], missing=["Gestion des stocks"], distance_km=12.4,
...          relation="same_sheet")
"Correspond à 2 de vos compétences (Encaissement, Accueil client). Il vous manque 1 compétence demandée : \
Gestion des stocks. À 12 km de chez vous. C'est le métier que vous recherchez."
"""

from __future__ import annotations

import polars as pl

from matching import columns as c

EXPLANATION = "explanation"
MATCHED_LABELS = "matched_skill_labels"
MISSING_LABELS = "missing_skill_labels"
MAX_LISTED = 3
RELATIONS = {
    "same_sheet": "C'est le métier que vous recherchez.",
    "mobility": "C'est un métier proche de celui que vous recherchez.",
    "other": "C'est un autre métier où vos compétences servent.",
}


def _listed(labels: list[str]) -> str:
    shown = ", ".join(labels[:MAX_LISTED])
    return shown + (f" et {len(labels) - MAX_LISTED} autre(s)" if len(labels) > MAX_LISTED else "")


def _distance(km: float) -> str:
    return "Tout près de chez vous" if km < 1 else f"À {round(km):d} km de chez vous"


def sentence(*, matched: list[str], missing: list[str], distance_km: float, relation: str) -> str:
    """One match in French: matched skills, missing required skills, distance, occupation relation.

    The rule written plainly, one match at a time; ``with_explanations`` says the same for a whole frame with
    polars expressions (a Hypothesis test holds the two equal row by row).
    """
    parts = []
    if matched:
        parts.append(f"Correspond à {len(matched)} de vos compétences ({_listed(matched)}).")
    else:
        parts.append("Aucune de vos compétences déclarées n'est demandée.")
    if missing:
        noun = "compétence demandée" if len(missing) == 1 else "compétences demandées"
        parts.append(f"Il vous manque {len(missing)} {noun} : {_listed(missing)}.")
    parts.append(f"{_distance(distance_km)}.")
    parts.append(RELATIONS.get(relation, ""))
    return " ".join(p for p in parts if p)


def _listed_expr(labels: pl.Expr) -> pl.Expr:
    """``_listed`` on a list column."""
    shown = labels.list.head(MAX_LISTED).list.join(", ")
    rest = labels.list.len().cast(pl.Int64) - MAX_LISTED
    return pl.when(rest > 0).then(pl.concat_str(shown, pl.lit(" et "), rest, pl.lit(" autre(s)"))).otherwise(shown)


def _sentence_expr(matched: pl.Expr, missing: pl.Expr, distance_km: pl.Expr, relation: pl.Expr) -> pl.Expr:
    """``sentence`` as one expression: the same text for every row, without a Python call per match."""
    n_matched, n_missing = matched.list.len(), missing.list.len()
    skills = (
        pl.when(n_matched > 0)
        .then(pl.concat_str(pl.lit("Correspond à "), n_matched, pl.lit(" de vos compétences ("), _listed_expr(matched)))
        .otherwise(pl.lit("Aucune de vos compétences déclarées n'est demandée"))
    )
    noun = pl.when(n_missing == 1).then(pl.lit("compétence demandée")).otherwise(pl.lit("compétences demandées"))
    lacking = pl.when(n_missing > 0).then(
        pl.concat_str(pl.lit("Il vous manque "), n_missing, pl.lit(" "), noun, pl.lit(" : "), _listed_expr(missing))
    )
    km = distance_km.round(0, mode="half_to_even").cast(pl.Int64)  # Python's round(), as in ``_distance``
    where = (
        pl.when(distance_km < 1)
        .then(pl.lit("Tout près de chez vous"))
        .otherwise(pl.concat_str(pl.lit("À "), km, pl.lit(" km de chez vous")))
    )
    return pl.concat_str(
        pl.concat_str(skills, pl.when(n_matched > 0).then(pl.lit(").")).otherwise(pl.lit("."))),
        pl.concat_str(lacking, pl.lit(".")),
        pl.concat_str(where, pl.lit(".")),
        relation.replace_strict(RELATIONS, default=None, return_dtype=pl.String),
        separator=" ",
        ignore_nulls=True,
    )


def with_explanations(matches: pl.DataFrame, item_labels: pl.DataFrame) -> pl.DataFrame:
    """Add the labels of matched and missing skills and the French sentence to a matches frame.

    ``item_labels`` has ``item_code`` and ``label``; a code without a label is shown as itself.
    """
    codes = item_labels.get_column("item_code").cast(pl.String)
    labels = item_labels.get_column("label").cast(pl.String)
    empty = pl.lit([], dtype=pl.List(pl.String))

    def named(column: str) -> pl.Expr:
        return pl.col(column).fill_null(empty).list.eval(pl.element().replace(codes, labels))

    return matches.with_columns(
        named(c.MATCHED_SKILLS).alias(MATCHED_LABELS), named(c.MISSING_REQUIRED_SKILLS).alias(MISSING_LABELS)
    ).with_columns(
        _sentence_expr(
            pl.col(MATCHED_LABELS), pl.col(MISSING_LABELS), pl.col(c.DISTANCE_KM), pl.col(c.OCCUPATION_RELATION)
        ).alias(EXPLANATION)
    )
