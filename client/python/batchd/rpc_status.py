"""The BadRequest field violations in a gRPC error's ``grpc-status-details-bin`` trailer.

Decoded from the protobuf wire format here rather than with google.rpc's generated modules:
those also come with googleapis-common-protos (grpcio-status), and two copies of
``google.rpc.Status`` in one process's descriptor pool fail to load. Only the fields read are
decoded (Status.details, Any.type_url and value, BadRequest.field_violations, FieldViolation
field and description); anything malformed gives no violations. Pure functions.
"""

from typing import Iterator, List, Tuple

_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class _Malformed(Exception):
    pass


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed()
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[Tuple[int, bytes]]:
    """(field number, bytes) of each length-delimited field; other wire types are skipped."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, pos = _varint(data, pos)
        elif wire == _FIXED64:
            pos += 8
        elif wire == _FIXED32:
            pos += 4
        elif wire == _LENGTH:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise _Malformed()
            yield number, data[pos:pos + size]
            pos += size
        else:
            raise _Malformed()
        if pos > len(data):
            raise _Malformed()


def field_violations(status_details: bytes) -> List[Tuple[str, str]]:
    """(field, description) pairs of every google.rpc.BadRequest in a serialized
    google.rpc.Status; [] when there are none or the bytes are malformed."""
    out: List[Tuple[str, str]] = []
    try:
        for number, any_bytes in _fields(status_details):
            if number != 3:  # Status.details
                continue
            type_url, value = "", b""
            for any_number, part in _fields(any_bytes):
                if any_number == 1:
                    type_url = part.decode("utf-8", "replace")
                elif any_number == 2:
                    value = part
            if type_url != _BAD_REQUEST_TYPE:
                continue
            for violation_number, violation in _fields(value):
                if violation_number != 1:  # BadRequest.field_violations
                    continue
                field = description = ""
                for part_number, part in _fields(violation):
                    if part_number == 1:
                        field = part.decode("utf-8", "replace")
                    elif part_number == 2:
                        description = part.decode("utf-8", "replace")
                out.append((field, description))
    except _Malformed:
        return []
    return out
