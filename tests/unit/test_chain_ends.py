"""What a process keeps of the hash chain's ends, and when it may use it."""

from __future__ import annotations

import re
from uuid import UUID, uuid4

import pytest

from services.hash_chain import GENESIS, ChainEnds, Checkpoint, Link, NewEvent, link_events

A = uuid4()
B = uuid4()


def new(notification_id: int, stream: UUID, version: int) -> NewEvent:
    return NewEvent(notification_id, stream, version, "topic", b"state")


def linked(ends: ChainEnds, *events: NewEvent, previous: bytes = GENESIS) -> list[Link]:
    """Link ``events`` (whose predecessors are all kept or first in their stream),
    and confirm them as committed."""
    known, unknown = ends.predecessors(events)
    assert unknown == []
    links = link_events(events, known, previous)
    ends.stage(links)
    ends.confirm_staged()
    return links


def test_the_ends_of_committed_links_are_kept_for_the_next_events() -> None:
    ends = ChainEnds()
    links = linked(ends, new(1, A, 1), new(2, A, 2), new(3, B, 1))

    known, unknown = ends.predecessors([new(4, A, 3), new(5, B, 2), new(6, B, 3)])

    assert known == {(A, 2): links[1].stream_hash, (B, 1): links[2].stream_hash}
    assert unknown == []
    assert ends.previous_global(4) == links[-1].global_hash


def test_a_predecessor_not_kept_is_asked_of_the_store() -> None:
    ends = ChainEnds()
    linked(ends, new(1, A, 1))
    other = uuid4()

    known, unknown = ends.predecessors([new(9, A, 3), new(10, other, 5)])

    assert known == {}  # A's version 2 was written by someone else
    assert unknown == sorted([(A, 2), (other, 4)], key=lambda key: (str(key[0]), key[1]))


def test_the_global_end_is_used_only_right_after_the_last_link_kept() -> None:
    ends = ChainEnds()
    assert ends.previous_global(1) is None  # nothing written yet: ask the store
    linked(ends, new(1, A, 1), new(2, A, 2))

    assert ends.previous_global(3) is not None
    assert ends.previous_global(4) is None  # another writer's row 3 lies between


def test_links_of_a_transaction_that_did_not_commit_are_not_kept() -> None:
    ends = ChainEnds()
    linked(ends, new(1, A, 1))
    failed = link_events([new(2, A, 2)], *_known(ends, new(2, A, 2)))
    ends.stage(failed)
    ends.clear_staged()  # the next insert begins; the failed one never confirmed
    ends.confirm_staged()

    known, _unknown = ends.predecessors([new(2, A, 2)])
    assert (A, 1) in known
    assert ends.previous_global(3) is None
    assert ends.previous_global(2) is not None


def test_only_the_most_recent_streams_are_kept() -> None:
    ends = ChainEnds(maxsize=2)
    streams = [uuid4() for _ in range(3)]
    for number, stream in enumerate(streams, start=1):
        linked(ends, new(number, stream, 1), previous=b"")

    _known, unknown = ends.predecessors([new(4, stream, 2) for stream in streams])

    assert unknown == [(streams[0], 1)]


def _known(ends: ChainEnds, event: NewEvent) -> tuple[dict[tuple[UUID, int], bytes], bytes]:
    known, _unknown = ends.predecessors([event])
    previous = ends.previous_global(event.notification_id)
    assert previous is not None
    return known, previous


@pytest.mark.parametrize("text", ["99999:abc", "43:ff6a", "x:" + "ab" * 32, "0:" + "ab" * 32, "43"])
def test_a_checkpoint_that_is_not_one_is_refused_saying_what_one_looks_like(text: str) -> None:
    expected = (
        f"not a checkpoint: {text!r} (expected POSITION:HASH, a position from 1 and 64 hex"
        " digits, as `backoffice audit verify` prints it)"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        Checkpoint.parse(text)
