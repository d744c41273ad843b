// Plain request objects -> what grpc-js serializes, and decoded messages -> plain objects,
// walking the message types of the contract. On the way in it converts every
// google.protobuf.Value / Struct field from plain JS, a Date for a Timestamp, and refuses
// unknown field names, unknown enum names and scalars of the wrong type or range (grpc-js would
// drop the first, send the second as 0, UNSPECIFIED, and coerce the third). On the way out
// Values become plain JS and Timestamps Dates. Pure.
import protobuf from 'protobufjs';
import { root } from './proto.js';
import { fromStruct, fromValue, toStruct, toValue } from './values.js';

// A value as an error message shows it (JSON.stringify throws on a bigint).
const show = (value) =>
  typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
const join = (path, name) => (path ? `${path}.${name}` : name);
const camelCase = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** The enum `enumName` (e.g. 'batchd.v1.Aggregation') as a protobufjs Enum; throws if unknown. */
export function enumType(enumName) {
  return root.lookupEnum(enumName);
}

/**
 * `name` when it is a value of the enum `enumName` (a number is mapped to its name), else a
 * TypeError listing the names: `checkEnum('batchd.v1.Aggregation', 'ORDERED')` throws,
 * `checkEnum('batchd.v1.Aggregation', 'AGGREGATION_ORDERED')` returns it.
 */
export function checkEnum(enumName, name, path = enumName) {
  return enumNameOf(enumType(enumName), name, path);
}

function enumNameOf(type, name, path) {
  if (typeof name === 'number' && type.valuesById[name] !== undefined) return type.valuesById[name];
  if (typeof name === 'string' && Object.hasOwn(type.values, name)) return name;
  throw new TypeError(
    `${path}: ${show(name)} is not a ${type.fullName.slice(1)} ` +
      `(one of ${Object.keys(type.values).join(', ')})`,
  );
}

function toTimestamp(value, path) {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    if (value && typeof value === 'object' && 'seconds' in value) return value;
    throw new TypeError(`${path}: expected a Date for a google.protobuf.Timestamp`);
  }
  const ms = value.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (((ms % 1000) + 1000) % 1000) * 1e6 };
}

function fromTimestamp(value) {
  if (value == null) return null;
  return new Date(Number(value.seconds) * 1000 + Math.floor((value.nanos ?? 0) / 1e6));
}

// protobufjs would coerce a wrong scalar silently (-1 for a uint32 becomes 4294967295, '5'
// for a double 5, 'x' 0): each must already be of its type and in its range.
const int32Ranges = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  sint32: [-(2 ** 31), 2 ** 31 - 1],
  sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  fixed32: [0, 2 ** 32 - 1],
};
const int64Types = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

function isScalarOf(kind, value) {
  if (kind === 'string') return typeof value === 'string';
  if (kind === 'bool') return typeof value === 'boolean';
  if (kind === 'double' || kind === 'float') return typeof value === 'number';
  if (kind === 'bytes') return typeof value === 'string' || value instanceof Uint8Array;
  if (kind in int32Ranges) {
    const [min, max] = int32Ranges[kind];
    return Number.isInteger(value) && value >= min && value <= max;
  }
  // 64-bit: a safe integer or a decimal string (answers carry them as strings).
  const integer =
    Number.isSafeInteger(value) || (typeof value === 'string' && /^-?\d+$/.test(value));
  const unsigned = kind === 'uint64' || kind === 'fixed64';
  return integer && !(unsigned && String(value).startsWith('-'));
}

function checkScalar(field, value, path) {
  if (typeof value === 'bigint' && int64Types.has(field.type)) value = value.toString();
  if (!isScalarOf(field.type, value)) {
    throw new TypeError(`${path}: ${show(value)} is not a ${field.type}`);
  }
  return value;
}

function encodeSingle(field, value, path) {
  const type = field.resolvedType;
  if (type instanceof protobuf.Enum) return enumNameOf(type, value, path);
  if (type === null) return checkScalar(field, value, path);
  switch (type.fullName) {
    case '.google.protobuf.Value':
      return toValue(value, path);
    case '.google.protobuf.Struct':
      return toStruct(value, path);
    case '.google.protobuf.Timestamp':
      return toTimestamp(value, path);
    default:
      return encodeMessage(type, value, path);
  }
}

function encodeMessage(type, object, path) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw new TypeError(`${path || type.name}: expected an object for ${type.fullName.slice(1)}`);
  }
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    const field = type.fields[key] ?? type.fields[camelCase(key)];
    if (!field) {
      throw new TypeError(
        `${path || type.name}: ${type.fullName.slice(1)} has no field '${key}' ` +
          `(fields: ${type.fieldsArray.map((f) => f.name).join(', ')})`,
      );
    }
    if (value === undefined) continue;
    const where = join(path, field.name);
    if (field.map) {
      out[field.name] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          encodeSingle(field, v, `${where}[${JSON.stringify(k)}]`),
        ]),
      );
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new TypeError(`${where}: expected an array`);
      out[field.name] = value.map((v, i) => encodeSingle(field, v, `${where}[${i}]`));
    } else {
      out[field.name] = encodeSingle(field, value, where);
    }
  }
  return out;
}

function decodeSingle(field, value) {
  const type = field.resolvedType;
  if (type === null || type instanceof protobuf.Enum || value == null) return value;
  switch (type.fullName) {
    case '.google.protobuf.Value':
      return fromValue(value);
    case '.google.protobuf.Struct':
      return fromStruct(value);
    case '.google.protobuf.Timestamp':
      return fromTimestamp(value);
    default:
      return decodeMessage(type, value);
  }
}

function decodeMessage(type, message) {
  const out = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (value === undefined) continue;
    if (field.map) {
      out[field.name] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, decodeSingle(field, v)]),
      );
    } else if (field.repeated) {
      out[field.name] = value.map((v) => decodeSingle(field, v));
    } else {
      out[field.name] = decodeSingle(field, value);
    }
  }
  return out;
}

/**
 * The request `object` of message type `typeName` (e.g. 'batchd.v1.SubmitBatchRequest') made
 * ready for grpc-js. Field names in camelCase or snake_case. Throws TypeError with the path of
 * an unknown field, an unknown enum name, a scalar of the wrong type or range, or a value
 * without a JSON form.
 */
export function toMessage(typeName, object) {
  const type = root.lookupType(typeName);
  return encodeMessage(type, object ?? {}, '');
}

/** A message of type `typeName` as grpc-js decoded it, with plain values (see above). */
export function fromMessage(typeName, message) {
  return decodeMessage(root.lookupType(typeName), message);
}
