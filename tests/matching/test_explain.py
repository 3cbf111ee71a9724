"""The French sentence that explains a match, and the labelled columns beside it."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from matching import columns as c
from matching.explain import EXPLANATION, MATCHED_LABELS, MISSING_LABELS, RELATIONS, sentence, with_explanations


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


_CODES = ["100341", "100342", "100343", "999"]  # the last one has no label
_LABELS = pl.DataFrame({"item_code": _CODES[:3], "label": ["Encaissement", "Accueil client", "Stocks, inventaire"]})
_codes = st.one_of(st.none(), st.lists(st.sampled_from(_CODES), max_size=6))


@given(
    rows=st.lists(
        st.tuples(
            _codes,
            _codes,
            st.one_of(
                st.sampled_from([0.0, 0.49, 0.5, 0.999, 1.0, 1.5, 2.5, 12.5, 13.5, 29.6]),
                st.floats(min_value=0, max_value=300, allow_nan=False),
            ),
            st.sampled_from([*RELATIONS, "unknown"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_frame_sentence_is_the_sentence_of_each_row(rows: list[tuple[Any, Any, float, str]]) -> None:
    """The frame's columns are worked out by expressions, not by a call per row: they must say, row by row,
    exactly what ``sentence`` says (ties of the distance rounded to even, as Python's round)."""
    matches = pl.DataFrame(
        rows,
        schema={
            c.MATCHED_SKILLS: pl.List(pl.String),
            c.MISSING_REQUIRED_SKILLS: pl.List(pl.String),
            c.DISTANCE_KM: pl.Float64,
            c.OCCUPATION_RELATION: pl.String,
        },
        orient="row",
    )
    lookup = dict(_LABELS.iter_rows())
    out = with_explanations(matches, _LABELS)
    assert out.height == len(rows)
    for (matched, missing, km, relation), got in zip(rows, out.iter_rows(named=True), strict=True):
        matched_labels = [lookup.get(code, code) for code in matched or []]
        missing_labels = [lookup.get(code, code) for code in missing or []]
        assert got[MATCHED_LABELS] == matched_labels
        assert got[MISSING_LABELS] == missing_labels
        assert got[EXPLANATION] == sentence(
            matched=matched_labels, missing=missing_labels, distance_km=km, relation=relation
        )
