"""Alerts to ops: a real webhook receiver, a real SMTP conversation and a real failing Airflow run, all on
loopback or in tmp_path."""

from __future__ import annotations

import email
import json
import logging
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tremplin.dev.airflow_runner import DAGS_FOLDER, airflow_env, run_dag, settings_env
from tremplin.dev.serve_process import free_port
from tremplin.errors import ConfigError, TremplinError
from tremplin.ops.airflow import notify_late, on_run_failure
from tremplin.ops.alerts import Alert, AlertError, Target, deliver, late_after, parse_target, send_alert, trim
from tremplin.ops.alerts import alert_settings as alert_settings_from
from tremplin.settings import Settings

NIGHT = "2026-11-23"
RUN_ID = "scheduled__2026-11-23T01:00:00+00:00"


def alert_settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, home=tmp_path / "home", **values)


def failed_alert(exception: str = "InputFileError: seekers.jsonl, line 1: données illisibles") -> Alert:
    return Alert(
        kind="failed",
        dag_id="nightly_matching",
        run_id=RUN_ID,
        logical_date="2026-11-23T01:00:00+00:00",
        at="2026-11-23T02:17:05+01:00",
        task_id="ingest",
        try_number=3,
        exception=exception,
        log_url="http://airflow.example/dags/nightly_matching/runs/x/tasks/ingest?try_number=3",
    )


@contextmanager
def webhook_receiver(status: int = 204) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on loopback that records every POST (path, headers, JSON body) and answers ``status``."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_webhook_receives_the_failure_as_json_with_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with webhook_receiver() as (base, received):
        settings = alert_settings(tmp_path, alert_target=f"{base}/hooks/ops", alert_webhook_token="s3cret")
        assert send_alert(failed_alert(), settings) is True
    assert len(received) == 1
    post = received[0]
    assert post["path"] == "/hooks/ops"
    assert post["headers"]["Authorization"] == "Bearer s3cret"
    assert post["headers"]["Content-Type"] == "application/json"
    body = post["json"]
    assert (body["kind"], body["dag_id"], body["run_id"], body["task_id"], body["try_number"]) == (
        "failed",
        "nightly_matching",
        RUN_ID,
        "ingest",
        3,
    )
    assert body["exception"] == "InputFileError: seekers.jsonl, line 1: données illisibles"
    assert body["at"] == "2026-11-23T02:17:05+01:00"
    assert body["text"].startswith("tremplin: nightly_matching failed at ingest (2026-11-23)\n\n")
    assert f"run_id: {RUN_ID}\n" in body["text"]


def test_a_refused_or_unreachable_target_is_logged_loudly_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    caplog.set_level(logging.ERROR, logger="tremplin.ops.alerts")
    with webhook_receiver(status=500) as (base, received):
        settings = alert_settings(tmp_path, alert_target=f"{base}/hooks/secret-path-part")
        with pytest.raises(AlertError, match=r"refused: HTTP 500"):
            deliver(failed_alert(), parse_target(settings.alert_target or ""), settings)
        assert send_alert(failed_alert(), settings) is False
    assert len(received) == 2
    nobody = alert_settings(tmp_path, alert_target=f"http://127.0.0.1:{free_port()}/x", alert_timeout_seconds=2)
    assert send_alert(failed_alert(), nobody) is False
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[0].startswith(f"ALERT NOT DELIVERED to {base}; the alert was:\ntremplin: nightly_matching failed")
    assert all("secret-path-part" not in message for message in errors)  # a webhook path may be a secret


def test_no_target_logs_the_alert_as_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="tremplin.ops.alerts")
    assert send_alert(failed_alert(), alert_settings(tmp_path)) is False
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "tremplin: nightly_matching failed at ingest" in caplog.records[0].getMessage()


def test_a_long_exception_keeps_its_start_and_its_end() -> None:
    assert trim("abcdefghij", 4) == "a…ij"
    assert trim("abcdefghij", 8) == "ab…fghij"
    assert trim("abcd", 4) == "abcd"
    long = "WarehouseError: select_night failed: " + "frame\n" * 2_000 + "ModuleNotFoundError: No module named 'x'"
    trimmed = trim(long)
    assert len(trimmed) == 2_000
    assert trimmed.startswith("WarehouseError: select_night failed: ")
    assert trimmed.endswith("frame\nModuleNotFoundError: No module named 'x'")


class SmtpReceiver:
    """Just enough of an SMTP server for smtplib: one session, the envelope and the message recorded."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.commands: list[str] = []
        self.data = b""
        self.thread = threading.Thread(target=self.session, daemon=True)
        self.thread.start()

    def session(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 mail.test ESMTP\r\n")
            for raw in lines:
                command = raw.decode().strip()
                self.commands.append(command)
                verb = command.split(" ", 1)[0].upper()
                if verb == "DATA":
                    conn.sendall(b"354 end with <CRLF>.<CRLF>\r\n")
                    body = []
                    for line in lines:
                        if line == b".\r\n":
                            break
                        body.append(line[1:] if line.startswith(b"..") else line)  # undo dot-stuffing
                    self.data = b"".join(body)
                    conn.sendall(b"250 queued\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    break
                else:
                    conn.sendall(b"250 mail.test\r\n")  # EHLO, MAIL, RCPT, RSET, NOOP

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.server.close()


def test_a_late_run_is_mailed_through_a_real_smtp_session(tmp_path: Path) -> None:
    receiver = SmtpReceiver()
    settings_env_vars = {
        "TREMPLIN_ALERT_TARGET": "mailto:ops@example.org,astreinte@example.org",
        "TREMPLIN_ALERT_SMTP_HOST": "127.0.0.1",
        "TREMPLIN_ALERT_SMTP_PORT": str(receiver.port),
        "TREMPLIN_ALERT_FROM": "alertes@tremplin.example",
        "TREMPLIN_HOME": str(tmp_path / "home"),
    }
    # The context the scheduler gives a deadline callback (models/deadline.py, Deadline.handle_miss)
    context = {
        "dag_run": {
            "dag_id": "nightly_matching",
            "dag_run_id": RUN_ID,
            "logical_date": "2026-11-23T01:00:00Z",
            "queued_at": "2026-11-23T01:00:02Z",
            "state": "running",
        },
        "deadline": {"id": "0197", "deadline_time": datetime(2026, 11, 23, 6, 0, 2, tzinfo=UTC)},
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings_env_vars.items():
            patch.setenv(name, value)
        notify_late(context, minutes=300)
    receiver.close()

    verbs = [c.split(" ", 1)[0].upper() for c in receiver.commands]
    assert verbs == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    assert receiver.commands[1] == "mail FROM:<alertes@tremplin.example>"
    assert receiver.commands[2:4] == ["rcpt TO:<ops@example.org>", "rcpt TO:<astreinte@example.org>"]
    message = email.message_from_bytes(receiver.data, policy=default_policy)
    assert message["Subject"] == "tremplin: nightly_matching is late (2026-11-23)"
    assert message["To"] == "ops@example.org, astreinte@example.org"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert (
        "reason: not finished by its deadline 2026-11-23T06:00:02+00:00 (300 minutes after it was queued at "
        "2026-11-23T01:00:02Z); state running"
    ) in body


def test_no_late_alert_for_a_run_that_already_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow 3.3 keeps a failed run's deadline (apache/airflow#60927): the failure alert already went out.
    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("TREMPLIN_ALERT_TARGET", f"file://{alerts}")
    monkeypatch.setenv("TREMPLIN_HOME", str(tmp_path / "home"))
    run = {"dag_id": "nightly_matching", "dag_run_id": RUN_ID, "queued_at": "2026-11-23T01:00:02Z"}
    notify_late({"dag_run": {**run, "state": "failed"}, "deadline": {}}, minutes=300)
    assert not alerts.exists()
    notify_late({"dag_run": {**run, "state": "queued"}, "deadline": {}}, minutes=300)
    assert [json.loads(line)["kind"] for line in alerts.read_text(encoding="utf-8").splitlines()] == ["late"]


def test_the_run_level_callback_alerts_only_when_no_task_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import DAG

    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("TREMPLIN_ALERT_TARGET", f"file://{alerts}")
    monkeypatch.setenv("TREMPLIN_HOME", str(tmp_path / "home"))
    dag = DAG(dag_id="nightly_matching", schedule=None)
    on_run_failure({"dag": dag, "run_id": RUN_ID, "reason": "task_failure"})
    assert not alerts.exists()  # the failed task's own callback reported it
    on_run_failure({"dag": dag, "run_id": RUN_ID, "reason": "all_tasks_deadlocked"})
    [alert] = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    assert (alert["kind"], alert["dag_id"], alert["run_id"], alert["reason"], alert["task_id"]) == (
        "failed",
        "nightly_matching",
        RUN_ID,
        "all_tasks_deadlocked",
        None,
    )


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("slack://ops", "unknown scheme 'slack'"),
        ("ftp://files.example.org/alerts", "unknown scheme 'ftp'"),
        ("ops@example.org", r"unknown scheme '\(none\)'"),
        ("https://", "has no host"),
        ("mailto:", "needs e-mail addresses"),
        ("mailto:ops", "needs e-mail addresses"),
        ("file:alerts.jsonl", "needs an absolute path"),
        ("file://otherhost/var/alerts.jsonl", "needs an absolute path"),
    ],
)
def test_a_bad_target_is_refused_naming_the_setting(tmp_path: Path, target: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"^alert_target: .*{problem}"):
        Settings.from_env({"TREMPLIN_ALERT_TARGET": target}, data_dir=tmp_path)


def test_an_alert_still_goes_out_when_another_setting_is_bad(tmp_path: Path) -> None:
    target = f"file://{tmp_path}/alerts.jsonl"
    settings = alert_settings_from({"TREMPLIN_MIN_SCORE": "2", "TREMPLIN_ALERT_TARGET": target})
    assert (settings.alert_target, settings.min_score) == (target, 0.35)  # min_score back to its default
    with pytest.raises(ConfigError, match="alert_target"):
        alert_settings_from({"TREMPLIN_MIN_SCORE": "2", "TREMPLIN_ALERT_TARGET": "slack://ops"})


def test_good_targets_and_other_alert_settings(tmp_path: Path) -> None:
    assert parse_target("HTTPS://hooks.example.org/a?b=1") == Target("webhook", "HTTPS://hooks.example.org/a?b=1")
    assert parse_target(" mailto:ops@example.org , b@example.org") == Target("mailto", "ops@example.org,b@example.org")
    assert parse_target("file:///var/t/alerts%20ops.jsonl") == Target("file", "/var/t/alerts ops.jsonl")
    assert parse_target("file://localhost/var/a.jsonl") == Target("file", "/var/a.jsonl")
    assert (
        Target("webhook", "https://hooks.example.org:8443/T0/B0/secret").describe() == "https://hooks.example.org:8443"
    )
    with pytest.raises(ConfigError, match="alert_smtp_port"):
        Settings.from_env({"TREMPLIN_ALERT_SMTP_PORT": "0"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="alert_timeout_seconds"):
        Settings.from_env({"TREMPLIN_ALERT_TIMEOUT_SECONDS": "-1"}, data_dir=tmp_path)


def test_the_webhook_token_stays_out_of_logs_and_manifests(tmp_path: Path) -> None:
    plain = alert_settings(tmp_path)
    settings = alert_settings(tmp_path, alert_target="https://hooks.example.org/x", alert_webhook_token="s3cret")
    assert "s3cret" not in repr(settings)
    assert "alert_webhook_token" not in settings.public_dict()
    assert settings.public_dict()["alert_target"] == "https://hooks.example.org/x"
    assert settings.fingerprint() == plain.fingerprint()  # where ops are told does not shape the matches


def test_late_after_minutes() -> None:
    assert late_after(None) == timedelta(minutes=300)
    assert late_after("") == timedelta(minutes=300)
    assert late_after(" 45 ") == timedelta(minutes=45)
    for bad in ("0", "-5", "5h"):
        with pytest.raises(ConfigError, match=rf"^TREMPLIN_LATE_AFTER_MINUTES must be a positive number .*{bad!r}"):
            late_after(bad)


DECLARED = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1])
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}}
    for dag_id, dag in bag.dags.items():
        out[dag_id] = {
            "run": getattr(dag.on_failure_callback, "__qualname__", None),
            "tasks": sorted({
                ",".join(c.__qualname__ for c in (cbs if isinstance(cbs, list) else [cbs]))
                for t in dag.tasks
                for cbs in [t.on_failure_callback or []]
            }),
            "deadline": [
                [type(d.reference).__name__, d.interval.total_seconds(), d.callback.path, d.callback.kwargs]
                for d in (dag.deadline or [])
            ],
        }
    print(json.dumps(out))
    """
)


def declared(tmp_path: Path, late: str) -> dict[str, Any]:
    env = airflow_env(tmp_path / "airflow", {"TREMPLIN_LATE_AFTER_MINUTES": late})
    done = subprocess.run(
        [sys.executable, "-c", DECLARED, str(DAGS_FOLDER)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_dags_declare_the_callbacks_and_the_late_deadline(tmp_path: Path) -> None:
    # The deadline fires from a running scheduler, which no test here starts: the DAG must declare it, and
    # notify_late is tested above with the context the scheduler passes.
    result = declared(tmp_path, "45")
    mine = {str(DAGS_FOLDER / name) for name in ("nightly_matching.py", "sms_dispatch.py")}
    assert mine.isdisjoint(result["errors"])  # other DAG files are other people's
    for dag_id in ("nightly_matching", "sms_dispatch"):
        assert result[dag_id]["run"] == "on_run_failure"
        assert result[dag_id]["tasks"] == ["on_task_failure"]  # every task, once
    assert result["nightly_matching"]["deadline"] == [
        ["DagRunQueuedAtDeadline", 45 * 60.0, "tremplin.ops.airflow.notify_late", {"minutes": 45.0}]
    ]
    assert result["sms_dispatch"]["deadline"] == []
    broken = declared(tmp_path, "soon")
    assert set(broken["errors"]) & mine == {str(DAGS_FOLDER / "nightly_matching.py")}
    problem = broken["errors"][str(DAGS_FOLDER / "nightly_matching.py")]
    assert "TREMPLIN_LATE_AFTER_MINUTES must be a positive number of minutes, got 'soon'" in problem


@pytest.mark.slow
def test_a_real_failed_nightly_run_sends_one_alert_naming_ingest(tmp_path: Path, data_dir: Path) -> None:
    alerts = tmp_path / "ops" / "alerts.jsonl"
    settings = Settings.from_env({}, data_dir=data_dir, home=tmp_path / "home", alert_target=f"file://{alerts}")
    day = settings.inbox / NIGHT
    day.mkdir(parents=True)
    (day / "seekers.jsonl").write_text("ceci n'est pas du JSON\n", encoding="utf-8")
    started = datetime.now(ZoneInfo("Europe/Paris"))

    with pytest.raises(TremplinError, match=rf"^airflow dags test nightly_matching {NIGHT} failed"):
        run_dag(
            "nightly_matching",
            NIGHT,
            airflow_home=tmp_path / "airflow",
            extra_env={**settings_env(settings), "TREMPLIN_TASK_RETRIES": "0", "TREMPLIN_LATE_AFTER_MINUTES": "90"},
        )

    with sqlite3.connect(tmp_path / "airflow" / "airflow.db") as meta:
        [(run_id, run_state)] = meta.execute("select run_id, state from dag_run where dag_id = 'nightly_matching'")
        states = dict(meta.execute("select task_id, state from task_instance where map_index = -1").fetchall())
        declared_deadlines = meta.execute("select reference, interval, callback_def from deadline_alert").fetchall()
    assert run_state == "failed"
    assert (states["sync_feedback"], states["ingest"]) == ("success", "failed")
    assert states["report"] == "failed"  # it runs after a failure too, and fails an incomplete night
    alerts_sent = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    # One alert: ingest's. The tasks after it were skipped as upstream_failed; the run-level callback saw a
    # task failure; a task that runs whatever happened (the report) and fails after ingest's failure keeps quiet.
    assert [a["task_id"] for a in alerts_sent] == ["ingest"]
    [alert] = alerts_sent
    log = (tmp_path / "airflow" / f"nightly_matching-{NIGHT}.log").read_text(encoding="utf-8")
    for task_id in sorted(t for t, s in states.items() if s == "failed" and t != "ingest"):
        assert f"{task_id} failed after an upstream failure, which alerted ops already; no second alert" in log
    assert log.count("run failed by a task failure; that task's alert already went to ops") == 1
    assert (alert["kind"], alert["dag_id"], alert["run_id"], alert["task_id"], alert["try_number"]) == (
        "failed",
        "nightly_matching",
        run_id,
        "ingest",
        1,
    )
    assert alert["logical_date"].startswith(NIGHT)
    seekers = day / "seekers.jsonl"
    assert alert["exception"] == (
        f"InputFileError: {seekers}, line 1: no readable record; first problem: invalid JSON (Expecting value)"
    )
    quoted_run = run_id.replace(":", "%3A").replace("+", "%2B")
    assert alert["log_url"].endswith(f"/dags/nightly_matching/runs/{quoted_run}/tasks/ingest?try_number=1")
    at = datetime.fromisoformat(alert["at"])
    assert at.utcoffset() == started.utcoffset()  # the hour in Paris
    assert timedelta(0) <= at - started.replace(microsecond=0) < timedelta(minutes=10)
    # Airflow stored the DAG's deadline (dag.test creates its run without queued_at, so it sets no deadline
    # for it; the scheduler's queued runs get one)
    [(reference, interval, callback)] = declared_deadlines
    assert json.loads(reference) == {"reference_type": "DagRunQueuedAtDeadline"}
    assert json.loads(interval)["__data__"] == 90 * 60
    assert json.loads(callback)["__data__"]["path"] == "tremplin.ops.airflow.notify_late"
