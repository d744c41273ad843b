// batchd from Node.js: a BatchService client and a callback worker taking plain JavaScript,
// and the helpers they are made of (google.protobuf.Value conversion, enum checks, BadRequest
// details). See the "From Node.js" section of the repository's README.
export { BatchdClient } from './client.js';
export { Worker, TaskError } from './worker.js';
export { BatchdError, fieldViolations, statusDetails } from './errors.js';
export { toValue, fromValue, toStruct, fromStruct } from './values.js';
export { checkEnum, toMessage, fromMessage } from './messages.js';
export { BatchService, WorkerService, packageDefinition, loaderOptions } from './proto.js';
// The grpc-js this module uses (grpc.status codes, grpc.credentials for TLS).
export { default as grpc } from '@grpc/grpc-js';
