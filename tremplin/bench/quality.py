"""``tremplin bench --quality``: is a texted offer relevant? tremplin against two baselines, same data.

Seekers are built from ROME sheets: each takes a random half of its sheet's items as its profile (the
other half is kept out), a ROME code, a job title (an appellation of the sheet, as a person would type
it) and a place within 20 km of a vacancy of that sheet, so that every seeker has something to find.
Vacancies are the real France Travail offers plus generated ones. Relevance of a vacancy for a seeker:
2 for the seeker's ROME sheet, 1 for a sheet reached by a ROME mobility link, 0 otherwise. Every
vacancy within the seeker's radius is a candidate for every system; vetoes are neutral (the seekers
accept any contract and time, drive, and have experience) so that only the ranking is compared.

- tremplin: ``matching.score.score_matches`` with the production weights;
- keyword baseline: vacancies with exactly the seeker's ROME code, nearest first;
- title baseline: rapidfuzz token-set similarity of the seeker's title and the vacancy's title, 80 %, plus
  20 % distance (1 - d / radius).

Metrics over seekers with at least one relevant vacancy in reach: nDCG@10 with gain 2^rel - 1 and the
ideal ranking of all candidates in reach, and recall@10 of the relevant ones (rel >= 1).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz

from connectors import files
from connectors.reference import REAL_OFFERS_FILE, Reference
from matching import columns as c
from matching.geo import haversine_km
from matching.score import score_matches
from matching.vacancies import with_default_skills
from tremplin.dev.generate import generate
from tremplin.nightly.validate import validate_vacancies

K = 10
RADIUS_KM = 30.0


def load_vacancies(ref: Reference, data_dir: Path, *, generated: int, seed: int) -> pl.DataFrame:
    """Real offers plus generated vacancies, validated like the nightly ingest, core items when none."""
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        generate(ref, seekers=0, vacancies=generated, seed=seed, out_dir=Path(tmp), bad_row_rate=0.0)
        sources = [files.InputFile(files.VACANCIES, Path(tmp) / "vacancies.csv", "csv")]
        real = data_dir / REAL_OFFERS_FILE
        if real.is_file():
            sources.append(files.InputFile(files.VACANCIES, real, "jsonl"))
        for item in sources:
            checked = validate_vacancies(
                files.read_raw(item),
                file=item.path.name,
                communes=ref.communes,
                rome_codes=ref.rome.sheets.get_column(c.ROME_CODE),
            )
            frames.append(checked.good)
    return with_default_skills(pl.concat(frames), ref.rome.core_items).sort(c.VACANCY_ID)


def build_seekers(ref: Reference, vacancies: pl.DataFrame, *, n: int, seed: int) -> pl.DataFrame:
    """Seekers anchored on random vacancies: that vacancy's sheet, half its items, a nearby commune."""
    rng = np.random.default_rng(seed)
    items = ref.rome.sheet_items.group_by(c.ROME_CODE).agg(pl.col("item_code").sort())
    items_of = dict(items.iter_rows())
    titles = ref.rome.appellations.group_by(c.ROME_CODE).agg(pl.col("label").sort())
    titles_of = dict(titles.iter_rows())
    communes = ref.communes.filter(pl.col("population") > 0)
    c_lat, c_lon = communes.get_column(c.LATITUDE).to_numpy(), communes.get_column(c.LONGITUDE).to_numpy()
    anchors = vacancies.filter(pl.col(c.ROME_CODE).is_in(list(items_of))).sample(n, with_replacement=True, seed=seed)
    rows = []
    for number, anchor in enumerate(anchors.iter_rows(named=True)):
        sheet_items = items_of[anchor[c.ROME_CODE]]
        half = rng.choice(len(sheet_items), size=max(1, len(sheet_items) // 2), replace=False)
        near = np.flatnonzero(haversine_km(anchor[c.LATITUDE], anchor[c.LONGITUDE], c_lat, c_lon) <= 20.0)
        place = (
            int(rng.choice(near))
            if near.size
            else int(np.argmin(haversine_km(anchor[c.LATITUDE], anchor[c.LONGITUDE], c_lat, c_lon)))
        )
        options = titles_of.get(anchor[c.ROME_CODE], [anchor[c.TITLE]])
        rows.append(
            {
                c.SEEKER_ID: f"Q{number:05d}",
                c.LATITUDE: float(c_lat[place]),
                c.LONGITUDE: float(c_lon[place]),
                c.RADIUS_KM: RADIUS_KM,
                c.ROME_CODES: [anchor[c.ROME_CODE]],
                c.ITEM_CODES: sorted(sheet_items[i] for i in half),
                c.CONTRACT_TYPES: [],
                c.WORKING_TIME: c.ANY,
                c.DRIVING_LICENCE: True,
                c.EXPERIENCE_MONTHS: 1200,
                TITLE_COLUMN: options[int(rng.integers(len(options)))],
            }
        )
    return pl.DataFrame(rows, schema_overrides={c.CONTRACT_TYPES: pl.List(pl.String)})


TITLE_COLUMN = "title_text"


def candidates(seekers: pl.DataFrame, vacancies: pl.DataFrame, mobility: pl.DataFrame) -> pl.DataFrame:
    """Every (seeker, vacancy) within the radius with its distance and relevance."""
    s_lat, s_lon = seekers.get_column(c.LATITUDE).to_numpy(), seekers.get_column(c.LONGITUDE).to_numpy()
    v_lat, v_lon = vacancies.get_column(c.LATITUDE).to_numpy(), vacancies.get_column(c.LONGITUDE).to_numpy()
    distance = haversine_km(s_lat[:, None], s_lon[:, None], v_lat[None, :], v_lon[None, :])
    i, j = np.nonzero(distance <= RADIUS_KM)
    pairs = pl.DataFrame(
        {
            c.SEEKER_ID: seekers.get_column(c.SEEKER_ID).to_numpy()[i],
            c.VACANCY_ID: vacancies.get_column(c.VACANCY_ID).to_numpy()[j],
            c.DISTANCE_KM: distance[i, j],
            "_sheet": seekers.get_column(c.ROME_CODES).list.first().to_numpy()[i],
            c.ROME_CODE: vacancies.get_column(c.ROME_CODE).to_numpy()[j],
        }
    )
    linked = mobility.select(pl.col(c.ROME_CODE).alias("_sheet"), pl.col("target_rome_code").alias(c.ROME_CODE))
    return (
        pairs.join(linked.unique().with_columns(pl.lit(True).alias("_linked")), on=["_sheet", c.ROME_CODE], how="left")
        .with_columns(
            pl.when(pl.col("_sheet") == pl.col(c.ROME_CODE))
            .then(2)
            .when(pl.col("_linked").fill_null(False))
            .then(1)
            .otherwise(0)
            .alias("relevance")
        )
        .drop("_linked")
    )


def metrics(ranked: pl.DataFrame, pool: pl.DataFrame) -> dict[str, float]:
    """nDCG@10 and recall@10 of ``ranked`` (seeker_id, vacancy_id, rank) against the pool's relevance."""
    gains = pool.select(c.SEEKER_ID, c.VACANCY_ID, "relevance")
    ideal = (
        gains.sort(c.SEEKER_ID, "relevance", descending=[False, True])
        .with_columns(pl.int_range(1, pl.len() + 1).over(c.SEEKER_ID).alias(c.RANK))
        .filter(pl.col(c.RANK) <= K)
        .group_by(c.SEEKER_ID)
        .agg(((2.0 ** pl.col("relevance") - 1) / (pl.col(c.RANK) + 1).log(2)).sum().alias("idcg"))
    )
    relevant = gains.filter(pl.col("relevance") > 0).group_by(c.SEEKER_ID).len().rename({"len": "n_relevant"})
    top = ranked.filter(pl.col(c.RANK) <= K).join(gains, on=[c.SEEKER_ID, c.VACANCY_ID], how="left")
    got = top.group_by(c.SEEKER_ID).agg(
        ((2.0 ** pl.col("relevance").fill_null(0) - 1) / (pl.col(c.RANK) + 1).log(2)).sum().alias("dcg"),
        (pl.col("relevance").fill_null(0) > 0).sum().alias("hits"),
    )
    table = (
        relevant.join(ideal, on=c.SEEKER_ID)
        .join(got, on=c.SEEKER_ID, how="left")
        .with_columns(pl.col("dcg").fill_null(0.0), pl.col("hits").fill_null(0))
    )
    ndcg = (table["dcg"] / table["idcg"]).mean() if table.height else 0.0
    recall = (table["hits"] / table["n_relevant"]).mean() if table.height else 0.0
    return {
        "ndcg_at_10": round(float(ndcg), 4),  # type: ignore[arg-type]
        "recall_at_10": round(float(recall), 4),  # type: ignore[arg-type]
        "seekers_evaluated": table.height,
    }


def _rank(frame: pl.DataFrame, score: str, *, descending: bool) -> pl.DataFrame:
    return frame.sort([c.SEEKER_ID, score, c.VACANCY_ID], descending=[False, descending, False]).with_columns(
        pl.int_range(1, pl.len() + 1).over(c.SEEKER_ID).alias(c.RANK)
    )


def quality_benchmark(
    ref: Reference,
    data_dir: Path,
    *,
    seekers: int = 1_000,
    vacancies: int = 3_000,
    seed: int = 20261121,
) -> dict[str, Any]:
    """Run the three systems on the same seekers and vacancies; return their nDCG@10 and recall@10."""
    started = time.perf_counter()
    vac = load_vacancies(ref, data_dir, generated=vacancies, seed=seed)
    people = build_seekers(ref, vac, n=seekers, seed=seed)
    pool = candidates(people, vac, ref.rome.mobility)
    ours = score_matches(people, vac, mobility=ref.rome.mobility, core_items=ref.rome.core_items, top_k=K)
    keyword = _rank(pool.filter(pl.col("_sheet") == pl.col(c.ROME_CODE)), c.DISTANCE_KM, descending=False)
    titles = dict(people.select(c.SEEKER_ID, TITLE_COLUMN).iter_rows())
    vac_titles = dict(vac.select(c.VACANCY_ID, c.TITLE).iter_rows())
    similarity = [
        fuzz.token_set_ratio(titles[s], vac_titles[v]) / 100.0
        for s, v in pool.select(c.SEEKER_ID, c.VACANCY_ID).iter_rows()
    ]
    fuzzy = _rank(
        pool.with_columns(
            (0.8 * pl.Series(similarity, dtype=pl.Float64) + 0.2 * (1 - pl.col(c.DISTANCE_KM) / RADIUS_KM)).alias(
                "_fuzzy"
            )
        ),
        "_fuzzy",
        descending=True,
    )
    return {
        "seekers": seekers,
        "vacancies": vac.height,
        "candidate_pairs": pool.height,
        "tremplin": metrics(ours, pool),
        "baseline_rome_code_and_distance": metrics(keyword, pool),
        "baseline_rapidfuzz_title_and_distance": metrics(fuzzy, pool),
        "seconds": round(time.perf_counter() - started, 2),
    }
