"""Scoring split by groups of départements, with the border areas each group needs.

A shard is the seekers of a few départements plus every vacancy that any of them could reach: the
vacancies whose planar cell lies within (largest radius in the seeker's cell + margin) of a seeker's
cell, with the conservative planar geometry of :mod:`matching.geo` (planar coordinates never overstate a
distance). So every pair within a radius is inside its seeker's shard, and since a seeker's matches
depend only on the vacancies within its radius (and on the skill idf, which a shard takes from the
whole night's vacancies through ``score_matches(..., idf_over=...)``), scoring each shard and
concatenating gives exactly the unsharded result.

Départements are never split: they are ordered along a Z-curve of their seekers' centroid (neighbours
stay together, which keeps the border areas small) and cut into runs of about equal seeker counts.

>>> import polars as pl
>>> department(pl.Series(["75056", "2A004", "97411", "06088"])).to_list()
['75', '2A', '974', '06']
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import polars as pl

from matching import columns as c
from matching.geo import planar_km, z_order
from matching.score import BLOCK_MARGIN_KM

DEPARTMENT = "department"
SHARD = "shard"
SEEKERS = "seekers"
REACH_CELL_KM = 10.0  # planar cells used to find the vacancies a shard can reach
PLAN_SCHEMA = pl.Schema({DEPARTMENT: pl.String(), SHARD: pl.Int32(), SEEKERS: pl.UInt32()})


def department(communes: pl.Series) -> pl.Series:
    """The département of INSEE commune codes: 3 characters overseas (97x, 98x), else 2 (2A and 2B included)."""
    codes = communes.cast(pl.String)
    return (
        pl.select(
            pl.when(codes.str.starts_with("97") | codes.str.starts_with("98"))
            .then(codes.str.slice(0, 3))
            .otherwise(codes.str.slice(0, 2))
            .alias(DEPARTMENT)
        )
        .to_series()
        .rename(DEPARTMENT)
    )


def plan_shards(seekers: pl.DataFrame, *, shards: int = 12) -> pl.DataFrame:
    """One row per département with seekers: ``department``, ``shard`` (0-based) and ``seekers``.

    ``seekers`` needs ``commune``, ``latitude`` and ``longitude``. At most ``shards`` shards (fewer when
    there are fewer départements); each is a run of départements along a Z-curve of their centroids,
    cut where the running seeker count crosses a multiple of total / shards.
    """
    if shards < 1:
        raise ValueError("shards must be at least 1")
    if seekers.is_empty():
        return pl.DataFrame(schema=PLAN_SCHEMA)
    per_department = (
        seekers.select(department(seekers.get_column(c.COMMUNE)), c.LATITUDE, c.LONGITUDE)
        .group_by(DEPARTMENT)
        .agg(pl.len().alias(SEEKERS), pl.col(c.LATITUDE).mean(), pl.col(c.LONGITUDE).mean())
        .sort(DEPARTMENT)
    )
    x, y = _planar(per_department)
    # Z-curve over 25 km squares: départements close on the map are close in the order.
    fx = np.floor((x - x.min()) / 25.0).astype(np.int64)
    fy = np.floor((y - y.min()) / 25.0).astype(np.int64)
    ordered = per_department.with_columns(pl.Series("_z", z_order(fx, fy))).sort("_z", DEPARTMENT)
    counts = ordered.get_column(SEEKERS).to_numpy().astype(np.float64)
    n = min(shards, ordered.height)
    # the shard of a département: where the middle of its seekers falls in the running total
    middle = np.cumsum(counts) - counts / 2
    shard = np.minimum((middle / counts.sum() * n).astype(np.int64), n - 1)
    # renumber so that shard ids are consecutive (an empty cut would leave a gap)
    shard = np.unique(shard, return_inverse=True)[1]
    return ordered.select(DEPARTMENT, pl.Series(SHARD, shard, dtype=pl.Int32), pl.col(SEEKERS).cast(pl.UInt32)).cast(
        PLAN_SCHEMA
    )


def assign(seekers: pl.DataFrame, plan: pl.DataFrame) -> pl.DataFrame:
    """``seekers``, in their order, with a ``shard`` column from the plan (null when the département is not planned)."""
    return seekers.with_columns(department(seekers.get_column(c.COMMUNE))).join(
        plan.select(DEPARTMENT, SHARD), on=DEPARTMENT, how="left", maintain_order="left"
    )


def _planar(frame: pl.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    return planar_km(frame.get_column(c.LATITUDE).to_numpy(), frame.get_column(c.LONGITUDE).to_numpy())


def _cells(frame: pl.DataFrame, cell_km: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    x, y = _planar(frame)
    return np.floor(x / cell_km).astype(np.int64), np.floor(y / cell_km).astype(np.int64)


def vacancies_in_reach(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    *,
    margin_km: float = BLOCK_MARGIN_KM,
    cell_km: float = REACH_CELL_KM,
) -> pl.DataFrame:
    """The vacancies that lie within (radius + margin) of at least one seeker, and a few more.

    Conservative: on a grid of ``cell_km`` squares, a vacancy is kept when its square is at most
    ceil((largest radius in the seeker's square + margin) / cell_km) squares away from a seeker's square
    in both directions; any vacancy within a seeker's radius passes, since planar distances never
    overstate true ones.
    """
    if seekers.is_empty() or vacancies.is_empty():
        return vacancies.clear()
    sx, sy = _cells(seekers, cell_km)
    seeker_cells = (
        pl.DataFrame({"_x": sx, "_y": sy, "_r": seekers.get_column(c.RADIUS_KM).cast(pl.Float64)})
        .group_by("_x", "_y")
        .agg(pl.col("_r").max())
        .with_columns(((pl.col("_r") + margin_km) / cell_km).ceil().cast(pl.Int64).alias("_k"))
    )
    reached = []
    for k in sorted(set(seeker_cells.get_column("_k").to_list())):
        offsets = pl.DataFrame({"_dx": np.arange(-k, k + 1, dtype=np.int64)}).join(
            pl.DataFrame({"_dy": np.arange(-k, k + 1, dtype=np.int64)}), how="cross"
        )
        reached.append(
            seeker_cells.filter(pl.col("_k") == k)
            .select("_x", "_y")
            .join(offsets, how="cross")
            .select((pl.col("_x") + pl.col("_dx")).alias("_x"), (pl.col("_y") + pl.col("_dy")).alias("_y"))
        )
    cells = pl.concat(reached).unique()
    vx, vy = _cells(vacancies, cell_km)
    keep = (
        pl.DataFrame({"_x": vx, "_y": vy})
        .with_row_index("_row")
        .join(cells, on=["_x", "_y"], how="semi")
        .get_column("_row")
        .sort()
    )
    return vacancies[keep.to_numpy()]


def shard_inputs(
    seekers: pl.DataFrame,
    vacancies: pl.DataFrame,
    plan: pl.DataFrame,
    shard: int,
    *,
    margin_km: float = BLOCK_MARGIN_KM,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The seekers of one shard and the vacancies they can reach (border areas included)."""
    departments = plan.filter(pl.col(SHARD) == shard).get_column(DEPARTMENT)
    mine = seekers.filter(department(seekers.get_column(c.COMMUNE)).is_in(departments.implode()))
    return mine, vacancies_in_reach(mine, vacancies, margin_km=margin_km)


def shard_count(seekers: int, *, per_shard: int = 100_000, at_most: int = 16, at_least: int = 2) -> int:
    """How many shards for a night: about ``per_shard`` seekers each, within [at_least, at_most]."""
    return max(at_least, min(at_most, math.ceil(seekers / per_shard)))
