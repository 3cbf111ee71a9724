"""The one gateway to the DuckDB warehouse.

SQL lives in ``sql/<verb_object>.sql``, one statement per file, values bound as parameters; the wheel ships
``sql/`` as the package ``tremplin.sql``, read through ``importlib.resources``. Frames are
passed in by name (registered as views for the statement) and results come back as polars frames.
A failing statement raises :class:`WarehouseError` naming the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import duckdb
import polars as pl

from tremplin.errors import WarehouseError

# sql/ at the top of the repository, mapped into the package tremplin.sql (pyproject.toml): the same files
# from a checkout, an editable install or a wheel
SQL_PACKAGE = "tremplin.sql"

# every table of the warehouse, created (if it does not exist) by ``migrate`` in this order
CREATE_STATEMENTS = (
    "create_feedback",
    "create_ingest_stats",
    "create_matches",
    "create_quarantine",
    "create_routing",
    "create_run_manifest",
    "create_run_steps",
    "create_seeker_codes",
    "create_seeker_protected",
    "create_seekers",
    "create_shortlists",
    "create_vacancies",
)


class WarehouseSettings(Protocol):
    """What ``Warehouse.of`` reads from the run's settings (``tremplin.settings.Settings``)."""

    @property
    def warehouse(self) -> Path: ...

    @property
    def warehouse_memory(self) -> str | None: ...


def statement(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    resource = files(SQL_PACKAGE).joinpath(f"{name}.sql")
    if not resource.is_file():
        raise WarehouseError(f"no SQL statement named {name!r} ({resource} not found)")
    return resource.read_text(encoding="utf-8")


class Warehouse:
    """A DuckDB file opened by one writer for the length of a task.

    >>> with Warehouse.open(":memory:") as wh:
    ...     wh.table("seekers").height
    0
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @classmethod
    def of(cls, settings: WarehouseSettings, *, read_only: bool = False) -> AbstractContextManager[Warehouse]:
        """``open`` the run's warehouse with its memory limit: how every step opens it."""
        return cls.open(settings.warehouse, read_only=read_only, memory_limit=settings.warehouse_memory)

    @classmethod
    @contextmanager
    def open(cls, path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> Iterator[Warehouse]:
        """Open (and create or migrate) the warehouse; close it at the end of the block.

        ``memory_limit`` (DuckDB's, e.g. "4GB"; None: DuckDB's default, 80 % of the machine) bounds what DuckDB
        holds: past it, joins, sorts and staging tables spill to ``<warehouse>.tmp``.
        """
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            config: dict[str, str | bool | int | float | list[str]] = (
                {"memory_limit": memory_limit} if memory_limit else {}
            )
            con = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc
        try:
            wh = cls(con)
            if not read_only:
                wh.migrate()
            yield wh
        finally:
            con.close()

    def migrate(self) -> None:
        """Create every table that does not exist yet (``sql/create_*.sql``)."""
        for name in CREATE_STATEMENTS:
            self.execute(name)

    def _run(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        frames: Mapping[str, pl.DataFrame] | None,
        consume: Callable[[str, dict[str, Any] | None], Any],
    ) -> Any:
        sql = statement(name)
        for view, frame in (frames or {}).items():
            self.con.register(view, frame)
        try:
            return consume(sql, dict(params) if params else None)
        except duckdb.Error as exc:
            raise WarehouseError(f"statement {name!r} failed: {exc}") from exc
        finally:
            for view in frames or {}:
                self.con.unregister(view)

    def execute(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        frames: Mapping[str, pl.DataFrame] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run a statement and return all its rows (DuckDB 2 wants every result fully fetched)."""
        return self._run(name, params, frames, lambda sql, p: self.con.execute(sql, p).fetchall())

    def frame(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        frames: Mapping[str, pl.DataFrame] | None = None,
    ) -> pl.DataFrame:
        """Run a query and return its result as a polars frame."""
        return self._run(name, params, frames, lambda sql, p: self.con.sql(sql, params=p).pl())

    def scalar(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self.execute(name, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements of the block or none of them."""
        self.con.execute("begin transaction").fetchall()
        try:
            yield
        except BaseException:
            self.con.execute("rollback").fetchall()
            raise
        self.con.execute("commit").fetchall()

    def table(self, table_name: str) -> pl.DataFrame:
        """A whole table as a frame (for tests, reports and small tables)."""
        if not table_name.isidentifier():
            raise WarehouseError(f"not a table name: {table_name!r}")
        return self.con.sql(f"select * from {table_name}").pl()
