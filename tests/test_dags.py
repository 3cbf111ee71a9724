"""The DAG files: they parse without errors, carry tags and retries, and do no I/O when parsed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tremplin.dev.airflow_runner import DAGS_FOLDER, airflow_env

EXPECTED_DAGS = {"nightly_matching", "retention", "sms_dispatch"}
EXPECTED_FILES = ["nightly_matching.py", "retention.py", "sms_dispatch.py"]

PARSE_SCRIPT = textwrap.dedent(
    """
    import json, runpy, sys
    from pathlib import Path
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(sys.argv[1])
    bag = DagBag(dag_folder=str(folder))
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tags": sorted(dag.tags),
            "retries": sorted({t.retries for t in dag.tasks}),
            "tasks": [t.task_id for t in dag.tasks],
            "mapped": [t.task_id for t in dag.tasks if any(k.__name__ == "MappedOperator" for k in type(t).__mro__)],
            "pools": {t.task_id: t.pool for t in dag.tasks},
            "schedule": [getattr(dag.timetable, "expression", None), str(getattr(dag.timetable, "timezone", ""))],
        }

    # Parse each file again under an audit hook: after the imports Airflow already made, parsing a
    # DAG file must open no file, start no process and open no connection.
    events = []
    def hook(event, args):
        if event == "open" and isinstance(args[0], str) and not args[0].endswith((".py", ".pyc")):
            events.append([event, args[0]])
        elif event in ("subprocess.Popen", "socket.connect", "sqlite3.connect"):
            events.append([event, str(args[0])[:80]])
    paths = sorted(folder.glob("*.py"))
    sys.addaudithook(hook)
    for path in paths:
        runpy.run_path(str(path))
    heavy = ("duckdb", "polars", "sklearn", "twilio", "tremplin.nightly.ingest")
    heavy = sorted(m for m in heavy if m in sys.modules)
    print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags,
                      "files": [p.name for p in paths], "io": events, "heavy_imports": heavy}))
    """
)


def parse(tmp_path: Path) -> dict:
    env = airflow_env(tmp_path / "airflow")
    done = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS_FOLDER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dags_parse_with_tags_retries_and_no_io(tmp_path: Path) -> None:
    result = parse(tmp_path)
    assert result["errors"] == {}
    assert set(result["dags"]) == EXPECTED_DAGS
    for dag_id, dag in result["dags"].items():
        assert dag["tags"], f"{dag_id} has no tags"
        assert min(dag["retries"]) >= 1, f"{dag_id} has a task without retries"
    schedules = {dag_id: dag["schedule"] for dag_id, dag in result["dags"].items()}
    assert schedules["nightly_matching"] == ["0 2 * * *", "Europe/Paris"]
    assert schedules["retention"] == ["0 14 * * 0", "Europe/Paris"]  # Sunday afternoon: no night, no SMS
    assert result["dags"]["retention"]["tasks"] == ["apply_retention"]
    assert result["dags"]["nightly_matching"]["tasks"] == [
        "sync_feedback",
        "ingest",
        "normalize",
        "plan_shards",
        "score_shard",
        "merge_shards",
        "route",
        "publish",
        "summary",
        "report",
    ]
    # scoring is mapped over the shards that plan_shards returns
    assert result["dags"]["nightly_matching"]["mapped"] == ["score_shard"]
    # every task that opens the DuckDB warehouse (read-only too: DuckDB refuses that while another process holds
    # it) is in the pool of one slot; the shards, which read Parquet only, and the SMS dispatch are not
    nightly = result["dags"]["nightly_matching"]
    assert nightly["pools"] == {
        **{task: "tremplin_warehouse" for task in nightly["tasks"]},
        "score_shard": "default_pool",
    }
    assert result["dags"]["retention"]["pools"] == {"apply_retention": "tremplin_warehouse"}
    assert result["dags"]["sms_dispatch"]["pools"] == {"dispatch": "default_pool"}
    assert result["files"] == EXPECTED_FILES  # the files parsed again under the audit hook
    assert result["io"] == [], "DAG files did I/O at parse time"
    assert result["heavy_imports"] == [], "DAG files imported heavy modules at parse time"


def test_dag_files_keep_business_logic_out() -> None:
    # Tasks only call tremplin.nightly.tasks; nothing from matching/ or connectors/ is imported in dags/.
    paths = sorted(DAGS_FOLDER.glob("*.py"))
    assert [p.name for p in paths] == EXPECTED_FILES
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "import matching" not in text and "from matching" not in text, path
        assert "from connectors" not in text, path
