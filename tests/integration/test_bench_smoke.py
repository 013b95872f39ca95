"""The benchmark suite runs at its tiny size and prints every figure.

Only that each figure's line is printed, whole: the numbers of a tiny run
prove nothing, and whether targets are met is for full runs to say
(docs/performance.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]

FIGURES = [
    "writes.sqlite",
    "writes.postgres",
    "catch_up.sqlite",
    "catch_up.postgres",
    *(
        f"inbox.{name}.{kind}"
        for kind in ("sqlite", "postgres")
        for name in ("p99", "p50", "store_per_case")
    ),
    "open_cases.worker_rss",
    "open_cases.worker_rss_peak",
    "open_cases.opened_per_s",
    "open_cases.store_per_case.sqlite",
    "e2e.rate",
    "e2e.server_cpu",
    "e2e.process_cpu",
    "latency.p50",
    "latency.p99",
]


def test_every_benchmark_prints_each_of_its_figures_at_the_tiny_size(
    postgres_available: None,
) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "tiny"],
        cwd=ROOT,
        env={**os.environ, "BACKOFFICE_BENCH_POSTGRES_URL": POSTGRES_URL},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    header, *lines = finished.stdout.splitlines()
    assert header.split() == ["figure", "ours", "baseline", "ratio", "target", "met"]
    assert [line.split()[0] for line in lines] == FIGURES
    assert all(line.split()[-1] in ("yes", "NO", "-") for line in lines)
