"""The benchmark command keeps working: a run of seconds on a few generated tenants.

Its figures are not judged here (speed is measured by the benchmark, run by hand); what is
checked is that every scenario ran, as the people it stands for, without one error, and that
the JSON and Markdown it writes hold what the README says.
"""

import json
import os

import pytest

from benchmarks import run
from tests.test_benchmark_data import _database, _drop, _generate

pytestmark = pytest.mark.postgresql
SCENARIOS = {
    "hello world",
    "portal page, first visits",
    "portal page",
    "anonymous submission",
    "receipt login",
    "inbox, first page",
    "inbox, deep page",
    "inbox, filtered",
    "inbox, filtered, deep",
    "case page, 200 events",
    "whole timeline, 200 events",
}


@pytest.fixture
def manifest(postgres_admin, tmp_path):
    name = _database(postgres_admin)
    path = tmp_path / "manifest.json"
    tiny = ["--tenants", "3", "--cases", "300", "--receipts", "2", "--heavy-cases", "1"]
    _generate(name, path, *tiny, "--workers", "1", "--heavy-events", "40")
    yield path
    _drop(postgres_admin, name)


def test_a_short_run_measures_every_scenario_and_writes_its_report(manifest, tmp_path):
    out = tmp_path / "results"
    environment = dict(os.environ)
    result = run.main(
        [
            "--manifest", str(manifest),
            "--seconds", "0.4",
            "--concurrency", "1,2",
            "--workers", "1",
            "--threads", "2",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert dict(os.environ) == environment, "the run leaves the caller's environment alone"
    rows = result["measures"]
    assert {r["scenario"] for r in rows} == SCENARIOS
    (first,) = [r for r in rows if r["scenario"] == "portal page, first visits"]
    assert first["done"] == first["concurrency"] * 3  # every tenant, by every visitor
    measured = [r for r in rows if r is not first]
    assert {r["concurrency"] for r in measured} == {1, 2}
    for row in rows:
        assert row["errors"] == 0, row
        assert row["done"] > 0, row
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"], row
    for row in measured:
        if row["scenario"] != "hello world":
            assert row["server_p95_ms"] is not None, row
    assert result["in_process"]["audit"]["intact"] is True
    assert result["in_process"]["tenants"] == 3
    assert result["limits"]["argon2id_seconds"] > 0
    assert set(result["targets"]) == set(run.TARGETS)
    assert all(w > 0 for w in result["worker_memory_mib"])

    (written,) = out.glob("bench-*.json")
    assert json.loads(written.read_text())["measures"] == rows
    table = written.with_suffix(".md").read_text()
    assert "| inbox, deep page | 2 |" in table and result["commit"] in table
