"""The French sentence that explains a match, and the labelled columns beside it."""

from __future__ import annotations

import polars as pl

from matching import columns as c
from matching.explain import EXPLANATION, sentence, with_explanations


def test_sentence_lists_at_most_three_skills_and_counts_the_rest() -> None:
    text = sentence(matched=["A", "B", "C", "D", "E"], missing=[], distance_km=0.4, relation="mobility")
    assert text == (
        "Correspond à 5 de vos compétences (A, B, C et 2 autre(s)). Tout près de chez vous. "
        "C'est un métier proche de celui que vous recherchez."
    )


def test_sentence_without_matched_skill_and_two_missing() -> None:
    text = sentence(matched=[], missing=["X", "Y"], distance_km=29.6, relation="other")
    assert text == (
        "Aucune de vos compétences déclarées n'est demandée. Il vous manque 2 compétences demandées : X, Y. "
        "À 30 km de chez vous. C'est un autre métier où vos compétences servent."
    )


def test_frame_gets_labels_and_sentence() -> None:
    matches = pl.DataFrame(
        {
            c.MATCHED_SKILLS: [["100341"]],
            c.MISSING_REQUIRED_SKILLS: [["999"]],
            c.DISTANCE_KM: [5.2],
            c.OCCUPATION_RELATION: ["same_sheet"],
        }
    )
    labels = pl.DataFrame({"item_code": ["100341"], "label": ["Procédures d'encaissement"]})
    out = with_explanations(matches, labels).row(0, named=True)
    assert out["matched_skill_labels"] == ["Procédures d'encaissement"]
    assert out["missing_skill_labels"] == ["999"]  # unknown codes are shown as they are
    assert out[EXPLANATION] == (
        "Correspond à 1 de vos compétences (Procédures d'encaissement). Il vous manque 1 compétence demandée : 999. "
        "À 5 km de chez vous. C'est le métier que vous recherchez."
    )
