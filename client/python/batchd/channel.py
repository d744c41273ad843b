"""How this process reaches batchd: the address, TLS and the bearer token, as batchctl takes them.

``Connection`` holds them, read and checked once where the user gives them (a token file that
does not exist raises there, naming the file), and makes channels: ``channel()`` for the
threaded API, ``aio_channel()`` for ``batchd.aio``. Every call sends ``metadata`` (the
``authorization: Bearer`` header when there is a token).

Addresses are "host:port" or "unix:/path"; the default is $BATCHD_ADDR, else 127.0.0.1:50051.
The token file defaults to $BATCHD_TOKEN_FILE. Any TLS setting turns TLS on; without
``tls_ca`` the system's roots are trusted. Immutable, so thread-safe.
"""

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import grpc
import grpc.aio

DEFAULT_TARGET = "127.0.0.1:50051"
# As batchctl: results of a large batch come in large messages.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

Metadata = Tuple[Tuple[str, str], ...]
ChannelOption = Tuple[str, Any]


def resolve_target(target: Optional[str] = None) -> str:
    """`target`, else $BATCHD_ADDR, else 127.0.0.1:50051 (host:port or unix:/path)."""
    return target or os.environ.get("BATCHD_ADDR") or DEFAULT_TARGET


def channel_options(**extra: Any) -> List[ChannelOption]:
    options: List[ChannelOption] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    options.extend(extra.items())
    return options


class ConnectionConfigError(ValueError):
    """A connection setting is unusable: a token or certificate file that cannot be read, an
    empty token, a client certificate without its key."""


def _read(what: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise ConnectionConfigError(f"batchd: cannot read the {what} {path!r}: "
                                    f"{error.strerror or error}") from None


@dataclass(frozen=True)
class Connection:
    """Where batchd is and how to talk to it. Build it with ``Connection.make``."""

    target: str
    token: Optional[str] = None
    tls: bool = False
    root_certificates: Optional[bytes] = None
    certificate_chain: Optional[bytes] = None
    private_key: Optional[bytes] = None
    server_name: Optional[str] = None

    @staticmethod
    def make(target: Optional[str] = None, *, token: Optional[str] = None,
             token_file: Optional[str] = None, tls: Optional[bool] = None,
             tls_ca: Optional[str] = None, tls_cert: Optional[str] = None,
             tls_key: Optional[str] = None,
             tls_server_name: Optional[str] = None) -> "Connection":
        """Reads the files now. `token` is the bearer token itself; `token_file` a file holding
        it (default $BATCHD_TOKEN_FILE; give one or the other). `tls_ca`, `tls_cert`/`tls_key`
        and `tls_server_name` are batchctl's --tls-* flags; any of them, or ``tls=True``,
        turns TLS on."""
        if token is not None and token_file is not None:
            raise ConnectionConfigError("batchd: give token or token_file, not both")
        if token is None:
            path = token_file if token_file is not None else os.environ.get("BATCHD_TOKEN_FILE")
            if path:
                token = _read("token file", path).decode("utf-8", "replace").strip()
                if not token:
                    raise ConnectionConfigError(f"batchd: the token file {path!r} is empty")
        elif not token.strip():
            raise ConnectionConfigError("batchd: the token is empty")
        if (tls_cert is None) != (tls_key is None):
            raise ConnectionConfigError("batchd: tls_cert and tls_key go together "
                                        "(a client certificate and its private key)")
        use_tls = bool(tls) or any(v is not None for v in (tls_ca, tls_cert, tls_server_name))
        if tls is False and use_tls:
            raise ConnectionConfigError("batchd: tls=False with TLS files or a server name")
        return Connection(
            target=resolve_target(target),
            token=token.strip() if token is not None else None,
            tls=use_tls,
            root_certificates=_read("TLS CA file", tls_ca) if tls_ca else None,
            certificate_chain=_read("TLS certificate", tls_cert) if tls_cert else None,
            private_key=_read("TLS private key", tls_key) if tls_key else None,
            server_name=tls_server_name)

    @property
    def metadata(self) -> Metadata:
        """What every call sends: the bearer token, when there is one."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def _options(self, extra: Sequence[ChannelOption]) -> List[ChannelOption]:
        options = channel_options()
        options.extend(extra)
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return options

    def _credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates, private_key=self.private_key,
            certificate_chain=self.certificate_chain)

    def channel(self, extra_options: Sequence[ChannelOption] = ()) -> grpc.Channel:
        """A channel of the threaded gRPC API."""
        options = self._options(extra_options)
        if self.tls:
            return grpc.secure_channel(self.target, self._credentials(), options=options)
        return grpc.insecure_channel(self.target, options=options)

    def aio_channel(self, extra_options: Sequence[ChannelOption] = ()) -> grpc.aio.Channel:
        """A channel of gRPC's asyncio API (create it on the event loop that uses it)."""
        options = self._options(extra_options)
        if self.tls:
            return grpc.aio.secure_channel(self.target, self._credentials(), options=options)
        return grpc.aio.insecure_channel(self.target, options=options)

    def __repr__(self) -> str:  # never the token
        return (f"Connection(target={self.target!r}, tls={self.tls}, "
                f"token={'set' if self.token else 'none'})")
