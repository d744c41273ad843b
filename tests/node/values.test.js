// The Node client's conversions without a daemon: plain JS <-> google.protobuf.Value, request
// checks (unknown enum names and fields throw), and what grpc-js alone would have sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BatchService,
  checkEnum,
  fromMessage,
  fromValue,
  toMessage,
  toValue,
  WorkerService,
} from '../../client/node/index.js';

const submit = BatchService.service.SubmitBatch;
// What goes over the wire for `request`, read back as the daemon would see it.
const wire = (request) => submit.requestDeserialize(submit.requestSerialize(request));

test('plain values survive toValue, the wire and fromValue', () => {
  const value = {
    s: 'text',
    n: 1.5,
    i: -42,
    b: false,
    z: null,
    list: [1, 'two', { three: 3 }, []],
    empty: {},
    nested: { deep: { deeper: ['x'] } },
    __proto__key: 1,
  };
  const sent = wire({ tasks: [{ id: 'a', input: toValue(value) }] });
  assert.deepEqual(fromValue(sent.tasks[0].input), value);
  for (const scalar of [null, true, 0, -0.25, '', 'ü']) {
    assert.equal(fromValue(wire({ tasks: [{ input: toValue(scalar) }] }).tasks[0].input), scalar);
  }
  assert.deepEqual(toValue({ kept: 1, dropped: undefined }), {
    structValue: { fields: { kept: { numberValue: 1 } } },
  });
  assert.equal(toValue(new Date(0)).stringValue, '1970-01-01T00:00:00.000Z');
  assert.equal(toValue(12n).numberValue, 12);
  // A key named __proto__ (JSON.parse makes it an own property) stays data, not a prototype.
  const hostile = JSON.parse('{"__proto__": {"polluted": true}}');
  const back = fromValue(wire({ tasks: [{ input: toValue(hostile) }] }).tasks[0].input);
  assert.deepEqual(Object.keys(back), ['__proto__']);
  assert.equal(back.polluted, undefined);
  assert.equal({}.polluted, undefined);
});

test('the trap: grpc-js alone sends a plain object for a Value as an empty Value', () => {
  const sent = wire({ tasks: [{ id: 'a', input: { ms: 100 } }] });
  assert.equal(sent.tasks[0].input.kind, undefined);
  assert.equal(fromValue(sent.tasks[0].input), null);
  const converted = wire(
    toMessage('batchd.v1.SubmitBatchRequest', { tasks: [{ id: 'a', input: { ms: 100 } }] }),
  );
  assert.deepEqual(fromValue(converted.tasks[0].input), { ms: 100 });
});

test('toValue refuses what has no JSON form, naming where', () => {
  const cases = [
    [{ a: [1, NaN] }, 'value.a[1]: NaN is not a JSON number'],
    [{ a: Infinity }, 'value.a: Infinity is not a JSON number'],
    [[undefined], 'value[0]: undefined is not JSON-representable'],
    [{ m: new Map() }, 'value.m: a Map is not JSON-representable'],
    [() => 1, 'value: a function is not JSON-representable'],
    [2n ** 60n, 'value: 1152921504606846976 does not fit a JSON number exactly'],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => toValue(value), { name: 'TypeError', message });
  }
  let deep = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  assert.throws(() => toValue(deep), /nested deeper than 64 levels/);
});

test('the trap: grpc-js alone turns an unknown enum name into UNSPECIFIED', () => {
  assert.equal(
    wire({ options: { aggregation: 'ORDERED' } }).options.aggregation,
    'AGGREGATION_UNSPECIFIED',
  );
});

test('an unknown enum name or field throws before anything is sent', () => {
  assert.throws(
    () => toMessage('batchd.v1.SubmitBatchRequest', { options: { aggregation: 'ORDERED' } }),
    {
      name: 'TypeError',
      message:
        'options.aggregation: "ORDERED" is not a batchd.v1.Aggregation (one of AGGREGATION_UNSPECIFIED, ' +
        'AGGREGATION_ORDERED, AGGREGATION_UNORDERED, AGGREGATION_STREAMING, AGGREGATION_PRIORITY)',
    },
  );
  assert.throws(
    () =>
      toMessage('batchd.v1.SubmitBatchRequest', {
        tasks: [{ id: 'a', retryPolicy: { kind: 'FIXED' } }],
      }),
    /^TypeError: tasks\[0\]\.retryPolicy\.kind: "FIXED" is not a batchd\.v1\.RetryKind/,
  );
  assert.throws(
    () => toMessage('batchd.v1.SubmitBatchRequest', { options: { maxConcurency: 2 } }),
    {
      message:
        "options: batchd.v1.BatchOptions has no field 'maxConcurency' (fields: maxConcurrent, timeoutMs, " +
        'retryPolicy, aggregation, loadBalancer, onDependencyFailure, waitForWorkers, defaultLimits, allowUnknownLimits, queueTimeoutMs, defaultCache, open, closeAfterIdleMs)',
    },
  );
  assert.throws(() => toMessage('batchd.v1.SubmitBatchRequest', { tasks: { id: 'a' } }), {
    message: 'tasks: expected an array',
  });
  const scalars = [
    [{ options: { maxConcurrent: -1 } }, 'options.maxConcurrent: -1 is not a uint32'],
    [{ options: { timeoutMs: '100' } }, 'options.timeoutMs: "100" is not a uint32'],
    [{ options: { maxConcurrent: 2 ** 32 } }, 'options.maxConcurrent: 4294967296 is not a uint32'],
    [{ tasks: [{ id: 7 }] }, 'tasks[0].id: 7 is not a string'],
    [{ tasks: [{ id: 'a', timeoutMs: 5n }] }, 'tasks[0].timeoutMs: 5n is not a uint32'],
    [{ tasks: [{ id: 'a', priority: 'high' }] }, 'tasks[0].priority: "high" is not a double'],
    [{ options: { waitForWorkers: 'yes' } }, 'options.waitForWorkers: "yes" is not a bool'],
  ];
  for (const [request, message] of scalars) {
    assert.throws(() => toMessage('batchd.v1.SubmitBatchRequest', request), { message });
  }
  // NaN is a double: the daemon, not the client, says a priority must be finite.
  assert.ok(Number.isNaN(toMessage('batchd.v1.Task', { priority: NaN }).priority));
  assert.equal(
    toMessage('batchd.v1.StreamResultsRequest', { afterSequence: 2n ** 60n }).afterSequence,
    '1152921504606846976',
  );
  assert.throws(() => toMessage('batchd.v1.StreamResultsRequest', { afterSequence: '-1' }), {
    message: 'afterSequence: "-1" is not a uint64',
  });
  assert.equal(checkEnum('batchd.v1.Aggregation', 'AGGREGATION_PRIORITY'), 'AGGREGATION_PRIORITY');
  assert.equal(checkEnum('batchd.v1.Aggregation', 1), 'AGGREGATION_ORDERED');
  assert.throws(() => checkEnum('batchd.v1.Aggregation', 9), /9 is not a batchd\.v1\.Aggregation/);
});

test('snake_case names, maps of Values and Timestamps convert both ways', () => {
  const message = toMessage('batchd.v1.TaskAssignment', {
    assignment_id: 'x',
    dependency_outputs: { a: { n: 1 }, b: 'text' },
    deadline: new Date(1500),
  });
  assert.deepEqual(message.dependencyOutputs.b, { stringValue: 'text' });
  assert.deepEqual(message.deadline, { seconds: 1, nanos: 500000000 });
  const connect = WorkerService.service.Connect;
  const decoded = fromMessage(
    'batchd.v1.ConnectResponse',
    connect.responseDeserialize(connect.responseSerialize({ assignments: [message] })),
  );
  const [assignment] = decoded.assignments;
  assert.deepEqual(assignment.dependencyOutputs, { a: { n: 1 }, b: 'text' });
  assert.equal(assignment.deadline.getTime(), 1500);
  assert.equal(assignment.input, null);
});
