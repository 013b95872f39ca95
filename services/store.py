"""Where events live: a SQLite file by default, PostgreSQL by URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class StoreLocation:
    """A parsed ``BACKOFFICE_DATABASE_URL``: ``sqlite:///path`` or ``postgresql://...``.

    A PostgreSQL URL may name a schema (``postgresql://host/db?schema=name``) so
    several stores can share one database (the tests use one schema each).
    """

    url: str

    @property
    def shown(self) -> str:
        """The URL to print: a password in it replaced by ``***``."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql://", "postgres://"))

    @property
    def sqlite_path(self) -> Path:
        if not self.url.startswith("sqlite:///"):
            raise ValueError(f"not a sqlite URL: {self.url}")
        return Path(self.url.removeprefix("sqlite:///"))

    def eventsourcing_env(self) -> dict[str, str]:
        """The settings ``eventsourcing`` reads to build its recorder: the library's
        own persistence, with every event linked into the hash chain as it is
        written (``services/hash_chain.py``)."""
        if not self.is_postgres:
            return {
                "PERSISTENCE_MODULE": "services.persistence_sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
            }
        parts = urlsplit(self.url)
        return {
            "PERSISTENCE_MODULE": "services.persistence_postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": self.postgres_schema,
        }

    @property
    def postgres_schema(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("schema", ["public"])[0]

    def psycopg_conninfo(self) -> str:
        env = self.eventsourcing_env()
        return (
            f"dbname={env['POSTGRES_DBNAME']} host={env['POSTGRES_HOST']} "
            f"port={env['POSTGRES_PORT']} user={env['POSTGRES_USER']}"
            f" options=-csearch_path={env['POSTGRES_SCHEMA']}"
            + (f" password={env['POSTGRES_PASSWORD']}" if env["POSTGRES_PASSWORD"] else "")
        )


_UNREADABLE = re.compile(r"originator_id '(?P<id>[^']+)' and originator_version (?P<version>\d+)")


def unreadable_event(error: Exception) -> str:
    """What to say of a stored event the store's mapper cannot decode (its state edited
    outside Backoffice): which one, and the command that names everything altered."""
    found = _UNREADABLE.search(str(error))
    which = f"the event of {found['id']} at version {found['version']}" if found else "an event"
    return (
        f"{which} cannot be read from the store: it was changed outside Backoffice;"
        " `backoffice audit verify` names every event altered"
    )
