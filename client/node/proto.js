// The batchd contract loaded from the repository's .proto files at run time: grpc-js service
// constructors (through @grpc/proto-loader) and a protobufjs Root of the same files for
// reflection (field types, enum names) and for decoding error details. Loaded once per process.
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const protoDir = fileURLToPath(new URL('../../proto', import.meta.url));
const files = [
  'batchd/v1/batch_service.proto',
  'batchd/v1/cache_service.proto',
  'batchd/v1/limit_service.proto',
  'batchd/v1/worker_service.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];

// camelCase field names, enums as their names, 64-bit integers as strings, every field present
// in decoded messages, and the set member of a oneof named (Value's `kind`).
export const loaderOptions = {
  keepCase: false,
  enums: String,
  longs: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDir],
};

export const packageDefinition = protoLoader.loadSync(files, loaderOptions);
export const { BatchService, WorkerService } =
  grpc.loadPackageDefinition(packageDefinition).batchd.v1;

function loadRoot() {
  const root = new protobuf.Root();
  // google/protobuf/*.proto come bundled with protobufjs; the rest from proto/.
  root.resolvePath = (_origin, target) => `${protoDir}/${target}`;
  root.loadSync(files, { keepCase: false });
  return root.resolveAll();
}

export const root = loadRoot();
