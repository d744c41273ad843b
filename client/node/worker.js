// Worker: a callback worker on batchd.v1.WorkerService/Connect. It registers the executors it
// serves, runs each TaskAssignment through an async handler, writes outcomes (several per
// message when they finish together) and cancel acks back, sends heartbeats at half the
// daemon's interval, and reconnects with backoff when the stream breaks (the daemon
// re-dispatches whatever was in flight). The Node counterpart of client/worker/worker_session.h and
// client/python/batchd/worker_session.py.
import grpc from '@grpc/grpc-js';
import { WorkerService, root } from './proto.js';
import { defaultAddress, makeStub } from './channel.js';
import { BatchdError } from './errors.js';
import { fromMessage, toMessage } from './messages.js';

// How long after WritesDone the daemon gets to end the stream before it is cancelled.
const closeGraceMs = 3000;
// Outcomes per message are split above this many bytes (never an outcome).
const maxMessageBytes = 1 << 20;
const TaskOutcome = root.lookupType('batchd.v1.TaskOutcome');

/** Thrown by a handler to fail a task with a retry hint: {nonRetryable, retryAfterMs}. */
export class TaskError extends Error {
  constructor(message, { nonRetryable = false, retryAfterMs = 0 } = {}) {
    super(message);
    this.name = 'TaskError';
    this.nonRetryable = nonRetryable;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Runs `handler` and turns what it returns or throws into a TaskOutcome ready to write. */
async function runHandler(handler, task, signal) {
  let outcome;
  try {
    outcome = { success: true, output: (await handler(task, { signal })) ?? null };
  } catch (error) {
    outcome = {
      success: false,
      error: error instanceof Error ? error.message : String(error),
      nonRetryable: Boolean(error?.nonRetryable),
      retryAfterMs: error?.retryAfterMs ?? 0,
    };
  }
  try {
    return toMessage('batchd.v1.TaskOutcome', outcome);
  } catch (error) {
    // An output without a JSON form (or a bad retry hint) fails its task for good, not the
    // stream.
    return { success: false, error: `outcome: ${error.message}`, nonRetryable: true };
  }
}

export class Worker {
  /**
   * @param {string} [address] as BatchdClient's.
   * @param {object} options `executors` (names served), `handler(task, {signal})` returning
   *   the output (any JSON-like value) or throwing (a TaskError for retry hints); `task` is the
   *   TaskAssignment with `input` and `dependencyOutputs` as plain values; `signal` aborts when
   *   the daemon cancels the assignment (timeout, batch cancelled) or the connection ends.
   *   Also `name`, `slots` (assignments at once, default 1), `weight`, `labels`, `token`,
   *   `credentials`, `channelOptions`, `initialBackoffMs` (100), `maxBackoffMs` (5000).
   */
  constructor(address = defaultAddress(), options = {}) {
    const {
      name = `node-${process.pid}`,
      executors,
      slots = 1,
      weight = 1,
      labels = {},
      handler,
    } = options;
    if (typeof handler !== 'function') {
      throw new TypeError('Worker: options.handler must be a function');
    }
    this.name = name;
    /** The daemon's id for the current registration. */
    this.workerId = '';
    /** Why the worker ended on its own: the daemon refused its registration (a BatchdError). */
    this.error = null;
    this.#handler = handler;
    this.#registration = toMessage('batchd.v1.ConnectRequest', {
      registration: { name, executors, slots, weight, labels },
    });
    this.#stub = makeStub(WorkerService, address, options);
    this.#initialBackoffMs = options.initialBackoffMs ?? 100;
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.#backoffMs = this.#initialBackoffMs;
  }

  #handler;
  #registration;
  #stub;
  #initialBackoffMs;
  #maxBackoffMs;
  #backoffMs;
  #connection = null;
  #reconnectTimer = null;
  #stopping = false;
  #started = null; // {promise, resolve, reject} of the first registration
  #stopped = null; // resolves once the last connection has ended

  /** Connects; resolves once the daemon accepted the registration, rejects if it refused it. */
  start() {
    if (this.#started) return this.#started.promise;
    this.#started = withResolvers();
    this.#stopped = withResolvers();
    this.#connect();
    return this.#started.promise;
  }

  /** Ends the stream cleanly (queued outcomes written, then WritesDone); resolves when done. */
  async stop() {
    if (!this.#started) return;
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    const connection = this.#connection;
    if (connection?.closing) {
      // a stop() before this one ends the stream
    } else if (connection && !connection.ended) {
      if (connection.registered) {
        this.#flush(connection);
        connection.closing = true;
        connection.call.end();
        setTimeout(() => connection.call.cancel(), closeGraceMs).unref();
      } else {
        connection.call.cancel();
      }
    } else {
      this.#stopped.resolve();
    }
    this.#started.reject(new Error(`worker '${this.name}' stopped before it registered`));
    this.#started.promise.catch(() => {});
    await this.#stopped.promise;
    this.#stub.close();
  }

  #connect() {
    const call = this.#stub.Connect();
    const connection = {
      call,
      inFlight: new Map(), // assignment id -> {controller, cancelRequested}
      outcomes: [], // TaskOutcomes waiting to be written
      acks: [], // cancel acks waiting to be written
      flushQueued: false,
      registered: false,
      closing: false, // stop() sent WritesDone: no new work is started
      ended: false,
      heartbeat: null,
    };
    this.#connection = connection;
    call.on('data', (response) =>
      this.#onResponse(connection, fromMessage('batchd.v1.ConnectResponse', response)),
    );
    call.on('error', () => {}); // the 'status' event below handles every ending
    call.on('status', (status) => this.#onEnd(connection, status));
    call.write(this.#registration);
  }

  #onResponse(connection, response) {
    if (!connection.registered) {
      if (!response.registered) {
        connection.call.cancel(); // not batchd's protocol
        return;
      }
      connection.registered = true;
      this.workerId = response.registered.workerId;
      this.#backoffMs = this.#initialBackoffMs;
      const periodMs = Math.max(50, (response.registered.heartbeatIntervalMs || 1000) / 2);
      const heartbeat = () =>
        toMessage('batchd.v1.ConnectRequest', { heartbeat: { sentAt: new Date() } });
      connection.heartbeat = setInterval(() => this.#write(connection, heartbeat()), periodMs);
      this.#started.resolve();
    }
    for (const task of response.assignments) this.#startTask(connection, task);
    for (const { assignmentId, reason } of response.cancels) {
      const entry = connection.inFlight.get(assignmentId);
      if (!entry) {
        connection.acks.push(assignmentId); // already finished: nothing to stop
        this.#queueFlush(connection);
      } else if (!entry.cancelRequested) {
        entry.cancelRequested = true;
        entry.controller.abort(new Error(reason || 'cancelled by batchd'));
      }
    }
  }

  #startTask(connection, task) {
    const { assignmentId } = task;
    // A duplicate, or the worker is closing and the daemon will re-dispatch it.
    if (connection.closing || connection.inFlight.has(assignmentId)) return;
    const entry = { controller: new AbortController(), cancelRequested: false };
    connection.inFlight.set(assignmentId, entry);
    runHandler(this.#handler, task, entry.controller.signal).then((outcome) => {
      if (connection.ended || connection.inFlight.get(assignmentId) !== entry) return;
      connection.inFlight.delete(assignmentId);
      connection.outcomes.push({ ...outcome, assignmentId });
      if (entry.cancelRequested) connection.acks.push(assignmentId);
      this.#queueFlush(connection);
    });
  }

  // Outcomes that finish in the same turn of the event loop go out in one message.
  #queueFlush(connection) {
    if (connection.flushQueued) return;
    connection.flushQueued = true;
    setImmediate(() => this.#flush(connection));
  }

  #flush(connection) {
    connection.flushQueued = false;
    while (connection.outcomes.length || connection.acks.length) {
      const outcomes = [];
      let bytes = 0;
      while (connection.outcomes.length) {
        const size = TaskOutcome.encode(TaskOutcome.fromObject(connection.outcomes[0])).len;
        if (outcomes.length && bytes + size > maxMessageBytes) break;
        bytes += size;
        outcomes.push(connection.outcomes.shift());
      }
      this.#write(connection, { outcomes, cancelAcks: connection.acks.splice(0) });
    }
  }

  // `request` is ready for grpc-js (outcomes are converted when their handler settles).
  #write(connection, request) {
    if (!connection.ended && !connection.call.writableEnded) connection.call.write(request);
  }

  #onEnd(connection, status) {
    connection.ended = true;
    clearInterval(connection.heartbeat);
    // The daemon re-dispatches the work in flight; stop doing it here.
    for (const entry of connection.inFlight.values()) {
      entry.controller.abort(new Error('connection to batchd ended'));
    }
    connection.inFlight.clear();
    if (this.#stopping) {
      this.#stopped.resolve();
      return;
    }
    if (!connection.registered && status.code === grpc.status.INVALID_ARGUMENT) {
      this.#stopping = true; // a rejected registration never succeeds on retry
      this.error = new BatchdError(status);
      this.#started.reject(this.error);
      this.#stopped.resolve();
      return;
    }
    this.#reconnectTimer = setTimeout(() => this.#connect(), this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#maxBackoffMs);
  }
}

function withResolvers() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
