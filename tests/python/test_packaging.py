"""The package as users install it: the README's install line in a fresh venv, `import batchd`
from another directory without PYTHONPATH, an example run that way against the daemon, a wheel
that installs into a second venv, and the installed package typed for a user's mypy.

ctest runs this file without PYTHONPATH (tests/python/CMakeLists.txt), and each child process
gets an environment without it too. Offline: pip finds grpcio and protobuf among Debian's
packages (--system-site-packages) and is told not to look at any index; every step is bounded.
mypy --strict on the package itself is the lint test tests/lint/python_mypy.sh.
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
STEP_TIMEOUT_S = 120


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def _run(argv, cwd, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    run = subprocess.run([str(a) for a in argv], cwd=str(cwd), env=_env(**extra),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=STEP_TIMEOUT_S)
    if check:
        assert run.returncode == 0, f"{argv}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run


def _venv(path: pathlib.Path) -> pathlib.Path:
    _run([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", path], path.parent)
    return path / "bin" / "python"


def _source_tree_entries() -> set:
    """What client/python holds, build artifacts (ignored by git or not) included."""
    return {p.name for p in PACKAGE.iterdir()} | {p.name for p in (PACKAGE / "batchd").iterdir()}


def _version() -> str:
    text = (PACKAGE / "batchd" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> pathlib.Path:
    """A venv with the package installed by the README's line; its python."""
    root = tmp_path_factory.mktemp("venv")
    python = _venv(root / ".venv")
    before = _source_tree_entries()
    _run([root / ".venv" / "bin" / "pip", "install", "--no-build-isolation", "./client/python"],
         REPO)
    assert _source_tree_entries() - before == set(), "the build left files in client/python"
    return python


def test_import_from_anywhere_without_pythonpath(installed, tmp_path):
    run = _run([installed, "-c", "import batchd, batchd.aio, batchd.v1.batch_pb2; "
                "print(batchd.__version__); print(batchd.__file__); print(*batchd.__path__)"],
               tmp_path)
    version, location, *path = run.stdout.split()
    assert version == _version()
    site = pathlib.Path(location).parent
    assert site.is_relative_to(installed.parent.parent), location
    assert path == [str(site)]  # an installed copy does not extend its package path
    assert (site / "py.typed").is_file()
    assert (site / "v1" / "batch_pb2.pyi").is_file()


def test_a_batchd_directory_in_the_cwd_does_not_join_the_installed_package(installed, tmp_path):
    (tmp_path / "batchd" / "v1").mkdir(parents=True)
    (tmp_path / "batchd" / "stray.py").write_text("raise SystemExit('stray module imported')\n")
    (tmp_path / "batchd" / "v1" / "batch_pb2.py").write_text("raise SystemExit('stray stubs')\n")
    run = _run([installed, "-c", "import batchd, batchd.v1.batch_pb2\n"
                "try:\n    import batchd.stray\nexcept ImportError:\n    print('isolated')"],
               tmp_path)
    assert run.stdout.split() == ["isolated"], run.stdout + run.stderr


def test_an_example_runs_from_another_directory(installed, tmp_path, address):
    example = tmp_path / "basic_usage.py"
    example.write_text((PACKAGE / "examples" / "basic_usage.py").read_text())
    run = _run([installed, example], tmp_path, BATCHD_ADDR=address)
    assert "Completed: 2/2" in run.stdout
    assert "Success rate: 100.0%" in run.stdout


def test_the_installed_package_is_typed_for_users(installed, tmp_path):
    """A user's mypy --strict sees the package's and the stubs' types (py.typed, .pyi)."""
    (tmp_path / "use.py").write_text(
        "import batchd\n"
        "from batchd.v1 import batch_pb2\n"
        "version: str = batchd.__version__\n"
        "client: batchd.Client = batchd.Client('127.0.0.1:1')\n"
        "task_id: int = batch_pb2.AwaitingCompletion(task_id='a').task_id\n")
    run = _run([installed, "-m", "mypy", "--strict", "--no-error-summary",
                "--cache-dir", tmp_path / "mypy-cache", "use.py"], tmp_path, check=False)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    # The one deliberate mistake, found because the .pyi says task_id is a str; nothing else
    # (no "missing library stubs or py.typed marker", no untyped attribute).
    assert len(errors) == 1 and errors[0].startswith("use.py:5:"), run.stdout + run.stderr
    assert 'expression has type "str", variable has type "int"' in errors[0]


def test_a_wheel_installs_into_another_venv(tmp_path):
    dist = tmp_path / "dist"
    before = _source_tree_entries()
    _run([SYSTEM_PYTHON, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", PACKAGE,
          "-w", dist], REPO)
    assert _source_tree_entries() - before == set(), "the build left files in client/python"
    wheels = list(dist.glob("batchd-*.whl"))
    assert [w.name for w in wheels] == [f"batchd-{_version()}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for name in ("batchd/__init__.py", "batchd/_version.py", "batchd/aio/__init__.py",
                 "batchd/py.typed", "batchd/v1/__init__.py", "batchd/v1/batch_pb2.py",
                 "batchd/v1/batch_pb2.pyi", "batchd/v1/worker_service_pb2_grpc.py",
                 "batchd/v1/batch_service_pb2.pyi"):
        assert name in names, f"{name} missing from {sorted(names)}"
    stray = [n for n in names if not n.startswith(("batchd/", f"batchd-{_version()}.dist-info/"))
             or "__pycache__" in n or n.endswith((".pyc", ".proto"))]
    assert stray == [], stray
    # "grpcio>=1.51.1" or, from older setuptools, "grpcio (>=1.51.1)".
    assert re.search(r"^Requires-Dist: grpcio ?\(?>=1\.51\.1\)?$", metadata, re.M), metadata
    assert re.search(r"^Requires-Dist: protobuf ?\(?>=4\.21\.12\)?$", metadata, re.M), metadata
    assert re.search(r"^Requires-Python: >=3\.9$", metadata, re.M), metadata
    assert "Classifier: Typing :: Typed" in metadata

    python = _venv(tmp_path / "other")
    _run([tmp_path / "other" / "bin" / "pip", "install", wheels[0]], tmp_path)
    run = _run([python, "-c", "import importlib.metadata as m, batchd, batchd.v1.batch_pb2; "
                "print(m.version('batchd'), batchd.__version__, batchd.__file__)"], tmp_path)
    first, second, location = run.stdout.split()
    assert first == second == _version()
    assert pathlib.Path(location).is_relative_to(tmp_path / "other"), location
