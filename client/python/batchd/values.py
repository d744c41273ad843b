"""Python values <-> google.protobuf.Value (the JSON values tasks carry). Pure functions."""

import math
from collections.abc import Mapping
from typing import Any, Optional

from batchd._proto import struct_pb2

# Deeper values are refused: protobuf's own recursion limit is 100.
_MAX_DEPTH = 64
# Integers beyond this lose precision as JSON numbers (doubles); decoded floats within it that
# are whole come back as int.
_EXACT_INT_LIMIT = 2**53


def to_value(obj: Any) -> struct_pb2.Value:
    """The JSON rendering of `obj`.

    Accepts None, bool, int, float (finite), str, mappings with str keys, lists and tuples,
    nested. Raises TypeError naming what is not representable.
    """
    value = struct_pb2.Value()
    _fill(value, obj, 0, "value")
    return value


def try_to_value(obj: Any, max_bytes: Optional[int] = None) -> struct_pb2.Value:
    """Like to_value, but null when `obj` has no JSON rendering or it exceeds `max_bytes`."""
    try:
        value = to_value(obj)
    except (TypeError, ValueError, RecursionError):
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if max_bytes is not None and value.ByteSize() > max_bytes:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    return value


def from_value(value: struct_pb2.Value) -> Any:
    """The Python form of a JSON value; whole numbers below 2**53 come back as int."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "bool_value":
        return value.bool_value
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < _EXACT_INT_LIMIT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "struct_value":
        return {key: from_value(item) for key, item in value.struct_value.fields.items()}
    return [from_value(item) for item in value.list_value.values]


def _fill(out: struct_pb2.Value, obj: Any, depth: int, where: str) -> None:
    if depth > _MAX_DEPTH:
        raise TypeError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    if obj is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(obj, bool):
        out.bool_value = obj
    elif isinstance(obj, int):
        try:
            out.number_value = float(obj)
        except OverflowError:
            raise TypeError(f"{where}: {obj} is too large for a JSON number") from None
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise TypeError(f"{where}: {obj!r} is not a JSON number")
        out.number_value = obj
    elif isinstance(obj, str):
        out.string_value = obj
    elif isinstance(obj, Mapping):
        fields = out.struct_value.fields
        if not obj:
            out.struct_value.SetInParent()
        for key, item in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            _fill(fields[key], item, depth + 1, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        values = out.list_value.values
        if not obj:
            out.list_value.SetInParent()
        for index, item in enumerate(obj):
            _fill(values.add(), item, depth + 1, f"{where}[{index}]")
    else:
        raise TypeError(f"{where}: {type(obj).__name__} is not JSON-representable")
