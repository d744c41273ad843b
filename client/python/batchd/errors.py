"""Exceptions: daemon errors mapped to Python's built-in kinds, and the ones executors raise.

A gRPC error from the daemon becomes a BatchdError subclass that is also the matching built-in
exception, so ``except ValueError`` catches an invalid batch (a cycle, an unknown dependency)
exactly as with the design's in-process implementation.
"""

from typing import Dict, List, Optional, Tuple, Type

import grpc

from batchd.rpc_status import field_violations

# A (field, description) pair from the daemon's google.rpc.BadRequest details.
FieldViolation = Tuple[str, str]


class BatchdError(Exception):
    """An RPC to batchd failed. ``code`` is the grpc.StatusCode; the message is the daemon's;
    ``field_violations`` lists its google.rpc.BadRequest details ((field, description) pairs)
    when it sent any (``str()`` shows them too)."""

    def __init__(
        self,
        message: str,
        code: Optional[grpc.StatusCode] = None,
        field_violations: Optional[List[FieldViolation]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field_violations: List[FieldViolation] = list(field_violations or [])

    def __str__(self) -> str:
        # The violations the message does not already say (the daemon's message often is one).
        extra = [f"{field}: {description}" if field else description
                 for field, description in self.field_violations
                 if description not in self.message]
        if not extra:
            return self.message
        shown = extra[:10]
        more = len(extra) - len(shown)
        return self.message + " (" + "; ".join(shown) + (f"; {more} more" if more > 0 else "") + ")"


# One class per gRPC status code; where a built-in exception means the same, it is a base too.
class InvalidArgumentError(BatchdError, ValueError):
    """INVALID_ARGUMENT: the daemon refused the request (invalid tasks, a cycle, an unknown
    dependency, ...)."""


class FailedPreconditionError(BatchdError):
    """FAILED_PRECONDITION: the request is valid but not now: the task already finished, the
    batch is closed, the task is not waiting for completion."""


class OutOfRangeError(BatchdError, ValueError):
    """OUT_OF_RANGE: a position past the end (an offset, a sequence number)."""


class NotFoundError(BatchdError, LookupError):
    """NOT_FOUND: no such batch, task or limit (never made, or freed after retention)."""


class AlreadyExistsError(BatchdError):
    """ALREADY_EXISTS: something of that name exists."""


class PermissionDeniedError(BatchdError, PermissionError):
    """PERMISSION_DENIED: not allowed, e.g. CompleteTask with a token the task never had."""


class UnauthenticatedError(BatchdError, PermissionError):
    """UNAUTHENTICATED: the daemon wants a bearer token (token= / token_file= /
    $BATCHD_TOKEN_FILE) and got none or a wrong one."""


class ResourceExhaustedError(BatchdError):
    """RESOURCE_EXHAUSTED: the daemon is at a limit (active batches, open streams); retry
    later."""


class AbortedError(BatchdError):
    """ABORTED: the operation was aborted (a conflict); retry it."""


class UnavailableError(BatchdError, ConnectionError):
    """UNAVAILABLE: the daemon cannot be reached (not running, wrong address) or went away."""


class DeadlineExceededError(BatchdError, TimeoutError):
    """DEADLINE_EXCEEDED: the call took longer than its deadline."""


class CallCancelledError(BatchdError):
    """CANCELLED: the RPC was cancelled (by this process or the daemon's shutdown). Not
    ``asyncio.CancelledError``: a cancelled coroutine raises that one."""


class UnimplementedError(BatchdError, NotImplementedError):
    """UNIMPLEMENTED: the daemon does not have this RPC (an older batchd)."""


class InternalError(BatchdError):
    """INTERNAL: the daemon failed (a bug; its log says more)."""


class DataLossError(BatchdError):
    """DATA_LOSS: the daemon lost data (its journal)."""


class UnknownError(BatchdError):
    """UNKNOWN, or a code this client does not know."""


class TaskFailure(Exception):
    """Raise from an executor to fail the task with control over its retry.

    Any exception fails the task (error "ExcType: message") and the batch's retry policy
    applies. TaskFailure adds ``retry_after_ms`` (the delay before the next attempt, overriding
    the policy's) and ``retryable``.
    """

    def __init__(self, message: str = "", *, retryable: bool = True,
                 retry_after_ms: Optional[int] = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms


class NonRetryableError(TaskFailure):
    """Raise from an executor to fail the task without any retry."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message, retryable=False)


class Throttled(TaskFailure):
    """Raise from an executor when the service it calls refused for its rate (an HTTP 429, a
    quota error): the attempt is throttled, not failed. Its shared limits slow down, and with
    ``retry_after_ms`` pause for every task using them; the task runs again without spending
    its retry budget (up to the daemon's bound on throttled retries)."""

    def __init__(self, message: str = "", *, retry_after_ms: Optional[int] = None) -> None:
        super().__init__(message, retryable=True, retry_after_ms=retry_after_ms)


_BY_CODE: Dict[grpc.StatusCode, Type[BatchdError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CallCancelledError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
    grpc.StatusCode.UNKNOWN: UnknownError,
}

_DETAILS_KEY = "grpc-status-details-bin"


def from_rpc_error(error: grpc.RpcError) -> BatchdError:
    """The BatchdError for a failed call (its message is the daemon's, e.g.
    "Circular dependency: a -> b -> a")."""
    code = error.code() if hasattr(error, "code") else None
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    violations = _field_violations(error)
    cls = _BY_CODE.get(code, UnknownError)
    if cls is UnavailableError:
        message = f"batchd unavailable: {message}"
    return cls(message, code, violations)


def _field_violations(error: grpc.RpcError) -> List[FieldViolation]:
    trailing = getattr(error, "trailing_metadata", None)
    if trailing is None:
        return []
    for key, value in trailing() or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            return field_violations(value)
    return []
