"""Settings: environment variables prefixed ``BACKOFFICE_``, or a ``.env`` file.

The defaults give the embedded stack: a SQLite event store and the Temporal dev
server's state under the data folder (``./var``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.store import StoreLocation

JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the embedded stack keeps its state")
    database_url: str | None = Field(
        None, description="sqlite:///PATH or postgresql://USER@HOST:PORT/DB; default: SQLite file"
    )
    temporal_address: str | None = Field(
        None, description="HOST:PORT of an existing Temporal; default: start the dev server"
    )
    temporal_namespace: str = "default"
    task_queue: str = "backoffice"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str | None = Field(
        None, description="HS256 secret for bearer tokens; default: generated into the data folder"
    )
    jwt_issuer: str = "backoffice"
    jwt_audience: str = "backoffice"
    jwks_file: Path | None = Field(
        None, description="Verify RS256/ES256 tokens with this JWKS file instead of the secret"
    )
    jwks_url: str | None = Field(
        None, description="Verify RS256/ES256 tokens with the JWKS an identity provider publishes"
    )
    token_ttl_hours: int = 12
    read_your_writes_timeout: float = 5.0
    command_timeout: float = Field(
        30.0, gt=0, description="How long a command waits for its workflow before answering 503"
    )
    session_ttl_hours: float = Field(8, description="How long a sign-in to the pages lasts")
    session_cookie_secure: bool = Field(
        False, description="Mark the session cookie Secure even when the request came over http"
    )
    _secret: str | None = PrivateAttr(None)

    @field_validator("database_url")
    @classmethod
    def _a_store_we_can_use(cls, url: str | None) -> str | None:
        """A URL the store can open, every part of it used: a parameter it would not
        read (``sslmode``, ``password``) is refused rather than silently left out.
        The URL itself is never repeated: it may hold a password."""
        if not url:  # unset, or left empty (as .env templates do): the default store
            return None
        store = StoreLocation(url)
        if not (url.startswith("sqlite:///") or store.is_postgres):
            raise ValueError(
                "a sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB URL is needed"
            )
        taken = {"schema"} if store.is_postgres else set()
        for name, values in parse_qs(urlsplit(url).query, keep_blank_values=True).items():
            if name not in taken:
                takes = "only schema" if taken else "none"
                raise ValueError(
                    f"the parameter {name} is not one the store takes ({takes}); "
                    + (
                        "give a password as USER:PASSWORD@ in the URL"
                        if name == "password"
                        else "the PostgreSQL client reads its own settings, such as"
                        " PGSSLMODE, from the environment"
                        if store.is_postgres
                        else "a SQLite store is named by its path alone"
                    )
                )
            if not all(values):
                raise ValueError(f"{name}= names no {name}; leave it out for the default")
        return url

    @property
    def uses_identity_provider(self) -> bool:
        """Tokens come from an identity provider (JWKS), not from ``backoffice token``."""
        return self.jwks_file is not None or self.jwks_url is not None

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'backoffice.db').resolve()}"

    @property
    def store(self) -> StoreLocation:
        return StoreLocation(self.store_url)

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def signing_secret(self) -> str:
        """The configured secret, else the one kept in the data folder (made on first use).

        Read once: the API asks on every request."""
        if self.jwt_secret:
            return self.jwt_secret
        if self._secret is None:
            path = self.ensure_data_dir() / JWT_SECRET_FILE
            if not path.exists():
                _create_once(path, secrets.token_urlsafe(48))
            self._secret = path.read_text().strip()
        return self._secret


def _create_once(path: Path, content: str) -> None:
    """Write ``path`` whole or not at all: when two processes race, the first one wins and
    neither ever reads a half-written file."""
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    draft.touch(mode=0o600)
    draft.write_text(content)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
