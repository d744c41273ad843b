// A DAG over the builtin echo and sleep executors and a Node callback worker, followed with
// StreamResults. Run against a daemon: node client/node/examples/pipeline.js [host:port]
//
//   fetch (echo) ──┐
//                  ├─► shout (node.upper, served below) ──► report (echo)
//   wait (sleep) ──┘
import { BatchdClient, BatchdError, Worker } from '../index.js';

const address = process.argv[2] || process.env.BATCHD_ADDR || '127.0.0.1:50051';

// The callback worker: upper-cases the text its dependency `fetch` produced.
const worker = new Worker(address, {
  name: 'node-example',
  executors: ['node.upper'],
  slots: 2,
  handler: async (task) => ({
    text: task.dependencyOutputs.fetch.text.toUpperCase(),
    attempt: task.attempt,
  }),
});

const client = new BatchdClient(address);
try {
  await worker.start();
  const { batchId, layers } = await client.submitBatch({
    tasks: [
      { id: 'fetch', executor: 'echo', input: { text: 'hello from node' } },
      { id: 'wait', executor: 'sleep', input: { ms: 50 } },
      { id: 'shout', executor: 'node.upper', dependencies: ['fetch', 'wait'], timeoutMs: 10000 },
      {
        id: 'report',
        executor: 'echo',
        input: { done: true, tags: ['a', 1, null] },
        dependencies: ['shout'],
      },
    ],
    options: { maxConcurrent: 4, aggregation: 'AGGREGATION_ORDERED' },
    labels: { example: 'node' },
  });
  console.log(`batch ${batchId}: layers ${JSON.stringify(layers.map((layer) => layer.taskIds))}`);

  for await (const message of client.streamResults({ batchId })) {
    for (const result of message.results) {
      console.log(`task ${result.taskId} ${result.state} ${JSON.stringify(result.output)}`);
    }
    if (message.summary) {
      const { state, successfulCount, totalTasks } = message.summary;
      console.log(`summary ${state} ${successfulCount}/${totalTasks}`);
      process.exitCode = state === 'BATCH_STATE_SUCCEEDED' ? 0 : 1;
    }
  }
} catch (error) {
  console.error(
    error instanceof BatchdError
      ? `${error.message} ${JSON.stringify(error.fieldViolations)}`
      : error,
  );
  process.exitCode = 1;
} finally {
  await worker.stop();
  client.close();
}
