"""The generated protobuf and gRPC modules, imported in one place.

An installed package (``pip install ./client/python`` or the wheel) has them in ``batchd/v1``,
generated from ``proto/`` when it was built (client/python/setup.py). In the source tree the
build generates them (CMake target ``batchd_python_stubs``) into ``<build>/python``, which must
be on ``sys.path`` next to ``client/python``; ``batchd/__init__.py`` extends the package path so
``batchd.v1`` is found there.
"""

from typing import Any

try:
    from batchd.v1 import batch_pb2
    from batchd.v1 import batch_service_pb2
    from batchd.v1 import batch_service_pb2_grpc as _batch_service_pb2_grpc
    from batchd.v1 import cache_service_pb2
    from batchd.v1 import cache_service_pb2_grpc as _cache_service_pb2_grpc
    from batchd.v1 import limit_service_pb2
    from batchd.v1 import limit_service_pb2_grpc as _limit_service_pb2_grpc
    from batchd.v1 import worker_service_pb2
    from batchd.v1 import worker_service_pb2_grpc as _worker_service_pb2_grpc
    from google.protobuf import struct_pb2
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "batchd: the generated gRPC stubs were not found ("
        + str(error)
        + "). Install the package (`pip install --no-build-isolation ./client/python`, which "
        "generates them), or in the source tree build them with `cmake --build <build> --target "
        "batchd_python_stubs` and put <build>/python on PYTHONPATH next to client/python; the "
        "Debian packages python3-grpcio and python3-protobuf must be installed "
        "(deploy/install-deps.sh)."
    ) from error

# protoc makes no type stubs for the service modules: their stubs are untyped (Any).
batch_service_pb2_grpc: Any = _batch_service_pb2_grpc
cache_service_pb2_grpc: Any = _cache_service_pb2_grpc
limit_service_pb2_grpc: Any = _limit_service_pb2_grpc
worker_service_pb2_grpc: Any = _worker_service_pb2_grpc

__all__ = [
    "batch_pb2",
    "batch_service_pb2",
    "cache_service_pb2",
    "cache_service_pb2_grpc",
    "batch_service_pb2_grpc",
    "limit_service_pb2",
    "limit_service_pb2_grpc",
    "worker_service_pb2",
    "worker_service_pb2_grpc",
    "struct_pb2",
]
