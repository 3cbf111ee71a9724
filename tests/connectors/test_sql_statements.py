"""The warehouse's SQL: every statement in ``sql/`` is named, as a literal, by the code that runs it, every name
the code runs is a statement, and the built wheel carries them all (an installed tremplin needs no source tree).
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path

import pytest

from connectors.warehouse import CREATE_STATEMENTS, Warehouse, statement
from tremplin.settings import PROJECT_ROOT

SQL = PROJECT_ROOT / "sql"
STATEMENTS = sorted(p.stem for p in SQL.glob("*.sql"))
# what runs in production (the tests may name statements too: those names must exist, but do not count as use)
CODE = ("tremplin", "connectors", "dags", "matching")
# a statement is named verb_object, with the verbs of the files
VERBS = {name.split("_")[0] for name in STATEMENTS}
NAME_SHAPE = re.compile(r"[a-z]+(_[a-z0-9]+)+")


def _statement_methods() -> set[str]:
    """The methods of ``Warehouse`` that take a statement's name (their first parameter is ``name``)."""
    found = set()
    for method, function in inspect.getmembers(Warehouse, inspect.isfunction):
        parameters = list(inspect.signature(function).parameters)
        if parameters[:2] == ["self", "name"]:
            found.add(method)
    return found


@cache
def _parsed(room: str) -> list[tuple[Path, ast.Module]]:
    paths = sorted((PROJECT_ROOT / room).rglob("*.py"))
    return [(path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))) for path in paths]


def _sources(*rooms: str) -> Iterator[tuple[Path, ast.Module]]:
    for room in rooms:
        yield from _parsed(room)


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PROJECT_ROOT)}:{getattr(node, 'lineno', 0)}"


def _literal_names(*rooms: str) -> dict[str, list[str]]:
    """Every string literal shaped like a statement name (verb_object), with where it is written."""
    names: dict[str, list[str]] = {}
    for path, tree in _sources(*rooms):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and NAME_SHAPE.fullmatch(node.value)
                and node.value.split("_")[0] in VERBS
            ):
                names.setdefault(node.value, []).append(_where(path, node))
    return names


def _statement_calls(*rooms: str) -> Iterator[tuple[str, ast.expr]]:
    """The first argument of every call to a method named like one of ``Warehouse``'s taking a statement name
    (``execute`` is also a raw connection's, whose SQL text has spaces or is one word such as ``commit``)."""
    methods = _statement_methods()
    for path, tree in _sources(*rooms):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in methods
                and node.args
            ):
                yield _where(path, node), node.args[0]


def _text(node: ast.expr) -> str | None:
    """The literal text of a string built with an f-string, ``+`` or ``%``; None for anything else."""
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        parts = [_text(side) if not isinstance(side, ast.Constant) else side.value for side in (node.left, node.right)]
        if any(isinstance(part, str) for part in parts):
            return "".join(part for part in parts if isinstance(part, str))
    return None


def test_the_statement_methods_are_known() -> None:
    # if Warehouse grows a method taking a statement's name, the checks below must look at its calls too
    assert _statement_methods() == {"execute", "frame", "scalar", "_run"}


def test_the_installed_package_reads_the_repository_sql() -> None:
    shipped = sorted(
        Path(resource.name).stem for resource in files("tremplin.sql").iterdir() if resource.name.endswith(".sql")
    )
    assert shipped == STATEMENTS
    assert statement("upsert_seekers") == (SQL / "upsert_seekers.sql").read_text(encoding="utf-8")


def test_every_statement_is_named_by_the_code() -> None:
    named = _literal_names(*CODE)
    unused = [name for name in STATEMENTS if name not in named]
    assert not unused, f"sql/ files no code names as a literal: {unused}"


def test_every_name_in_the_code_is_a_statement() -> None:
    # the names passed straight to the warehouse, tests included (a raw connection's "commit" is not shaped
    # verb_object), and the code's verb_object literals (the tables and branches that choose a statement)
    passed = {
        where: first.value
        for where, first in _statement_calls(*CODE, "tests")
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and NAME_SHAPE.fullmatch(first.value)
    }
    assert passed, "no statement call found: the scan is broken"
    missing = {where: name for where, name in passed.items() if name not in STATEMENTS}
    missing |= {where[0]: name for name, where in _literal_names(*CODE).items() if name not in STATEMENTS}
    assert not missing, f"statement names with no file in sql/: {missing}"


def test_statement_names_are_never_built() -> None:
    """``wh.execute(f"stage_file_{kind}")`` hides the caller of ``stage_file_seekers`` from grep: a name passed to a
    statement method is a literal, or a variable holding literals. (SQL text built for a raw connection, such as
    ``con.execute(f'select count(*) from "{name}"')``, has spaces: it is not a statement's name.)"""
    built = []
    for where, first in _statement_calls(*CODE, "tests"):
        text = _text(first)
        if text is not None and not re.search(r"\s", text):
            built.append(f"{where}: {ast.unparse(first)}")
    assert not built, "statement names built at run time:\n" + "\n".join(built)


def test_migrate_creates_every_table() -> None:
    assert list(CREATE_STATEMENTS) == [name for name in STATEMENTS if name.startswith("create_")]


# --- the wheel -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the source (the build leaves ``build/`` and ``*.egg-info`` behind), offline:
    the build backend comes from uv's cache, filled when ``make venv`` installed the project."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for room in ("tremplin", "matching", "connectors", "sql"):
        shutil.copytree(PROJECT_ROOT / room, source / room, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, source / name)
    out = work / "dist"
    uv_build = [sys.executable, "-m", "uv", "build", "--wheel", "--offline", "--python", sys.executable]
    build = subprocess.run(
        [*uv_build, "--out-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (built,) = out.glob("tremplin-*.whl")
    return built


def test_the_wheel_carries_every_statement_and_template(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        assert {f"tremplin/sql/{name}.sql" for name in STATEMENTS} <= names
        for name in STATEMENTS:
            assert whl.read(f"tremplin/sql/{name}.sql") == (SQL / f"{name}.sql").read_bytes()
    for folder in ("tremplin/review/templates", "tremplin/review/static", "tremplin/report/templates"):
        expected = {p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / folder).iterdir() if p.is_file()}
        assert expected, folder
        assert expected <= names, f"{folder}: {sorted(expected - names)} not in the wheel"


def test_the_wheel_carries_every_package(wheel: Path) -> None:
    # pyproject.toml lists the packages (sql/ is mapped into tremplin.sql, which discovery cannot do)
    packages = {
        p.relative_to(PROJECT_ROOT).as_posix()
        for room in ("tremplin", "matching", "connectors")
        for p in (PROJECT_ROOT / room).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    with zipfile.ZipFile(wheel) as whl:
        missing = packages - set(whl.namelist())
    assert not missing, f"packages left out of the wheel (add them to [tool.setuptools] packages): {sorted(missing)}"


def test_the_wheel_alone_runs_every_create_statement(wheel: Path, tmp_path: Path) -> None:
    """The project imported from the wheel, and not from the source tree, opens a warehouse: ``migrate`` reads
    every ``create_*`` statement from the package. Without ``site``, the editable install's finder is not there."""
    libraries = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    script = (
        "import sys\n"
        f"sys.path[:0] = [{str(wheel)!r}]\n"
        f"sys.path += {sorted(libraries)!r}\n"
        "import connectors.warehouse as w\n"
        "assert w.__file__.startswith(sys.path[0]), w.__file__\n"
        "with w.Warehouse.open(':memory:') as wh:\n"
        "    print(len(wh.con.execute('select * from duckdb_tables()').fetchall()))\n"
    )
    run = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(CREATE_STATEMENTS)
