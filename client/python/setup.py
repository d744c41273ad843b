"""Builds the `batchd` package with its generated gRPC stubs.

The stubs (batchd/v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py) are never committed: build_py runs
protoc and grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc) on the
repository's proto/ directory (or $BATCHD_PROTO_DIR) into the build tree, so they ship in the
wheel. Everything else is in pyproject.toml.
"""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = ["batch.proto", "batch_service.proto", "cache_service.proto", "limit_service.proto",
          "worker_service.proto"]


def _proto_dir() -> str:
    candidates = [os.environ.get("BATCHD_PROTO_DIR", ""),
                  os.path.join(HERE, "..", "..", "proto"), os.path.join(HERE, "proto")]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "batchd", "v1", PROTOS[0])):
            return os.path.abspath(candidate)
    raise SystemExit("batchd: proto/batchd/v1/*.proto not found next to client/python "
                     "(build from the batchd repository, or set BATCHD_PROTO_DIR)")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"batchd: {name} not found: install protobuf-compiler and "
                         "protobuf-compiler-grpc (deploy/install-deps.sh)")
    return path


class BuildWithStubs(build_py):
    """build_py, then the generated modules of batchd.v1 into the build tree."""

    def run(self) -> None:
        super().run()
        out = os.path.join(self.build_lib, "batchd", "v1")
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "__init__.py"), "a").close()
        root = os.path.dirname(out.rstrip(os.sep))
        root = os.path.dirname(root)  # build_lib: protoc writes batchd/v1/... under it
        subprocess.run(
            [_tool("protoc"), f"--proto_path={_proto_dir()}", f"--python_out={root}",
             f"--pyi_out={root}", f"--grpc_python_out={root}",
             f"--plugin=protoc-gen-grpc_python={_tool('grpc_python_plugin')}",
             *[f"batchd/v1/{name}" for name in PROTOS]],
            check=True)


setup(cmdclass={"build_py": BuildWithStubs})
