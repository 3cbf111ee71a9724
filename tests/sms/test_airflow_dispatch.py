"""The real sms_dispatch DAG, run by Airflow, sending through the official twilio client to the fake server.

The DAG sends as of the wall clock (a late run must never text at night), so the settings open the send
window all day, every day: the DAG must then send everything due, except on a French public holiday,
when nothing goes out whatever the window says.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.opstore import OpStore
from connectors.optables import sms_outbox
from tests.support.outbox import outbox_row
from tremplin.dev.airflow_runner import run_dag, settings_env
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.settings import Settings
from tremplin.sms.send_window import is_french_holiday


def paris_today() -> date:
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def test_sms_dispatch_dag_sends_the_due_outbox(tmp_path: Path) -> None:
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
            send_days=(0, 1, 2, 3, 4, 5, 6),
            send_start_hour=0,
            send_end_hour=24,
        )
        store = OpStore(settings.opstore)
        now = datetime.now(UTC)
        due = [
            outbox_row(i, not_before=now - timedelta(hours=1), created_at=now - timedelta(hours=2)) for i in range(3)
        ]
        store.insert_ignoring_duplicates(sms_outbox, due)
        holiday = is_french_holiday(paris_today())
        run_dag(
            "sms_dispatch",
            datetime.now(UTC).date().isoformat(),
            airflow_home=tmp_path / "airflow",
            extra_env=settings_env(settings),
        )
        if is_french_holiday(paris_today()) != holiday:
            pytest.skip("the run crossed midnight into or out of a public holiday")
        posts = fake.posts
        messages = list(fake.messages)

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        states = meta.execute("select task_id, state from task_instance where dag_id = 'sms_dispatch'").fetchall()
    assert states == [("dispatch", "success")]
    rows = store.table_rows(sms_outbox)
    if holiday:  # no SMS on a public holiday, even with the window open all day
        assert posts == [] and [r["status"] for r in rows] == ["queued"] * 3
    else:
        assert sorted(r["To"] for r in posts) == ["+33639980000", "+33639980001", "+33639980002"]
        assert [r["status"] for r in rows] == ["sent"] * 3
        assert {r["provider_sid"] for r in rows} == {m["sid"] for m in messages}
