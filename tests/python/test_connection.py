"""How the Python client reaches batchd: unix sockets, the bearer token, TLS (server and
client certificates), each against a real daemon started with those flags; and the settings a
user gets wrong, refused where they are given. Certificates are made with openssl at test time.
"""

import os
import subprocess
import threading

import pytest

import batchd
from batchd import BatchTask
from conftest import DAEMON_FLAGS, Daemon, batchd_binary

TOKEN = "s3cret-token-for-tests"
OPENSSL_TIMEOUT_S = 60


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=OPENSSL_TIMEOUT_S)


def _make_leaf(directory, ca: str, name: str, extensions: str, serial: int) -> None:
    base = directory / name
    (directory / f"{name}.ext").write_text(extensions)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={name}", "-keyout", f"{base}.key", "-out", f"{base}.csr")
    _openssl("x509", "-req", "-in", f"{base}.csr", "-CA", str(directory / f"{ca}.pem"),
             "-CAkey", str(directory / f"{ca}.key"), "-set_serial", str(serial), "-days", "2",
             "-extfile", str(directory / f"{name}.ext"), "-out", f"{base}.pem")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=ca", "-keyout", str(directory / "ca.key"),
             "-out", str(directory / "ca.pem"))
    _make_leaf(directory, "ca", "server",
               "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", 1)
    _make_leaf(directory, "ca", "client", "extendedKeyUsage=clientAuth\n", 2)
    return directory


def _start(tmp_path, *flags: str) -> Daemon:
    return Daemon(batchd_binary(), [*DAEMON_FLAGS, *flags], str(tmp_path / "batchd.log"))


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


@pytest.fixture(scope="module")
def token_daemon(tmp_path_factory, token_file):
    daemon = _start(tmp_path_factory.mktemp("token-daemon"), f"--auth-token-file={token_file}")
    yield daemon
    daemon.stop()


def _echo_round_trip(client: batchd.Client) -> None:
    summary = client.process([BatchTask("a", {"n": 1}), BatchTask("b", [2], dependencies=["a"])],
                             executor="echo")
    assert [(r.task_id, r.result) for r in summary.results] == [("a", {"n": 1}), ("b", [2])]


class TestBearerToken:
    def test_a_token_file_is_sent_with_every_call(self, token_daemon, token_file):
        with batchd.Client(token_daemon.address, token_file=token_file) as client:
            _echo_round_trip(client)
            batch_id = client.submit([BatchTask("x", 1)], executor="echo")
            assert [r.result for r in client.stream_results(batch_id)] == [1]

    def test_the_token_from_the_environment(self, token_daemon, token_file, monkeypatch):
        monkeypatch.setenv("BATCHD_TOKEN_FILE", token_file)
        with batchd.Client(token_daemon.address) as client:
            _echo_round_trip(client)

    def test_without_the_token_the_call_is_unauthenticated(self, token_daemon, monkeypatch):
        monkeypatch.delenv("BATCHD_TOKEN_FILE", raising=False)
        with batchd.Client(token_daemon.address) as client:
            with pytest.raises(batchd.UnauthenticatedError,
                               match="missing or invalid bearer token") as raised:
                client.list()
        assert isinstance(raised.value, PermissionError)

    def test_a_wrong_token_is_unauthenticated(self, token_daemon):
        with batchd.Client(token_daemon.address, token="not-it") as client:
            with pytest.raises(batchd.UnauthenticatedError):
                client.executors()

    def test_a_worker_and_a_processor_send_the_token(self, token_daemon, token_file):
        worker = batchd.Worker(token_daemon.address, name="secured", slots=2,
                               token_file=token_file)
        worker.add_executor("double", lambda task: task["task_data"] * 2)
        with worker.start(timeout=20):
            with batchd.Client(token_daemon.address, token=TOKEN) as client:
                summary = client.process([BatchTask("t", 21)], executor="double")
            assert summary.results[0].result == 42
        with batchd.BatchProcessor(max_concurrent=2, target=token_daemon.address,
                                   token=TOKEN) as processor:
            summary = processor.process_batch([BatchTask("p", 5)],
                                              lambda task: task["task_data"] + 1)
        assert summary.results[0].result == 6

    def test_a_missing_token_file_is_refused_where_it_is_given(self, tmp_path):
        missing = str(tmp_path / "no-such-token")
        with pytest.raises(batchd.ConnectionConfigError,
                           match=f"cannot read the token file '{missing}'"):
            batchd.Client("127.0.0.1:1", token_file=missing)
        with pytest.raises(batchd.ConnectionConfigError, match="token file"):
            batchd.Worker("127.0.0.1:1", token_file=missing)
        with pytest.raises(batchd.ConnectionConfigError, match="token file"):
            batchd.BatchProcessor(target="127.0.0.1:1", token_file=missing)

    def test_an_empty_token_file_and_conflicting_settings(self, tmp_path):
        empty = tmp_path / "empty"
        empty.write_text("\n")
        with pytest.raises(ValueError, match=f"the token file '{empty}' is empty"):
            batchd.Client("127.0.0.1:1", token_file=str(empty))
        with pytest.raises(ValueError, match="token or token_file, not both"):
            batchd.Client("127.0.0.1:1", token="a", token_file=str(empty))
        with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
            batchd.Client("127.0.0.1:1", tls_cert=str(empty))

    def test_the_token_never_shows_in_repr(self, token_daemon):
        with batchd.Client(token_daemon.address, token=TOKEN) as client:
            assert TOKEN not in repr(client.connection)
            assert "token=set" in repr(client.connection)


class TestTls:
    @pytest.fixture(scope="class")
    def tls_daemon(self, tmp_path_factory, certs):
        daemon = _start(tmp_path_factory.mktemp("tls-daemon"),
                        f"--tls-cert={certs / 'server.pem'}", f"--tls-key={certs / 'server.key'}",
                        f"--tls-client-ca={certs / 'ca.pem'}")
        yield daemon
        daemon.stop()

    def test_client_certificate_and_ca(self, tls_daemon, certs):
        port = tls_daemon.address.rsplit(":", 1)[1]
        with batchd.Client(f"localhost:{port}", tls_ca=str(certs / "ca.pem"),
                           tls_cert=str(certs / "client.pem"),
                           tls_key=str(certs / "client.key")) as client:
            _echo_round_trip(client)

    def test_a_worker_over_tls(self, tls_daemon, certs):
        security = {"tls_ca": str(certs / "ca.pem"), "tls_cert": str(certs / "client.pem"),
                    "tls_key": str(certs / "client.key"), "tls_server_name": "localhost"}
        worker = batchd.Worker(tls_daemon.address, name="tls-worker", **security)
        worker.add_executor("upper", lambda task: task["task_data"].upper())
        with worker.start(timeout=20), batchd.Client(tls_daemon.address, **security) as client:
            assert client.process([BatchTask("u", "abc")], executor="upper").results[0].result \
                == "ABC"

    def test_without_a_client_certificate_the_daemon_refuses(self, tls_daemon, certs):
        with batchd.Client(tls_daemon.address, tls_ca=str(certs / "ca.pem"),
                           tls_server_name="localhost", timeout=10) as client:
            with pytest.raises(batchd.UnavailableError):
                client.list()

    def test_plaintext_to_a_tls_daemon_is_unavailable(self, tls_daemon):
        with batchd.Client(tls_daemon.address, timeout=10) as client:
            with pytest.raises(batchd.UnavailableError, match="batchd unavailable"):
                client.list()


def test_a_unix_socket_address(tmp_path):
    socket_path = tmp_path / "batchd.sock"
    daemon = _start(tmp_path, f"--listen=unix:{socket_path}")
    try:
        assert daemon.address == f"unix:{socket_path}"
        with batchd.Client(daemon.address) as client:
            _echo_round_trip(client)
        worker = batchd.Worker(daemon.address, name="unix-worker")
        seen = []
        lock = threading.Lock()

        def record(task):
            with lock:
                seen.append(task["task_id"])
            return os.getpid()

        worker.add_executor("where", record)
        with worker.start(timeout=20), batchd.Client(daemon.address) as client:
            summary = client.process([BatchTask(f"w{i}", None) for i in range(3)],
                                     executor="where")
        assert sorted(seen) == ["w0", "w1", "w2"]
        assert {r.result for r in summary.results} == {os.getpid()}
    finally:
        daemon.stop()
