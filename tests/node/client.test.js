// The Node client against a real batchd ($BATCHD_ADDR, started by run_node_test.sh): a DAG
// over echo and sleep streamed in order, plain objects through echo and sleep (and what grpc-js
// alone makes of them), enum names checked before sending, BadRequest details decoded.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  BatchdClient,
  BatchdError,
  BatchService,
  fieldViolations,
  fromValue,
  grpc,
} from '../../client/node/index.js';

const address = process.env.BATCHD_ADDR;
assert.ok(address, 'BATCHD_ADDR must name the daemon under test');
const client = new BatchdClient(address);
const raw = new BatchService(address, grpc.credentials.createInsecure());
after(() => {
  client.close();
  raw.close();
});

// ProcessBatch through the bare grpc-js stub, as a user without the helpers writes it.
const rawProcess = (request) =>
  new Promise((resolve, reject) =>
    raw.ProcessBatch(request, (error, answer) => (error ? reject(error) : resolve(answer))),
  );

test('a DAG over echo and sleep: every result, in id order, dependencies first', async () => {
  const { batchId, layers } = await client.submitBatch({
    tasks: [
      { id: 'd', executor: 'echo', input: { joined: true }, dependencies: ['b', 'c'] },
      { id: 'a', executor: 'sleep', input: { ms: 100 } },
      { id: 'c', executor: 'sleep', input: 30, dependencies: ['a'] },
      { id: 'b', executor: 'echo', input: ['from', 'b'], dependencies: ['a'] },
      { id: 'e', executor: 'echo', input: 'independent', priority: 5 },
    ],
    options: { maxConcurrent: 4, aggregation: 'AGGREGATION_ORDERED' },
  });
  assert.match(batchId, /^[0-9a-f]+$/);
  assert.deepEqual(
    layers.map((layer) => layer.taskIds),
    [['a', 'e'], ['c', 'b'], ['d']],
  );

  const results = [];
  const sequences = [];
  let summary = null;
  for await (const message of client.streamResults({ batchId })) {
    results.push(...message.results);
    if (message.results.length) sequences.push(Number(message.sequence));
    if (message.summary) summary = message.summary;
  }
  assert.deepEqual(
    results.map((r) => r.taskId),
    ['a', 'b', 'c', 'd', 'e'],
  );
  assert.deepEqual(
    results.map((r) => [r.state, r.output]),
    [
      ['TASK_STATE_SUCCEEDED', { slept_ms: 100 }],
      ['TASK_STATE_SUCCEEDED', ['from', 'b']],
      ['TASK_STATE_SUCCEEDED', { slept_ms: 30 }],
      ['TASK_STATE_SUCCEEDED', { joined: true }],
      ['TASK_STATE_SUCCEEDED', 'independent'],
    ],
  );
  assert.deepEqual(
    sequences,
    [...sequences].sort((x, y) => x - y),
  );
  assert.equal(sequences.at(-1), 5);
  const byId = Object.fromEntries(results.map((r) => [r.taskId, r]));
  assert.ok(byId.a.finishedAt instanceof Date);
  for (const [task, dependency] of [
    ['b', 'a'],
    ['c', 'a'],
    ['d', 'b'],
    ['d', 'c'],
  ]) {
    assert.ok(
      byId[task].startedAt >= byId[dependency].finishedAt,
      `${task} started before ${dependency} finished`,
    );
  }
  assert.equal(summary.state, 'BATCH_STATE_SUCCEEDED');
  assert.equal(summary.successfulCount, 5);

  // Reading again after sequence 3 gives only the rest.
  const rest = [];
  for await (const message of client.streamResults({ batchId, afterSequence: 3 }))
    rest.push(...message.results);
  assert.deepEqual(
    rest.map((r) => r.taskId),
    ['d', 'e'],
  );
});

test('a plain object through echo comes back as it went; sleep reads its plain {ms}', async () => {
  const value = {
    text: 'ü',
    n: 1.25,
    i: 7,
    yes: true,
    none: null,
    list: [1, [2], { three: 3 }],
    empty: {},
    emptyList: [],
  };
  const { summary } = await client.processBatch({
    tasks: [
      { id: 'echo', executor: 'echo', input: value },
      { id: 'sleep', executor: 'sleep', input: { ms: 10 } },
    ],
    options: { aggregation: 'AGGREGATION_ORDERED' },
  });
  assert.deepEqual(
    summary.results.map((r) => [r.taskId, r.success, r.output]),
    [
      ['echo', true, value],
      ['sleep', true, { slept_ms: 10 }],
    ],
  );
});

test('the trap, with the bare stub: a plain object input arrives as null', async () => {
  const { summary } = await rawProcess({
    tasks: [
      { id: 'echo', executor: 'echo', input: { hello: 'world' } },
      { id: 'sleep', executor: 'sleep', input: { ms: 10 } },
    ],
    options: { aggregation: 'AGGREGATION_ORDERED' },
  });
  const [echo, sleep] = summary.results;
  assert.equal(echo.success, true);
  assert.equal(fromValue(echo.output), null);
  assert.equal(sleep.success, false);
  assert.match(sleep.error, /^sleep: input\.ms must be a whole number/);
});

test('a wrong enum name throws and nothing is submitted', async () => {
  const before = (await client.listBatches()).batches.length;
  await assert.rejects(
    client.submitBatch({ tasks: [{ id: 'a' }], options: { aggregation: 'ORDERED' } }),
    {
      name: 'TypeError',
      message: /^options\.aggregation: "ORDERED" is not a batchd\.v1\.Aggregation/,
    },
  );
  assert.equal((await client.listBatches()).batches.length, before);
});

test('a bad request: INVALID_ARGUMENT with the BadRequest field violations decoded', async () => {
  const request = {
    tasks: [
      { id: 'a', dependencies: ['x'] },
      { id: 'b', dependencies: ['y'] },
    ],
  };
  const expected = [
    { field: 'tasks[0].dependencies[0]', description: "Unknown dependency 'x' of task 'a'" },
    { field: 'tasks[1].dependencies[0]', description: "Unknown dependency 'y' of task 'b'" },
  ];
  const error = await client.submitBatch(request).then(
    () => assert.fail('an unknown dependency was accepted'),
    (e) => e,
  );
  assert.ok(error instanceof BatchdError);
  assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(error.codeName, 'INVALID_ARGUMENT');
  assert.match(error.details, /^Unknown dependency 'x' of task 'a'/);
  assert.deepEqual(error.fieldViolations, expected);

  // The same from a bare grpc-js error.
  const rawError = await rawProcess(request).then(
    () => assert.fail('accepted'),
    (e) => e,
  );
  assert.equal(rawError.code, grpc.status.INVALID_ARGUMENT);
  assert.deepEqual(fieldViolations(rawError), expected);

  const cycle = await client
    .resolveExecutionOrder({
      tasks: [
        { id: 'a', dependencies: ['b'] },
        { id: 'b', dependencies: ['a'] },
      ],
    })
    .then(
      () => assert.fail('a cycle was accepted'),
      (e) => e,
    );
  assert.deepEqual(cycle.fieldViolations, [
    { field: 'tasks[1].dependencies[0]', description: 'Circular dependency: a -> b -> a' },
  ]);
});

test('a NOT_FOUND batch rejects with a BatchdError without violations, streams too', async () => {
  const error = await client.getBatch({ batchId: 'ffffffff00000000' }).then(
    () => assert.fail('found'),
    (e) => e,
  );
  assert.equal(error.codeName, 'NOT_FOUND');
  assert.deepEqual(error.fieldViolations, []);
  await assert.rejects(
    async () => {
      for await (const message of client.streamResults({ batchId: 'ffffffff00000000' }))
        assert.fail(`read ${message}`);
    },
    { name: 'BatchdError', codeName: 'NOT_FOUND' },
  );
});

test('breaking off a result stream early cancels it', async () => {
  const { batchId } = await client.submitBatch({
    tasks: [
      { id: 'quick', executor: 'echo', input: 1 },
      { id: 'slow', executor: 'sleep', input: { ms: 60000 } },
    ],
    options: { aggregation: 'AGGREGATION_STREAMING' },
  });
  for await (const message of client.streamResults({ batchId })) {
    assert.deepEqual(
      message.results.map((r) => r.taskId),
      ['quick'],
    );
    break;
  }
  const { progress } = await client.cancelBatch({ batchId, reason: 'test over' });
  assert.equal(progress.batchId, batchId);
});
