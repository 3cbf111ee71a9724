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
    """One match in French: matched skills, missing required skills, distance, occupation relation."""
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


def with_explanations(matches: pl.DataFrame, item_labels: pl.DataFrame) -> pl.DataFrame:
    """Add the labels of matched and missing skills and the French sentence to a matches frame.

    ``item_labels`` has ``item_code`` and ``label``; a code without a label is shown as itself.
    """
    lookup = dict(item_labels.select("item_code", "label").iter_rows())

    def names(codes: list[str] | None) -> list[str]:
        return [lookup.get(code, code) for code in codes or []]

    matched = [names(v) for v in matches.get_column(c.MATCHED_SKILLS).to_list()]
    missing = [names(v) for v in matches.get_column(c.MISSING_REQUIRED_SKILLS).to_list()]
    texts = [
        sentence(matched=m, missing=x, distance_km=d, relation=r)
        for m, x, d, r in zip(
            matched,
            missing,
            matches.get_column(c.DISTANCE_KM).to_list(),
            matches.get_column(c.OCCUPATION_RELATION).to_list(),
            strict=True,
        )
    ]
    return matches.with_columns(
        pl.Series(MATCHED_LABELS, matched, dtype=pl.List(pl.String)),
        pl.Series(MISSING_LABELS, missing, dtype=pl.List(pl.String)),
        pl.Series(EXPLANATION, texts, dtype=pl.String),
    )
