"""Builds the `batchd` package with its generated gRPC stubs.

The stubs (batchd/v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py) are never committed and never written
into the source tree: build_py runs protoc and grpc_python_plugin (Debian: protobuf-compiler,
protobuf-compiler-grpc) on the repository's proto/ directory (or $BATCHD_PROTO_DIR) into the
build tree, so they ship in the wheel. Everything else is in pyproject.toml.

The build tree and the .egg-info that setuptools makes on the way default to a temporary
directory removed when the build ends, so `pip install ./client/python` and `pip wheel` leave
client/python as they found it (an explicit `--build-base`/`--egg-base` still wins).
"""

import atexit
import os
import shutil
import subprocess
import tempfile
from typing import List

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = ["batch.proto", "batch_service.proto", "cache_service.proto", "limit_service.proto",
          "worker_service.proto"]
MISSING_TOOL = ("batchd: {name} not found on PATH: install protobuf-compiler and "
                "protobuf-compiler-grpc (deploy/install-deps.sh)")


def _proto_dir() -> str:
    candidates = [os.environ.get("BATCHD_PROTO_DIR", ""),
                  os.path.join(HERE, "..", "..", "proto"), os.path.join(HERE, "proto")]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "batchd", "v1", PROTOS[0])):
            return os.path.abspath(candidate)
    raise SystemExit("batchd: proto/batchd/v1/*.proto not found (looked in $BATCHD_PROTO_DIR, "
                     "../../proto and ./proto): build from the batchd repository, or set "
                     "BATCHD_PROTO_DIR to its proto/ directory")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(MISSING_TOOL.format(name=name))
    return path


class BuildWithStubs(build_py):
    """build_py, then the generated modules of batchd.v1 into the build tree."""

    def run(self) -> None:
        protoc, plugin, proto_dir = _tool("protoc"), _tool("grpc_python_plugin"), _proto_dir()
        super().run()
        out = os.path.join(self.build_lib, "batchd", "v1")
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "__init__.py"), "w").close()
        # protoc writes batchd/v1/<name>_pb2*.py(i) under build_lib; the generated code imports
        # its siblings absolutely (`from batchd.v1 import batch_pb2`), right inside the package.
        subprocess.run(
            [protoc, f"--proto_path={proto_dir}", f"--python_out={self.build_lib}",
             f"--pyi_out={self.build_lib}", f"--grpc_python_out={self.build_lib}",
             f"--plugin=protoc-gen-grpc_python={plugin}",
             *[f"batchd/v1/{name}" for name in PROTOS]],
            check=True)

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:
        out = os.path.join(self.build_lib, "batchd", "v1")
        generated = [os.path.join(out, "__init__.py")]
        for name in PROTOS:
            stem = os.path.join(out, name[:-len(".proto")])
            generated += [stem + "_pb2.py", stem + "_pb2.pyi", stem + "_pb2_grpc.py"]
        return list(super().get_outputs(include_bytecode)) + generated


_scratch = tempfile.mkdtemp(prefix="batchd-build-")
atexit.register(shutil.rmtree, _scratch, True)

setup(cmdclass={"build_py": BuildWithStubs},
      options={"build": {"build_base": os.path.join(_scratch, "build")},
               "egg_info": {"egg_base": _scratch}})
