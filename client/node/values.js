// Plain JavaScript values <-> google.protobuf.Value as @grpc/proto-loader reads and writes it
// ({numberValue: 1}, {structValue: {fields: {...}}}, ...). Pure functions.
//
// grpc-js does not convert a Value field: a plain object given for one is read as a Value
// message with no known fields and sent as an empty Value (the daemon sees null).

// Deeper values are refused: protobuf's own recursion limit is 100.
const maxDepth = 64;

function describe(value) {
  if (value === undefined) return 'undefined';
  if (typeof value !== 'object') return `a ${typeof value}`;
  return `a ${value.constructor?.name ?? 'null-prototype object'}`;
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The google.protobuf.Value of a JSON-like value: null, boolean, finite number, bigint within
 * ±2^53, string, array, plain object (keys with undefined values are left out, as JSON does),
 * or anything with toJSON() (a Date becomes its ISO string). Throws TypeError naming the path
 * of what is not representable.
 */
export function toValue(value, path = 'value', depth = 0) {
  if (depth > maxDepth) throw new TypeError(`${path}: nested deeper than ${maxDepth} levels`);
  if (value === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof value) {
    case 'boolean':
      return { boolValue: value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} is not a JSON number`);
      return { numberValue: value };
    case 'bigint':
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new TypeError(`${path}: ${value} does not fit a JSON number exactly`);
      }
      return { numberValue: Number(value) };
    case 'string':
      return { stringValue: value };
    case 'object':
      break;
    default:
      throw new TypeError(`${path}: ${describe(value)} is not JSON-representable`);
  }
  if (Array.isArray(value)) {
    return {
      listValue: { values: value.map((item, i) => toValue(item, `${path}[${i}]`, depth + 1)) },
    };
  }
  if (typeof value.toJSON === 'function') return toValue(value.toJSON(), path, depth);
  if (!isPlainObject(value)) {
    throw new TypeError(`${path}: ${describe(value)} is not JSON-representable`);
  }
  return { structValue: toStruct(value, path, depth) };
}

/** The google.protobuf.Struct of a plain object (see toValue). */
export function toStruct(object, path = 'value', depth = 0) {
  // Object.fromEntries makes own properties, also of a key named "__proto__".
  const entries = Object.entries(object).filter(([, item]) => item !== undefined);
  return {
    fields: Object.fromEntries(
      entries.map(([key, item]) => [key, toValue(item, `${path}.${key}`, depth + 1)]),
    ),
  };
}

/** The plain value of a decoded google.protobuf.Value; an empty or unset Value is null. */
export function fromValue(value) {
  if (value == null) return null;
  const kind = value.kind ?? Object.keys(value).find((key) => value[key] != null);
  switch (kind) {
    case 'boolValue':
    case 'numberValue':
    case 'stringValue':
      return value[kind];
    case 'structValue':
      return fromStruct(value.structValue);
    case 'listValue':
      return (value.listValue.values ?? []).map(fromValue);
    default:
      return null; // nullValue, or no kind at all
  }
}

/** The plain object of a decoded google.protobuf.Struct. */
export function fromStruct(struct) {
  return Object.fromEntries(
    Object.entries(struct?.fields ?? {}).map(([key, item]) => [key, fromValue(item)]),
  );
}
