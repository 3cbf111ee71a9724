"""How well free-text titles land on their ROME sheet, measured on held-out ROME synonym titles.

A seeded share of the SYNONYME appellations is taken out of the index (which keeps the other
appellations and the sheet labels) and searched as queries whose truth is their sheet. Figures:
accuracy at 1 and mean reciprocal rank within the top k (0 when the sheet is absent), on the clean
titles and on a noisy copy (lower case, no accents, one gender form, one typo).

Protocol: one seeded permutation of the synonyms cut into parts of 20 %. The figures are reported on part 0
only. The weights (``matching.normalize.Weights``) and the build settings were chosen on parts 1 and 2, each
with its own index that leaves that part out; part 0 was looked at only to report. No held-out synonym is
ever in the index it is searched against.
"""

from __future__ import annotations

import random
import time
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import polars as pl

from connectors import files
from connectors.reference import REAL_OFFERS_FILE
from matching import columns as c
from matching.normalize import CONCEPT_ID, LABEL, QUERY_ID, RANK, TEXT, TaxonomyIndex, Weights, gender_forms
from tremplin.nightly.encoder import title_encoder, use_encoder

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
    """Accuracy at 1, mean reciprocal rank of the true concept within the top ``k`` (0 if absent), and recall
    at ``k``: the share of queries whose true concept is in the top ``k`` at all, which is also the best MRR any
    re-ordering of those ``k`` could reach.

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
    best_rank = ranks.get_column(RANK).drop_nulls().cast(pl.Float64)  # of the queries found within k
    return {
        "accuracy_at_1": float((best_rank == 1).sum()) / n if n else 0.0,
        "mrr": float((1.0 / best_rank).sum()) / n if n else 0.0,
        f"recall_at_{k}": best_rank.len() / n if n else 0.0,
        "n_queries": n,
        "seconds": round(seconds, 3),
    }


TUNING_PARTS = (1, 2)  # the parts the weights were chosen on; figures are reported on part 0
# Weights tuned on parts 1 and 2 (not the reported part 0) for the opt-in signals.
DESCRIPTION_WEIGHTS = Weights(concept=0.2, description=1.0)
_MAX_ONLY = {"head": 0.0, "second": 0.0, "third": 0.0, "votes": 0.0, "concept": 0.0, "coverage": 0.0}
# The default before the text rules' second pass, word coverage, spelling and the re-tuning on parts 1 and 2.
PREVIOUS_WEIGHTS = Weights(
    fuzzy=0.3, head=0.05, second=0.05, third=0.2, votes=0.2, concept=0.1, exact=2.0, coverage=0.0
)
Builder: TypeAlias = Callable[[pl.DataFrame], TaxonomyIndex]


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


def _variants(descriptions: pl.DataFrame | None) -> dict[str, Builder]:
    """The indexes compared, by name, in the order of the steps taken; "default" is what the pipeline builds
    (labels only). Variants without a setting use the build defaults."""

    def lexical(weights: Weights, *, char_max_df: float = 0.1, spelling: float = 0.8) -> Builder:
        return lambda labels: TaxonomyIndex.build(labels, char_max_df=char_max_df, spelling=spelling, weights=weights)

    default = Weights()
    before = PREVIOUS_WEIGHTS
    variants = {
        "tfidf_char(2,4), best label": lexical(Weights(char=1.0, **_MAX_ONLY), char_max_df=1.0, spelling=0.0),
        "tfidf_char+rapidfuzz, best label": lexical(
            Weights(char=0.5, fuzzy=0.5, **_MAX_ONLY), char_max_df=1.0, spelling=0.0
        ),
        "tfidf_char+word+rapidfuzz, best label": lexical(
            Weights(char=0.5, word=0.25, fuzzy=0.25, **_MAX_ONLY), char_max_df=1.0, spelling=0.0
        ),
        "before: previous default": lexical(before, char_max_df=1.0, spelling=0.0),
        "previous default + char n-grams in over 10% of labels dropped": lexical(before, spelling=0.0),
        "... + spelling of unknown words": lexical(before),
        "... + word coverage (0.8)": lexical(replace(before, coverage=0.8)),
        "default": lexical(default),  # all of the above, weights re-tuned on parts 1-2
        "default without word coverage": lexical(replace(default, coverage=0.0)),
        "default without spelling": lexical(default, spelling=0.0),
        "default without rapidfuzz": lexical(replace(default, fuzzy=0.0)),
        "default, char n-grams dropped only over 30% of labels (slower)": lexical(default, char_max_df=0.3),
    }
    encoder = title_encoder("use")  # one per process: each text is encoded once across the variants
    variants["default + sentence encoder (USE multilingual v3)"] = lambda labels: TaxonomyIndex.build(
        labels, weights=default, embed=encoder
    )
    if descriptions is not None:
        variants["default+descriptions"] = lambda labels: TaxonomyIndex.build(
            labels, weights=DESCRIPTION_WEIGHTS, descriptions=descriptions
        )
    return variants


def normalization_benchmark(data_dir: Path, *, seed: int = 0) -> dict[str, Any]:
    """Accuracy at 1 and MRR of every variant on the held-out synonyms, clean and noisy, in ``_variants`` order.

    Also, per variant, noisy copies of titles that are in the index ("known_noisy": the pipeline's usual
    case, where the held-out figures must not be bought with mistakes), and the throughput of the default
    title and skill indexes on all of ROME (``_timing``).
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
    return {
        "split": {"fraction": 0.2, "seed": seed, "part": 0, "index_labels": labels.height, "queries": queries.height},
        "protocol": (
            f"figures on part 0 of a seeded permutation of the SYNONYME titles (20% parts), each searched against "
            f"an index without its part; weights and build settings chosen on parts {TUNING_PARTS}, never on part 0"
        ),
        "variants": results,
        "real_offers": real_offer_titles(rome, data_dir),
        "timing": _timing(rome),
    }


def real_offer_titles(rome: Any, data_dir: Path) -> dict[str, Any]:
    """The default title index on the real France Travail offers: the title an employer wrote, searched against
    all of ROME, and the ROME code France Travail set for the offer as the truth."""
    path = data_dir / REAL_OFFERS_FILE
    if not path.exists():
        return {"file": str(REAL_OFFERS_FILE), "missing": True}
    offers = files.read_raw(files.InputFile(files.VACANCIES, path, "jsonl")).filter(
        pl.col(c.TITLE).is_not_null() & pl.col(c.ROME_CODE).is_not_null()
    )
    queries = offers.select(pl.col(c.VACANCY_ID).alias(QUERY_ID), pl.col(c.TITLE).alias(TEXT))
    truth = offers.select(pl.col(c.VACANCY_ID).alias(QUERY_ID), pl.col(c.ROME_CODE).alias(CONCEPT_ID))
    figures = evaluate(TaxonomyIndex.build(rome.title_labels.rename({"rome_code": CONCEPT_ID})), queries, truth)
    return {"file": str(REAL_OFFERS_FILE), **figures}


def _timing(rome: Any, *, n_queries: int = 100_000, encoder_queries: int = 2_000) -> dict[str, dict[str, float]]:
    """Build time and queries a second of the default title and skill indexes on all of ROME, searching
    ``n_queries`` noisy labels (distinct typos of every title or skill, cycled), top 5; and of the title
    index with the sentence encoder, on ``encoder_queries`` of them (it is about 50 times slower); its build
    time counts the encoding of every label (a fresh cache)."""
    timing = {}
    titles = rome.title_labels.rename({"rome_code": CONCEPT_ID})
    taxonomies = {
        "titles": (titles, None, n_queries),
        "skills": (rome.items.select(pl.col("item_code").alias(CONCEPT_ID), LABEL), None, n_queries),
        "titles with the sentence encoder": (titles, use_encoder(), encoder_queries),
    }
    for name, (labels, embed, n_queries) in taxonomies.items():
        start = time.perf_counter()
        index = TaxonomyIndex.build(labels, embed=embed)
        built = time.perf_counter() - start
        source = labels.get_column(LABEL).to_list()
        texts = [noisy(source[i % len(source)], seed=i // len(source)) for i in range(n_queries)]
        queries = pl.DataFrame({QUERY_ID: [str(i) for i in range(n_queries)], TEXT: texts})
        start = time.perf_counter()
        index.search(queries, k=5)
        seconds = time.perf_counter() - start
        timing[name] = {
            "labels": labels.height,
            "build_seconds": round(built, 3),
            "queries": n_queries,
            "distinct_queries": len(set(texts)),
            "search_seconds": round(seconds, 3),
            "queries_per_second": round(n_queries / seconds),
        }
    return timing


if __name__ == "__main__":  # python -m tremplin.bench.normalize_quality DATA_DIR [OUT.json]
    import json
    import sys

    figures = normalization_benchmark(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
    text = json.dumps(figures, indent=2)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(text + "\n", encoding="utf-8")
    print(text)
