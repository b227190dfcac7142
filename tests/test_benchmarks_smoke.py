"""The benchmark suite's machinery on a micro size: it runs, and its JSON has the expected shape.

The figures themselves are never checked here (benchmarks are not pass/fail).
"""

from __future__ import annotations

import json
import math

from benchmarks.common import LIMIT, US
from benchmarks.run import run


def test_micro_run_writes_the_expected_json(tmp_path):
    record = run("micro", only=["W1", "W3", "W4", "W5"], workdir=str(tmp_path / "work"),
                 out=str(tmp_path / "out"), quiet=True)
    with open(record["path"]) as f:
        saved = json.load(f)
    assert set(saved) >= {"meta", "results", "targets", "table"}
    assert saved["meta"]["size"] == "micro" and saved["meta"]["cores"] >= 1
    assert US in saved["meta"]["engines"] and LIMIT in saved["meta"]["engines"]
    workloads = {r["workload"] for r in saved["results"]}
    assert workloads == {"W1", "W3", "W4", "W5"}
    for r in saved["results"]:
        assert set(r) >= {"workload", "case", "metric", "values", "ratios", "higher_is_better"}
        assert r["values"][US] is not None and r["values"][US] > 0, r
        for name, ratio in r["ratios"].items():
            assert isinstance(ratio, float) and ratio > 0 and math.isfinite(ratio), (r["case"], name)
    reads = [r for r in saved["results"] if r["case"].startswith("read")]
    assert reads and all(LIMIT in r["ratios"] for r in reads)
    assert all({"target", "met"} <= set(t) for t in saved["targets"])


def test_w7_gives_back_the_environment_its_cluster_changed(monkeypatch):
    """W8's child processes must not inherit what W7's LocalCluster set for its workers."""
    import os

    from benchmarks.w_dask import _environ_kept

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with _environ_kept():
        os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"  # what a LocalCluster leaves behind
        os.environ["OMP_NUM_THREADS"] = "1"
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_round_robin_gives_short_trials_more_turns_up_to_a_cap():
    """An engine whose trials are short takes turns until they add up to the row's
    seconds (at most MAX_TRIALS); one that reached it stops after its repeats."""
    from benchmarks.common import MAX_TRIALS, Row, round_robin

    seconds = {"fast": [0.05] * 20, "mid": [0.2, 0.15, 0.1, 0.3, 0.3, 0.3, 0.3, 0.3], "slow": [0.6] * 20}
    order: list[str] = []

    def prepare(name):
        def trial():
            order.append(name)
            return seconds[name][order.count(name) - 1]
        return lambda: trial

    row = Row("Wx", "case", "MB/s")
    round_robin(row, {n: prepare(n) for n in seconds}, 2, lambda t: 1.0 / t, lambda msg: None, min_seconds=1.0)
    assert order.count("slow") == 2  # 1.2 s after its two repeats
    assert order.count("mid") == 5  # 0.75 s after four trials, 1.05 s after five
    assert order.count("fast") == MAX_TRIALS
    assert row.values == {"fast": 1 / 0.05, "mid": 1 / 0.1, "slow": 1 / 0.6}
    # turns stay interleaved: the engines still short take turns with each other
    assert set(order[:6]) == set(seconds) and set(order[6:8]) == {"fast", "mid"}


def test_round_robin_without_a_budget_takes_exactly_its_repeats():
    from benchmarks.common import Row, round_robin

    calls: list[str] = []
    row = Row("Wx", "case", "MB/s")
    round_robin(row, {n: (lambda n=n: (lambda: calls.append(n) or 0.01)) for n in "ab"}, 3,
                lambda t: t, lambda msg: None)
    assert sorted(calls) == ["a"] * 3 + ["b"] * 3
    assert row.values == {"a": 0.01, "b": 0.01}
