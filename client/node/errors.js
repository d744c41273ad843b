// Errors of batchd calls: BatchdError carries the gRPC code and the field violations of the
// google.rpc.BadRequest the daemon attaches to INVALID_ARGUMENT (in the
// `grpc-status-details-bin` trailer, a serialized google.rpc.Status whose details are Anys).
import grpc from '@grpc/grpc-js';
import { root } from './proto.js';

const Status = root.lookupType('google.rpc.Status');
const BadRequest = root.lookupType('google.rpc.BadRequest');
const codeNames = Object.fromEntries(
  Object.entries(grpc.status).map(([name, code]) => [code, name]),
);

/**
 * The google.rpc.Status in the trailers of a grpc-js error (`error.metadata`), as
 * {code, message, details: [{typeUrl, value: Buffer}]}; null when there is none.
 */
export function statusDetails(error) {
  const [bytes] = error?.metadata?.get?.('grpc-status-details-bin') ?? [];
  if (!bytes) return null;
  const status = Status.decode(bytes);
  // protobufjs bundles google.protobuf.Any with its proto field names (type_url).
  const details = status.details.map((any) => ({ typeUrl: any.type_url, value: any.value }));
  return { code: status.code, message: status.message, details };
}

/**
 * The field violations ({field, description}) of the google.rpc.BadRequest details of a
 * grpc-js error or a BatchdError, in the daemon's order; [] when it has none.
 */
export function fieldViolations(error) {
  if (error instanceof BatchdError) return error.fieldViolations;
  const violations = [];
  for (const detail of statusDetails(error)?.details ?? []) {
    if (detail.typeUrl.endsWith('/google.rpc.BadRequest')) {
      const badRequest = BadRequest.decode(detail.value);
      violations.push(
        ...badRequest.fieldViolations.map(({ field, description }) => ({ field, description })),
      );
    }
  }
  return violations;
}

/** A failed batchd call: `code` (grpc.status number), `codeName`, the daemon's `details`. */
export class BatchdError extends Error {
  constructor(error) {
    const codeName = codeNames[error.code] ?? 'UNKNOWN';
    super(`${codeName}: ${error.details ?? error.message}`, { cause: error });
    this.name = 'BatchdError';
    this.code = error.code;
    this.codeName = codeName;
    this.details = error.details ?? error.message;
    this.fieldViolations = fieldViolations(error);
  }
}
