"""CallPool: the threads executor calls run on, woken as few at a time as the work needs.

A thread hand-off costs a futex wake and a GIL switch, which for short calls is most of their
cost. So a batch of jobs wakes one idle thread, not one per job; a thread that takes a job and
leaves more queued wakes (or starts) one more, and only while no other thread is already on its
way to the queue. Short calls are then run back to back by one or two threads; calls that block
still fan out over the pool, one wake per job taken. Threads beyond `size` exist only while
abandoned calls (cancelled, still running: Python threads cannot be interrupted) hold theirs;
they exit after `idle_timeout` seconds idle. Thread-safe.
"""

import collections
import logging
import threading
from typing import Callable, Deque, Iterable

_log = logging.getLogger("batchd")

Job = Callable[[], None]


class CallPool:
    """Runs jobs on threads: as many as the jobs waiting need, up to `size` plus those that
    abandoned calls hold."""

    def __init__(self, size: int, name: str, idle_timeout: float = 30.0) -> None:
        self._size = max(1, size)
        self._name = name
        self._idle_timeout = idle_timeout
        self._cond = threading.Condition(threading.Lock())
        self._jobs: Deque[Job] = collections.deque()
        self._threads = 0
        self._idle = 0  # threads waiting in the condition
        self._signals = 0  # notifies not yet taken by a thread returning from its wait
        self._looking = 0  # threads about to look at the queue (started, woken, done a job)
        self._shutdown = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def threads(self) -> int:
        with self._cond:
            return self._threads

    def submit(self, job: Job) -> None:
        self.submit_all((job,))

    def submit_all(self, jobs: Iterable[Job]) -> None:
        """Queues the jobs, in order; RuntimeError once shut down."""
        with self._cond:
            if self._shutdown:
                raise RuntimeError("CallPool is shut down")
            before = len(self._jobs)
            self._jobs.extend(jobs)
            start_thread = len(self._jobs) > before and self._wake_one()
        if start_thread:
            self._start_thread()

    def shutdown(self) -> None:
        """Idle threads exit; running calls finish on their own (they cannot be stopped)."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def _wake_one(self) -> bool:
        """With the lock held and jobs queued: gets one more thread on its way to the queue,
        unless one already is. True when the caller must start a new thread (after releasing
        the lock): every thread is busy. The daemon never has more than `size` assignments
        outstanding, so threads beyond `size` are only started while abandoned calls hold
        some."""
        if self._looking or self._signals:
            return False
        if self._idle:
            self._signals += 1
            self._cond.notify()
            return False
        self._threads += 1
        self._looking += 1
        return True

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._loop, daemon=True,
                                  name=f"batchd-call-{self._name}-{self._threads}")
        thread.start()

    def _loop(self) -> None:
        self._cond.acquire()  # a new thread is counted in _looking
        try:
            while True:
                while not self._jobs and not self._shutdown:
                    self._looking -= 1
                    self._idle += 1
                    self._cond.wait(self._idle_timeout)
                    self._idle -= 1
                    # Whichever waiter returns takes a pending signal: a wait that timed out
                    # as it was notified still answers the notify.
                    if self._signals:
                        self._signals -= 1
                    elif not self._jobs and self._threads > self._size:
                        self._threads -= 1
                        return
                    self._looking += 1
                if not self._jobs:  # shut down
                    self._looking -= 1
                    self._threads -= 1
                    return
                job = self._jobs.popleft()
                self._looking -= 1
                start_thread = bool(self._jobs) and self._wake_one()
                self._cond.release()
                try:
                    if start_thread:
                        self._start_thread()
                    job()
                except BaseException:  # noqa: BLE001 - jobs report their own errors
                    _log.exception("batchd: executor job failed")
                finally:
                    self._cond.acquire()
                    self._looking += 1
        finally:
            self._cond.release()
