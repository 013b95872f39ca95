"""What every benchmark shares: sizes, figures and how they print, timing, stores."""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import psycopg

from services.application import BackofficeApplication
from services.store import StoreLocation

REBUILD_PROCESSES = 2
"""Rebuilds share the read models among this many processes, as
``backoffice projections rebuild --processes 2`` does: this machine's two cores."""

POSTGRES_URL_VARIABLE = "BACKOFFICE_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Size(StrEnum):
    """How much work each benchmark does: ``tiny`` only proves that it runs; ``large`` is
    ``default`` with the open cases at full scale (10,000, some minutes more)."""

    TINY = "tiny"
    SMALL = "small"
    DEFAULT = "default"
    LARGE = "large"


@dataclass(frozen=True)
class Target:
    """The goal of a figure: its ratio to the baseline, or its own value, against a bound."""

    bound: float
    at_least: bool
    on_ratio: bool = True
    unit: str = ""

    def describe(self) -> str:
        sign = ">=" if self.at_least else "<=" if self.on_ratio else "<"
        subject = "ratio" if self.on_ratio else "value"
        return f"{subject} {sign} {self.bound:g}{' ' + self.unit if self.unit else ''}"

    def met_by(self, value: float) -> bool:
        if self.at_least:
            return value >= self.bound
        return value <= self.bound if self.on_ratio else value < self.bound


def ratio_at_least(bound: float) -> Target:
    return Target(bound, at_least=True)


def ratio_at_most(bound: float) -> Target:
    return Target(bound, at_least=False)


def value_under(bound: float, unit: str) -> Target:
    return Target(bound, at_least=False, on_ratio=False, unit=unit)


@dataclass(frozen=True)
class Figure:
    """One measured figure: ours, the baseline measured in the same run, and the goal.

    Figures without a target are there to explain the others (where the time goes).
    """

    name: str
    ours: float
    unit: str
    baseline: float | None = None
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        value = self.ratio if self.target.on_ratio else self.ours
        return value is not None and self.target.met_by(value)


HEADER = f"{'figure':<34} {'ours':>16} {'baseline':>16} {'ratio':>7}  {'target':<22} met"


def format_figure(figure: Figure) -> str:
    ours = f"{_number(figure.ours)} {figure.unit}"
    baseline = "-" if figure.baseline is None else f"{_number(figure.baseline)} {figure.unit}"
    ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}"
    target = "-" if figure.target is None else figure.target.describe()
    met = {None: "-", True: "yes", False: "NO"}[figure.met]
    return f"{figure.name:<34} {ours:>16} {baseline:>16} {ratio:>7}  {target:<22} {met}"


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


# -- timing ----------------------------------------------------------------------------


class Stopwatch:
    """Wall-clock seconds of a ``with`` block, in ``elapsed``."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.elapsed = time.perf_counter() - self._started


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of non-empty ``samples``."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


# -- stores ----------------------------------------------------------------------------


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)


def postgres_problem() -> str | None:
    """None when the benchmarks' PostgreSQL answers, else why not."""
    try:
        with psycopg.connect(StoreLocation(postgres_url()).psycopg_conninfo(), connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return str(error).strip()


@contextmanager
def postgres_store() -> Iterator[str]:
    """A fresh schema in the benchmarks' database, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    conninfo = StoreLocation(postgres_url()).psycopg_conninfo()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_url()}?schema={schema}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def sqlite_store() -> Iterator[str]:
    """A SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="backoffice-bench-") as directory:
        yield f"sqlite:///{Path(directory) / 'backoffice.db'}"


STORE_KINDS = ("sqlite", "postgres")


@contextmanager
def fresh_store(kind: str) -> Iterator[str]:
    """An empty store of ``kind`` (``sqlite`` or ``postgres``), removed afterwards."""
    with sqlite_store() if kind == "sqlite" else postgres_store() as url:
        yield url


@contextmanager
def every_store() -> Iterator[dict[str, str]]:
    """An empty store of every kind, by kind, removed afterwards."""
    with ExitStack() as stack:
        yield {kind: stack.enter_context(fresh_store(kind)) for kind in STORE_KINDS}


@contextmanager
def application(url: str) -> Iterator[BackofficeApplication]:
    """The product's application on the store at ``url``, closed afterwards."""
    app = BackofficeApplication(env=StoreLocation(url).eventsourcing_env())
    try:
        yield app
    finally:
        app.close()


def store_bytes(url: str) -> int:
    """The store's size on disk: the SQLite file, or the PostgreSQL schema's tables."""
    location = StoreLocation(url)
    if not location.is_postgres:
        path = location.sqlite_path
        with closing(sqlite3.connect(path)) as connection:  # fold the WAL into the file
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with psycopg.connect(location.psycopg_conninfo()) as connection:
        row = connection.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r'",
            [location.postgres_schema],
        ).fetchone()
    return int(row[0]) if row else 0
