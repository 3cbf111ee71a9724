"""Exactly once across crashes: a real ``tremplin dispatch`` subprocess is killed mid-batch, again and again.

The fake Twilio server records each message before it answers (``latency``), so a kill often lands
after Twilio created a message and before the dispatcher heard about it: the next run must find that
message at the provider instead of sending it again, and must send the ones it never reached.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from connectors.opstore import OpStore
from connectors.optables import sms_outbox
from tests.support.outbox import MONDAY_10H_PARIS, outbox_row
from tremplin.dev.fake_twilio import FakeTwilio
from tremplin.settings import PROJECT_ROOT

MESSAGES = 40


def _queue(store: OpStore, count: int) -> None:
    early = MONDAY_10H_PARIS - timedelta(hours=1)
    store.insert_ignoring_duplicates(sms_outbox, [outbox_row(i, not_before=early) for i in range(count)])


def _dispatcher(home: Path, url: str, fake: FakeTwilio, now: datetime) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TREMPLIN_HOME": str(home),
        "TREMPLIN_OPSTORE_URL": url,  # a SQLite file, or postgresql+psycopg://tremplin@127.0.0.1:PORT/DB
        "TREMPLIN_SMS_BACKEND": "twilio",
        "TREMPLIN_TWILIO_ACCOUNT_SID": fake.account_sid,
        "TREMPLIN_TWILIO_AUTH_TOKEN": fake.auth_token,
        "TREMPLIN_TWILIO_BASE_URL": fake.base_url,
        "TREMPLIN_SMS_RATE_PER_SECOND": "0",
        "TREMPLIN_SMS_RECONCILE_AFTER_SECONDS": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tremplin", "dispatch", "--now", now.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(fake: FakeTwilio, count: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.messages) < count:
        if process.poll() is not None:
            return
        assert time.monotonic() < deadline, f"the dispatcher sent {len(fake.messages)} of {count} in {timeout} s"
        time.sleep(0.002)


def test_killing_the_dispatcher_anywhere_sends_each_message_exactly_once(tmp_path: Path, opstore_url: str) -> None:
    home = tmp_path / "home"
    store = OpStore(opstore_url)
    _queue(store, MESSAGES)
    rng = random.Random(7)
    kills, unconfirmed_after_kill = 0, 0
    with FakeTwilio(latency=0.03) as fake:
        now = MONDAY_10H_PARIS
        for target in (3, 9, 16, 24, 31):
            process = _dispatcher(home, opstore_url, fake, now)
            _wait_for(fake, target, process)
            # somewhere inside the next request: before, during or after Twilio's latency window
            time.sleep(rng.uniform(0, 0.045))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
            unconfirmed_after_kill += sum(r["status"] == "sending" for r in store.table_rows(sms_outbox))
            now += timedelta(minutes=1)  # the next run starts later, as the next DAG run would
        final = _dispatcher(home, opstore_url, fake, now)
        _out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()

    assert kills == 5
    # kills left messages in "sending" (claimed, maybe sent, answer never recorded) for the next run to settle
    assert unconfirmed_after_kill >= 1
    sent = Counter((m["to"], m["body"]) for m in fake.messages)
    assert len(sent) == MESSAGES, f"{MESSAGES - len(sent)} messages lost"
    assert max(sent.values()) == 1, [k for k, n in sent.items() if n > 1]
    rows = store.table_rows(sms_outbox)
    assert {r["status"] for r in rows} == {"sent"}
    by_body = {m["body"]: m["sid"] for m in fake.messages}
    assert all(r["provider_sid"] == by_body[r["body"]] for r in rows)
