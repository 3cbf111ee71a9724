"""The command line: every command has --help; normalize, generate, report and explain work end to end."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import typer.core
import typer.main
from typer.testing import CliRunner, Result

from connectors.warehouse import Warehouse
from tests.conftest import REAL_OFFERS
from tremplin.cli import app
from tremplin.settings import Settings

runner = CliRunner()


def registered_commands() -> list[str]:
    """Every command the Typer app registers, under the name the command line knows it by."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return sorted(group.commands)


COMMANDS = registered_commands()


def test_the_command_list_comes_from_the_app() -> None:
    assert {"generate", "nightly", "dispatch", "serve", "report", "explain", "normalize", "bench"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def run_normalize(folder: Path, labels: str, queries: str, *extra: str) -> Result:
    """``tremplin normalize`` on labels.tsv and queries.tsv written in ``folder``, into folder/out.tsv."""
    (folder / "labels.tsv").write_text(labels, encoding="utf-8")
    (folder / "queries.tsv").write_text(queries, encoding="utf-8")
    return runner.invoke(
        app,
        [
            "normalize",
            "--taxonomy",
            str(folder / "labels.tsv"),
            "--queries",
            str(folder / "queries.tsv"),
            "--out",
            str(folder / "out.tsv"),
            *extra,
        ],
    )


def test_normalize_any_taxonomy(tmp_path: Path) -> None:
    result = run_normalize(
        tmp_path,
        "D1106\tVendeur / Vendeuse en boulangerie\nD1214\tVendeur / Vendeuse en prêt-à-porter\n"
        "J1501\tAide-soignant / Aide-soignante\nJ1501\tAide soignant en EHPAD\n",
        "q1\tvendeuse boulangerie\nq2\taide soignante\n",
        "--top",
        "2",
    )
    assert result.exit_code == 0, result.output
    out = pl.read_csv(
        tmp_path / "out.tsv", separator="\t", has_header=False, new_columns=["query_id", "rank", "concept_id", "score"]
    )
    best = out.filter(pl.col("rank") == 1).sort("query_id")
    assert best["concept_id"].to_list() == ["D1106", "J1501"]
    assert (out.group_by("query_id").len()["len"] <= 2).all()  # --top 2, of the 3 concepts
    assert out["score"].is_between(0, 1).all()


def test_normalize_names_a_bad_file(tmp_path: Path) -> None:
    result = run_normalize(tmp_path, "only-one-column\n", "q1\tx\n")
    assert result.exit_code == 2
    assert "labels.tsv" in result.output


def test_generate_nightly_report_explain(tmp_path: Path, data_dir: Path) -> None:
    home = tmp_path / "home"
    day = home / "inbox" / "2026-11-23"
    args = ["--data-dir", str(data_dir)]
    result = runner.invoke(
        app, ["generate", "--seekers", "600", "--vacancies", "200", "--seed", "5", "--out", str(day), *args]
    )
    assert result.exit_code == 0, result.output
    shutil.copy(REAL_OFFERS, day / "offres.jsonl")
    result = runner.invoke(app, ["nightly", "--date", "2026-11-23", "--home", str(home), *args])
    assert result.exit_code == 0, result.output
    assert "seekers.csv" in result.output and "Routing" in result.output
    report = runner.invoke(app, ["report", "--run", "2026-11-23", "--home", str(home), "--json", *args])
    assert report.exit_code == 0, report.output
    figures = json.loads(report.stdout)
    settings = Settings.from_env({}, data_dir=data_dir, home=home)
    with Warehouse.open(settings.warehouse, read_only=True) as wh:
        matches = wh.table("matches").filter(pl.col("run_date") == date(2026, 11, 23))
    seeker = matches["seeker_id"][0]
    assert figures["run_date"] == "2026-11-23"
    assert figures["matches"]["pairs"] == matches.height > 0
    explained = runner.invoke(app, ["explain", "--seeker", seeker, "--run", "2026-11-23", "--home", str(home), *args])
    assert explained.exit_code == 0, explained.output
    assert "Weights: skills 0.55" in explained.output
    assert "matched skills:" in explained.output
    assert "not used: gender, age, disability" in explained.output
    assert "de chez vous" in explained.output
    latest = runner.invoke(app, ["explain", "--seeker", seeker, "--home", str(home), *args])  # the last night
    assert latest.exit_code == 0 and latest.output == explained.output


def test_nightly_without_inputs_names_the_directory(tmp_path: Path, data_dir: Path) -> None:
    result = runner.invoke(
        app, ["nightly", "--date", "2026-11-23", "--home", str(tmp_path), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2
    assert "inbox/2026-11-23" in result.output
