"""``python -m bench [--size tiny|small|default] [--only NAME ...]``: run the benchmarks.

Prints one line per figure: its name, our value, the baseline measured in the
same run, their ratio, the target and whether it is met. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from backoffice.logs import configure_logging
from bench.common import HEADER, Figure, Size, Stopwatch, format_figure, postgres_problem

BENCHMARKS = ("writes", "catch_up", "inbox", "open_cases", "e2e", "latency")
"""The benchmark modules of ``bench``, in the order they run."""

Benchmark = Callable[[Size], Iterator[Figure]]


def _benchmark(name: str) -> Benchmark:
    run: Benchmark = importlib.import_module(f"bench.{name}").run
    return run


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--size",
        type=Size,
        choices=list(Size),
        default=Size.DEFAULT,
        help="how much work each benchmark does (tiny only proves that it runs)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    return parser.parse_args(argv)


def _compile_workflow_modules() -> None:
    """Write the bytecode of the workflows' modules (ours and the bare baseline's):
    Temporal's sandbox imports a workflow's module again for every workflow it
    runs, and without bytecode on disk (``PYTHONDONTWRITEBYTECODE``) that means
    compiling it again each time, which no deployed worker does."""
    root = Path(__file__).resolve().parent.parent
    for package in ("workflows", "bench"):
        compileall.compile_dir(root / package, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    _compile_workflow_modules()
    configure_logging("WARNING")  # to standard error: the figures alone go to standard output
    problem = postgres_problem()
    if problem is not None:
        print(f"PostgreSQL is needed (set BACKOFFICE_BENCH_POSTGRES_URL): {problem}")
        return 2
    print(HEADER, flush=True)
    for name in arguments.only or BENCHMARKS:
        with Stopwatch() as watch:
            for figure in _benchmark(name)(arguments.size):
                print(format_figure(figure), flush=True)
        print(f"# {name} took {watch.elapsed:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
