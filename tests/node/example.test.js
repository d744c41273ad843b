// client/node/examples/pipeline.js run as a user runs it, against $BATCHD_ADDR: its DAG over
// echo, sleep and its own Node worker executor, followed with StreamResults, in id order.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const example = fileURLToPath(new URL('../../client/node/examples/pipeline.js', import.meta.url));

test('the pipeline example prints every result and a successful summary', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [example, process.env.BATCHD_ADDR],
    {
      timeout: 60000,
    },
  );
  const lines = stdout.trim().split('\n');
  assert.match(
    lines[0],
    /^batch [0-9a-f]+: layers \[\["fetch","wait"\],\["shout"\],\["report"\]\]$/,
  );
  // "task <id> <state> <output as JSON>" (object keys in any order: a Struct is a map).
  const tasks = lines.slice(1, -1).map((line) => {
    const [, id, state, output] = line.match(/^task (\S+) (\S+) (.*)$/);
    return [id, state, JSON.parse(output)];
  });
  assert.deepEqual(tasks, [
    ['fetch', 'TASK_STATE_SUCCEEDED', { text: 'hello from node' }],
    ['report', 'TASK_STATE_SUCCEEDED', { done: true, tags: ['a', 1, null] }],
    ['shout', 'TASK_STATE_SUCCEEDED', { text: 'HELLO FROM NODE', attempt: 0 }],
    ['wait', 'TASK_STATE_SUCCEEDED', { slept_ms: 50 }],
  ]);
  assert.equal(lines.at(-1), 'summary BATCH_STATE_SUCCEEDED 4/4');
});
