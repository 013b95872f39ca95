"""Where the event store is, as the commands print it."""

from __future__ import annotations

from services.store import StoreLocation


def test_a_store_s_url_is_shown_without_its_password() -> None:
    store = StoreLocation("postgresql://app:s3cret@db.internal:5432/backoffice?schema=hr")

    assert store.shown == "postgresql://app:***@db.internal:5432/backoffice?schema=hr"


def test_a_url_without_a_password_is_shown_as_it_is() -> None:
    for url in ("sqlite:////srv/var/backoffice.db", "postgresql://postgres@127.0.0.1/test"):
        assert StoreLocation(url).shown == url
