"""Worker: serve named executors to batchd from Python functions.

For cross-language setups: a C++, Go or batchctl client submits a batch naming executor
"embed", and a Python process serves it::

    worker = batchd.Worker(name="embedder", slots=8)

    @worker.executor("embed")
    def embed(task):
        return {"vector": model.encode(task["task_data"]["text"])}

    worker.run()   # until Ctrl-C or worker.stop()

Functions receive the design's task dict (``task_data`` is the task's JSON input decoded;
``dependency_results`` the outputs of its dependencies) and return a JSON-representable value,
the task's output. An exception fails the attempt with error "ExcType: message", and the
batch's retry policy decides what follows (``batchd.NonRetryableError`` skips retries).
Thread-safe: calls run on a pool of `slots` threads.
"""

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

from batchd._proto import struct_pb2, worker_service_pb2
from batchd.call_pool import CallPool
from batchd.calls import (CallRunner, Reply, Spawner, check_sync_executor,
                          task_dict)
from batchd.channel import Connection
from batchd.client import Client
from batchd.errors import UnavailableError
from batchd.values import from_value, to_value
from batchd.worker_session import WorkerSession

ExecutorFunction = Callable[[Dict[str, Any]], Any]

# Larger outputs fail their task rather than the whole stream (whose messages gRPC bounds).
MAX_OUTPUT_BYTES = 16 * 1024 * 1024


def _render_output(value: Any) -> struct_pb2.Value:
    output = to_value(value)
    size = output.ByteSize()
    if size > MAX_OUTPUT_BYTES:
        raise ValueError(f"output is {size} bytes; at most {MAX_OUTPUT_BYTES} are sent")
    return output
F = TypeVar("F", bound=ExecutorFunction)


class _NamedExecutors:
    """AssignmentHandler running each assignment's executor function by name."""

    def __init__(self, functions: Mapping[str, ExecutorFunction], runner: CallRunner,
                 spawner: Optional[Spawner] = None) -> None:
        self._functions = functions
        self._runner = runner
        self._spawner = spawner

    def start(self, assignment: worker_service_pb2.TaskAssignment, reply: Reply) -> None:
        function = self._functions.get(assignment.executor)
        if function is None:
            reply(worker_service_pb2.TaskOutcome(
                success=False, non_retryable=True,
                error=f"This worker does not serve executor '{assignment.executor}'"))
            return
        dependencies = {task_id: from_value(value)
                        for task_id, value in assignment.dependency_outputs.items()}
        task = task_dict(assignment, from_value(assignment.input), dependencies)
        self._runner.run(assignment.assignment_id, function, task, reply, render=_render_output,
                         spawner=self._spawner)

    def cancel(self, assignment_id: str) -> None:
        self._runner.cancel(assignment_id)


class Worker:
    """A callback worker serving Python functions as batchd executors.

    Args:
        target: "host:port" or "unix:/path"; default $BATCHD_ADDR, else 127.0.0.1:50051.
        name: Shown in the daemon's logs; the daemon's worker id is "<name>#<n>".
        slots: Assignments run at once (threads of the pool).
        weight: For the "weighted" load balancer, relative to other workers of an executor.
        labels: Free-form key/values sent with the registration.
        token, token_file, tls, tls_ca, tls_cert, tls_key, tls_server_name, connection: how
            to reach the daemon, as ``batchd.Client`` takes them.
    """

    def __init__(self, target: Optional[str] = None, *, name: str = "python-worker",
                 slots: int = 4, weight: float = 1.0,
                 labels: Optional[Mapping[str, str]] = None,
                 connection: Optional[Connection] = None, **security: Any) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots must be a positive int (got {slots!r})")
        if connection is None:
            connection = Connection.make(target, **security)
        elif target is not None or security:
            raise ValueError("Worker: give connection alone, or target and its options")
        self._connection = connection
        self._name = name
        self._slots = slots
        self._weight = weight
        self._labels = dict(labels or {})
        self._functions: Dict[str, ExecutorFunction] = {}
        self._lock = threading.Lock()
        self._session: Optional[WorkerSession] = None
        self._pool = CallPool(slots, name)
        self._stopped = threading.Event()
        self._spawn_client: Optional[Client] = None  # made by the first batchd.spawn()

    def executor(self, name: str) -> Callable[[F], F]:
        """Decorator: serve the function as executor `name`."""

        def register(function: F) -> F:
            self.add_executor(name, function)
            return function

        return register

    def add_executor(self, name: str, function: ExecutorFunction) -> None:
        check_sync_executor(function, f"executor {name!r}", "batchd.aio.AsyncWorker")
        with self._lock:
            if self._session is not None:
                raise RuntimeError("add executors before the worker starts")
            if name in self._functions:
                raise ValueError(f"executor {name!r} is already registered")
            self._functions[name] = function

    @property
    def executors(self) -> List[str]:
        with self._lock:
            return sorted(self._functions)

    @property
    def worker_id(self) -> str:
        """The daemon's id for this worker while registered, else ""."""
        session = self._session
        return session.worker_id if session is not None else ""

    def start(self, wait: bool = True, timeout: float = 10.0) -> "Worker":
        """Connects in the background. With `wait`, returns once registered: ValueError
        (InvalidArgumentError) when the daemon refuses the registration (e.g. a builtin
        executor name), ConnectionError when it is not registered within `timeout`."""
        with self._lock:
            if self._session is not None:
                raise RuntimeError("Worker.start called twice")
            if not self._functions:
                raise ValueError("a worker needs at least one executor")
            self._session = WorkerSession(
                self._connection, name=self._name, executors=sorted(self._functions),
                slots=self._slots, weight=self._weight, labels=self._labels,
                handler=_NamedExecutors(dict(self._functions), CallRunner(self._pool),
                                        spawner=self._spawn))
            session = self._session
        session.start()
        if not wait:
            return self
        try:
            registered = session.wait_registered(timeout)
        except BaseException:
            self.stop()
            raise
        if not registered:
            self.stop()
            raise UnavailableError(f"worker '{self._name}' was not registered with batchd at "
                                   f"{session.target} within {timeout:g}s")
        return self

    def wait_registered(self, timeout: Optional[float] = None) -> bool:
        session = self._session
        return session is not None and session.wait_registered(timeout)

    def run(self) -> None:
        """Serves until stop() (from another thread) or Ctrl-C, reconnecting whenever the
        daemon goes away. Raises ValueError when the daemon refuses the registration."""
        self.start(wait=False)
        session = self._session
        assert session is not None
        try:
            while not self._stopped.wait(0.5):
                if session.error is not None:
                    raise session.error
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Closes the stream (the daemon re-dispatches calls still running). Idempotent."""
        self._stopped.set()
        session = self._session
        if session is not None:
            session.stop(timeout)
        self._pool.shutdown()
        with self._lock:
            client, self._spawn_client = self._spawn_client, None
        if client is not None:
            client.close()

    def _spawn(self, batch_id: str, tasks: Any, executor: Optional[str], close: bool,
               request_id: str) -> int:
        """batchd.spawn() of an executor call: AddTasks to the call's batch, on the daemon
        this worker serves."""
        with self._lock:
            if self._spawn_client is None:
                self._spawn_client = Client(connection=self._connection)
            client = self._spawn_client
        return client.add_tasks(batch_id, tasks, executor=executor, close=close,
                                request_id=request_id)

    def __enter__(self) -> "Worker":
        if self._session is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Worker(name={self._name!r}, executors={self.executors}, slots={self._slots})"
