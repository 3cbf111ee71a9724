"""Counsellors' override rates: hand-computed per agency, the rubber-stamp flag, and the weekly trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tremplin.oversight import OversightError
from tremplin.oversight import columns as o
from tremplin.oversight.human import override_rates, override_trend
from tremplin.review.actions import TRANSITIONS, VIEWS

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday
NEXT_MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def events(*batches: tuple[str, str, int] | tuple[str, str, int, datetime]) -> pl.DataFrame:
    """(agency, action, how many[, when]) -> audit events, one minute apart from ``when`` (Monday 09:00)."""
    rows = []
    for agency, action, count, *when in batches:
        start = when[0] if when else MONDAY
        rows += [(start + timedelta(minutes=n), agency, action) for n in range(count)]
    return pl.DataFrame(
        rows, schema={o.AT: pl.Datetime("us", "UTC"), o.AGENCY_ID: pl.String, o.ACTION: pl.String}, orient="row"
    )


def test_actions_are_those_of_the_counsellor_pages() -> None:
    assert set(o.DECISION_ACTIONS) <= set(TRANSITIONS)
    assert set(o.OVERRIDE_ACTIONS) <= set(o.DECISION_ACTIONS)
    # what is left are the actions that change nothing about the match: contact, reassign, reopen
    assert set(TRANSITIONS) - set(o.DECISION_ACTIONS) == {"contacted", "reassign", "reopen"}


def test_rates_per_agency_by_hand() -> None:
    audit = events(
        ("A", "put_forward", 6),
        ("A", "hired", 1),
        ("A", "not_interested", 1),
        ("A", "wrong_match", 1),
        ("A", "flag", 1),
        ("A", "contacted", 3),
        ("A", "reassign", 1),
        ("A", "reopen", 1),
        ("A", VIEWS[0], 2),
        ("A", "note", 1),
        ("B", "put_forward", 3),
        ("B", "wrong_match", 1),
        ("C", "contacted", 2),
        ("C", VIEWS[1], 1),
    )
    out = override_rates(audit, min_decisions=10)
    assert out.columns == [o.AGENCY_ID, o.DECISIONS, o.OVERRIDES, o.RATE, o.RUBBER_STAMP, o.TOO_FEW]
    assert out.rows() == [
        ("A", 10, 2, 0.2, False, False),  # 6 + 1 + 1 + 1 + 1 decisions, wrong_match and flag override
        ("B", 4, 1, 0.25, False, True),
        ("C", 0, 0, None, False, True),  # contacts and views only: no decision to judge
    ]


def test_rubber_stamp_flag_at_its_boundaries() -> None:
    audit = events(
        ("R19", "put_forward", 19),  # too few decisions to call it rubber-stamping
        ("R20", "put_forward", 20),  # exactly min_decisions, never overridden
        ("R50", "put_forward", 49),
        ("R50", "flag", 1),  # 1/50 = 0.02, not below low_rate
        ("R51", "put_forward", 50),
        ("R51", "wrong_match", 1),  # 1/51 just below 0.02
    )
    out = override_rates(audit)  # defaults: low_rate 0.02, min_decisions 20
    assert out.select(o.AGENCY_ID, o.DECISIONS, o.OVERRIDES, o.RUBBER_STAMP, o.TOO_FEW).rows() == [
        ("R19", 19, 0, False, True),
        ("R20", 20, 0, True, False),
        ("R50", 50, 1, False, False),
        ("R51", 51, 1, True, False),
    ]
    assert out[o.RATE].to_list() == [0.0, 0.0, 0.02, pytest.approx(1 / 51)]
    stricter = override_rates(audit, low_rate=0.021, min_decisions=19)
    assert stricter[o.RUBBER_STAMP].to_list() == [True, True, True, True]


def test_weekly_trend_over_two_weeks() -> None:
    sunday_night = NEXT_MONDAY - timedelta(minutes=1)
    audit = events(
        ("A", "put_forward", 3),
        ("A", "wrong_match", 1, sunday_night),  # last minute of the first week
        ("B", "flag", 1),
        ("B", "hired", 1),
        ("A", "not_interested", 1, NEXT_MONDAY),  # first minute of the second week
        ("A", "put_forward", 1, NEXT_MONDAY + timedelta(days=2)),
        ("B", "contacted", 4, NEXT_MONDAY),  # B decides nothing in week two: no row
        ("A", "reassign", 1, NEXT_MONDAY + timedelta(days=7)),  # week three has no decision at all
    )
    out = override_trend(audit)
    assert out.columns == [o.PERIOD_START, o.AGENCY_ID, o.DECISIONS, o.OVERRIDES, o.RATE]
    week1, week2 = MONDAY.replace(hour=0), NEXT_MONDAY
    assert out.rows() == [
        (week1, o.ALL_AGENCIES, 6, 2, pytest.approx(2 / 6)),
        (week1, "A", 4, 1, 0.25),
        (week1, "B", 2, 1, 0.5),
        (week2, o.ALL_AGENCIES, 2, 0, 0.0),
        (week2, "A", 2, 0, 0.0),
    ]


def test_trend_reads_times_as_utc_and_takes_other_periods() -> None:
    paris = ZoneInfo("Europe/Paris")
    audit = events(("A", "flag", 1), ("A", "hired", 1, MONDAY + timedelta(days=1)))
    # Monday 00:30 in Paris is still Sunday in UTC: it belongs to the week before
    early = pl.DataFrame({o.AT: [datetime(2026, 11, 23, 0, 30, tzinfo=paris)], o.AGENCY_ID: ["A"], o.ACTION: ["hired"]})
    assert override_trend(early)[o.PERIOD_START].to_list() == [MONDAY.replace(hour=0)] * 2
    # naive times (SQLite) are UTC
    naive = audit.with_columns(pl.col(o.AT).dt.replace_time_zone(None))
    assert_frame_equal(override_trend(naive), override_trend(audit))
    daily = override_trend(audit, every="1d")
    assert daily.select(o.PERIOD_START, o.AGENCY_ID, o.DECISIONS, o.OVERRIDES).rows() == [
        (MONDAY.replace(hour=0), o.ALL_AGENCIES, 1, 1),
        (MONDAY.replace(hour=0), "A", 1, 1),
        (MONDAY.replace(hour=0) + timedelta(days=1), o.ALL_AGENCIES, 1, 0),
        (MONDAY.replace(hour=0) + timedelta(days=1), "A", 1, 0),
    ]


def test_bad_input_is_named() -> None:
    audit = events(("A", "flag", 1))
    with pytest.raises(OversightError, match="action"):
        override_rates(audit.drop(o.ACTION))
    with pytest.raises(OversightError, match="column at "):
        override_trend(audit.with_columns(pl.lit("hier").alias(o.AT)))
    with pytest.raises(OversightError, match="fortnight"):
        override_trend(audit, every="fortnight")


def test_no_events_gives_empty_frames() -> None:
    assert override_rates(events()).is_empty()
    assert override_trend(events()).is_empty()


ACTIONS = [*TRANSITIONS, *VIEWS, "note"]


@st.composite
def audits(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 60))
    return pl.DataFrame(
        {
            o.AT: [MONDAY + timedelta(hours=draw(st.integers(0, 24 * 21))) for _ in range(n)],
            o.AGENCY_ID: [draw(st.sampled_from(["A", "B", "C"])) for _ in range(n)],
            o.ACTION: [draw(st.sampled_from(ACTIONS)) for _ in range(n)],
        },
        schema={o.AT: pl.Datetime("us", "UTC"), o.AGENCY_ID: pl.String, o.ACTION: pl.String},
    )


@settings(max_examples=60, deadline=None)
@given(audits(), st.data())
def test_order_free_and_the_overall_row_adds_up(audit: pl.DataFrame, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(audit.height)))
    shuffled = audit.with_columns(pl.Series("_order", order, dtype=pl.Int64)).sort("_order").drop("_order")
    assert_frame_equal(override_rates(shuffled), override_rates(audit), check_exact=True)
    trend = override_trend(audit)
    assert_frame_equal(override_trend(shuffled), trend, check_exact=True)
    assert trend[o.RATE].is_between(0.0, 1.0).all()
    overall = trend.filter(pl.col(o.AGENCY_ID) == o.ALL_AGENCIES)
    per_agency = (
        trend.filter(pl.col(o.AGENCY_ID) != o.ALL_AGENCIES)
        .group_by(o.PERIOD_START)
        .agg(pl.col(o.DECISIONS).sum(), pl.col(o.OVERRIDES).sum())
        .sort(o.PERIOD_START)
    )
    assert_frame_equal(overall.select(per_agency.columns), per_agency)
    assert overall[o.DECISIONS].sum() == override_rates(audit)[o.DECISIONS].sum()
