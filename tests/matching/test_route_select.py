"""Routing rules and tonight's offer selection on small hand-made cases."""

from __future__ import annotations

import polars as pl

from matching import columns as c
from matching.offers import NO_OFFER_LEFT, final_routing, select_offers
from matching.route import default_rules, route


def seekers(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {c.MOBILE: "+33639980001", c.SMS_CONSENT: True, c.PREFERRED_CHANNEL: "none", c.DENSITY_LEVEL: 1}
    return pl.DataFrame([{**base, **r} for r in rows], schema_overrides={c.MOBILE: pl.String})


def history(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = {
        "opted_out": False,
        "no_response_count": 0,
        "replied_ever": False,
        "sms_today": 0,
        "offers_week": 0,
        "queue_item_open": False,
        "sms_undeliverable": False,
    }
    return pl.DataFrame([{**base, **r} for r in rows])


def test_each_rule_gives_its_reason() -> None:
    s = seekers(
        [
            {c.SEEKER_ID: "stop"},
            {c.SEEKER_ID: "open"},
            {c.SEEKER_ID: "nomob", c.MOBILE: None},
            {c.SEEKER_ID: "dead", c.MOBILE: "+33639980002"},
            {c.SEEKER_ID: "nocons", c.SMS_CONSENT: False},
            {c.SEEKER_ID: "pref", c.PREFERRED_CHANNEL: "counsellor"},
            {c.SEEKER_ID: "silent"},
            {c.SEEKER_ID: "rural", c.DENSITY_LEVEL: 6},
            {c.SEEKER_ID: "rural_sms", c.DENSITY_LEVEL: 6, c.PREFERRED_CHANNEL: "sms"},
            {c.SEEKER_ID: "today"},
            {c.SEEKER_ID: "week"},
            {c.SEEKER_ID: "ok"},
        ]
    )
    h = history(
        [
            {c.SEEKER_ID: "stop", "opted_out": True},
            {c.SEEKER_ID: "open", "queue_item_open": True},
            {c.SEEKER_ID: "silent", "no_response_count": 3},
            {c.SEEKER_ID: "dead", "sms_undeliverable": True},
            {c.SEEKER_ID: "today", "sms_today": 1},
            {c.SEEKER_ID: "week", "offers_week": 3},
        ]
    )
    out = route(s, h, rules=default_rules())
    got = dict(zip(out[c.SEEKER_ID], zip(out[c.CHANNEL], out[c.REASON], strict=True), strict=True))
    assert got == {
        "stop": ("suppressed", "opted_out"),
        "open": ("suppressed", "queue_item_open"),
        "nomob": ("counsellor", "no_mobile"),
        "dead": ("counsellor", "sms_undeliverable"),
        "nocons": ("counsellor", "no_sms_consent"),
        "pref": ("counsellor", "declared_preference"),
        "silent": ("counsellor", "repeated_no_response"),
        "rural": ("counsellor", "rural_low_digital"),
        "rural_sms": ("sms", "sms_default"),
        "today": ("suppressed", "daily_sms_cap"),
        "week": ("suppressed", "weekly_offer_cap"),
        "ok": ("sms", "sms_default"),
    }


def test_opt_out_wins_over_everything() -> None:
    s = seekers([{c.SEEKER_ID: "x", c.MOBILE: None, c.SMS_CONSENT: False}])
    out = route(s, history([{c.SEEKER_ID: "x", "opted_out": True}]), rules=default_rules())
    assert out.row(0) == ("x", "suppressed", "opted_out")


def matches(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=[c.SEEKER_ID, c.VACANCY_ID, c.SCORE], orient="row")


def test_vacancy_cap_sends_the_weaker_seeker_to_its_next_match() -> None:
    # V1 has room for one seeker (1 position x 1). A scores it 0.9, B 0.8: B falls back to V2.
    m = matches([("A", "V1", 0.9), ("B", "V1", 0.8), ("B", "V2", 0.5)])
    routing = pl.DataFrame({c.SEEKER_ID: ["A", "B"], c.CHANNEL: ["sms", "counsellor"], c.REASON: ["r", "r"]})
    vac = pl.DataFrame({c.VACANCY_ID: ["V1", "V2"], c.POSITIONS: [1, 1]})
    none = pl.DataFrame(schema={c.SEEKER_ID: pl.String, c.VACANCY_ID: pl.String})
    load = pl.DataFrame(schema={c.VACANCY_ID: pl.String, "offered_count": pl.Int64})
    out = select_offers(m, routing, vac, already_offered=none, vacancy_load=load, shortlist_per_position=1)
    assert sorted(zip(out[c.SEEKER_ID], out[c.VACANCY_ID], strict=True)) == [("A", "V1"), ("B", "V2")]


def test_never_the_same_vacancy_twice_and_earlier_load_counts() -> None:
    m = matches([("A", "V1", 0.9), ("A", "V2", 0.7), ("B", "V2", 0.6)])
    routing = pl.DataFrame({c.SEEKER_ID: ["A", "B"], c.CHANNEL: ["sms", "sms"], c.REASON: ["r", "r"]})
    vac = pl.DataFrame({c.VACANCY_ID: ["V1", "V2"], c.POSITIONS: [1, 1]})
    before = pl.DataFrame({c.SEEKER_ID: ["A"], c.VACANCY_ID: ["V1"]})
    load = pl.DataFrame({c.VACANCY_ID: ["V1", "V2"], "offered_count": [1, 1]})
    out = select_offers(m, routing, vac, already_offered=before, vacancy_load=load, shortlist_per_position=2)
    # A already had V1, so A gets V2 (room 2 - 1 = 1, A outscores B); B is left without an offer.
    assert list(zip(out[c.SEEKER_ID], out[c.VACANCY_ID], strict=True)) == [("A", "V2")]
    final = final_routing(routing, out).sort(c.SEEKER_ID)
    assert final.row(1, named=True)[c.REASON] == NO_OFFER_LEFT
    assert final.row(1, named=True)[c.CHANNEL] == "suppressed"


def test_suppressed_seekers_get_nothing() -> None:
    m = matches([("A", "V1", 0.9)])
    routing = pl.DataFrame({c.SEEKER_ID: ["A"], c.CHANNEL: ["suppressed"], c.REASON: ["opted_out"]})
    vac = pl.DataFrame({c.VACANCY_ID: ["V1"], c.POSITIONS: [1]})
    none = pl.DataFrame(schema={c.SEEKER_ID: pl.String, c.VACANCY_ID: pl.String})
    load = pl.DataFrame(schema={c.VACANCY_ID: pl.String, "offered_count": pl.Int64})
    assert select_offers(m, routing, vac, already_offered=none, vacancy_load=load).is_empty()


def test_shortlist_is_capped_by_positions_and_ranked_by_score() -> None:
    from matching.offers import shortlists

    m = matches([("A", "V1", 0.5), ("B", "V1", 0.9), ("C", "V1", 0.7), ("A", "V2", 0.4)])
    vac = pl.DataFrame({c.VACANCY_ID: ["V1", "V2"], c.POSITIONS: [1, 3]})
    out = shortlists(m, vac, shortlist_per_position=2)
    # V1: 1 position x 2 = 2 seekers, best first; V2: room for 6, one candidate
    assert out.rows() == [("V1", 1, "B", 0.9), ("V1", 2, "C", 0.7), ("V2", 1, "A", 0.4)]
