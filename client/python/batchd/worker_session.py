"""WorkerSession: one callback worker's connection to batchd's WorkerService, kept up.

It registers, hands assignments and cancels to an AssignmentHandler, writes the handler's
outcomes and cancel acks back in batches, sends heartbeats, and reconnects with backoff when
the stream breaks (the daemon re-dispatches the work that was in flight). The Python
counterpart of client/worker/worker_session.h. Thread-safe: the session runs on its own thread; the
handler's replies may come from any thread.
"""

import atexit
import collections
import logging
import threading
import time
import weakref
from typing import (Callable, Deque, Dict, Iterator, List, Mapping, Optional, Protocol, Sequence, Tuple,
                    Union)

import grpc

from batchd._proto import worker_service_pb2, worker_service_pb2_grpc
from batchd.channel import Connection
from batchd.errors import BatchdError, InvalidArgumentError, UnavailableError, from_rpc_error

_log = logging.getLogger("batchd")

Reply = Callable[[worker_service_pb2.TaskOutcome], None]

# Heartbeat interval when the daemon does not name one.
_DEFAULT_HEARTBEAT_S = 1.0
# Heartbeats go out at this fraction of the daemon's interval: a busy interpreter (the GIL held
# by executor code) must not make the daemon miss three in a row.
_HEARTBEAT_FRACTION = 0.5
# How long after WritesDone the daemon gets to end the stream before it is cancelled.
_CLOSE_GRACE_S = 3.0
# Outcomes per message are split above this many bytes (never an outcome).
_MAX_BATCH_BYTES = 1 << 20


class AssignmentHandler(Protocol):
    """Runs the work of assignments. Both methods are called on the session's thread and must
    not block it."""

    def start(self, assignment: worker_service_pb2.TaskAssignment, reply: Reply) -> None:
        """Start the work; call `reply` once (any thread) with its outcome."""

    def cancel(self, assignment_id: str) -> None:
        """Stop the work of a started assignment and reply (any outcome: the daemon ignores
        it). Also called for all work in flight when a connection ends."""


class _Outbox:
    """One connection's assignments in flight and the outcomes and acks waiting to be
    written (the Python WorkerOutbox). Thread-safe."""

    OPEN, FLUSHED, CLOSED = "open", "flushed", "closed"
    FORWARD, ACKED, IGNORED = "forward", "acked", "ignored"

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight: Dict[str, bool] = {}  # assignment id -> cancellation requested
        self._outcomes: Deque[worker_service_pb2.TaskOutcome] = collections.deque()
        self._outputs: Deque[worker_service_pb2.TaskOutputChunk] = collections.deque()
        self._acks: List[str] = []
        self._close_requested = False
        self._closed = False
        self._writer_waiting = False  # take() waits: the next thing queued must wake it

    def _wake_writer(self) -> None:
        # With the lock held. Only a waiting writer is notified: the rest of a burst of
        # outcomes is taken with the first (a notify per outcome costs a wake each).
        if self._writer_waiting:
            self._writer_waiting = False
            self._cond.notify()

    def track(self, assignment_id: str) -> bool:
        with self._cond:
            if self._closed or self._close_requested or assignment_id in self._in_flight:
                return False
            self._in_flight[assignment_id] = False
            return True

    def complete(self, assignment_id: str, outcome: worker_service_pb2.TaskOutcome) -> bool:
        with self._cond:
            if self._closed or assignment_id not in self._in_flight:
                return False
            cancel_requested = self._in_flight.pop(assignment_id)
            outcome.assignment_id = assignment_id
            self._outcomes.append(outcome)
            if cancel_requested:
                self._acks.append(assignment_id)
            self._wake_writer()
            return True

    def output(self, assignment_id: str, data: str) -> bool:
        """Queues partial output of an assignment in flight (written before its outcome)."""
        with self._cond:
            if self._closed or assignment_id not in self._in_flight:
                return False
            self._outputs.append(
                worker_service_pb2.TaskOutputChunk(assignment_id=assignment_id, data=data))
            self._wake_writer()
            return True

    def request_cancel(self, assignment_id: str) -> str:
        with self._cond:
            if self._closed:
                return self.IGNORED
            if assignment_id not in self._in_flight:
                self._acks.append(assignment_id)
                self._wake_writer()
                return self.ACKED
            if self._in_flight[assignment_id]:
                return self.IGNORED
            self._in_flight[assignment_id] = True
            return self.FORWARD

    def take(self, deadline: float) -> Tuple[str, worker_service_pb2.ConnectRequest]:
        """Waits for something to write (or `deadline`, a time.monotonic()); the request."""
        request = worker_service_pb2.ConnectRequest()
        with self._cond:
            while not (self._closed or self._outcomes or self._outputs or self._acks
                       or self._close_requested):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._writer_waiting = True
                self._cond.wait(remaining)
                self._writer_waiting = False
            if self._closed:
                return self.CLOSED, request
            request.cancel_acks.extend(self._acks)
            self._acks.clear()
            size = 0
            # Outputs first: the daemon handles a message's outputs before its outcomes.
            while self._outputs and (size == 0 or size < _MAX_BATCH_BYTES):
                size += len(self._outputs[0].data) + 48
                request.outputs.append(self._outputs.popleft())
            while self._outcomes and (size == 0 or size < _MAX_BATCH_BYTES):
                outcome = self._outcomes[0]
                if size and size + outcome.ByteSize() > _MAX_BATCH_BYTES:
                    break
                size += outcome.ByteSize()
                request.outcomes.append(self._outcomes.popleft())
            flushed = self._close_requested and not self._outcomes
            return (self.FLUSHED if flushed else self.OPEN), request

    def request_close(self) -> None:
        with self._cond:
            self._close_requested = True
            self._cond.notify_all()

    def close(self) -> List[str]:
        """The stream ended: later replies are dropped. The assignments still in flight whose
        cancellation was not yet forwarded, for the handler to stop."""
        with self._cond:
            self._closed = True
            abandoned = [a for a, cancelling in self._in_flight.items() if not cancelling]
            self._in_flight.clear()
            self._cond.notify_all()
            return abandoned


class WorkerSession:
    """Serves `executors` for the daemon at `target` through `handler` until stop().

    Args:
        target: as Client's ("host:port", "unix:/path"; default $BATCHD_ADDR), or a
            Connection (TLS, the bearer token).
        name, executors, slots, weight, labels: the registration. `slots` is how many
            assignments the daemon sends at once.
        handler: runs the assignments (AssignmentHandler).
    """

    def __init__(
        self,
        target: Union[None, str, Connection],
        *,
        name: str,
        executors: Sequence[str],
        slots: int,
        handler: AssignmentHandler,
        weight: float = 1.0,
        labels: Optional[Mapping[str, str]] = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        self._connection = target if isinstance(target, Connection) else Connection.make(target)
        self.target = self._connection.target
        self._registration = worker_service_pb2.ConnectRequest(
            registration=worker_service_pb2.WorkerRegistration(
                name=name, executors=list(executors), slots=slots, weight=weight,
                labels={str(k): str(v) for k, v in (labels or {}).items()}))
        self.name = name
        self._handler = handler
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff

        self._cond = threading.Condition()
        self._stopping = False
        self._registered = False
        self._failed_attempts = 0  # connection attempts that ended unregistered
        self._fatal: Optional[BatchdError] = None  # a rejected registration
        self._last_error: Optional[BatchdError] = None
        self._worker_id = ""
        self._heartbeat_s = _DEFAULT_HEARTBEAT_S
        self._call: Optional[grpc.Future] = None
        self._outbox: Optional[_Outbox] = None
        self._thread: Optional[threading.Thread] = None

    # -- public -------------------------------------------------------------------------------

    @property
    def worker_id(self) -> str:
        """The daemon's id for the current registration ("" while not registered)."""
        with self._cond:
            return self._worker_id if self._registered else ""

    @property
    def registered(self) -> bool:
        with self._cond:
            return self._registered

    @property
    def error(self) -> Optional[BatchdError]:
        """Why the session ended on its own (the daemon rejected the registration)."""
        with self._cond:
            return self._fatal

    def start(self) -> None:
        """Runs the session on a daemon thread of its own."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("WorkerSession.start called twice")
            self._thread = threading.Thread(target=self._run_quietly, daemon=True,
                                            name=f"batchd-worker-{self.name}")
            self._thread.start()
        _live_sessions.add(self)

    def run(self) -> None:
        """Serves on the calling thread until stop(); raises the daemon's rejection."""
        _live_sessions.add(self)
        self._run()
        with self._cond:
            if self._fatal is not None:
                raise self._fatal

    def wait_registered(self, timeout: Optional[float], fail_fast: bool = False) -> bool:
        """Waits until registered (True) or `timeout` (False). Raises the daemon's rejection of
        the registration, and with `fail_fast` the error of the first failed attempt (for
        callers that would rather report an unreachable daemon than wait for it; any attempt
        of this session counts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._fatal is not None:
                    raise self._fatal
                if self._registered:
                    return True
                if fail_fast and self._failed_attempts:
                    raise self._last_error or UnavailableError(f"cannot reach {self.target}")
                if self._stopping:
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the stream cleanly (queued outcomes written, then WritesDone) and waits (up to
        `timeout`) for the session thread. Idempotent."""
        with self._cond:
            self._stopping = True
            outbox = self._outbox
            closing = outbox is not None and self._registered
            if outbox is not None and closing:
                outbox.request_close()
            call, thread = self._call, self._thread
            self._cond.notify_all()
        if call is not None and not closing:
            call.cancel()  # still registering: nothing to flush
        if thread is not None and thread is not threading.current_thread():
            thread.join(min(timeout, _CLOSE_GRACE_S))
            if thread.is_alive() and call is not None:
                call.cancel()
                thread.join(max(0.0, timeout - _CLOSE_GRACE_S))
        _live_sessions.discard(self)

    # -- the session thread -------------------------------------------------------------------

    def _run_quietly(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a daemon thread has nobody to raise to
            _log.exception("worker '%s': session failed", self.name)

    def _run(self) -> None:
        backoff = self._initial_backoff
        while True:
            with self._cond:
                if self._stopping:
                    return
            registered, error = self._serve_once()
            with self._cond:
                if self._stopping:
                    return
                if not registered:
                    self._failed_attempts += 1
                    self._last_error = error
                    # A rejected registration never succeeds on retry.
                    if isinstance(error, InvalidArgumentError):
                        self._fatal = error
                        self._cond.notify_all()
                        _log.error("worker '%s': registration rejected: %s", self.name, error)
                        return
                self._cond.notify_all()
            if registered:
                backoff = self._initial_backoff
            level = logging.WARNING if registered else logging.DEBUG
            _log.log(level, "worker '%s': %s (%s); retrying in %.1fs", self.name,
                     "connection lost" if registered else "cannot connect", error, backoff)
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _serve_once(self) -> Tuple[bool, Optional[BatchdError]]:
        """One connection, from Connect to its end: (was registered, why it ended)."""
        channel = self._connection.channel([("grpc.use_local_subchannel_pool", 1)])
        outbox = _Outbox()
        answered = threading.Event()  # the registration was answered, or the stream ended
        call = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect(
            self._requests(outbox, answered), metadata=self._connection.metadata)
        with self._cond:
            self._call, self._outbox = call, outbox
            stopping = self._stopping
        if stopping:
            call.cancel()
        registered = False
        error: Optional[BatchdError] = None
        try:
            for response in call:
                if not registered:
                    if not response.HasField("registered"):
                        error = UnavailableError("the daemon did not confirm the registration")
                        call.cancel()
                        break
                    registered = True
                    self._on_registered(response.registered, outbox)
                    answered.set()
                self._dispatch(response, outbox)
            if error is None:
                error = UnavailableError("the daemon ended the worker stream")
        except grpc.RpcError as rpc_error:
            error = from_rpc_error(rpc_error)
        finally:
            answered.set()
            abandoned = outbox.close()
            with self._cond:
                self._registered = False
                self._call, self._outbox = None, None
            # The daemon re-dispatches whatever was in flight; stop working on it here.
            for assignment_id in abandoned:
                self._cancel_in_handler(assignment_id)
            channel.close()
        return registered, error

    def _on_registered(self, registered: worker_service_pb2.WorkerRegistered,
                       outbox: _Outbox) -> None:
        with self._cond:
            self._registered = True
            self._worker_id = registered.worker_id
            interval_ms = registered.heartbeat_interval_ms
            self._heartbeat_s = interval_ms / 1000.0 if interval_ms else _DEFAULT_HEARTBEAT_S
            if self._stopping:
                outbox.request_close()
            self._cond.notify_all()
        _log.debug("worker '%s' registered as %s", self.name, registered.worker_id)

    def _requests(self, outbox: _Outbox,
                  answered: threading.Event) -> Iterator[worker_service_pb2.ConnectRequest]:
        """The request stream (consumed by a gRPC thread): the registration, then outcomes,
        acks and heartbeats; it ends (WritesDone) once a requested close is flushed."""
        yield self._registration
        answered.wait()
        with self._cond:
            period = self._heartbeat_s * _HEARTBEAT_FRACTION
        next_heartbeat = time.monotonic() + period
        while True:
            kind, request = outbox.take(next_heartbeat)
            if kind == _Outbox.CLOSED:
                return
            now = time.monotonic()
            if now >= next_heartbeat:
                request.heartbeat.sent_at.GetCurrentTime()
            if (request.outcomes or request.outputs or request.cancel_acks
                    or request.HasField("heartbeat")):
                yield request
                next_heartbeat = time.monotonic() + period  # any message is a sign of life
            if kind == _Outbox.FLUSHED:
                return

    def _dispatch(self, response: worker_service_pb2.ConnectResponse, outbox: _Outbox) -> None:
        for assignment in response.assignments:
            assignment_id = assignment.assignment_id
            # A duplicate, or the session is closing and the daemon will re-dispatch it.
            if not outbox.track(assignment_id):
                continue

            def reply(outcome: worker_service_pb2.TaskOutcome, _id: str = assignment_id) -> None:
                outbox.complete(_id, outcome)

            def output(data: str, _id: str = assignment_id) -> bool:
                return outbox.output(_id, data)

            reply.output = output  # type: ignore[attr-defined]  # batchd.output() finds it

            try:
                self._handler.start(assignment, reply)
            except Exception as error:  # noqa: BLE001 - keep serving the other assignments
                _log.exception("worker '%s': handler failed to start %s", self.name,
                               assignment_id)
                reply(worker_service_pb2.TaskOutcome(
                    success=False, error=f"{type(error).__name__}: {error}", non_retryable=True))
        for cancel in response.cancels:
            if outbox.request_cancel(cancel.assignment_id) == _Outbox.FORWARD:
                self._cancel_in_handler(cancel.assignment_id)

    def _cancel_in_handler(self, assignment_id: str) -> None:
        try:
            self._handler.cancel(assignment_id)
        except Exception:  # noqa: BLE001
            _log.exception("worker '%s': handler failed to cancel %s", self.name, assignment_id)


# Sessions still serving at interpreter exit are closed cleanly, so the daemon re-dispatches
# their work at once instead of waiting for missed heartbeats.
_live_sessions: "weakref.WeakSet[WorkerSession]" = weakref.WeakSet()


@atexit.register
def _stop_live_sessions() -> None:
    for session in list(_live_sessions):
        session.stop(timeout=2.0)
