"""Tonight's offers under the vacancy caps: a chain of displaced seekers worked out by hand, and, on random
small nights with tied scores, the same offers as the plain round-by-round deferred acceptance below (the
first implementation, which rescanned every match in every round: too slow and too big at 5M seekers)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import columns as c
from matching.offers import select_offers

NONE_OFFERED = pl.DataFrame(schema={c.SEEKER_ID: pl.String, c.VACANCY_ID: pl.String})
NO_LOAD = pl.DataFrame(schema={c.VACANCY_ID: pl.String, "offered_count": pl.Int64})


def plain_deferred_acceptance(
    matches: pl.DataFrame,
    routing: pl.DataFrame,
    vacancies: pl.DataFrame,
    *,
    already_offered: pl.DataFrame,
    vacancy_load: pl.DataFrame,
    shortlist_per_position: int,
    offers_per_seeker: int,
) -> set[tuple[str, str]]:
    """Every routed seeker without enough offers proposes its best matches not yet proposed; each vacancy keeps
    the best-scored proposals (ties: smaller seeker id) up to its room; rounds until nobody proposes."""
    routed = set(routing.filter(pl.col(c.CHANNEL).is_in([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR]))[c.SEEKER_ID])
    before = set(already_offered.select(c.SEEKER_ID, c.VACANCY_ID).iter_rows())
    prefs: dict[str, list[tuple[float, str]]] = {}
    for seeker, vacancy, score in matches.select(c.SEEKER_ID, c.VACANCY_ID, c.SCORE).iter_rows():
        if seeker in routed and (seeker, vacancy) not in before:
            prefs.setdefault(seeker, []).append((score, vacancy))
    for options in prefs.values():
        options.sort(key=lambda o: (-o[0], o[1]))  # best score first, ties by vacancy id
    load = dict(vacancy_load.select(c.VACANCY_ID, "offered_count").iter_rows())
    room = {
        v: max(0, positions * shortlist_per_position - (load.get(v) or 0))
        for v, positions in vacancies.select(c.VACANCY_ID, c.POSITIONS).iter_rows()
    }
    proposed = dict.fromkeys(prefs, 0)
    held: dict[str, list[tuple[float, str]]] = {}  # vacancy -> (score, seeker) kept
    while True:
        have = {s: 0 for s in prefs}
        for kept in held.values():
            for _score, s in kept:
                have[s] += 1
        proposals = []
        for s, options in prefs.items():
            take = min(offers_per_seeker - have[s], len(options) - proposed[s])
            proposals += [(s, *options[i]) for i in range(proposed[s], proposed[s] + max(take, 0))]
            proposed[s] += max(take, 0)
        if not proposals:
            break
        for s, score, v in proposals:
            held.setdefault(v, []).append((score, s))
        for v, kept in held.items():
            kept.sort(key=lambda k: (-k[0], k[1]))
            del kept[room.get(v, 0) :]
    return {(s, v) for v, kept in held.items() for _score, s in kept}


def pairs(offers: pl.DataFrame) -> set[tuple[str, str]]:
    return set(offers.select(c.SEEKER_ID, c.VACANCY_ID).iter_rows())


def test_a_chain_of_displaced_seekers() -> None:
    """Room for one in each vacancy. A takes V1 from B (0.9 > 0.8); B then takes V2 from C (0.7 > 0.6); C goes
    to V3. D only wants V3 and scores it 0.3 against C's 0.4, so D is left without an offer."""
    m = pl.DataFrame(
        [
            ("A", "V1", 0.9),
            ("B", "V1", 0.8),
            ("B", "V2", 0.7),
            ("C", "V2", 0.6),
            ("C", "V3", 0.4),
            ("D", "V3", 0.3),
        ],
        schema=[c.SEEKER_ID, c.VACANCY_ID, c.SCORE],
        orient="row",
    )
    routing = pl.DataFrame({c.SEEKER_ID: list("ABCD"), c.CHANNEL: ["sms"] * 4, c.REASON: ["r"] * 4})
    vac = pl.DataFrame({c.VACANCY_ID: ["V1", "V2", "V3"], c.POSITIONS: [1, 1, 1]})
    out = select_offers(m, routing, vac, already_offered=NONE_OFFERED, vacancy_load=NO_LOAD, shortlist_per_position=1)
    assert out.select(c.SEEKER_ID, c.VACANCY_ID, c.SCORE, c.CHANNEL).rows() == [
        ("A", "V1", 0.9, "sms"),
        ("B", "V2", 0.7, "sms"),
        ("C", "V3", 0.4, "sms"),
    ]
    # two offers a seeker change nothing here: each vacancy has room for one, and whoever loses one has no
    # other match left
    two = select_offers(
        m,
        routing,
        vac,
        already_offered=NONE_OFFERED,
        vacancy_load=NO_LOAD,
        shortlist_per_position=1,
        offers_per_seeker=2,
    )
    assert pairs(two) == {("A", "V1"), ("B", "V2"), ("C", "V3")}


def test_ties_go_to_the_smaller_seeker_id_and_the_smaller_vacancy_id() -> None:
    # A and B tie on V1 (room 1): A, the smaller id, keeps it; B's next choice is V2. C ties V2 and V3 and
    # proposes to V2 first (smaller id), where B, tied at 0.5 and smaller, wins; C goes to V3.
    m = pl.DataFrame(
        [("A", "V1", 0.5), ("B", "V1", 0.5), ("B", "V2", 0.5), ("C", "V2", 0.5), ("C", "V3", 0.5)],
        schema=[c.SEEKER_ID, c.VACANCY_ID, c.SCORE],
        orient="row",
    )
    routing = pl.DataFrame({c.SEEKER_ID: list("CBA"), c.CHANNEL: ["counsellor"] * 3, c.REASON: ["r"] * 3})
    vac = pl.DataFrame({c.VACANCY_ID: ["V3", "V2", "V1"], c.POSITIONS: [1, 1, 1]})
    out = select_offers(m, routing, vac, already_offered=NONE_OFFERED, vacancy_load=NO_LOAD, shortlist_per_position=1)
    assert pairs(out) == {("A", "V1"), ("B", "V2"), ("C", "V3")}


@st.composite
def nights(draw: st.DrawFn) -> dict[str, object]:
    seekers = [f"S{i:02d}" for i in range(draw(st.integers(1, 12)))]
    vacancies = [f"V{i:02d}" for i in range(draw(st.integers(1, 8)))]
    cells = [(s, v) for s in seekers for v in vacancies]
    chosen = draw(st.lists(st.sampled_from(cells), unique=True, max_size=40))
    scores = st.sampled_from([0.2, 0.4, 0.5, 0.6, 0.8])  # few values: many ties
    m = pl.DataFrame(
        [(s, v, draw(scores)) for s, v in chosen],
        schema={c.SEEKER_ID: pl.String, c.VACANCY_ID: pl.String, c.SCORE: pl.Float64},
        orient="row",
    )
    channels = [draw(st.sampled_from([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR, c.CHANNEL_SUPPRESSED])) for _ in seekers]
    routing = pl.DataFrame({c.SEEKER_ID: seekers, c.CHANNEL: channels, c.REASON: ["r"] * len(seekers)})
    # a vacancy may be missing from the vacancy table (no room) or carry earlier nights' load
    listed = draw(st.lists(st.sampled_from(vacancies), unique=True, min_size=0, max_size=len(vacancies)))
    vac = pl.DataFrame(
        {c.VACANCY_ID: listed, c.POSITIONS: [draw(st.integers(0, 2)) for _ in listed]},
        schema={c.VACANCY_ID: pl.String, c.POSITIONS: pl.Int64},
    )
    offered = draw(st.lists(st.sampled_from(chosen), unique=True, max_size=5)) if chosen else []
    before = pl.DataFrame(offered, schema={c.SEEKER_ID: pl.String, c.VACANCY_ID: pl.String}, orient="row")
    loaded = draw(st.lists(st.sampled_from(vacancies), unique=True, max_size=3))
    load = pl.DataFrame(
        {c.VACANCY_ID: loaded, "offered_count": [draw(st.integers(0, 3)) for _ in loaded]},
        schema={c.VACANCY_ID: pl.String, "offered_count": pl.Int64},
    )
    return {
        "matches": m,
        "routing": routing,
        "vacancies": vac,
        "already_offered": before,
        "vacancy_load": load,
        "shortlist_per_position": draw(st.integers(1, 3)),
        "offers_per_seeker": draw(st.integers(1, 3)),
    }


@settings(max_examples=300, deadline=None)
@given(nights())
def test_the_same_offers_as_plain_deferred_acceptance(night: dict[str, object]) -> None:
    out = select_offers(**night)  # type: ignore[arg-type]
    assert pairs(out) == plain_deferred_acceptance(**night)  # type: ignore[arg-type]
    assert out.height == len(pairs(out))
    # every offer carries its match's score and its seeker's channel, best first per seeker
    m, routing = night["matches"], night["routing"]
    assert isinstance(m, pl.DataFrame) and isinstance(routing, pl.DataFrame)
    expected = (
        out.select(c.SEEKER_ID, c.VACANCY_ID).join(m, on=[c.SEEKER_ID, c.VACANCY_ID]).join(routing, on=c.SEEKER_ID)
    )
    assert sorted(out.select(expected.columns).rows()) == sorted(expected.rows())
    assert out[c.CHANNEL].is_in([c.CHANNEL_SMS, c.CHANNEL_COUNSELLOR]).all()
    assert out.rows() == out.sort([c.SEEKER_ID, c.SCORE, c.VACANCY_ID], descending=[False, True, False]).rows()
