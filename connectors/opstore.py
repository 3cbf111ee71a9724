"""The operational store: SQLAlchemy Core on a URL (SQLite file by default, PostgreSQL in production).

Holds what many short transactions touch at once: the SMS outbox, the counsellor queue and the
suppression list. The web app, the webhooks and the dispatcher use it; nothing here opens DuckDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from tremplin.errors import OpStoreError

metadata = sa.MetaData()

QUEUED, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED, DROPPED = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "dropped",
)

sms_outbox = sa.Table(
    "sms_outbox",
    metadata,
    sa.Column("message_id", sa.String(120), primary_key=True),  # run_date:seeker:vacancy, the idempotency key
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("seeker_id", sa.String(64), nullable=False),
    sa.Column("vacancy_id", sa.String(64), nullable=False),
    sa.Column("agency_id", sa.String(64), nullable=False),
    sa.Column("to_number", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("segments", sa.Integer, nullable=False),
    sa.Column("encoding", sa.String(8), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default=QUEUED, index=True),
    sa.Column("status_reason", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sending_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("replied_at", sa.DateTime(timezone=True)),
    sa.Column("provider_sid", sa.String(64), unique=True),
    sa.Column("error_code", sa.Integer),
    # never the same vacancy twice to a seeker, whatever the night
    sa.UniqueConstraint("seeker_id", "vacancy_id", name="uq_outbox_seeker_vacancy"),
)

counsellor_queue = sa.Table(
    "counsellor_queue",
    metadata,
    sa.Column("item_id", sa.String(120), primary_key=True),
    sa.Column("run_date", sa.Date, nullable=False, index=True),
    sa.Column("agency_id", sa.String(64), nullable=False, index=True),
    sa.Column("seeker_id", sa.String(64), nullable=False, index=True),
    sa.Column("vacancy_id", sa.String(64), nullable=False),
    sa.Column("queue", sa.String(16), nullable=False),  # to_call | interested | flagged
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("explanation", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.UniqueConstraint("seeker_id", "vacancy_id", name="uq_queue_seeker_vacancy"),
)

suppression = sa.Table(
    "suppression",
    metadata,
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma busy_timeout=10000")
    cursor.execute("pragma foreign_keys=on")
    cursor.close()


class OpStore:
    """Short transactions on the operational store."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(url, future=True)
        except Exception as exc:
            raise OpStoreError(f"cannot use operational store URL {url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        metadata.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _insert(self, table: sa.Table) -> Any:
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        raise OpStoreError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")

    def insert_ignoring_duplicates(self, table: sa.Table, rows: Iterable[Mapping[str, Any]], chunk: int = 5_000) -> int:
        """Insert rows; a row whose key or (seeker, vacancy) pair exists already is skipped. Returns rows added."""
        added = 0
        batch: list[Mapping[str, Any]] = []
        with self.begin() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for row in rows:
                batch.append(row)
                if len(batch) >= chunk:
                    conn.execute(self._insert(table), batch)
                    batch = []
            if batch:
                conn.execute(self._insert(table), batch)
            added = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() - before
        return int(added)

    # --- what the nightly run reads -------------------------------------------------------------

    def suppressed_numbers(self) -> pl.Series:
        with self.begin() as conn:
            phones = conn.execute(sa.select(suppression.c.phone)).scalars().all()
        return pl.Series("phone", phones, dtype=pl.String)

    def seeker_history(self, run_date: date) -> pl.DataFrame:
        """Per seeker, from the nights before ``run_date`` only, so that a re-run sees what the first run saw.

        sms_today: earlier SMS still waiting to go out (they would reach the seeker the same day as
        tonight's); offers_week: SMS offers of the 6 nights before; no_response_count: SMS delivered
        without a reply; replied_ever; queue_item_open: an open counsellor item from an earlier night.
        """
        o = sms_outbox
        delivered = o.c.status.in_([SENT, DELIVERED])
        pending = o.c.status.in_([QUEUED, SENDING])
        week_start = run_date - timedelta(days=6)
        query = (
            sa.select(
                o.c.seeker_id,
                sa.func.sum(sa.case((pending, 1), else_=0)).label("sms_today"),
                sa.func.sum(sa.case((o.c.run_date >= week_start, 1), else_=0)).label("offers_week"),
                sa.func.sum(sa.case((delivered & o.c.replied_at.is_(None), 1), else_=0)).label("no_response_count"),
                sa.func.max(sa.case((o.c.replied_at.is_not(None), 1), else_=0)).label("replied_ever"),
            )
            .where(o.c.status != DROPPED, o.c.run_date < run_date)
            .group_by(o.c.seeker_id)
        )
        open_items = (
            sa.select(counsellor_queue.c.seeker_id)
            .where(counsellor_queue.c.status == "open", counsellor_queue.c.run_date < run_date)
            .distinct()
        )
        with self.begin() as conn:
            rows = conn.execute(query).all()
            open_ids = conn.execute(open_items).scalars().all()
        sms = pl.DataFrame(
            rows,
            schema={
                "seeker_id": pl.String,
                "sms_today": pl.Int64,
                "offers_week": pl.Int64,
                "no_response_count": pl.Int64,
                "replied_ever": pl.Int64,
            },
            orient="row",
        ).with_columns(pl.col("replied_ever").cast(pl.Boolean))
        opened = pl.DataFrame(
            {"seeker_id": open_ids, "queue_item_open": [True] * len(open_ids)},
            schema={"seeker_id": pl.String, "queue_item_open": pl.Boolean},
        )
        return sms.join(opened, on="seeker_id", how="full", coalesce=True)

    def offered_pairs(self, before: date) -> pl.DataFrame:
        """(seeker, vacancy) pairs offered on nights before ``before``, by either channel."""
        with self.begin() as conn:
            rows = conn.execute(
                sa.union(
                    sa.select(sms_outbox.c.seeker_id, sms_outbox.c.vacancy_id).where(sms_outbox.c.run_date < before),
                    sa.select(counsellor_queue.c.seeker_id, counsellor_queue.c.vacancy_id).where(
                        counsellor_queue.c.run_date < before
                    ),
                )
            ).all()
        return pl.DataFrame(rows, schema={"seeker_id": pl.String, "vacancy_id": pl.String}, orient="row")

    def vacancy_load(self, before: date) -> pl.DataFrame:
        pairs = self.offered_pairs(before)
        return (
            pairs.group_by("vacancy_id")
            .len()
            .rename({"len": "offered_count"})
            .with_columns(pl.col("offered_count").cast(pl.Int64))
        )

    # --- dispatch ---------------------------------------------------------------------------------

    def due_messages(self, now: datetime, limit: int | None = None) -> list[dict[str, Any]]:
        query = (
            sa.select(sms_outbox)
            .where(sms_outbox.c.status == QUEUED, sms_outbox.c.not_before <= now)
            .order_by(sms_outbox.c.not_before, sms_outbox.c.message_id)
        )
        if limit:
            query = query.limit(limit)
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count_by_status(self) -> dict[str, int]:
        with self.begin() as conn:
            rows = conn.execute(sa.select(sms_outbox.c.status, sa.func.count()).group_by(sms_outbox.c.status)).all()
        return {status: int(n) for status, n in rows}

    def set_status(self, message_id: str, status: str, *, expect: str | None = None, **values: Any) -> bool:
        """Move one message to ``status``; with ``expect``, only from that status (returns whether it moved)."""
        query = sa.update(sms_outbox).where(sms_outbox.c.message_id == message_id)
        if expect is not None:
            query = query.where(sms_outbox.c.status == expect)
        with self.begin() as conn:
            result = conn.execute(query.values(status=status, **values))
        return bool(result.rowcount)

    def is_suppressed(self, phone: str) -> bool:
        with self.begin() as conn:
            found = conn.execute(sa.select(suppression.c.phone).where(suppression.c.phone == phone)).first()
        return found is not None

    def suppress(self, phone: str, *, reason: str, source: str, now: datetime) -> None:
        self.insert_ignoring_duplicates(
            suppression, [{"phone": phone, "reason": reason, "source": source, "created_at": now}]
        )

    def table_rows(self, table: sa.Table) -> list[dict[str, Any]]:
        """Every row of a table (for tests, reports and small tables)."""
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]

    def count(self, table: sa.Table) -> int:
        with self.begin() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
