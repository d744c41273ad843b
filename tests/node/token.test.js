// The Node client and worker against a batchd that requires a bearer token
// (--auth-token-file=$BATCHD_TOKEN_FILE): the `token` option is sent on every call and on the
// worker stream; without it calls fail UNAUTHENTICATED.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BatchdClient, Worker } from '../../client/node/index.js';

const address = process.env.BATCHD_ADDR;
const token = readFileSync(process.env.BATCHD_TOKEN_FILE, 'utf8').trim();

test('without the token: UNAUTHENTICATED', async () => {
  const client = new BatchdClient(address);
  try {
    await assert.rejects(client.listExecutors(), {
      name: 'BatchdError',
      codeName: 'UNAUTHENTICATED',
      details: 'missing or invalid bearer token',
    });
  } finally {
    client.close();
  }
});

test('with the token: a worker registers and a batch runs on it', async () => {
  const client = new BatchdClient(address, { token });
  const worker = new Worker(address, {
    token,
    executors: ['node.test.token'],
    handler: (task) => task.input * 2,
  });
  try {
    await worker.start();
    const { summary } = await client.processBatch({
      tasks: [{ id: 'a', executor: 'node.test.token', input: 21 }],
    });
    assert.deepEqual(
      summary.results.map((r) => [r.state, r.output]),
      [['TASK_STATE_SUCCEEDED', 42]],
    );
  } finally {
    await worker.stop();
    client.close();
  }
});
