"""A helper process of a shared rebuild (``ProjectionRunner.rebuild(processes=N)``):
``python -m projections.share PARENT_PID`` reads its share (JSON) on standard input,
replays the log into those read models and prints how many events it applied. It ends
with the rebuild that started it, even one killed outright."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """Be sent SIGTERM when the thread of ``parent`` that started this process ends
    (Linux's parent-death signal: the rebuild waits for its helpers in that thread, so
    this happens only when the rebuild is killed), and end now if it has already ended.
    Where there is no such signal, only the latter."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        sys.exit("the rebuild that started this helper has ended")


if __name__ == "__main__":
    end_with_parent(int(sys.argv[1]))

    from projections.runner import replay_share

    print(replay_share(sys.stdin.read()))
