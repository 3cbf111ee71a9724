"""The real sms_dispatch DAG, run by Airflow, sending through the official twilio client to the fake server.

The DAG sends as of the wall clock (a late run must never text at night), so what it may send depends on
when the test runs: inside the window it sends everything due, outside it sends nothing.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.fake_twilio import FakeTwilio
from connectors.opstore import OpStore
from connectors.optables import sms_outbox
from tests.outbox import outbox_row
from tremplin.airflow_runner import run_dag, settings_env
from tremplin.send_window import in_send_window
from tremplin.settings import Settings


def test_sms_dispatch_dag_sends_the_outbox_in_the_window_only(tmp_path: Path) -> None:
    with FakeTwilio() as fake:
        settings = Settings.from_env(
            {},
            data_dir=tmp_path,
            home=tmp_path / "home",
            sms_backend="twilio",
            twilio_account_sid=fake.account_sid,
            twilio_auth_token=fake.auth_token,
            twilio_base_url=fake.base_url,
            sms_rate_per_second=0.0,
        )
        store = OpStore(settings.opstore)
        now = datetime.now(UTC)
        due = [
            outbox_row(i, not_before=now - timedelta(hours=1), created_at=now - timedelta(hours=2)) for i in range(3)
        ]
        store.insert_ignoring_duplicates(sms_outbox, due)
        open_before = in_send_window(datetime.now(UTC))
        run_dag(
            "sms_dispatch",
            datetime.now(UTC).date().isoformat(),
            airflow_home=tmp_path / "airflow",
            extra_env=settings_env(settings),
        )
        open_after = in_send_window(datetime.now(UTC))
        posts = [r for r in fake.requests if r["method"] == "POST"]

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        states = meta.execute("select task_id, state from task_instance where dag_id = 'sms_dispatch'").fetchall()
    assert states == [("dispatch", "success")]
    statuses = sorted(r["status"] for r in store.table_rows(sms_outbox))
    if open_before and open_after:
        assert len(posts) == 3 and statuses == ["sent"] * 3
        assert {r["provider_sid"] for r in store.table_rows(sms_outbox)} == {m["sid"] for m in fake.messages}
    elif not open_before and not open_after:
        assert posts == [] and statuses == ["queued"] * 3
