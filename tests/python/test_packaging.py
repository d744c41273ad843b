"""The package as users install it: the README's install line in a fresh venv, `import batchd`
from another directory without PYTHONPATH, an example run that way against the daemon, a wheel
that installs into a second venv, and `mypy --strict` on the installed copy (the lint test).

Each child process gets an environment without PYTHONPATH (ctest's points at the source tree).
Offline: pip finds grpcio and protobuf among Debian's packages (--system-site-packages).
"""

import os
import pathlib
import re
import subprocess
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = REPO / "client" / "python"
SYSTEM_PYTHON = "/usr/bin/python3"
STEP_TIMEOUT_S = 300


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def _run(argv, cwd, **extra: str) -> subprocess.CompletedProcess:
    run = subprocess.run([str(a) for a in argv], cwd=str(cwd), env=_env(**extra),
                         capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert run.returncode == 0, f"{argv}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run


def _venv(path: pathlib.Path) -> pathlib.Path:
    _run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", path], path.parent)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> pathlib.Path:
    """A venv with the package installed by the README's line; its python."""
    root = tmp_path_factory.mktemp("venv")
    python = _venv(root / ".venv")
    _run([root / ".venv" / "bin" / "pip", "install", "--no-build-isolation", PACKAGE], REPO)
    return python


def test_import_from_anywhere_without_pythonpath(installed, tmp_path):
    run = _run([installed, "-c", "import batchd, batchd.aio, batchd.v1.batch_pb2; "
                "print(batchd.__version__); print(batchd.__file__)"], tmp_path)
    version, location = run.stdout.split()
    assert version == re.search(r'__version__ = "([^"]+)"',
                                (PACKAGE / "batchd" / "_version.py").read_text()).group(1)
    assert pathlib.Path(location).is_relative_to(installed.parent.parent)
    site = pathlib.Path(location).parent
    assert (site / "py.typed").is_file()
    assert (site / "v1" / "batch_pb2.pyi").is_file()


def test_an_example_runs_from_another_directory(installed, tmp_path, address):
    example = tmp_path / "basic_usage.py"
    example.write_text((PACKAGE / "examples" / "basic_usage.py").read_text())
    run = _run([installed, example], tmp_path, BATCHD_ADDR=address)
    assert "Completed: 2/2" in run.stdout
    assert "Success rate: 100.0%" in run.stdout


def test_a_wheel_installs_into_another_venv(tmp_path):
    dist = tmp_path / "dist"
    _run([SYSTEM_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", PACKAGE,
          "-w", dist], REPO)
    wheels = list(dist.glob("batchd-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for name in ("batchd/__init__.py", "batchd/aio/__init__.py", "batchd/py.typed",
                 "batchd/v1/batch_pb2.py", "batchd/v1/worker_service_pb2_grpc.py",
                 "batchd/v1/batch_service_pb2.pyi"):
        assert name in names, f"{name} missing from {sorted(names)}"
    assert not [n for n in names if n.startswith(("tests/", "examples/", "build/"))]
    # "grpcio>=1.51.1" or, from older setuptools, "grpcio (>=1.51.1)".
    assert re.search(r"^Requires-Dist: grpcio ?\(?>=1\.51\.1\)?$", metadata, re.M), metadata
    assert re.search(r"^Requires-Dist: protobuf ?\(?>=4\.21\.12\)?$", metadata, re.M), metadata

    python = _venv(tmp_path / "other")
    _run([tmp_path / "other" / "bin" / "pip", "install", wheels[0]], tmp_path)
    run = _run([python, "-c", "import importlib.metadata as m, batchd; "
                "print(m.version('batchd'), batchd.__version__)"], tmp_path)
    first, second = run.stdout.split()
    assert first == second


def test_mypy_strict_is_clean_on_the_installed_package(installed, tmp_path):
    run = subprocess.run(
        [str(installed), "-m", "mypy", "--config-file", str(PACKAGE / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "mypy-cache"), "-p", "batchd"],
        cwd=str(tmp_path), env=_env(), capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Success: no issues found")
