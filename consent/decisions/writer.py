"""Group commit of consent decisions: every decision waiting at a moment goes into one transaction, one
multi-event append and one WAL flush, and each request is answered only after that commit is durable.

Why: every decision appends to one hash chain, so appends are serialised on the ledger head's row lock, and a
synchronous commit holds that lock until its WAL flush is done (about 2.5 ms here). One decision per commit
caps the whole service near 400 decisions a second whatever the number of clients; PostgreSQL's own group
commit (``commit_delay``) cannot help while the lock orders the transactions. Deciding many at once and
flushing once lifts the cap by the size of the group, while a lone decision still commits at once (a writer
never waits for company).

How: request threads hand a decision (a function of a session) to one writer thread per process and block on
its future. The writer takes everything queued, runs the decisions one after another in one transaction,
appends all their events at the end in one round trip with COMMIT (``ledger.append_all_and_commit``), then
answers every request. When a decision is refused, the group is rolled back and run again with each decision in
a savepoint, so a refused decision rolls back alone and answers its own error (savepoints on every group cost
two round trips a decision, which under load were most of the writer's time). Any other failure (the database
gone, a bug) fails the whole group: nothing of it is acknowledged. Decisions of one batch run in the
order of their subjects' pseudonyms, and every batch takes the head lock last: two processes' batches lock
subject rows in the same order and so cannot deadlock. If the commit fails, every decision of the batch fails
with it (and nothing of it is acknowledged).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from consent.decisions.receipts import Outcome, Pending, Receipt
from consent.errors import DomainError
from consent.ledger import chain as ledger
from consent.ledger.chain import Appended

log = logging.getLogger(__name__)

#: A decision to make: writes the state rows in the session's transaction; never commits.
Decide = Callable[[Session], Outcome]


@dataclass(order=True)
class _Job:
    order: bytes
    decide: Decide = field(compare=False)
    future: Future[Receipt] = field(compare=False, default_factory=Future)


_STOP = object()


class DecisionWriter:
    """One writer thread per process that commits the decisions handed to it in groups."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 256) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.decisions = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="consent-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    async def close(self) -> None:
        """``stop`` without blocking the event loop (for the app's shutdown)."""
        await asyncio.to_thread(self.stop)

    def submit(self, decide: Decide, order: bytes) -> Future[Receipt]:
        """Queue a decision for the next group; the future holds its receipt once the group's commit is durable.

        ``order`` is the subject's pseudonym: decisions of a group run in that order (stable for one subject).
        Decisions handed in before ``start`` wait for it.
        """
        job = _Job(order, decide)
        self._queue.put(job)
        return job.future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs = [first]
            stop = False
            while len(jobs) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                jobs.append(item)
            self._commit(sorted(job for job in jobs if isinstance(job, _Job)))
            if stop:
                return

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            ran = self._run_group(jobs, isolated=False)
            if ran is None:  # a decision was refused: run the group again, each decision in a savepoint
                ran = self._run_group(jobs, isolated=True)
        except BaseException as error:
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            log.warning("a group of consent decisions failed to commit: %s", type(error).__name__)
            return
        assert ran is not None  # an isolated group answers refusals one by one; it never gives up
        done, positions = ran
        self.batches += 1
        self.decisions += len(done)
        for job, outcome in done:
            job.future.set_result(outcome.settle(next(positions)) if isinstance(outcome, Pending) else outcome)

    def _run_group(
        self, jobs: list[_Job], *, isolated: bool
    ) -> tuple[list[tuple[_Job, Outcome]], Iterator[Appended]] | None:
        """Run and commit a group. Not ``isolated``: no savepoints (two round trips a decision fewer, each a
        wait for the GIL behind a busy event loop), and None, with everything rolled back, as soon as one
        decision is refused. ``isolated``: each decision in a savepoint; a refused one rolls back alone and
        answers its own error."""
        done: list[tuple[_Job, Outcome]] = []
        positions: Iterator[Appended] = iter(())
        with self._sessions() as session:
            session.begin()
            for job in jobs:
                if not isolated:
                    try:
                        outcome = job.decide(session)
                    except DomainError:
                        session.rollback()
                        return None
                    done.append((job, outcome))
                    continue
                savepoint = session.begin_nested()
                try:
                    outcome = job.decide(session)
                except DomainError as error:
                    savepoint.rollback()
                    job.future.set_exception(error)
                    continue
                savepoint.commit()
                done.append((job, outcome))
            pending = [(job, outcome) for job, outcome in done if isinstance(outcome, Pending)]
            if pending:
                events = [(outcome.document, outcome.occurred_at) for _, outcome in pending]
                positions = iter(ledger.append_all_and_commit(session, events))
            session.commit()
        return done, positions
