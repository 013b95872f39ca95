"""A helper process of a shared rebuild (``ProjectionRunner.rebuild(processes=N)``):
``python -m projections.share SPEC`` replays the log into the read models SPEC names."""

from __future__ import annotations

import sys

from projections.runner import replay_share

if __name__ == "__main__":
    replay_share(sys.argv[1])
