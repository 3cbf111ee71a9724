"""What several nightly steps share: the night's end, the reference data, the inputs of matching."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from connectors.reference import Reference, cached_reference
from connectors.warehouse import Warehouse
from matching import columns as c
from matching.vacancies import with_default_skills
from tremplin.settings import Settings


def run_end(run_date: date) -> datetime:
    """Inputs updated before the end of the run date count for that night."""
    return datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)


def reference(settings: Settings) -> Reference:
    return cached_reference(str(settings.data_dir))


def load_match_inputs(wh: Warehouse, settings: Settings, run_date: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fresh seekers with coordinates and density, and vacancies with their skills (core items if none)."""
    ref = reference(settings)
    fresh_since = run_end(run_date) - timedelta(days=settings.stale_profile_days)
    params = {"fresh_since": fresh_since, "run_end": run_end(run_date)}
    places = ref.communes.select(c.COMMUNE, c.LATITUDE, c.LONGITUDE, c.DENSITY_LEVEL)
    # in seeker_id order, as selected: the night's snapshot files are then the same from one run to the next
    seekers = wh.frame("select_active_seekers", params).join(places, on=c.COMMUNE, how="inner", maintain_order="left")
    open_vacancies = wh.frame("select_vacancies", {"run_end": run_end(run_date), "run_date": run_date})
    vacancies = with_default_skills(open_vacancies, ref.rome.core_items)
    return seekers, vacancies
