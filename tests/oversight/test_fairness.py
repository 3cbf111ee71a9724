"""The fairness audit: hand-computed rates per group, the four-fifths rule, and Hypothesis properties."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tremplin.oversight import OversightError
from tremplin.oversight import columns as o
from tremplin.oversight.fairness import age_band, fairness_audit

SCHEMA = {
    o.SEEKER_ID: pl.String,
    o.GENDER: pl.String,
    o.BIRTH_YEAR: pl.Int64,
    o.DISABILITY: pl.Boolean,
    o.DENSITY_LEVEL: pl.Int64,
    o.AGENCY_ID: pl.String,
    o.MATCHED: pl.Boolean,
    o.BEST_SCORE: pl.Float64,
    o.CHANNEL: pl.String,
    o.TEXTED: pl.Boolean,
    o.REPLIED: pl.Boolean,
    o.POSITIVE: pl.Boolean,
    o.OFFERED: pl.Boolean,
}
DEFAULTS: dict[str, Any] = {
    o.GENDER: "F",
    o.BIRTH_YEAR: 1990,
    o.DISABILITY: False,
    o.DENSITY_LEVEL: 1,
    o.AGENCY_ID: "A1",
    o.MATCHED: False,
    o.BEST_SCORE: None,
    o.CHANNEL: None,
    o.TEXTED: False,
    o.REPLIED: False,
    o.POSITIVE: False,
    o.OFFERED: False,
}
MATCHED_SMS = {o.MATCHED: True, o.BEST_SCORE: 0.5, o.CHANNEL: "sms", o.TEXTED: True, o.OFFERED: True}
YEAR = 2026


def rows(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [{**DEFAULTS, **fields} for _ in range(count)]


def frame(*groups: list[dict[str, Any]]) -> pl.DataFrame:
    """Seekers S000, S001, ... from lists of rows."""
    flat = [row for group in groups for row in group]
    return pl.DataFrame([{o.SEEKER_ID: f"S{n:03d}", **row} for n, row in enumerate(flat)], schema=SCHEMA)


def pick(out: pl.DataFrame, dimension: str, metric: str) -> list[tuple[Any, ...]]:
    """(group, seekers, denominator, value, best_group, best_value, ratio, judged, breach) of one metric."""
    return (
        out.filter((pl.col(o.DIMENSION) == dimension) & (pl.col(o.METRIC) == metric))
        .select(o.GROUP, o.SEEKERS, o.DENOMINATOR, o.VALUE, o.BEST_GROUP, o.BEST_VALUE, o.RATIO, o.JUDGED, o.BREACH)
        .rows()
    )


def one(out: pl.DataFrame, dimension: str, group: str, metric: str) -> dict[str, Any]:
    hit = out.filter((pl.col(o.DIMENSION) == dimension) & (pl.col(o.GROUP) == group) & (pl.col(o.METRIC) == metric))
    assert hit.height == 1
    return hit.row(0, named=True)


def test_age_bands_of_france_travail() -> None:
    births = pl.DataFrame({o.BIRTH_YEAR: [2001, 2000, 1977, 1976, 1940, None, 2030]}, schema={o.BIRTH_YEAR: pl.Int64})
    bands = births.select(age_band(pl.col(o.BIRTH_YEAR), YEAR).alias("band"))["band"].to_list()
    # ages 25, 26, 49, 50, 86, unknown, a birth year after the run
    assert bands == [o.UNDER_26, o.FROM_26_TO_49, o.FROM_26_TO_49, o.FROM_50, o.FROM_50, o.UNKNOWN, o.UNKNOWN]


def test_four_fifths_rule_on_match_rate_by_agency() -> None:
    seekers = frame(
        rows(4, **{o.AGENCY_ID: "A1"}, **MATCHED_SMS),  # 4/4 = 1.0, the best
        rows(3, **{o.AGENCY_ID: "A2"}, **MATCHED_SMS) + rows(1, **{o.AGENCY_ID: "A2"}),  # 3/4 = 0.75 < 0.8
        rows(4, **{o.AGENCY_ID: "A3"}, **MATCHED_SMS) + rows(1, **{o.AGENCY_ID: "A3"}),  # 4/5 = 0.8, on the line
        rows(2, **{o.AGENCY_ID: "A4"}),  # 0/2, too small to judge
    )
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=4)
    assert pick(out, o.BY_AGENCY, o.MATCH_RATE) == [
        ("A1", 4, 4, 1.0, "A1", 1.0, 1.0, True, False),
        ("A2", 4, 4, 0.75, "A1", 1.0, 0.75, True, True),
        ("A3", 5, 5, 0.8, "A1", 1.0, 0.8, True, False),
        ("A4", 2, 2, 0.0, "A1", 1.0, 0.0, False, False),
    ]


def test_every_metric_of_one_group_with_its_own_denominator() -> None:
    seekers = frame(
        rows(1, **{**MATCHED_SMS, o.BEST_SCORE: 0.9, o.REPLIED: True, o.POSITIVE: True}),
        rows(1, **{**MATCHED_SMS, o.BEST_SCORE: 0.6, o.REPLIED: True}),
        rows(1, **{**MATCHED_SMS, o.BEST_SCORE: 0.3}),
        rows(1, **{**MATCHED_SMS, o.BEST_SCORE: 0.2}),
        rows(1, **{o.MATCHED: True, o.BEST_SCORE: 0.5, o.CHANNEL: "counsellor", o.OFFERED: True, o.POSITIVE: True}),
        rows(1, **{o.MATCHED: True, o.BEST_SCORE: 0.5, o.CHANNEL: "suppressed"}),
        rows(2),
    )
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=1)
    got = {
        row[o.METRIC]: (row[o.SEEKERS], row[o.DENOMINATOR], row[o.VALUE])
        for row in out.iter_rows(named=True)
        if row[o.DIMENSION] == o.BY_AGENCY
    }
    assert got == {
        o.MATCH_RATE: (8, 8, pytest.approx(6 / 8)),
        o.MEAN_SCORE: (8, 6, pytest.approx(3.0 / 6)),  # (0.9 + 0.6 + 0.3 + 0.2 + 0.5 + 0.5) / 6 matched
        o.SMS_SHARE: (8, 5, pytest.approx(4 / 5)),  # the suppressed seeker is not routed
        o.COUNSELLOR_SHARE: (8, 5, pytest.approx(1 / 5)),
        o.REPLY_RATE: (8, 4, pytest.approx(2 / 4)),
        o.POSITIVE_RATE: (8, 5, pytest.approx(2 / 5)),
    }
    # one group: it is its own best, in every dimension
    assert out[o.RATIO].to_list() == [1.0] * out.height
    assert not out[o.BREACH].any()


def test_unknown_group_is_reported_but_never_best_nor_judged() -> None:
    seekers = frame(
        rows(4, **{o.GENDER: None}, **MATCHED_SMS),  # 4/4, the highest, but unknown
        rows(3, **{o.GENDER: "F"}, **MATCHED_SMS) + rows(1, **{o.GENDER: "F"}),  # 3/4
        rows(2, **{o.GENDER: "M"}, **MATCHED_SMS) + rows(2, **{o.GENDER: "M"}),  # 2/4 = 2/3 of F's
    )
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=4)
    assert pick(out, o.BY_GENDER, o.MATCH_RATE) == [
        ("F", 4, 4, 0.75, "F", 0.75, 1.0, True, False),
        ("M", 4, 4, 0.5, "F", 0.75, pytest.approx(2 / 3), True, True),
        (o.UNKNOWN, 4, 4, 1.0, "F", 0.75, pytest.approx(4 / 3), False, False),
    ]


def test_empty_denominator_gives_no_value_and_no_judgement() -> None:
    seekers = frame(
        rows(2, **{o.AGENCY_ID: "A1", o.REPLIED: True}, **MATCHED_SMS) + rows(2, **{o.AGENCY_ID: "A1"}, **MATCHED_SMS),
        rows(4, **{o.AGENCY_ID: "A2"}),  # nobody matched, so nobody texted or routed
    )
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=1)
    assert pick(out, o.BY_AGENCY, o.REPLY_RATE) == [
        ("A1", 4, 4, 0.5, "A1", 0.5, 1.0, True, False),
        ("A2", 4, 0, None, "A1", 0.5, None, False, False),
    ]
    for metric in (o.MEAN_SCORE, o.SMS_SHARE, o.COUNSELLOR_SHARE, o.POSITIVE_RATE):
        assert one(out, o.BY_AGENCY, "A2", metric)[o.VALUE] is None
    assert one(out, o.BY_AGENCY, "A2", o.MATCH_RATE)[o.BREACH]  # 0/4 against 4/4
    # even with no minimum size, a rate over nobody is not judged
    unbounded = fairness_audit(seekers, run_year=YEAR, min_group_size=0)
    assert not one(unbounded, o.BY_AGENCY, "A2", o.REPLY_RATE)[o.JUDGED]


def test_nobody_best_when_all_judged_groups_are_at_zero_and_ties_go_to_the_first_group() -> None:
    seekers = frame(rows(4, **{o.AGENCY_ID: "A1"}), rows(4, **{o.AGENCY_ID: "A2"}))
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=1)
    # 0 against 0 is no disparity: no ratio, no breach
    assert pick(out, o.BY_AGENCY, o.MATCH_RATE) == [
        ("A1", 4, 4, 0.0, "A1", 0.0, None, True, False),
        ("A2", 4, 4, 0.0, "A1", 0.0, None, True, False),
    ]


def test_routing_shares_have_ratios_but_never_breach() -> None:
    counsellor = {o.MATCHED: True, o.BEST_SCORE: 0.5, o.CHANNEL: "counsellor", o.OFFERED: True}
    seekers = frame(
        rows(4, **{o.AGENCY_ID: "A1"}, **MATCHED_SMS),
        rows(1, **{o.AGENCY_ID: "A2"}, **MATCHED_SMS) + rows(3, **{o.AGENCY_ID: "A2"}, **counsellor),
    )
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=4)
    assert pick(out, o.BY_AGENCY, o.SMS_SHARE) == [
        ("A1", 4, 4, 1.0, "A1", 1.0, 1.0, True, False),
        ("A2", 4, 4, 0.25, "A1", 1.0, 0.25, True, False),
    ]
    assert pick(out, o.BY_AGENCY, o.COUNSELLOR_SHARE) == [
        ("A1", 4, 4, 0.0, "A2", 0.75, 0.0, True, False),
        ("A2", 4, 4, 0.75, "A2", 0.75, 1.0, True, False),
    ]


def test_group_labels_of_each_dimension() -> None:
    seekers = frame(
        rows(1, **{o.GENDER: "M", o.BIRTH_YEAR: 2003, o.DISABILITY: True, o.DENSITY_LEVEL: 5, o.AGENCY_ID: "B"}),
        rows(1, **{o.GENDER: None, o.BIRTH_YEAR: None, o.DISABILITY: None, o.DENSITY_LEVEL: None, o.AGENCY_ID: "A"}),
        rows(1, **{o.GENDER: "X", o.BIRTH_YEAR: 1960, o.DISABILITY: False, o.DENSITY_LEVEL: 7, o.AGENCY_ID: "A"}),
        rows(1, **{o.GENDER: "F", o.BIRTH_YEAR: 1990, o.DISABILITY: False, o.DENSITY_LEVEL: 1, o.AGENCY_ID: "A"}),
    )
    out = fairness_audit(seekers, run_year=YEAR)
    groups = out.filter(pl.col(o.METRIC) == o.MATCH_RATE).select(o.DIMENSION, o.GROUP, o.SEEKERS).rows()
    # dimensions in report order; groups sorted, "non renseigné" last
    assert groups == [
        (o.BY_GENDER, "F", 1),
        (o.BY_GENDER, "M", 1),
        (o.BY_GENDER, "X", 1),
        (o.BY_GENDER, o.UNKNOWN, 1),
        (o.BY_AGE, o.FROM_26_TO_49, 1),
        (o.BY_AGE, o.FROM_50, 1),
        (o.BY_AGE, o.UNDER_26, 1),
        (o.BY_AGE, o.UNKNOWN, 1),
        (o.BY_DISABILITY, o.NO, 2),
        (o.BY_DISABILITY, o.YES, 1),
        (o.BY_DISABILITY, o.UNKNOWN, 1),
        (o.BY_RURALITY, "1", 1),
        (o.BY_RURALITY, "5", 1),
        (o.BY_RURALITY, "7", 1),
        (o.BY_RURALITY, o.UNKNOWN, 1),
        (o.BY_AGENCY, "A", 3),
        (o.BY_AGENCY, "B", 1),
    ]
    assert out.height == 17 * len(o.METRICS)
    # within a group, the metrics in report order
    assert out.filter(pl.col(o.GROUP) == "B")[o.METRIC].to_list() == list(o.METRICS)


def test_reads_only_its_columns_and_refuses_bad_input() -> None:
    seekers = frame(rows(3, **MATCHED_SMS), rows(2))
    extra = seekers.with_columns(pl.lit("Dupont").alias("last_name"), pl.lit(0.1).alias(o.BEST_SCORE + "_2"))
    assert_frame_equal(fairness_audit(extra, run_year=YEAR), fairness_audit(seekers, run_year=YEAR))
    assert fairness_audit(seekers, run_year=YEAR).columns == [
        o.DIMENSION, o.GROUP, o.METRIC, o.SEEKERS, o.DENOMINATOR, o.VALUE,
        o.BEST_GROUP, o.BEST_VALUE, o.RATIO, o.P_VALUE, o.JUDGED, o.BREACH,
    ]  # fmt: skip
    with pytest.raises(OversightError, match="offered"):
        fairness_audit(seekers.drop(o.OFFERED), run_year=YEAR)
    with pytest.raises(OversightError, match="birth_year"):
        fairness_audit(seekers.with_columns(pl.lit("l'an 2000").alias(o.BIRTH_YEAR)), run_year=YEAR)
    with pytest.raises(OversightError, match="S001"):
        fairness_audit(pl.concat([seekers, seekers.slice(1, 1)]), run_year=YEAR)


def test_no_seekers_gives_an_empty_report() -> None:
    out = fairness_audit(frame(), run_year=YEAR)
    assert out.is_empty()
    assert out.schema[o.RATIO] == pl.Float64 and out.schema[o.BREACH] == pl.Boolean


@st.composite
def nights(draw: st.DrawFn) -> pl.DataFrame:
    seekers = []
    for n in range(draw(st.integers(0, 40))):
        matched = draw(st.booleans())
        seekers.append(
            {
                o.SEEKER_ID: f"S{n}",
                o.GENDER: draw(st.sampled_from(["F", "M", "X", None])),
                o.BIRTH_YEAR: draw(st.sampled_from([1960, 1985, 2003, None])),
                o.DISABILITY: draw(st.sampled_from([True, False, None])),
                o.DENSITY_LEVEL: draw(st.sampled_from([1, 3, 5, 7, None])),
                o.AGENCY_ID: draw(st.sampled_from(["A1", "A2", "A3"])),
                o.MATCHED: matched,
                o.BEST_SCORE: draw(st.floats(0.0, 1.0)) if matched else None,
                o.CHANNEL: draw(st.sampled_from(["sms", "counsellor", "suppressed"])) if matched else None,
                o.TEXTED: draw(st.booleans()),
                o.REPLIED: draw(st.booleans()),
                o.POSITIVE: draw(st.booleans()),
                o.OFFERED: draw(st.booleans()),
            }
        )
    return pl.DataFrame(seekers, schema=SCHEMA)


@settings(max_examples=60, deadline=None)
@given(nights(), st.data(), st.integers(1, 6))
def test_row_order_changes_nothing(seekers: pl.DataFrame, data: st.DataObject, min_group_size: int) -> None:
    order = data.draw(st.permutations(range(seekers.height)))
    shuffled = seekers.with_columns(pl.Series("_order", order, dtype=pl.Int64)).sort("_order").drop("_order")
    assert_frame_equal(
        fairness_audit(shuffled, run_year=YEAR, min_group_size=min_group_size),
        fairness_audit(seekers, run_year=YEAR, min_group_size=min_group_size),
        check_exact=True,
    )


@settings(max_examples=60, deadline=None)
@given(nights(), st.integers(0, 6), st.sampled_from([0.5, 0.8, 0.9]))
def test_judged_ratios_are_fractions_and_the_best_group_is_at_one(
    seekers: pl.DataFrame, min_group_size: int, threshold: float
) -> None:
    out = fairness_audit(seekers, run_year=YEAR, min_group_size=min_group_size, threshold=threshold)
    for row in out.iter_rows(named=True):
        assert row[o.BEST_GROUP] != o.UNKNOWN
        if row[o.JUDGED] and row[o.BEST_VALUE]:
            assert 0.0 <= row[o.RATIO] <= 1.0
        if row[o.GROUP] == row[o.BEST_GROUP] and row[o.BEST_VALUE]:
            assert row[o.JUDGED] and row[o.RATIO] == 1.0
        expected_breach = (
            row[o.JUDGED]
            and row[o.METRIC] not in o.ROUTING_SHARES
            and row[o.RATIO] is not None
            and row[o.RATIO] < threshold
        )
        assert row[o.BREACH] == expected_breach


def test_with_alpha_a_low_ratio_is_a_breach_only_when_the_gap_is_significant() -> None:
    # A: 50 of 100 matched (0.5); B: 35 of 100 (0.35), ratio 0.7. Pooled p = 85/200 = 0.425,
    # se = sqrt(0.425 * 0.575 * (1/100 + 1/100)) = 0.06991, z = 0.15 / 0.06991 = 2.1456,
    # two-sided p = erfc(2.1456 / sqrt 2) = 0.0319.
    big = frame(
        rows(50, **{o.AGENCY_ID: "A", o.MATCHED: True, o.BEST_SCORE: 0.5}),
        rows(50, **{o.AGENCY_ID: "A"}),
        rows(35, **{o.AGENCY_ID: "B", o.MATCHED: True, o.BEST_SCORE: 0.5}),
        rows(65, **{o.AGENCY_ID: "B"}),
    )
    b = one(fairness_audit(big, run_year=YEAR, alpha=0.05), o.BY_AGENCY, "B", o.MATCH_RATE)
    assert b[o.RATIO] == pytest.approx(0.7)
    assert b[o.P_VALUE] == pytest.approx(0.0319, abs=5e-4)
    assert b[o.BREACH] is True
    assert one(fairness_audit(big, run_year=YEAR, alpha=0.01), o.BY_AGENCY, "B", o.MATCH_RATE)[o.BREACH] is False
    assert one(fairness_audit(big, run_year=YEAR, alpha=0.05), o.BY_AGENCY, "A", o.MATCH_RATE)[o.P_VALUE] == 1.0
    # A: 15 of 30 (0.5); B: 10 of 30 (0.333), ratio 0.667, but p = erfc(1.3093 / sqrt 2) = 0.190: chance
    small = frame(
        rows(15, **{o.AGENCY_ID: "A", o.MATCHED: True, o.BEST_SCORE: 0.5}),
        rows(15, **{o.AGENCY_ID: "A"}),
        rows(10, **{o.AGENCY_ID: "B", o.MATCHED: True, o.BEST_SCORE: 0.5}),
        rows(20, **{o.AGENCY_ID: "B"}),
    )
    b = one(fairness_audit(small, run_year=YEAR, alpha=0.05), o.BY_AGENCY, "B", o.MATCH_RATE)
    assert b[o.RATIO] == pytest.approx(2 / 3)
    assert b[o.P_VALUE] == pytest.approx(0.190, abs=1e-3)
    assert b[o.BREACH] is False
    assert one(fairness_audit(small, run_year=YEAR), o.BY_AGENCY, "B", o.MATCH_RATE)[o.BREACH] is True  # ratio alone
    # the mean score has no such test: its ratio alone decides
    assert one(fairness_audit(small, run_year=YEAR, alpha=0.05), o.BY_AGENCY, "B", o.MEAN_SCORE)[o.P_VALUE] is None
