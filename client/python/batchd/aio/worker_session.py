"""AsyncWorkerSession: one callback worker's WorkerService stream on asyncio (grpc.aio), kept up.

The asyncio counterpart of batchd.worker_session: it registers, hands each ConnectResponse's
assignments and cancels to an AsyncHandler inline on the loop, and writes what ended in as few
ConnectRequests as it can: outcomes, partial outputs and cancel acks collected while the writer
waits (everything that ended during one loop turn, and during a write in flight) go out in one
message. It sends heartbeats when nothing else was written for half the daemon's interval, and
reconnects with backoff when the stream breaks (the daemon re-dispatches the work in flight,
which the handler is told to cancel). Not thread-safe: runs on one event loop.
"""

import asyncio
import logging
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import grpc
import grpc.aio

from batchd._proto import worker_service_pb2, worker_service_pb2_grpc
from batchd.aio.calls import Outbox, TaskOutcome
from batchd.channel import Connection
from batchd.errors import BatchdError, InvalidArgumentError, UnavailableError, from_rpc_error

_log = logging.getLogger("batchd")

_DEFAULT_HEARTBEAT_S = 1.0
_HEARTBEAT_FRACTION = 0.5  # of the daemon's interval, as the threaded session
_CLOSE_GRACE_S = 3.0  # after WritesDone, for the daemon to end the stream
_MAX_BATCH_BYTES = 1 << 20  # a message's outcomes are split above this (never an outcome)


class AsyncHandler(Protocol):
    """Runs the work of assignments; called on the loop, must not block it."""

    def start(self, assignment: worker_service_pb2.TaskAssignment, outbox: Outbox) -> None:
        """Start the work; report its end with ``outbox.complete`` (once)."""

    def cancel(self, assignment_id: str) -> None:
        """Stop the work of a started assignment; it still reports its end. Also called for
        the work in flight when a connection ends."""


class _ConnectionOutbox:
    """One connection's assignments in flight and what waits to be written (implements
    batchd.aio.calls.Outbox)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._in_flight: Dict[str, bool] = {}  # assignment id -> cancellation requested
        self._outcomes: List[worker_service_pb2.TaskOutcome] = []
        self._outputs: List[worker_service_pb2.TaskOutputChunk] = []
        self._acks: List[str] = []
        self._heartbeat_due = False
        self._close_requested = False
        self.closed = False
        self.wrote = False  # a message was written since the last heartbeat tick
        self._waiter: Optional["asyncio.Future[None]"] = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set_result(None)

    def track(self, assignment_id: str) -> bool:
        if self.closed or self._close_requested or assignment_id in self._in_flight:
            return False
        self._in_flight[assignment_id] = False
        return True

    def complete(self, assignment_id: str,
                 outcome: Optional[worker_service_pb2.TaskOutcome]) -> None:
        cancel_requested = self._in_flight.pop(assignment_id, None)
        if cancel_requested is None:
            return  # the connection ended (or a duplicate end)
        if cancel_requested:
            self._acks.append(assignment_id)  # the outcome of a cancelled call is not wanted
        else:
            if outcome is None:
                outcome = TaskOutcome(success=False, error="Cancelled")
            outcome.assignment_id = assignment_id
            self._outcomes.append(outcome)
        self._wake()

    def output(self, assignment_id: str, text: str) -> bool:
        if self._in_flight.get(assignment_id) is not False:
            return False
        self._outputs.append(worker_service_pb2.TaskOutputChunk(assignment_id=assignment_id,
                                                                data=text))
        self._wake()
        return True

    def request_cancel(self, assignment_id: str) -> bool:
        """True when the handler must cancel the assignment; else it is acked or ignored."""
        state = self._in_flight.get(assignment_id)
        if state is None:
            self._acks.append(assignment_id)
            self._wake()
            return False
        if state:
            return False
        self._in_flight[assignment_id] = True
        return True

    def heartbeat_due(self) -> None:
        self._heartbeat_due = True
        self._wake()

    def request_close(self) -> None:
        self._close_requested = True
        self._wake()

    def close(self) -> List[str]:
        """The stream ended: later ends are dropped. The assignments in flight whose cancel
        was not yet forwarded, for the handler to stop."""
        self.closed = True
        abandoned = [a for a, cancelling in self._in_flight.items() if not cancelling]
        self._in_flight.clear()
        self._wake()
        return abandoned

    async def take(self) -> Tuple[Optional[worker_service_pb2.ConnectRequest], bool]:
        """Waits for something to write: (the request or None once closed, whether it is the
        last one before WritesDone)."""
        while not (self.closed or self._outcomes or self._outputs or self._acks
                   or self._heartbeat_due or self._close_requested):
            self._waiter = self._loop.create_future()
            await self._waiter
        if self.closed:
            return None, True
        request = worker_service_pb2.ConnectRequest(cancel_acks=self._acks)
        self._acks = []
        if self._heartbeat_due:
            self._heartbeat_due = False
            request.heartbeat.sent_at.GetCurrentTime()
        if self._outputs:  # before outcomes: the daemon handles a message's outputs first
            request.outputs.extend(self._outputs)
            self._outputs = []
        outcomes = self._outcomes
        if len(outcomes) > 1 and sum(o.ByteSize() for o in outcomes) > _MAX_BATCH_BYTES:
            size, cut = 0, 0
            while cut < len(outcomes) and (cut == 0 or size + outcomes[cut].ByteSize()
                                           <= _MAX_BATCH_BYTES):
                size += outcomes[cut].ByteSize()
                cut += 1
            outcomes, self._outcomes = outcomes[:cut], outcomes[cut:]
        else:
            self._outcomes = []
        request.outcomes.extend(outcomes)
        return request, self._close_requested and not self._outcomes


class AsyncWorkerSession:
    """Serves `executors` for the daemon on `connection` through `handler` until stop().

    Args:
        connection: where the daemon is (address, TLS, the bearer token).
        name, executors, slots, weight, labels: the registration; `slots` is how many
            assignments the daemon sends at once.
        handler: runs the assignments (AsyncHandler).
    """

    def __init__(self, connection: Connection, *, name: str, executors: Sequence[str],
                 slots: int, handler: AsyncHandler, weight: float = 1.0,
                 labels: Optional[Mapping[str, str]] = None, initial_backoff: float = 0.1,
                 max_backoff: float = 5.0) -> None:
        self._connection = connection
        self.target = connection.target
        self.name = name
        self._registration = worker_service_pb2.ConnectRequest(
            registration=worker_service_pb2.WorkerRegistration(
                name=name, executors=list(executors), slots=slots, weight=weight,
                labels={str(k): str(v) for k, v in (labels or {}).items()}))
        self._handler = handler
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self.worker_id = ""  # the daemon's id while registered, else ""
        self.error: Optional[BatchdError] = None  # why it ended on its own (a rejection)
        self._stopping = False
        self._outbox: Optional[_ConnectionOutbox] = None
        self._call: Optional[grpc.aio.StreamStreamCall] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._changed = asyncio.Event()  # registered, an attempt failed, or the session ended
        self._failed_attempts = 0
        self._last_error: Optional[BatchdError] = None

    @property
    def registered(self) -> bool:
        return bool(self.worker_id)

    def start(self) -> None:
        """Runs the session as a task of the running loop."""
        if self._task is not None:
            raise RuntimeError("AsyncWorkerSession.start called twice")
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def wait_registered(self, timeout: Optional[float], fail_fast: bool = False) -> bool:
        """Waits until registered (True) or `timeout` (False). Raises the daemon's rejection of
        the registration, and with `fail_fast` the error of the first failed attempt."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self.error is not None:
                raise self.error
            if self.registered:
                return True
            if fail_fast and self._failed_attempts:
                raise self._last_error or UnavailableError(f"cannot reach {self.target}")
            if self._stopping or (self._task is not None and self._task.done()):
                return False
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return False

    async def wait_ended(self) -> None:
        """Waits for the session to end (stop(), or the daemon's rejection: raised)."""
        if self._task is not None:
            await asyncio.shield(self._task)
        if self.error is not None:
            raise self.error

    async def stop(self, timeout: float = 5.0) -> None:
        """Ends the stream cleanly (what ended is written, then WritesDone) and waits up to
        `timeout` for it to close. Idempotent."""
        self._stopping = True
        self._changed.set()
        outbox, call, task = self._outbox, self._call, self._task
        if outbox is not None and self.registered:
            outbox.request_close()
        elif call is not None:
            call.cancel()  # still registering: nothing to flush
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=min(timeout, _CLOSE_GRACE_S))
        if not done:
            if self._call is not None:
                self._call.cancel()
            await asyncio.wait({task}, timeout=max(0.1, timeout - _CLOSE_GRACE_S))
            if not task.done():
                task.cancel()

    async def _run(self) -> None:
        backoff = self._initial_backoff
        while not self._stopping:
            registered, error = await self._serve_once()
            if self._stopping:
                break
            if not registered:
                self._failed_attempts += 1
                self._last_error = error
                if isinstance(error, InvalidArgumentError):  # a rejection never succeeds
                    self.error = error
                    _log.error("worker '%s': registration rejected: %s", self.name, error)
                    break
            else:
                backoff = self._initial_backoff
            self._changed.set()
            _log.log(logging.WARNING if registered else logging.DEBUG,
                     "worker '%s': %s (%s); retrying in %.1fs", self.name,
                     "connection lost" if registered else "cannot connect", error, backoff)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._wait_stopping(), backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, self._max_backoff)
        self._changed.set()

    async def _wait_stopping(self) -> None:
        while not self._stopping:
            await self._changed.wait()
            self._changed.clear()

    async def _serve_once(self) -> Tuple[bool, Optional[BatchdError]]:
        """One connection, from Connect to its end: (was registered, why it ended)."""
        loop = asyncio.get_running_loop()
        channel = self._connection.aio_channel([("grpc.use_local_subchannel_pool", 1)])
        outbox = _ConnectionOutbox(loop)
        writer: Optional["asyncio.Task[None]"] = None
        heartbeat: Optional[asyncio.TimerHandle] = None
        registered = False
        error: Optional[BatchdError] = None
        try:
            call = worker_service_pb2_grpc.WorkerServiceStub(channel).Connect(
                metadata=self._connection.metadata)
            self._call = call
            await call.write(self._registration)
            response = await call.read()
            if response is grpc.aio.EOF or not response.HasField("registered"):
                return False, UnavailableError("the daemon did not confirm the registration")
            registered = True
            self.worker_id = response.registered.worker_id
            interval_ms = response.registered.heartbeat_interval_ms
            period = (interval_ms / 1000.0 if interval_ms else _DEFAULT_HEARTBEAT_S) \
                * _HEARTBEAT_FRACTION
            self._outbox = outbox
            self._changed.set()
            _log.debug("worker '%s' registered as %s", self.name, self.worker_id)
            if self._stopping:
                outbox.request_close()
            writer = loop.create_task(self._write(call, outbox))
            heartbeat = loop.call_later(period, self._tick, outbox, period)
            dispatch = self._dispatch
            while True:
                response = await call.read()
                if response is grpc.aio.EOF:
                    break
                dispatch(response, outbox)
            error = UnavailableError("the daemon ended the worker stream")
        except grpc.RpcError as rpc_error:
            error = from_rpc_error(rpc_error)
        except asyncio.InvalidStateError:  # a write after the call ended: its status says why
            error = UnavailableError("the worker stream ended")
        finally:
            self.worker_id = ""
            self._outbox, self._call = None, None
            if heartbeat is not None:
                heartbeat.cancel()
            abandoned = outbox.close()
            for assignment_id in abandoned:  # the daemon re-dispatches them
                self._cancel_in_handler(assignment_id)
            if writer is not None:
                writer.cancel()
            await channel.close()
        return registered, error

    def _tick(self, outbox: _ConnectionOutbox, period: float) -> None:
        if outbox.closed:
            return
        if not outbox.wrote:
            outbox.heartbeat_due()
        outbox.wrote = False
        asyncio.get_running_loop().call_later(period, self._tick, outbox, period)

    async def _write(self, call: grpc.aio.StreamStreamCall, outbox: _ConnectionOutbox) -> None:
        try:
            while True:
                request, last = await outbox.take()
                if request is None:
                    return
                if request.ListFields():
                    await call.write(request)
                    outbox.wrote = True
                if last:
                    await call.done_writing()
                    return
        except (grpc.RpcError, asyncio.InvalidStateError) as error:
            _log.debug("worker '%s': write failed: %s", self.name, error)

    def _dispatch(self, response: worker_service_pb2.ConnectResponse,
                  outbox: _ConnectionOutbox) -> None:
        start = self._handler.start
        for assignment in response.assignments:
            assignment_id = assignment.assignment_id
            if not outbox.track(assignment_id):
                continue  # a duplicate, or closing: the daemon re-dispatches it
            try:
                start(assignment, outbox)
            except Exception as error:  # noqa: BLE001 - keep serving the other assignments
                _log.exception("worker '%s': handler failed to start %s", self.name,
                               assignment_id)
                outcome = TaskOutcome(success=False, non_retryable=True,
                                      error=f"{type(error).__name__}: {error}")
                outbox.complete(assignment_id, outcome)
        for cancel in response.cancels:
            if outbox.request_cancel(cancel.assignment_id):
                self._cancel_in_handler(cancel.assignment_id)

    def _cancel_in_handler(self, assignment_id: str) -> None:
        try:
            self._handler.cancel(assignment_id)
        except Exception:  # noqa: BLE001
            _log.exception("worker '%s': handler failed to cancel %s", self.name, assignment_id)
