"""How the verification of the hash chain words what it finds."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from services.hash_chain import GENESIS, NewEvent, StoredRow, link_events, verify_chain


def stream_with_versions(versions: list[int]) -> tuple[UUID, list[StoredRow]]:
    stream = uuid4()
    rows = [
        StoredRow(position, stream, version, "domain.x:X.Event", b"{}")
        for position, version in enumerate(versions, start=1)
    ]
    return stream, rows


@pytest.mark.parametrize(
    ("versions", "detail"),
    [
        ([1, 2, 4], "version 3 of this stream is missing"),
        ([1, 2, 5], "versions 3 to 4 of this stream are missing"),
        ([1, 2, 2], "version 2 of this stream comes again, after version 2"),
    ],
    ids=["one missing", "two missing", "one again"],
)
def test_a_stream_whose_versions_do_not_follow_is_described_as_it_is(
    versions: list[int], detail: str
) -> None:
    _stream, rows = stream_with_versions(versions)
    new = [NewEvent(r.notification_id, r.originator_id, r.originator_version, r.topic, r.state)
           for r in rows]  # fmt: skip
    links = link_events(new, {}, GENESIS)

    result = verify_chain(rows, links, last_position=len(rows))

    assert [f.detail for f in result.findings if f.kind == "gap"] == [detail]
