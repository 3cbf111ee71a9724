"""How well free-text titles land on their ROME sheet, measured on held-out ROME synonym titles.

A seeded share of the SYNONYME appellations is taken out of the index (which keeps the other
appellations and the sheet labels) and searched as queries whose truth is their sheet. Figures:
accuracy at 1 and mean reciprocal rank within the top k (0 when the sheet is absent), on the clean
titles and on a noisy copy (lower case, no accents, one gender form, one typo). Weights are tuned on
``part=1`` of the same permutation, disjoint from the reported ``part=0``.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from matching.normalize import CONCEPT_ID, LABEL, QUERY_ID, RANK, TEXT, TaxonomyIndex, Weights, gender_forms

TRUTH_SCHEMA = {QUERY_ID: pl.String, CONCEPT_ID: pl.String}


def held_out_synonyms(
    rome: Any, *, fraction: float = 0.2, seed: int = 0, part: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(index labels, queries, truth): the ``part``-th slice of a seeded permutation of the synonyms held out.

    Parts 0, 1, ... of the same seed are disjoint, so weights tuned on one are judged on another.
    """
    appellations = rome.appellations.sort("appellation_code")
    synonyms = appellations.filter(pl.col("classification") == "SYNONYME")
    order = np.random.default_rng(seed).permutation(synonyms.height)
    size = round(fraction * synonyms.height)
    chosen = synonyms[order[part * size : (part + 1) * size].tolist()].sort("appellation_code")
    held = chosen.get_column("appellation_code").implode()
    held_labels = chosen.get_column(LABEL).implode()
    kept = appellations.filter(~pl.col("appellation_code").is_in(held) & ~pl.col(LABEL).is_in(held_labels))
    index_labels = pl.concat(
        [
            kept.select(pl.col("rome_code").alias(CONCEPT_ID), LABEL),
            rome.sheets.filter(~pl.col(LABEL).is_in(held_labels)).select(pl.col("rome_code").alias(CONCEPT_ID), LABEL),
        ]
    )
    queries = chosen.select(pl.col("appellation_code").alias(QUERY_ID), pl.col(LABEL).alias(TEXT))
    truth = chosen.select(pl.col("appellation_code").alias(QUERY_ID), pl.col("rome_code").alias(CONCEPT_ID))
    return index_labels, queries, truth


def noisy(text: str, *, seed: int = 0) -> str:
    """A title as typed in a hurry: lower case, no accents, one gender form, one character wrong.

    >>> noisy("Vendeur / Vendeuse en boulangerie", seed=1)
    'vendeuse en boulagnerie'
    """
    rng = random.Random(f"{seed}:{text}")
    forms = gender_forms(text)
    plain = unicodedata.normalize("NFKD", rng.choice(forms).lower()).encode("ascii", "ignore").decode()
    words = [i for i, w in enumerate(plain.split(" ")) if len(w) >= 4 and w.isalpha()]
    if not words:
        return plain
    parts = plain.split(" ")
    i = rng.choice(words)
    w = parts[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:  # deletion
        w = w[:j] + w[j + 1 :]
    elif kind == 1:  # transposition
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    else:  # substitution by a keyboard neighbour-ish letter
        w = w[:j] + rng.choice("aeioustrnl".replace(w[j], "")) + w[j + 1 :]
    parts[i] = w
    return " ".join(parts)


def evaluate(index: TaxonomyIndex, queries: pl.DataFrame, truth: pl.DataFrame, *, k: int = 10) -> dict[str, Any]:
    """Accuracy at 1 and mean reciprocal rank of the true concept within the top ``k`` (0 if absent).

    A query with several true concepts counts its best-ranked one.
    """
    start = time.perf_counter()
    found = index.search(queries, k=k)
    seconds = time.perf_counter() - start
    ranks = (
        truth.select(pl.col(QUERY_ID).cast(pl.String), pl.col(CONCEPT_ID).cast(pl.String))
        .join(found.select(QUERY_ID, CONCEPT_ID, RANK), on=[QUERY_ID, CONCEPT_ID], how="left")
        .group_by(QUERY_ID)
        .agg(pl.col(RANK).min())
    )
    n = queries.height
    reciprocal = ranks.get_column(RANK).drop_nulls().cast(pl.Float64)
    return {
        "accuracy_at_1": float((reciprocal == 1).sum()) / n if n else 0.0,
        "mrr": float((1.0 / reciprocal).sum()) / n if n else 0.0,
        "n_queries": n,
        "seconds": round(seconds, 3),
    }


# Weights tuned on part 1 (not the reported part 0) for the opt-in signals.
DESCRIPTION_WEIGHTS = Weights(fuzzy=0.1, head=0.1, second=0.05, third=0.2, votes=0.2, concept=0.05, description=0.8)
_MAX_ONLY = {"head": 0.0, "second": 0.0, "third": 0.0, "votes": 0.0, "concept": 0.0}


def sheet_descriptions(rome: Any, data_dir: Path) -> pl.DataFrame:
    """Each sheet's definition sentences (ROME ``texte`` file) and skill labels, as (concept_id, text)."""
    items = rome.sheet_items.join(rome.items, on="item_code").select(
        pl.col("rome_code").alias(CONCEPT_ID), pl.col(LABEL).alias(TEXT)
    )
    path = data_dir / "rome" / "unix_texte_v460_utf8.csv"
    if not path.exists():
        return items
    definitions = (
        pl.read_csv(path, infer_schema=False)
        .filter(pl.col("libelle_type_texte") == "definition")
        .select(pl.col("code_rome").alias(CONCEPT_ID), pl.col("libelle_texte").str.replace_all("''", "'").alias(TEXT))
    )
    return pl.concat([definitions, items])


def _variants(
    descriptions: pl.DataFrame | None,
) -> dict[str, Callable[[pl.DataFrame], TaxonomyIndex]]:
    """The indexes compared, by name; "default" is what the pipeline builds (labels only)."""

    def lexical(weights: Weights, char_ngrams: tuple[int, int] = (2, 4)) -> Callable[[pl.DataFrame], TaxonomyIndex]:
        return lambda labels: TaxonomyIndex.build(labels, char_ngrams=char_ngrams, weights=weights)

    variants = {
        "before: tfidf_char(3,4)+rapidfuzz, best label": lexical(Weights(char=0.5, fuzzy=0.5, **_MAX_ONLY), (3, 4)),
        "tfidf_char(2,4), best label": lexical(Weights(char=1.0, **_MAX_ONLY)),
        "tfidf_char(2,5), best label": lexical(Weights(char=1.0, **_MAX_ONLY), (2, 5)),
        "tfidf_char+rapidfuzz, best label": lexical(Weights(char=0.5, fuzzy=0.5, **_MAX_ONLY)),
        "tfidf_char+word+rapidfuzz, best label": lexical(Weights(char=0.5, word=0.25, fuzzy=0.25, **_MAX_ONLY)),
        "tfidf_char, best 3 labels": lexical(Weights(char=1.0, **{**_MAX_ONLY, "second": 0.3, "third": 0.2})),
        "default without rapidfuzz": lexical(Weights(fuzzy=0.0)),
        "default without the concept document and votes": lexical(Weights(concept=0.0, votes=0.0)),
        "default": lexical(Weights()),
    }
    if descriptions is not None:
        variants["default+descriptions"] = lambda labels: TaxonomyIndex.build(
            labels, weights=DESCRIPTION_WEIGHTS, descriptions=descriptions
        )
    return variants


def normalization_benchmark(data_dir: Path, *, seed: int = 0) -> dict[str, Any]:
    """Accuracy at 1 and MRR of every variant on the held-out synonyms, clean and noisy, best first.

    Also, per variant, noisy copies of titles that are in the index ("known_noisy": the pipeline's usual
    case, where the held-out figures must not be bought with mistakes), and the time to build the default
    title index on all of ROME and to search 10,000 queries with it.
    """
    from connectors.reference import load_reference

    rome = load_reference(data_dir).rome
    labels, queries, truth = held_out_synonyms(rome, seed=seed)
    noisy_queries = queries.with_columns(pl.col(TEXT).map_elements(noisy, return_dtype=pl.String))
    all_labels = rome.title_labels.rename({"rome_code": CONCEPT_ID})
    known = rome.appellations.sample(3000, seed=seed, shuffle=True)
    known_queries = known.select(
        pl.col("appellation_code").alias(QUERY_ID),
        pl.col(LABEL).map_elements(lambda t: noisy(t, seed=seed + 1), return_dtype=pl.String).alias(TEXT),
    )
    known_truth = known.select(pl.col("appellation_code").alias(QUERY_ID), pl.col("rome_code").alias(CONCEPT_ID))
    results: list[dict[str, Any]] = []
    for name, build in _variants(sheet_descriptions(rome, data_dir)).items():
        start = time.perf_counter()
        index = build(labels)
        built = time.perf_counter() - start
        results.append(
            {
                "variant": name,
                "build_seconds": round(built, 3),
                "clean": evaluate(index, queries, truth),
                "noisy": evaluate(index, noisy_queries, truth),
                "known_noisy": evaluate(build(all_labels), known_queries, known_truth),
            }
        )
    results.sort(key=lambda r: -r["clean"]["mrr"])
    return {
        "split": {"fraction": 0.2, "seed": seed, "part": 0, "index_labels": labels.height, "queries": queries.height},
        "variants": results,
        "timing": _timing(rome),
    }


def _timing(rome: Any, *, n_queries: int = 10_000) -> dict[str, float]:
    """Seconds to build the pipeline's title index and to search ``n_queries`` noisy titles with it."""
    start = time.perf_counter()
    index = TaxonomyIndex.build(rome.title_labels.rename({"rome_code": CONCEPT_ID}))
    built = time.perf_counter() - start
    titles = rome.appellations.get_column(LABEL).to_list()
    texts = [noisy(titles[i % len(titles)], seed=i // len(titles)) for i in range(n_queries)]
    queries = pl.DataFrame({QUERY_ID: [str(i) for i in range(n_queries)], TEXT: texts})
    start = time.perf_counter()
    index.search(queries, k=5)
    return {
        "build_seconds": round(built, 3),
        "search_seconds": round(time.perf_counter() - start, 3),
        "queries": n_queries,
    }


if __name__ == "__main__":  # python -m tremplin.normalize_quality DATA_DIR [OUT.json]
    import json
    import sys

    figures = normalization_benchmark(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
    text = json.dumps(figures, indent=2)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(text + "\n", encoding="utf-8")
    print(text)
