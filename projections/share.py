"""A helper process of a shared rebuild (``ProjectionRunner.rebuild(processes=N)``):
``python -m projections.share`` reads its share (JSON) on standard input, replays the
log into those read models and prints how many events it applied."""

from __future__ import annotations

import sys

from projections.runner import replay_share

if __name__ == "__main__":
    print(replay_share(sys.stdin.read()))
