"""Free text to taxonomy concepts: any table of (concept id, label), ROME 4.0 by default.

Labels and queries are folded (lower case, no accents, gender forms split: "Vendeur / Vendeuse en
prêt-à-porter" gives "vendeur en pret a porter" and "vendeuse en pret a porter"), embedded as TF-IDF
over character n-grams, and compared by cosine with a sparse top-n product; the best labels are then
re-ranked with rapidfuzz's token-set ratio, which forgives word order and extra words. A concept's
score is the best score of its labels.

>>> labels = pl.DataFrame({"concept_id": ["D1106", "D1214"],
...                        "label": ["Vendeur / Vendeuse en boulangerie", "Vendeur / Vendeuse en prêt-à-porter"]})
>>> index = TaxonomyIndex.build(labels)
>>> index.search(pl.DataFrame({"query_id": ["q"], "text": ["vendeuse boulangerie"]}), k=1)["concept_id"].to_list()
['D1106']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer
from sparse_dot_topn import sp_matmul_topn

CONCEPT_ID, LABEL, QUERY_ID, TEXT, RANK, SCORE = "concept_id", "label", "query_id", "text", "rank", "score"
RESULT_SCHEMA = {QUERY_ID: pl.String, RANK: pl.Int32, CONCEPT_ID: pl.String, SCORE: pl.Float64}
_ABBREVIATIONS = {
    "resp": "responsable",
    "assist": "assistant",
    "tech": "technicien",
    "dir": "directeur",
    "adj": "adjoint",
    "cde": "commande",
    "agt": "agent",
    "aux": "auxiliaire",
    "comm": "commercial",
    "h/f": "",
    "f/h": "",
}
_SPLIT = re.compile(r"\s*/\s*")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, accents and punctuation removed, common abbreviations expanded.

    >>> fold("Chargé(e) d'Accueil - H/F")
    'charge e d accueil'
    """
    lowered = text.lower().replace("œ", "oe").replace("æ", "ae")
    for short, full in _ABBREVIATIONS.items():
        lowered = re.sub(rf"(?<![\w/]){re.escape(short)}\.?(?![\w/])", full, lowered)
    plain = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    return _NON_WORD.sub(" ", plain).strip()


def gender_forms(label: str) -> list[str]:
    """Both forms of a ROME-style title: "Vendeur / Vendeuse en X" gives "Vendeur en X", "Vendeuse en X".

    >>> gender_forms("Vendeur / Vendeuse en boulangerie")
    ['Vendeur en boulangerie', 'Vendeuse en boulangerie']
    """
    parts = _SPLIT.split(label, maxsplit=1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return [label]
    first, second = parts
    n = len(first.split())
    tail = second.split()[n:]
    masculine = " ".join([first, *tail])
    return [masculine, second] if masculine != second else [second]


@dataclass(frozen=True)
class TaxonomyIndex:
    """A searchable index of concept labels."""

    vectorizer: TfidfVectorizer
    matrix: sp.csr_matrix  # labels x n-grams, l2-normalized
    concepts: np.ndarray  # concept id of each indexed label
    texts: list[str]  # folded label of each row

    @classmethod
    def build(cls, labels: pl.DataFrame) -> TaxonomyIndex:
        """Index a frame with ``concept_id`` and ``label`` (many labels per concept allowed)."""
        rows = [
            (concept, fold(form))
            for concept, label in labels.select(CONCEPT_ID, LABEL).iter_rows()
            if label
            for form in gender_forms(label)
        ]
        unique = sorted(set(rows))
        concepts = np.array([r[0] for r in unique], dtype=object)
        texts = [r[1] for r in unique]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, dtype=np.float64)
        matrix = sp.csr_matrix(vectorizer.fit_transform(texts))
        return cls(vectorizer, matrix, concepts, texts)

    def search(self, queries: pl.DataFrame, *, k: int = 5, candidates: int = 30, threads: int = 2) -> pl.DataFrame:
        """Best ``k`` concepts per query (``query_id``, ``text``), best first, scores in [0, 1]."""
        if queries.is_empty():
            return pl.DataFrame(schema=RESULT_SCHEMA)
        ids = queries.get_column(QUERY_ID).cast(pl.String).to_list()
        folded = [fold(t or "") for t in queries.get_column(TEXT).to_list()]
        q = sp.csr_matrix(self.vectorizer.transform(folded))
        top = sp_matmul_topn(q, self.matrix.T.tocsr(), top_n=candidates, sort=True, n_threads=threads).tocoo()
        rows, cols, cosine = top.row, top.col, top.data
        fuzzy = np.fromiter(
            (fuzz.token_set_ratio(folded[r], self.texts[cl]) / 100.0 for r, cl in zip(rows, cols, strict=True)),
            dtype=np.float64,
            count=len(rows),
        )
        hits = pl.DataFrame(
            {
                QUERY_ID: [ids[r] for r in rows],
                CONCEPT_ID: self.concepts[cols].tolist(),
                SCORE: 0.5 * cosine + 0.5 * fuzzy,
            },
            schema={QUERY_ID: pl.String, CONCEPT_ID: pl.String, SCORE: pl.Float64},
        )
        return (
            hits.group_by(QUERY_ID, CONCEPT_ID)
            .agg(pl.col(SCORE).max())
            .sort([QUERY_ID, SCORE, CONCEPT_ID], descending=[False, True, False])
            .with_columns(pl.int_range(1, pl.len() + 1).over(QUERY_ID).cast(pl.Int32).alias(RANK))
            .filter(pl.col(RANK) <= k)
            .with_columns(pl.col(SCORE).clip(0.0, 1.0))
            .select(list(RESULT_SCHEMA))
        )

    def best(self, queries: pl.DataFrame, *, min_score: float) -> pl.DataFrame:
        """The single best concept per query when its score reaches ``min_score``."""
        return self.search(queries, k=1).filter(pl.col(SCORE) >= min_score).drop(RANK)
