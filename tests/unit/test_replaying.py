"""A rebuild collects garbage less often while it replays, and puts the setting back."""

from __future__ import annotations

import gc

import pytest

from projections.runner import REPLAY_GC_THRESHOLDS, replaying


def fail_while_replaying() -> None:
    with replaying():
        assert gc.get_threshold() == REPLAY_GC_THRESHOLDS
        raise RuntimeError("the replay failed")


def test_replaying_raises_the_collector_thresholds_and_puts_them_back_even_on_failure() -> None:
    before = gc.get_threshold()
    assert before != REPLAY_GC_THRESHOLDS

    with pytest.raises(RuntimeError, match="the replay failed"):
        fail_while_replaying()

    assert gc.get_threshold() == before
