"""The operational store: SQLAlchemy Core on a URL (SQLite file by default, PostgreSQL in production).

Holds what many short transactions touch at once: the SMS outbox and its status events, inbound
messages and conversations, the counsellor queue, the suppression list and vacancy closures (tables in
``connectors.optables``). The web app, the webhooks and the dispatcher use it; nothing here opens DuckDB.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from connectors.optables import (
    ACTIVE_STATUSES,
    APPEND_ONLY,
    DELIVERED,
    DROPPED,
    FAILED,
    HIRED,
    NOT_INTERESTED,
    OPEN,
    OPT_OUT,
    PUT_FORWARD,
    QUEUED,
    SAID_YES,
    SENDING,
    SENT,
    STATE_DECLINED,
    STATUS_RANK,
    UNDELIVERABLE,
    UNDELIVERED,
    WRONG_MATCH,
    UtcDateTime,
    conversations,
    counsellor_queue,
    metadata,
    queue_item,
    sms_outbox,
    sms_status_events,
    suppression,
    vacancy_closures,
)
from tremplin.errors import OpStoreError
from tremplin.settings import RECORDS_FLOOR_DAYS

# counsellor decisions as feedback on the match; not_interested is the seeker's choice, counted like a NON
DECISION_LABELS = {HIRED: 1, PUT_FORWARD: 1, WRONG_MATCH: 0, NOT_INTERESTED: 0}
# which event stands for an offer when several exist: the counsellor's decision, then the SMS answer
FEEDBACK_PRECEDENCE = (HIRED, PUT_FORWARD, WRONG_MATCH, NOT_INTERESTED, "sms_oui", "sms_non")


SCHEMA_LOCK = 0x7472_656D  # "trem": the advisory lock under which a PostgreSQL store's schema is set up


def _time_column(table: sa.Table) -> str:
    return next(c.name for c in table.columns if isinstance(c.type, sa.DateTime | UtcDateTime))


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma busy_timeout=10000")
    cursor.execute("pragma foreign_keys=on")
    cursor.close()


def _postgres_utc(dbapi_connection: Any, _record: Any) -> None:
    # Sessions in UTC, whatever the server's zone: a naive datetime then means UTC on PostgreSQL as it does on
    # SQLite (which keeps it as written), and the times read back are UTC on both.
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("set time zone 'UTC'")
    cursor.close()
    dbapi_connection.autocommit = autocommit


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
        elif self.engine.dialect.name == "postgresql":
            sa.event.listen(self.engine, "connect", _postgres_utc, insert=True)
        try:
            with self._schema_lock(), self.engine.begin() as conn:
                if self.engine.dialect.name == "postgresql":
                    # processes opening the store at once (web app, dispatch, tasks) set it up one at a time:
                    # concurrent CREATE ... IF NOT EXISTS or CREATE OR REPLACE FUNCTION fail on PostgreSQL
                    conn.execute(sa.text("select pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
                metadata.create_all(conn)
                self._append_only(conn, APPEND_ONLY)
        except sa.exc.SQLAlchemyError as exc:
            shown = self.engine.url.render_as_string(hide_password=True)
            raise OpStoreError(f"cannot create the operational store's tables at {shown!r}: {exc}") from exc
        self._check_columns()

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """Processes opening a new SQLite store at once create its tables one at a time (SQLAlchemy checks, then
        creates: two at once both find a table missing). A lock file beside the database, not the database
        file itself: closing any handle on it would drop SQLite's own locks in this process."""
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _check_columns(self) -> None:
        """A store made by an older version lacks columns ``create_all`` does not add: say so plainly."""
        inspector = sa.inspect(self.engine)
        for table in metadata.sorted_tables:
            have = {column["name"] for column in inspector.get_columns(table.name)}
            missing = [column.name for column in table.columns if column.name not in have]
            if missing:
                raise OpStoreError(
                    f"the operational store at {self.engine.url.render_as_string(hide_password=True)!r} predates "
                    f"this version: table {table.name} lacks "
                    f"{', '.join(missing)} (start from a new store, or migrate it)"
                )

    def _append_only(self, conn: Connection, tables: Iterable[sa.Table]) -> None:
        """Triggers that make the database itself refuse every UPDATE on audit tables, and a DELETE of a row
        younger than ``RECORDS_FLOOR_DAYS`` (logs are kept at least six months; the retention job deletes
        older ones). A row's age is that of its table's first DateTime column (``at``, ``created_at``).
        Written once: a store opened again finds them and changes nothing (no lock on busy tables)."""
        if self.engine.dialect.name == "postgresql":
            self._append_only_postgresql(conn, tables)
            return
        for table in tables:
            at = _time_column(table)
            conn.execute(
                sa.text(
                    f"create trigger if not exists {table.name}_no_update before update on {table.name} "
                    f"begin select raise(abort, '{table.name} is append-only'); end"
                )
            )
            # julianday reads SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" (UTC) whatever the fraction; a time it
            # cannot read (null) counts as young
            conn.execute(
                sa.text(
                    f"create trigger if not exists {table.name}_delete_floor before delete on {table.name} "
                    f"when julianday(old.{at}) is null "
                    f"or julianday(old.{at}) > julianday('now', '-{RECORDS_FLOOR_DAYS} days') "
                    f"begin select raise(abort, '{table.name} is append-only: rows younger than "
                    f"{RECORDS_FLOOR_DAYS} days cannot be deleted'); end"
                )
            )
            # stores made before the floor refused every DELETE; dropped after its successor exists
            conn.execute(sa.text(f"drop trigger if exists {table.name}_no_delete"))

    @staticmethod
    def _append_only_postgresql(conn: Connection, tables: Iterable[sa.Table]) -> None:
        # the trigger's argument names the time column; a row whose time is null is never deleted. An integrity
        # error (class 23), as SQLite's raise(abort) is: callers catch one kind on both
        body = (
            "begin "
            "if tg_op = 'DELETE' and cast(to_jsonb(old) ->> tg_argv[0] as timestamptz) "
            f"< now() - interval '{RECORDS_FLOOR_DAYS} days' then return old; end if; "
            "raise exception '% is append-only%', tg_table_name, case when tg_op = 'DELETE' "
            f"then ': rows younger than {RECORDS_FLOOR_DAYS} days cannot be deleted' else '' end "
            "using errcode = 'restrict_violation'; "
            "end"
        )
        current = conn.execute(sa.text("select prosrc from pg_proc where proname = 'tremplin_append_only'")).scalar()
        if current != body:  # a new store, or a version that changed the rule
            conn.execute(
                sa.text(
                    f"create or replace function tremplin_append_only() returns trigger language plpgsql as $${body}$$"
                )
            )
        for table in tables:
            name = f"{table.name}_append_only"
            if conn.execute(sa.text("select 1 from pg_trigger where tgname = :name"), {"name": name}).first():
                continue
            conn.execute(
                sa.text(
                    f"create trigger {name} before update or delete on {table.name} "
                    f"for each row execute function tremplin_append_only('{_time_column(table)}')"
                )
            )

    def upsert(
        self, table: sa.Table, rows: list[dict[str, Any]], *, newer: str | None = None, chunk: int = 2_000
    ) -> int:
        """Insert rows, replacing those whose primary key exists (SQLite and PostgreSQL); with ``newer``, a
        row only replaces one whose ``newer`` column is not later (a re-run of an old night keeps the
        copies of later nights). Returns rows given."""
        dialect = self.engine.dialect.name
        keys = [column.name for column in table.primary_key.columns]
        with self.begin() as conn:
            for start in range(0, len(rows), chunk):
                batch = rows[start : start + chunk]
                if dialect == "postgresql":
                    stmt: Any = postgresql.insert(table)
                elif dialect == "sqlite":
                    stmt = sqlite.insert(table)
                else:
                    raise OpStoreError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")
                updates = {name: stmt.excluded[name] for name in batch[0] if name not in keys}
                where = table.c[newer] <= stmt.excluded[newer] if newer else None
                conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates, where=where), batch)
        return len(rows)

    def close(self) -> None:
        """Release the pooled connections (long-lived callers: tests, the benchmark)."""
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _within(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction when it passes one (several changes that must stand or fall together),
        else a transaction of its own."""
        if conn is not None:
            yield conn
        else:
            with self.begin() as own:
                yield own

    def insert_ignore(self, table: sa.Table) -> Any:
        """An INSERT that skips rows whose primary or unique key exists already (SQLite and PostgreSQL); its
        ``rowcount`` is the rows added (callers tell a replay by it)."""
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            # SQLAlchemy keeps an INSERT's rowcount only when asked: on psycopg it is -1 (true) otherwise, and a
            # replayed webhook or status callback would be handled a second time
            return postgresql.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
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
                    conn.execute(self.insert_ignore(table), batch)
                    batch = []
            if batch:
                conn.execute(self.insert_ignore(table), batch)
            added = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() - before
        return int(added)

    # --- what the nightly run reads -------------------------------------------------------------

    def suppressed_numbers(self, kind: str = OPT_OUT) -> pl.Series:
        """Numbers that opted out (``kind="opt_out"``) or that cannot get SMS (``"undeliverable"``)."""
        with self.begin() as conn:
            phones = conn.execute(sa.select(suppression.c.phone).where(suppression.c.kind == kind)).scalars().all()
        return pl.Series("phone", phones, dtype=pl.String)

    def seeker_history(self, run_date: date) -> pl.DataFrame:
        """Per seeker, from the nights before ``run_date`` only, so that a re-run sees what the first run saw.

        sms_today: earlier SMS still waiting to go out (they would reach the seeker the same day as
        tonight's); offers_week: SMS offers of the 6 nights before; no_response_count: SMS delivered
        without a reply; replied_ever; queue_item_open: a counsellor item from an earlier night still in a
        counsellor's hands (open, contacted or put forward).
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
            .where(counsellor_queue.c.status.in_(ACTIVE_STATUSES), counsellor_queue.c.run_date < run_date)
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

    def first_offers(self) -> pl.DataFrame:
        """Every (seeker, vacancy) pair ever offered, by either channel, with the night it was first offered."""
        offered = sa.union_all(
            sa.select(sms_outbox.c.seeker_id, sms_outbox.c.vacancy_id, sms_outbox.c.run_date),
            sa.select(counsellor_queue.c.seeker_id, counsellor_queue.c.vacancy_id, counsellor_queue.c.run_date),
        ).subquery()
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(offered.c.seeker_id, offered.c.vacancy_id, sa.func.min(offered.c.run_date)).group_by(
                    offered.c.seeker_id, offered.c.vacancy_id
                )
            ).all()
        schema = {"seeker_id": pl.String, "vacancy_id": pl.String, "first_night": pl.Date}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def reply_refs(self, numbers: Iterable[str], before: date) -> dict[str, int]:
        """Per phone number, how many SMS offers earlier nights queued to it (the next offer's reference is
        that plus one). Counted per number, not per seeker: two seekers sharing a phone (a family's) must
        not both get "réf. 1", or a reply could land on the other one's offer."""
        phones = list(set(numbers))
        counts: dict[str, int] = {}
        with self.begin() as conn:
            for start in range(0, len(phones), 5_000):
                rows = conn.execute(
                    sa.select(sms_outbox.c.to_number, sa.func.count())
                    .where(sms_outbox.c.to_number.in_(phones[start : start + 5_000]), sms_outbox.c.run_date < before)
                    .group_by(sms_outbox.c.to_number)
                ).all()
                counts.update({phone: int(n) for phone, n in rows})
        return counts

    def feedback_events(self, until: datetime) -> pl.DataFrame:
        """One learning signal per offer (day, seeker, vacancy), for the warehouse's feedback table.

        Counsellor decisions taken before ``until``: hired or put forward -> 1, wrong match -> 0, not
        interested (the seeker's choice) -> 0 like a NON. SMS answers in conversations opened before
        ``until``: OUI -> 1, NON -> 0. A decision on an offer wins over its SMS answer (order in
        ``FEEDBACK_PRECEDENCE``). Never exported as a refused offer; bounded by ``until`` so that a re-run of
        a night reads what the first run read.
        """
        o, conv, q = sms_outbox, conversations, counsellor_queue
        label = sa.case((conv.c.state.in_(SAID_YES), 1), else_=0)
        answers = (
            sa.select(
                o.c.run_date.label("day"),
                o.c.seeker_id,
                o.c.vacancy_id,
                label.label("label"),
                sa.case((label == 1, "sms_oui"), else_="sms_non").label("source"),
            )
            .select_from(o.join(conv, conv.c.conversation_id == o.c.message_id))
            .where(conv.c.state.in_([*SAID_YES, STATE_DECLINED]), conv.c.opened_at < until)
        )
        decisions = sa.select(
            q.c.run_date.label("day"),
            q.c.seeker_id,
            q.c.vacancy_id,
            sa.case(*((q.c.status == status, value) for status, value in DECISION_LABELS.items())).label("label"),
            q.c.status.label("source"),
        ).where(q.c.status.in_(list(DECISION_LABELS)), q.c.decided_at < until)
        with self.begin() as conn:
            rows = [*conn.execute(decisions).all(), *conn.execute(answers).all()]
        rank = {source: n for n, source in enumerate(FEEDBACK_PRECEDENCE)}
        return (
            pl.DataFrame(
                rows,
                schema={
                    "day": pl.Date,
                    "seeker_id": pl.String,
                    "vacancy_id": pl.String,
                    "label": pl.Int32,
                    "source": pl.String,
                },
                orient="row",
            )
            .sort(pl.col("source").replace_strict(rank, return_dtype=pl.Int32), "day", "seeker_id", "vacancy_id")
            .unique(["day", "seeker_id", "vacancy_id"], keep="first", maintain_order=True)
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

    def unconfirmed_messages(self, sending_before: datetime) -> list[dict[str, Any]]:
        """Messages left in "sending" since before ``sending_before`` (a crash or a timeout)."""
        query = (
            sa.select(sms_outbox)
            .where(sms_outbox.c.status == SENDING, sms_outbox.c.sending_at <= sending_before)
            .order_by(sms_outbox.c.sending_at, sms_outbox.c.message_id)
        )
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def drop_reason(self, message: Mapping[str, Any], today: date) -> str | None:
        """Why a queued message must not go out any more, or None: opted out, number undeliverable,
        vacancy closed, or a counsellor has reached the seeker since the message was queued."""
        with self.begin() as conn:
            kind = conn.execute(
                sa.select(suppression.c.kind).where(suppression.c.phone == message["to_number"])
            ).scalar_one_or_none()
            if kind == OPT_OUT:
                return "opted_out"
            if kind == UNDELIVERABLE:
                return "number_undeliverable"
            if self.vacancy_closed(message["vacancy_id"], today, conn=conn):
                return "vacancy_closed"
            contacted = conn.execute(
                sa.select(counsellor_queue.c.item_id).where(
                    counsellor_queue.c.seeker_id == message["seeker_id"],
                    counsellor_queue.c.contacted_at >= message["created_at"],
                )
            ).first()
            if contacted is not None:
                return "counsellor_contacted"
        return None

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

    def record_sent(self, message_id: str, sid: str, at: datetime) -> bool:
        """sending -> sent with the provider's sid (False when the message was not in "sending")."""
        return self.set_status(message_id, SENT, expect=SENDING, provider_sid=sid, sent_at=at, status_at=at)

    def record_status_event(self, sid: str, status: str, error_code: int | None, at: datetime) -> bool:
        """Store a provider status callback once; False for a replay."""
        with self.begin() as conn:
            added = conn.execute(
                self.insert_ignore(sms_status_events).values(
                    message_sid=sid, status=status, error_code=error_code, received_at=at
                )
            ).rowcount
        return bool(added)

    def status_events(self, sid: str) -> list[tuple[str, int | None]]:
        """The stored callbacks of a message, oldest first (some arrive before its sid is recorded)."""
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(sms_status_events.c.status, sms_status_events.c.error_code)
                .where(sms_status_events.c.message_sid == sid)
                .order_by(sms_status_events.c.event_id)
            ).all()
        return [(status, code) for status, code in rows]

    def apply_status(self, sid: str, status: str, error_code: int | None, at: datetime) -> dict[str, Any] | None:
        """Move the message with this sid forward to ``status`` (never back); returns the row if it moved."""
        if status not in (SENT, DELIVERED, UNDELIVERED, FAILED):
            return None  # queued, sending, accepted...: nothing we do not know already
        lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
        with self.begin() as conn:
            row = conn.execute(
                sa.update(sms_outbox)
                .where(sms_outbox.c.provider_sid == sid, sms_outbox.c.status.in_(lower))
                .values(status=status, error_code=error_code, status_at=at)
                .returning(*sms_outbox.c)
            ).first()
        return dict(row._mapping) if row is not None else None

    def queue_offer(
        self,
        message: Mapping[str, Any],
        *,
        queue: str,
        reason: str,
        at: datetime,
        conversation_id: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Put an SMS offer in its agency's counsellor queue (``to_call``, ``interested`` or ``flagged``); an
        item already there for this seeker and vacancy is moved to that queue and reopened."""
        with self._within(conn) as tx:
            existing = tx.execute(
                sa.select(counsellor_queue.c.item_id).where(
                    counsellor_queue.c.seeker_id == message["seeker_id"],
                    counsellor_queue.c.vacancy_id == message["vacancy_id"],
                )
            ).scalar_one_or_none()
            if existing is not None:
                tx.execute(
                    sa.update(counsellor_queue)
                    .where(counsellor_queue.c.item_id == existing)
                    .values(
                        queue=queue,
                        reason=reason,
                        status=OPEN,
                        decided_at=None,  # reopened: an earlier decision no longer stands
                        conversation_id=conversation_id,
                        updated_at=at,
                        version=counsellor_queue.c.version + 1,
                    )
                )
                return
            tx.execute(
                sa.insert(counsellor_queue).values(
                    queue_item(
                        item_id=message["message_id"],
                        run_date=message["run_date"],
                        agency_id=message["agency_id"],
                        seeker_id=message["seeker_id"],
                        vacancy_id=message["vacancy_id"],
                        queue=queue,
                        reason=reason,
                        score=message["score"],
                        explanation=message["explanation"],
                        created_at=at,
                        updated_at=at,
                        conversation_id=conversation_id,
                    )
                )
            )

    def suppress(
        self,
        phone: str,
        *,
        reason: str,
        source: str,
        now: datetime,
        kind: str = OPT_OUT,
        conn: Connection | None = None,
    ) -> None:
        """Add the number to the suppression list and drop what is still queued for it; an opt-out
        replaces an "undeliverable" mark."""
        with self._within(conn) as tx:
            if kind == OPT_OUT:
                tx.execute(sa.delete(suppression).where(suppression.c.phone == phone, suppression.c.kind != OPT_OUT))
            tx.execute(
                self.insert_ignore(suppression),
                [{"phone": phone, "kind": kind, "reason": reason, "source": source, "created_at": now}],
            )
            tx.execute(
                sa.update(sms_outbox)
                .where(sms_outbox.c.to_number == phone, sms_outbox.c.status == QUEUED)
                .values(
                    status=DROPPED,
                    status_reason="opted_out" if kind == OPT_OUT else "number_undeliverable",
                    status_at=now,
                )
            )

    def unsuppress(self, phone: str, conn: Connection | None = None) -> bool:
        """START: lift an opt-out (an "undeliverable" mark stays). Returns whether one was lifted."""
        with self._within(conn) as tx:
            result = tx.execute(
                sa.delete(suppression).where(suppression.c.phone == phone, suppression.c.kind == OPT_OUT)
            )
        return bool(result.rowcount)

    def vacancy_closed(self, vacancy_id: str, today: date, conn: Connection | None = None) -> bool:
        """Whether the vacancy is closed on ``today`` (a French calendar day)."""
        with self._within(conn) as tx:
            found = tx.execute(
                sa.select(vacancy_closures.c.vacancy_id).where(
                    vacancy_closures.c.vacancy_id == vacancy_id, vacancy_closures.c.closed_on <= today
                )
            ).first()
        return found is not None

    def close_vacancy(self, vacancy_id: str, *, closed_on: date, reason: str, source: str, now: datetime) -> None:
        """From ``closed_on``, offers of this vacancy still in the outbox are dropped, not sent."""
        self.insert_ignoring_duplicates(
            vacancy_closures,
            [{"vacancy_id": vacancy_id, "closed_on": closed_on, "reason": reason, "source": source, "created_at": now}],
        )

    def sync_feed_closures(self, closing: Iterable[tuple[str, date]], *, now: datetime) -> int:
        """Record each vacancy's last open day from the feed (closed from the day after); a later feed
        that moves the day replaces it. Closures from other sources (a counsellor) are left alone."""
        rows = [
            {
                "vacancy_id": vacancy_id,
                "closed_on": closes_on + timedelta(days=1),
                "reason": "closing_date",
                "source": "feed",
                "created_at": now,
            }
            for vacancy_id, closes_on in closing
        ]
        with self.begin() as conn:
            for start in range(0, len(rows), 5_000):
                chunk = rows[start : start + 5_000]
                conn.execute(
                    sa.delete(vacancy_closures).where(
                        vacancy_closures.c.source == "feed",
                        vacancy_closures.c.vacancy_id.in_([r["vacancy_id"] for r in chunk]),
                    )
                )
                conn.execute(self.insert_ignore(vacancy_closures), chunk)
        return len(rows)

    def table_rows(self, table: sa.Table) -> list[dict[str, Any]]:
        """Every row of a table (for tests, reports and small tables)."""
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table))]

    def count(self, table: sa.Table) -> int:
        with self.begin() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
