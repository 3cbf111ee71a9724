"""The synthetic data generator: deterministic, chunk-independent, realistic, safe (fiction phone range)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
import polars as pl
import pytest

from connectors.files import InputFile, read_raw
from connectors.reference import Reference, load_reference
from matching import columns as c
from tremplin.dev import generate as g
from tremplin.errors import TremplinError
from tremplin.nightly.validate import validate_seekers, validate_vacancies

DATA_DIR = Path(os.environ.get("TREMPLIN_DATA_DIR", "/work/shared/data"))
SEEKERS = 2_000
VACANCIES = 500
ROME_PATTERN = r"^[A-N]\d{4}$"


@pytest.fixture(scope="module")
def ref() -> Reference:
    if not (DATA_DIR / "rome").is_dir():
        pytest.skip(f"reference data not found at {DATA_DIR} (set TREMPLIN_DATA_DIR to run the generator tests)")
    return load_reference(DATA_DIR)


@pytest.fixture(scope="module")
def sample(ref: Reference, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    out = tmp_path_factory.mktemp("generated")
    yield g.generate(ref, seekers=SEEKERS, vacancies=VACANCIES, seed=11, out_dir=out)


def _read(path: object) -> pl.DataFrame:
    return pl.read_csv(Path(str(path)), infer_schema=False)


def _split(frame: pl.DataFrame, name: str) -> pl.Series:
    values = frame.get_column(name).fill_null("").str.split("|").explode()
    return values.filter(values != "")


def _bad_seekers(_frame: pl.DataFrame) -> pl.Expr:
    return (
        pl.col(c.SEEKER_ID).is_null()
        | (pl.col(c.SEEKER_ID) == "")
        | (pl.col(c.COMMUNE) == g.BAD_COMMUNE)
        | (pl.col(c.MOBILE) == g.BAD_MOBILE)
        | (pl.col(c.RADIUS_KM) == g.BAD_RADIUS)
        | (pl.col(c.UPDATED_AT) == g.BAD_TIMESTAMP)
    )


def test_columns_follow_the_input_contract(sample: dict[str, object]) -> None:
    seekers, vacancies = _read(sample["seekers_path"]), _read(sample["vacancies_path"])
    assert seekers.columns == list(g.SEEKER_COLUMNS)
    assert vacancies.columns == list(g.VACANCY_COLUMNS)
    assert (seekers.height, vacancies.height) == (SEEKERS, VACANCIES)
    assert sample["seekers"] == SEEKERS and sample["vacancies"] == VACANCIES


def test_same_seed_same_bytes_other_seed_other_bytes(ref: Reference, tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        g.generate(ref, seekers=SEEKERS, vacancies=VACANCIES, seed=seed, out_dir=tmp_path / name)
        runs[name] = [(tmp_path / name / f).read_bytes() for f in ("seekers.csv", "vacancies.csv")]
    assert runs["a"] == runs["b"]
    assert runs["a"][0] != runs["c"][0] and runs["a"][1] != runs["c"][1]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_chunk_size_does_not_change_the_output(ref: Reference, tmp_path: Path, fmt: str) -> None:
    # more rows than one random block, so that blocks and chunks cross each other
    rows = g.BLOCK_ROWS + 700
    outputs = []
    for chunk in (300, 100_000):
        out = tmp_path / str(chunk)
        g.generate(ref, seekers=rows, vacancies=VACANCIES, seed=3, out_dir=out, fmt=fmt, chunk_size=chunk)
        outputs.append([(out / f"{kind}.{fmt}").read_bytes() for kind in ("seekers", "vacancies")])
    assert outputs[0] == outputs[1]


def test_mobile_numbers_only_in_the_fiction_range(sample: dict[str, object]) -> None:
    seekers = _read(sample["seekers_path"])
    mobiles = seekers.get_column(c.MOBILE)
    # overseas seekers get the international form, which no overseas region can misread
    overseas = seekers.filter(pl.col(c.COMMUNE).str.starts_with("97") & (pl.col(c.MOBILE) != g.BAD_MOBILE))
    assert overseas.height and overseas[c.MOBILE].drop_nulls().str.starts_with("+33").all()
    missing = mobiles.is_null().mean()
    assert missing is not None and 0.03 < float(missing) < 0.10  # ~6 % have no mobile
    numbers = mobiles.drop_nulls().filter(mobiles.drop_nulls() != g.BAD_MOBILE).to_list()
    assert numbers
    shapes = set()
    for raw in numbers:
        parsed = phonenumbers.parse(raw, "FR")
        assert parsed.country_code == 33, raw
        assert 639_980_000 <= parsed.national_number <= 639_989_999, raw
        shapes.add(raw[:3])
    assert {"06 ", "063", "+33"} <= shapes  # mixed realistic formats


def test_seekers_follow_population(ref: Reference, tmp_path: Path) -> None:
    n = 6_000
    result = g.generate(ref, seekers=n, vacancies=10, seed=21, out_dir=tmp_path, bad_row_rate=0.0)
    seekers = _read(result["seekers_path"])
    communes = ref.communes.filter(pl.col("population") > 0)
    share = communes.filter(pl.col("department") == "75")["population"].sum() / communes["population"].sum()
    paris = seekers.join(communes.select(c.COMMUNE, "department"), on=c.COMMUNE).filter(pl.col("department") == "75")
    expected, std = n * share, math.sqrt(n * share * (1 - share))
    assert abs(paris.height - expected) < 4 * std, (paris.height, expected, std)
    # communes without population get nobody
    empty = ref.communes.filter(pl.col("population") == 0).get_column(c.COMMUNE)
    assert not seekers.get_column(c.COMMUNE).is_in(empty.implode()).any()


def test_vacancies_concentrate_in_towns(ref: Reference, tmp_path: Path) -> None:
    result = g.generate(ref, seekers=3_000, vacancies=3_000, seed=4, out_dir=tmp_path, bad_row_rate=0.0)
    density = ref.communes.select(c.COMMUNE, c.DENSITY_LEVEL)

    def urban(path: object) -> float:
        joined = _read(path).join(density, on=c.COMMUNE)
        return float((joined[c.DENSITY_LEVEL] <= 2).mean() or 0.0)

    assert urban(result["vacancies_path"]) > urban(result["seekers_path"])


def test_bad_rows_at_the_requested_rate(ref: Reference, tmp_path: Path) -> None:
    n, m, rate = 4_000, 2_000, 0.05
    result = g.generate(ref, seekers=n, vacancies=m, seed=8, out_dir=tmp_path, bad_row_rate=rate)
    seekers, vacancies = _read(result["seekers_path"]), _read(result["vacancies_path"])
    bad_seekers = seekers.filter(_bad_seekers(seekers)).height
    bad_vacancies = vacancies.filter(
        (pl.col(c.ROME_CODE) == g.BAD_ROME_CODE)
        | (pl.col(c.POSITIONS) == g.BAD_POSITIONS)
        | (pl.col(c.COMMUNE) == g.BAD_COMMUNE)
        | (pl.col(c.UPDATED_AT) == g.BAD_TIMESTAMP)
    ).height
    assert bad_seekers == result["bad_seekers"] and bad_vacancies == result["bad_vacancies"]
    for bad, rows in ((bad_seekers, n), (bad_vacancies, m)):
        assert abs(bad - rows * rate) < 4 * math.sqrt(rows * rate * (1 - rate)), (bad, rows)
    # every kind of breakage shows up
    for column, value in g.SEEKER_BAD_VALUES.items():
        assert (seekers[column] == value).any(), column
    for column, value in g.VACANCY_BAD_VALUES.items():
        assert (vacancies[column] == value).any(), column
    # and with the default rate, about 0.5 %
    default = g.generate(ref, seekers=n, vacancies=10, seed=8, out_dir=tmp_path / "default")
    assert abs(int(default["bad_seekers"]) - n * 0.005) < 4 * math.sqrt(n * 0.005)


def test_ingest_quarantines_exactly_the_bad_rows(ref: Reference, tmp_path: Path) -> None:
    result = g.generate(ref, seekers=3_000, vacancies=1_000, seed=9, out_dir=tmp_path, bad_row_rate=0.03)
    raw = read_raw(InputFile("seekers", Path(str(result["seekers_path"])), "csv"))
    checked = validate_seekers(
        raw, file="seekers.csv", communes=ref.communes, default_radius_km=30.0, max_radius_km=200.0
    )
    assert checked.quarantine.get_column(c.LINE).n_unique() == result["bad_seekers"]
    raw = read_raw(InputFile("vacancies", Path(str(result["vacancies_path"])), "csv"))
    checked = validate_vacancies(
        raw, file="vacancies.csv", communes=ref.communes, rome_codes=ref.rome.sheets.get_column(c.ROME_CODE)
    )
    assert checked.quarantine.get_column(c.LINE).n_unique() == result["bad_vacancies"]


def test_occupations_are_rome_codes_or_free_text(ref: Reference, sample: dict[str, object]) -> None:
    seekers = _read(sample["seekers_path"])
    occupations = _split(seekers, c.OCCUPATIONS)
    is_code = occupations.str.contains(ROME_PATTERN)
    codes = occupations.filter(is_code)
    assert codes.is_in(ref.rome.sheets[c.ROME_CODE].implode()).all()
    free = occupations.filter(~is_code)
    assert free.str.contains(r"[a-zà-ÿ]{3}").all()  # words, not malformed codes
    first = seekers.get_column(c.OCCUPATIONS).str.split("|").list.first()
    free_share = float((~first.str.contains(ROME_PATTERN)).mean() or 0.0)
    assert 0.10 < free_share < 0.20  # ~15 %
    assert (seekers.get_column(c.OCCUPATIONS).str.count_matches(r"\|") == 1).any()  # some have a second sheet
    assert not free.str.contains(" / ").all()  # gender forms are reduced for most
    vacancies = _read(sample["vacancies_path"]).filter(pl.col(c.ROME_CODE) != g.BAD_ROME_CODE)
    assert vacancies[c.ROME_CODE].is_in(ref.rome.sheets[c.ROME_CODE].implode()).all()
    assert vacancies[c.TITLE].is_in(ref.rome.appellations["label"].implode()).all()


def test_skills_are_items_or_free_text(ref: Reference, sample: dict[str, object]) -> None:
    seekers = _read(sample["seekers_path"])
    skills = _split(seekers, c.SKILLS)
    is_code = skills.str.contains(r"^\d+$")
    assert skills.filter(is_code).is_in(ref.rome.items["item_code"].implode()).all()
    with_text = seekers.get_column(c.SKILLS).str.contains(r"[A-Za-zÀ-ÿ]")
    assert 0.06 < float(with_text.mean() or 0.0) < 0.14  # ~10 %
    counts = seekers.get_column(c.SKILLS).str.count_matches(r"\|") + 1
    assert counts.min() >= 4 and counts.max() <= 14  # 4-12 of the sheet plus 0-2 from anywhere
    vacancies = _read(sample["vacancies_path"])
    skill_counts = vacancies.get_column(c.SKILL_CODES).str.count_matches(r"\|") + 1
    assert skill_counts.min() >= 5 and skill_counts.max() <= 10
    for row in vacancies.select(c.SKILL_CODES, c.REQUIRED_SKILL_CODES).iter_rows():
        wanted, required = row[0].split("|"), row[1].split("|")
        assert 1 <= len(required) <= 3 and set(required) <= set(wanted)


def test_core_items_are_drawn_more_often(ref: Reference, tmp_path: Path) -> None:
    result = g.generate(ref, seekers=10, vacancies=4_000, seed=2, out_dir=tmp_path, bad_row_rate=0.0)
    drawn = (
        _read(result["vacancies_path"])
        .select(c.ROME_CODE, pl.col(c.SKILL_CODES).str.split("|").alias("item_code"))
        .explode("item_code")
    )
    links = ref.rome.sheet_items.join(
        drawn.select(c.ROME_CODE).unique(), on=c.ROME_CODE
    )  # the links of the sheets that were drawn
    per_link = (
        links.join(drawn.group_by(c.ROME_CODE, "item_code").len(), on=[c.ROME_CODE, "item_code"], how="left")
        .with_columns(pl.col("len").fill_null(0))
        .join(drawn.group_by(c.ROME_CODE).len("vacancies_rows"), on=c.ROME_CODE)
    )
    rate = per_link.group_by("core").agg((pl.col("len").sum() / pl.col("vacancies_rows").sum()).alias("rate"))
    core = rate.filter(pl.col("core"))["rate"][0]
    other = rate.filter(~pl.col("core"))["rate"][0]
    assert core > 2 * other, (core, other)


def test_seeker_fields(sample: dict[str, object]) -> None:
    seekers = _read(sample["seekers_path"])
    seekers = seekers.filter(~_bad_seekers(seekers))
    assert seekers[c.SEEKER_ID].is_unique().all()
    assert set(seekers[c.RADIUS_KM].drop_nulls()) <= {"10", "20", "30", "50", "80"}
    assert set(seekers[c.WORKING_TIME]) <= set(c.WORKING_TIMES)
    assert set(seekers[c.PREFERRED_CHANNEL]) <= set(c.PREFERRED_CHANNELS)
    assert set(_split(seekers, c.CONTRACT_TYPES)) <= {"CDI", "CDD", "MIS", "SAI"}
    assert 0.65 < float((seekers[c.DRIVING_LICENCE] == "true").mean() or 0) < 0.85
    assert 0.78 < float((seekers[c.SMS_CONSENT] == "true").mean() or 0) < 0.92
    assert 0.04 < float((seekers[c.DISABILITY] == "true").mean() or 0) < 0.12
    assert set(seekers[c.GENDER]) <= {"F", "M", "X"}
    years = seekers[c.BIRTH_YEAR].cast(pl.Int64)
    assert years.min() >= 1958 and years.max() <= 2007  # type: ignore[operator]
    assert seekers[c.AGENCY_ID].str.contains(r"^FT-(\d{2}|2A|2B|97\d)-\d{3}$").all()
    departments = seekers[c.AGENCY_ID].str.extract(r"^FT-(\w+)-")
    assert (departments == seekers[c.COMMUNE].str.slice(0, 2)).any()
    stamps = seekers[c.UPDATED_AT].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    assert stamps.max() <= g.DEFAULT_AS_OF  # type: ignore[operator]
    assert (g.DEFAULT_AS_OF - stamps.min()).days < 90  # type: ignore[operator]


def test_parquet_and_jsonl_hold_the_same_rows(ref: Reference, tmp_path: Path) -> None:
    frames = {}
    for fmt in g.FORMATS:
        result = g.generate(ref, seekers=1_500, vacancies=400, seed=13, out_dir=tmp_path / fmt, fmt=fmt)
        seekers = Path(str(result["seekers_path"]))
        vacancies = Path(str(result["vacancies_path"]))
        assert seekers.name == f"seekers.{fmt}" and vacancies.name == f"vacancies.{fmt}"
        reader = {
            "csv": lambda p: pl.read_csv(p, infer_schema=False),
            "parquet": pl.read_parquet,
            "jsonl": pl.read_ndjson,
        }[fmt]
        frames[fmt] = (reader(seekers), reader(vacancies))
    for fmt in ("parquet", "jsonl"):
        seekers, vacancies = frames[fmt]
        assert isinstance(seekers.schema[c.SKILLS], pl.List)
        assert seekers.schema[c.RADIUS_KM] == pl.String
        joined = seekers.with_columns(pl.col(n).list.join("|") for n in g.SEEKER_LISTS)
        # CSV cannot tell an empty string from null; compare with nulls filled
        assert joined.fill_null("").equals(frames["csv"][0].fill_null(""))
        joined = vacancies.with_columns(pl.col(n).list.join("|") for n in g.VACANCY_LISTS)
        assert joined.fill_null("").equals(frames["csv"][1].fill_null(""))


def test_progress_counts_every_row_and_empty_runs_work(ref: Reference, tmp_path: Path) -> None:
    seen: list[int] = []
    g.generate(
        ref,
        seekers=1_000,
        vacancies=250,
        seed=1,
        out_dir=tmp_path / "p",
        chunk_size=300,
        progress=seen.append,
    )
    assert sum(seen) == 1_250 and max(seen) <= 300
    result = g.generate(ref, seekers=0, vacancies=0, seed=1, out_dir=tmp_path / "empty", fmt="parquet")
    assert pl.read_parquet(Path(str(result["seekers_path"]))).columns == list(g.SEEKER_COLUMNS)
    assert not list((tmp_path / "p").glob(".*"))  # no partial files left behind


def test_timestamps_follow_as_of_not_the_clock(ref: Reference, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    as_of = datetime(2030, 1, 1, tzinfo=UTC)
    result = g.generate(ref, seekers=200, vacancies=200, seed=1, out_dir=tmp_path, as_of=as_of, bad_row_rate=0)
    vacancies = _read(result["vacancies_path"])
    stamps = vacancies[c.UPDATED_AT].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    assert stamps.max() <= as_of and (as_of - stamps.min()).days < 30  # type: ignore[operator]


def test_bad_arguments_are_refused(ref: Reference, tmp_path: Path) -> None:
    with pytest.raises(TremplinError, match="format"):
        g.generate(ref, seekers=1, vacancies=1, seed=1, out_dir=tmp_path, fmt="xlsx")
    with pytest.raises(TremplinError, match="chunk_size"):
        g.generate(ref, seekers=1, vacancies=1, seed=1, out_dir=tmp_path, chunk_size=0)
