"""Exceptions: daemon errors mapped to Python's built-in kinds, and the ones executors raise.

A gRPC error from the daemon becomes a BatchdError subclass that is also the matching built-in
exception, so ``except ValueError`` catches an invalid batch (a cycle, an unknown dependency)
exactly as with the design's in-process implementation.
"""

from typing import Dict, List, Optional, Tuple, Type

import grpc

from batchd._proto import error_details_pb2, status_pb2

# A (field, description) pair from the daemon's google.rpc.BadRequest details.
FieldViolation = Tuple[str, str]


class BatchdError(Exception):
    """An RPC to batchd failed. ``code`` is the grpc.StatusCode; ``field_violations`` lists the
    daemon's google.rpc.BadRequest details ((field, description) pairs) when it sent any."""

    def __init__(
        self,
        message: str,
        code: Optional[grpc.StatusCode] = None,
        field_violations: Optional[List[FieldViolation]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.field_violations: List[FieldViolation] = list(field_violations or [])


class InvalidArgumentError(BatchdError, ValueError):
    """The daemon refused the request: invalid tasks, a cycle, an unknown dependency, ..."""


class NotFoundError(BatchdError, LookupError):
    """No such batch (never submitted, or freed after the daemon's retention)."""


class UnavailableError(BatchdError, ConnectionError):
    """The daemon cannot be reached (not running, wrong address) or went away."""


class DeadlineExceededError(BatchdError, TimeoutError):
    """The call took longer than its deadline."""


class ResourceExhaustedError(BatchdError):
    """The daemon is at a limit (active batches, open streams); retry later."""


class PermissionDeniedError(BatchdError, PermissionError):
    """The call is not allowed: e.g. CompleteTask with a token the task never had."""


class CancelledError(BatchdError):
    """The call was cancelled."""


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
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}

_DETAILS_KEY = "grpc-status-details-bin"


def from_rpc_error(error: grpc.RpcError) -> BatchdError:
    """The BatchdError for a failed call (its message is the daemon's, e.g.
    "Circular dependency: a -> b -> a")."""
    code = error.code() if hasattr(error, "code") else None
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    violations = _field_violations(error)
    cls = _BY_CODE.get(code, BatchdError)
    if cls is UnavailableError:
        message = f"batchd unavailable: {message}"
    return cls(message, code, violations)


def _field_violations(error: grpc.RpcError) -> List[FieldViolation]:
    if not hasattr(error, "trailing_metadata"):
        return []
    for key, value in error.trailing_metadata() or ():
        if key != _DETAILS_KEY:
            continue
        status = status_pb2.Status()
        try:
            status.ParseFromString(value)
        except Exception:  # noqa: BLE001 - malformed details are not worth an error of their own
            return []
        out: List[FieldViolation] = []
        for detail in status.details:
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(bad_request):
                out.extend((v.field, v.description) for v in bad_request.field_violations)
        return out
    return []
