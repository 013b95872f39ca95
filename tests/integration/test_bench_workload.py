"""The benchmarks' case writer: cases commanded in forked processes, inserted here."""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection

from bench.common import application, sqlite_store
from bench.workload import CaseWriter, Outcome, organisation, realistic_mix, reports
from domain.employee import EmployeeProfile


def test_cases_written_by_two_processes_are_all_stored_with_every_account_in_order() -> None:
    with sqlite_store() as url, application(url) as app:
        writer = CaseWriter([app], organisation(managers=2, reports_each=5), processes=2)
        writer.register_organisation()

        writer.write(realistic_mix(), cases=60, events=None)

        stored = app.recorder.select_notifications(start=0, limit=10_000, inclusive_of_start=False)
        assert len(stored) == writer.events > 60
        versions: dict[object, list[int]] = {}
        for notification in stored:
            versions.setdefault(notification.originator_id, []).append(
                notification.originator_version
            )
        assert all(found == list(range(1, len(found) + 1)) for found in versions.values())


class _OneCutOff(CaseWriter):
    """A writer whose second process sends one batch, then dies half way through the
    next, while the first writes its share as usual."""

    def _write_share(
        self,
        sent: Connection,
        inherited: list[Connection],
        requesters: list[EmployeeProfile],
        outcomes: Iterator[Outcome],
        cases: int | None,
        events: int | None,
    ) -> None:
        if requesters[0] == reports(self.profiles)[0]:
            super()._write_share(sent, inherited, requesters, outcomes, cases, events)
            return
        sent.send(next(self._batches(requesters, outcomes, cases, events)))
        # A message's length, then less than that: as if killed while sending.
        os.write(sent.fileno(), struct.pack("!i", 1 << 20) + b"cut off")
        os._exit(1)


def test_a_process_that_dies_in_the_middle_of_a_message_fails_the_write() -> None:
    failures: list[BaseException] = []

    def write() -> None:
        with sqlite_store() as url, application(url) as app:
            writer = _OneCutOff([app], organisation(managers=2, reports_each=4), processes=2)
            writer.batch = 2
            try:
                writer.write(realistic_mix(), cases=40, events=None)
            except BaseException as error:
                failures.append(error)

    writing = threading.Thread(target=write, daemon=True)
    writing.start()
    writing.join(timeout=60)

    assert not writing.is_alive(), "the write hangs on the cut-off message"
    [failure] = failures
    assert isinstance(failure, RuntimeError)
    assert str(failure).startswith("a process writing cases was cut off")
    assert isinstance(failure.__cause__, OSError)  # not a process that ended between batches
