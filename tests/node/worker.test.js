// A Node callback worker (client/node/worker.js) against a real batchd ($BATCHD_ADDR, started
// with --worker-heartbeat-interval=300ms --worker-cancel-grace=20s): it registers an executor,
// runs a batch's tasks with plain inputs and dependency outputs within its slots, fails tasks
// it throws on, stops work the daemon cancels and answers it with an ack (else the slot would
// stay held for the 20 s grace), and its heartbeats keep it registered through a long task.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchdClient, TaskError, Worker } from '../../client/node/index.js';

const address = process.env.BATCHD_ADDR;
assert.ok(address, 'BATCHD_ADDR must name the daemon under test');
const client = new BatchdClient(address);
after(() => client.close());

async function withWorker(options, body) {
  const worker = new Worker(address, options);
  await worker.start();
  try {
    return await body(worker);
  } finally {
    await worker.stop();
  }
}

test('a batch using a Node worker executor: outputs, worker ids, dependency outputs', async () => {
  let running = 0;
  let mostRunning = 0;
  const handler = async (task) => {
    running += 1;
    mostRunning = Math.max(mostRunning, running);
    await sleep(20);
    running -= 1;
    const upstream = task.dependencies.map((id) => task.dependencyOutputs[id].word);
    return {
      word: [...upstream, task.input.word].join(' ').toUpperCase(),
      executor: task.executor,
    };
  };
  await withWorker(
    { name: 'node-test', executors: ['node.test.upper'], slots: 2, handler },
    async (worker) => {
      assert.match(worker.workerId, /node-test/);
      const executors = (await client.listExecutors()).executors;
      assert.deepEqual(
        executors
          .filter((e) => e.name === 'node.test.upper')
          .map(({ kind, workers }) => ({ kind, workers })),
        [{ kind: 'worker', workers: 1 }],
      );
      const words = ['one', 'two', 'three', 'four', 'five'];
      const { summary } = await client.processBatch({
        tasks: [
          ...words.map((word, i) => ({
            id: `w${i}`,
            executor: 'node.test.upper',
            input: { word },
          })),
          {
            id: 'x',
            executor: 'node.test.upper',
            input: { word: 'last' },
            dependencies: ['w0', 'w1'],
          },
          { id: 'y', executor: 'echo', input: { plain: [1, 2] }, dependencies: ['x'] },
        ],
        options: { maxConcurrent: 8, aggregation: 'AGGREGATION_ORDERED' },
      });
      assert.equal(summary.state, 'BATCH_STATE_SUCCEEDED');
      assert.deepEqual(
        summary.results.map((r) => [r.taskId, r.output]),
        [
          ['w0', { word: 'ONE', executor: 'node.test.upper' }],
          ['w1', { word: 'TWO', executor: 'node.test.upper' }],
          ['w2', { word: 'THREE', executor: 'node.test.upper' }],
          ['w3', { word: 'FOUR', executor: 'node.test.upper' }],
          ['w4', { word: 'FIVE', executor: 'node.test.upper' }],
          ['x', { word: 'ONE TWO LAST', executor: 'node.test.upper' }],
          ['y', { plain: [1, 2] }],
        ],
      );
      for (const result of summary.results.slice(0, 6)) {
        assert.equal(result.workerId, worker.workerId);
      }
      assert.equal(mostRunning, 2, 'the daemon sends at most `slots` assignments at once');
    },
  );
});

test('a handler that throws fails its task; TaskError({nonRetryable}) is not retried', async () => {
  const attempts = { flaky: 0, fatal: 0 };
  const handler = async (task) => {
    attempts[task.taskId] += 1;
    if (task.taskId === 'fatal') {
      throw new TaskError('bad input, do not retry', { nonRetryable: true });
    }
    if (task.attempt < 1) throw new Error('transient');
    return { attempt: task.attempt };
  };
  await withWorker({ name: 'node-fail', executors: ['node.test.fail'], handler }, async () => {
    const { summary } = await client.processBatch({
      tasks: [
        { id: 'fatal', executor: 'node.test.fail' },
        { id: 'flaky', executor: 'node.test.fail' },
      ],
      options: {
        aggregation: 'AGGREGATION_ORDERED',
        retryPolicy: { kind: 'RETRY_KIND_FIXED', maxRetries: 2, initialDelayMs: 10 },
      },
    });
    assert.deepEqual(
      summary.results.map((r) => [r.taskId, r.state, r.error, r.retryCount, r.output]),
      [
        ['fatal', 'TASK_STATE_FAILED', 'bad input, do not retry', 0, null],
        ['flaky', 'TASK_STATE_SUCCEEDED', '', 1, { attempt: 1 }],
      ],
    );
    assert.deepEqual(attempts, { fatal: 1, flaky: 2 });
  });
});

test('a timeout cancels the assignment: the handler sees its signal abort', async () => {
  let aborted = null;
  const handler = (task, { signal }) =>
    new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => {
        aborted = task.taskId;
        reject(signal.reason);
      });
    });
  await withWorker({ name: 'node-slow', executors: ['node.test.slow'], handler }, async () => {
    const { summary } = await client.processBatch({
      tasks: [{ id: 'slow', executor: 'node.test.slow', timeoutMs: 300 }],
    });
    const [result] = summary.results;
    assert.equal(result.state, 'TASK_STATE_TIMED_OUT');
    assert.equal(result.error, 'Timeout after 300 ms');
    assert.equal(aborted, 'slow');
  });
});

test('a cancelled task frees its slot at once: the handler stops, its reply and ack go back', async () => {
  const handler = (task, { signal }) =>
    task.taskId === 'slow'
      ? new Promise((resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        )
      : { ran: task.taskId };
  await withWorker(
    { name: 'node-ack', executors: ['node.test.ack'], slots: 1, handler },
    async () => {
      const started = Date.now();
      const { summary } = await client.processBatch({
        tasks: [
          { id: 'slow', executor: 'node.test.ack', timeoutMs: 200, priority: 1 },
          { id: 'next', executor: 'node.test.ack' },
        ],
        options: { aggregation: 'AGGREGATION_ORDERED' },
      });
      assert.deepEqual(
        summary.results.map((r) => [r.taskId, r.state, r.output]),
        [
          ['next', 'TASK_STATE_SUCCEEDED', { ran: 'next' }],
          ['slow', 'TASK_STATE_TIMED_OUT', null],
        ],
      );
      assert.ok(
        Date.now() - started < 5000,
        `took ${Date.now() - started} ms: the cancelled work was not answered`,
      );
    },
  );
});

test('heartbeats keep a worker registered through a task of many intervals', async () => {
  const handler = async () => {
    await sleep(2000); // 6.7 heartbeat intervals; silent for 3 and the daemon drops the worker
    return 'done';
  };
  await withWorker(
    { name: 'node-beat', executors: ['node.test.beat'], handler },
    async (worker) => {
      const { summary } = await client.processBatch({
        tasks: [{ id: 'long', executor: 'node.test.beat' }],
      });
      assert.deepEqual(
        summary.results.map((r) => [r.state, r.output, r.retryCount, r.workerId]),
        [['TASK_STATE_SUCCEEDED', 'done', 0, worker.workerId]],
      );
    },
  );
});

test('a registration the daemon refuses rejects start()', async () => {
  const worker = new Worker(address, { executors: [], handler: () => null });
  await assert.rejects(worker.start(), {
    name: 'BatchdError',
    codeName: 'INVALID_ARGUMENT',
    message: 'INVALID_ARGUMENT: registration.executors must name at least one executor',
  });
  await worker.stop();
});
