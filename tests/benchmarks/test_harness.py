"""The benchmark harness on tiny sizes: every figure lands in results.json and results.md beside its target."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import FIELDS
from benchmarks.__main__ import main, to_markdown


@pytest.mark.slow  # a whole benchmark run against the loopback server
def test_quick_generation_run_writes_json_and_markdown(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))  # main() sets it; restore after
    assert main(["--quick", "--only", "generation", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"]["quick"] is True and data["meta"]["omp_num_threads"] == 1
    rows = {row["name"]: row for row in data["results"]}
    for name, concurrency in (("openai_c1", 1), ("openai_c4", 4)):
        row = rows[name]
        assert set(FIELDS) <= set(row)
        assert row["baseline"] == concurrency / 0.2  # the ideal: concurrency / latency
        # Measured, so above 0 and, since a request cannot beat its latency, not above the ideal.
        assert 0 < row["ratio"] <= 1.05
    assert rows["composer_fact"]["value"] > 0
    markdown = (tmp_path / "results.md").read_text()
    assert "| generation | openai_c4 |" in markdown and "target" in markdown


def test_markdown_keeps_one_line_per_figure():
    meta = {"date": "d", "git_sha": "0" * 40, "machine": "m", "omp_num_threads": 1, "quick": False}
    row = {"module": "x", "name": "a", "value": 1.5, "unit": "rows/s", "target": 2.0, "baseline": None,
           "ratio": None, "ok": False, "note": "first line\nsecond | line"}
    table = to_markdown([row], meta).splitlines()
    assert table[-1] == "| x | a | 1.5 | rows/s | 2 |  |  | **no** | first line second \\| line |"
