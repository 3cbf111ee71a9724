"""``tremplin serve`` as ops run it: accounts made with ``tremplin users add``, and pages that keep answering
while a nightly run holds the DuckDB warehouse and writes to the operational store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from typer.testing import CliRunner, Result

from connectors.opstore import OpStore
from connectors.optables import counsellor_queue
from connectors.optables import users as users_table
from connectors.warehouse import Warehouse
from tests.support import review_data as rd
from tremplin.cli import app
from tremplin.dev.serve_process import free_port, serving_subprocess, wait_healthy
from tremplin.settings import PROJECT_ROOT, Settings


def _tremplin(*args: str, home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tremplin", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "TREMPLIN_TWILIO_AUTH_TOKEN": ""},
        check=False,
    )


def test_users_add_hashes_the_password_and_refuses_weak_or_duplicate_accounts(tmp_path):
    home = str(tmp_path / "home")
    cli = CliRunner()

    def users(*args: str, password: str = "") -> Result:
        return cli.invoke(app, ["users", *args, "--home", home], input=password)

    made = users("add", "claire", "--agency", "FT-07-001", "--password-stdin", password="un mot de passe long\n")
    assert made.exit_code == 0, made.output
    assert "created counsellor claire" in made.output
    again = users("add", "claire", "--agency", "FT-07-001", "--password-stdin", password="autre mot de passe long\n")
    assert again.exit_code == 2 and "exists already" in again.output
    weak = users("add", "leo", "--agency", "FT-07-001", "--password-stdin", password="court\n")
    assert weak.exit_code == 2 and "at least 12" in weak.output
    boss = users(
        "add",
        "nadia",
        "--agency",
        "FT-07-001",
        "--role",
        "supervisor",
        "--password-stdin",
        password="un mot de passe long\n",
    )
    assert boss.exit_code == 0, boss.output
    assert users("list").output.splitlines() == [
        "FT-07-001\tclaire\tcounsellor\tclaire",
        "FT-07-001\tnadia\tsupervisor\tnadia",
    ]
    hashes = [u["password_hash"] for u in OpStore(f"sqlite:///{home}/opstore.sqlite").table_rows(users_table)]
    assert all(h.startswith("$argon2id$") and "un mot de passe long" not in h for h in hashes)


def test_pages_answer_while_the_night_holds_the_warehouse_and_writes_the_store(tmp_path):
    home = tmp_path / "home"
    settings = Settings.from_env({}, home=home)
    store = OpStore(settings.opstore)
    rd.build(store)
    assert (
        _tremplin(
            "users",
            "add",
            "claire",
            "--agency",
            rd.ARDECHE,
            "--password-stdin",
            home=home,
            stdin="un mot de passe long\n",
        ).returncode
        == 0
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TREMPLIN_TWILIO_AUTH_TOKEN": "", "NO_PROXY": "127.0.0.1"}
    with (
        Warehouse.open(settings.warehouse) as _night,
        serving_subprocess(home, port, env, tmp_path / "serve.log") as server,
    ):
        # the nightly run holds DuckDB's lock: another process could not even open the file read-only
        wait_healthy(base, server, tmp_path / "serve.log", timeout=60)
        web = requests.Session()
        web.trust_env = False
        form = web.get(f"{base}/login", timeout=5)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        signed = web.post(
            f"{base}/login", data={"username": "claire", "password": "un mot de passe long", "csrf": token}, timeout=5
        )
        assert signed.status_code == 200 and "À appeler" in signed.text

        # meanwhile, "publish" writes 20,000 queue items in one long transaction
        done = threading.Event()

        def publish() -> None:
            now = datetime.now(UTC)
            rows = [
                rd.item(i, f"N{i}", rd.ARDECHE, "V1", queue="to_call", reason="no_mobile", score=0.5, created_at=now)
                | {"item_id": f"night:{i}", "run_date": rd.NIGHT + timedelta(days=1)}
                for i in range(20_000)
            ]
            store.insert_ignoring_duplicates(counsellor_queue, rows, chunk=500)
            done.set()

        writer = threading.Thread(target=publish)
        writer.start()
        slowest, answered = 0.0, 0
        while not done.is_set() or answered < 20:
            start = time.perf_counter()
            page = web.get(f"{base}/queues/to_call", timeout=10)
            slowest = max(slowest, time.perf_counter() - start)
            assert page.status_code == 200
            answered += 1
        writer.join()
        assert slowest < 2.0, f"a queue page took {slowest:.2f} s during the night's write"
        open_files = {os.path.realpath(f"/proc/{server.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{server.pid}/fd")}
        assert str(settings.warehouse.resolve()) not in open_files
        assert "duckdb" not in Path(f"/proc/{server.pid}/maps").read_text()  # never even loaded
