"""Event metadata goes into the store and comes back whole."""

from __future__ import annotations

from dataclasses import fields

from domain.meta import Meta


def test_metadata_round_trips_with_every_field() -> None:
    meta = Meta(actor="e-5", command_id="c-1", correlation_id="leave-request-1", on_behalf_of="e-2")

    stored = meta.to_dict()

    assert set(stored) == {field.name for field in fields(Meta)}
    assert Meta.from_dict(stored) == meta
