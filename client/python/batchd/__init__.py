"""batchd: the Python client of the batchd batch-execution daemon.

The design's API, backed by batchd::

    from batchd import BatchProcessor, BatchTask

    processor = BatchProcessor(max_concurrent=10, retry_policy="exponential")
    summary = processor.process_batch(tasks, my_executor)

Executors are Python callables run in this process (they never leave it); batchd does the
scheduling, retries, timeouts and aggregation. Lower level: ``Client`` (submit, stream,
progress, watch, cancel, get, list; shared limits with set_limit, limits, delete_limit) and
``Worker`` (serve named executors to batches submitted from any language). See client/python/README.md and ``python3 -m batchd --help``.
"""

import os.path
import pkgutil

# Where the generated stubs (batchd.v1.*_pb2) are. Installed (pip install ./client/python, or
# the wheel): built into this directory's v1/, and the package path is left alone, so no other
# `batchd` directory on sys.path (one in the current directory, say) can join the package. In the
# source tree (PYTHONPATH=client/python:<build>/python, as ctest runs the tests) they are in the
# build tree, in a `batchd` directory of their own: let this package span both.
if not os.path.isdir(os.path.join(os.path.dirname(__file__), "v1")):
    __path__ = pkgutil.extend_path(__path__, __name__)

from batchd.batching import (calculate_optimal_batch_size, create_task_batches,  # noqa: E402
                             estimate_batch_duration, merge_batch_summaries)
from batchd.calls import Usage, cancelled, output, spawn  # noqa: E402
from batchd.client import Client, ResultStream  # noqa: E402
from batchd.channel import Connection, ConnectionConfigError  # noqa: E402
from batchd.errors import (AbortedError, AlreadyExistsError, BatchdError,  # noqa: E402
                           CallCancelledError, DataLossError, DeadlineExceededError,
                           FailedPreconditionError, InternalError, InvalidArgumentError,
                           NonRetryableError, NotFoundError, OutOfRangeError,
                           PermissionDeniedError, ResourceExhaustedError, TaskFailure, Throttled,
                           UnauthenticatedError, UnavailableError, UnimplementedError,
                           UnknownError)
from batchd.limits import Limit, LimitStatus, Rate  # noqa: E402
from batchd.models import (AwaitingCompletion, BatchProcessSummary, BatchProgress,  # noqa: E402
                           BatchResult, BatchTask, ExecutionPlan, ExecutorInfo, LimitWait,
                           TaskStatus)
from batchd.processor import BatchProcessor  # noqa: E402
from batchd.worker import Worker  # noqa: E402

# The design's module-level names.
create_task_batches_py = create_task_batches
merge_batch_summaries_py = merge_batch_summaries
calculate_optimal_batch_size_py = calculate_optimal_batch_size
estimate_batch_duration_py = estimate_batch_duration

from batchd._version import __version__ as __version__  # noqa: E402

__all__ = [
    "BatchProcessor",
    "BatchTask",
    "BatchResult",
    "BatchProcessSummary",
    "BatchProgress",
    "Client",
    "ResultStream",
    "Worker",
    "ExecutorInfo",
    "TaskStatus",
    "ExecutionPlan",
    "cancelled",
    "spawn",
    "output",
    "Rate",
    "Limit",
    "LimitStatus",
    "LimitWait",
    "AwaitingCompletion",
    "Usage",
    "create_task_batches",
    "merge_batch_summaries",
    "calculate_optimal_batch_size",
    "estimate_batch_duration",
    "create_task_batches_py",
    "merge_batch_summaries_py",
    "calculate_optimal_batch_size_py",
    "estimate_batch_duration_py",
    "BatchdError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "UnavailableError",
    "DeadlineExceededError",
    "ResourceExhaustedError",
    "CallCancelledError",
    "FailedPreconditionError",
    "OutOfRangeError",
    "AlreadyExistsError",
    "UnauthenticatedError",
    "AbortedError",
    "UnimplementedError",
    "InternalError",
    "DataLossError",
    "UnknownError",
    "Connection",
    "ConnectionConfigError",
    "TaskFailure",
    "NonRetryableError",
    "Throttled",
]
