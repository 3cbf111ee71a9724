"""What differs between the store's two databases and must not show: time zones, replay counts, the URL setting.

Each test runs on SQLite and on the test PostgreSQL server (tests/support/pg.py), whose own clock is set to Paris.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from connectors.opstore import OpStore
from connectors.optables import audit_events, sms_outbox, sms_status_events, suppression, vacancy_closures
from tests.support import pg
from tests.support.outbox import outbox_row
from tremplin.errors import OpStoreError
from tremplin.settings import Settings

PARIS_WINTER = timezone(timedelta(hours=1))


def test_the_url_setting_alone_picks_the_database(opstore_url: str, tmp_path) -> None:
    settings = Settings.from_env({"TREMPLIN_OPSTORE_URL": opstore_url}, home=tmp_path / "home")
    assert settings.opstore == opstore_url
    store = OpStore(settings.opstore)
    assert store.engine.dialect.name == opstore_url.split(":")[0].split("+")[0]
    assert store.engine.dialect.name in ("sqlite", "postgresql")
    assert not (tmp_path / "home" / "opstore.sqlite").exists()  # not the default file beside it


def test_times_read_back_are_the_instants_written_in_utc(opstore_url: str) -> None:
    store = OpStore(opstore_url)
    # 09:00 UTC, written aware; and a naive 09:00, which in this store means UTC
    store.insert_ignoring_duplicates(
        sms_outbox,
        [
            outbox_row(1, not_before=datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
            outbox_row(2, not_before=datetime(2026, 11, 23, 9, 0)),
        ],
    )
    read = {r["seeker_id"]: r["not_before"] for r in store.table_rows(sms_outbox)}
    for moment in read.values():
        # PostgreSQL hands back aware UTC times (not the server's Paris ones), SQLite the naive UTC it stored
        assert moment.utcoffset() in (None, timedelta(0))
        assert moment.replace(tzinfo=UTC) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    # the dispatcher's comparison with an aware "now" holds on both
    due = store.due_messages(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    assert sorted(m["seeker_id"] for m in due) == ["S1", "S2"]
    assert store.due_messages(datetime(2026, 11, 23, 8, 59, tzinfo=UTC)) == []


def test_a_time_written_with_another_offset_keeps_its_instant(opstore_url: str) -> None:
    """Publish writes not_before as 08:00 Europe/Paris: 07:00 UTC on both (SQLite keeps no offset, so the store
    moves aware times to UTC before writing them)."""
    store = OpStore(opstore_url)
    store.insert_ignoring_duplicates(
        sms_outbox, [outbox_row(1, not_before=datetime(2026, 11, 23, 8, 0, tzinfo=PARIS_WINTER))]
    )
    (row,) = store.table_rows(sms_outbox)
    written = row["not_before"]
    assert (written if written.tzinfo else written.replace(tzinfo=UTC)) == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert [m["seeker_id"] for m in store.due_messages(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))] == ["S1"]


@pytest.mark.postgresql
def test_the_test_server_runs_on_paris_time(postgres_cluster: pg.Cluster) -> None:
    """What makes the tests above mean something on PostgreSQL: a plain session there is on Paris time (a naive
    09:00 would be taken as 08:00 UTC, and times would come back as Paris ones); the store's sessions are on UTC."""
    name = postgres_cluster.create_database()
    try:
        engine = sa.create_engine(postgres_cluster.url(name))
        with engine.connect() as conn:
            assert conn.execute(sa.text("show timezone")).scalar_one() == "Europe/Paris"
        engine.dispose()
        store = OpStore(postgres_cluster.url(name))
        with store.begin() as conn:
            assert conn.execute(sa.text("show timezone")).scalar_one() == "UTC"
        store.close()
    finally:
        postgres_cluster.drop_database(name)


def test_a_replayed_insert_counts_as_nothing_added(opstore_url: str) -> None:
    """Replays are told apart by the rows an insert added: on psycopg, SQLAlchemy reports -1 (true) for an
    INSERT unless asked to keep the count."""
    store = OpStore(opstore_url)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert store.record_status_event("SM1", "delivered", None, at) is True
    assert store.record_status_event("SM1", "delivered", None, at) is False
    assert store.record_status_event("SM1", "failed", 30003, at) is True
    assert store.count(sms_status_events) == 2
    rows = [
        {"phone": phone, "kind": "opt_out", "reason": "STOP", "source": "test", "created_at": at}
        for phone in ("+33639980001", "+33639980002")
    ]
    with store.begin() as conn:
        assert conn.execute(store.insert_ignore(suppression), rows[:1]).rowcount == 1
        assert conn.execute(store.insert_ignore(suppression), rows).rowcount == 1  # one new, one replay
        assert conn.execute(store.insert_ignore(suppression), rows).rowcount == 0
    closing = [{"vacancy_id": "V1", "closed_on": date(2026, 11, 24), "reason": "r", "source": "s", "created_at": at}]
    assert store.insert_ignoring_duplicates(vacancy_closures, closing) == 1
    assert store.insert_ignoring_duplicates(vacancy_closures, closing) == 0


def test_a_store_made_by_an_older_version_is_refused_by_name_without_its_password(opstore_url: str) -> None:
    engine = sa.create_engine(opstore_url)
    with engine.begin() as conn:  # an "older" users table: no display name, role, password hash...
        conn.execute(sa.text("create table users (user_id integer primary key, username varchar(120))"))
    engine.dispose()
    url = sa.engine.make_url(opstore_url)
    with_password = url.set(password="s3cret-pw") if url.get_backend_name() == "postgresql" else url
    with pytest.raises(OpStoreError, match=r"table users lacks display_name, agency_id, role") as refused:
        OpStore(with_password.render_as_string(hide_password=False))
    assert "s3cret-pw" not in str(refused.value)


def test_processes_opening_a_new_store_at_once_all_get_it(opstore_url: str) -> None:
    """The web app, the dispatcher and a task may open a new store at the same moment: each one succeeds,
    and the append-only rule is in place once."""
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            OpStore(opstore_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = OpStore(opstore_url)
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.begin() as conn:
        conn.execute(sa.insert(audit_events).values(at=datetime.now(UTC), action="x", details={}))
        conn.execute(sa.update(audit_events).values(action="y"))
