// BatchdClient: batchd.v1.BatchService with plain JavaScript in and out. Every method takes the
// request as a plain object (camelCase or snake_case field names, task inputs as any JSON-like
// value, enums by their full names) and checks it before anything is sent; answers come back
// with outputs as plain values and timestamps as Dates. Failed calls reject with BatchdError.
import { makeStub, defaultAddress } from './channel.js';
import { BatchdError } from './errors.js';
import { fromMessage, toMessage } from './messages.js';
import { BatchService, root } from './proto.js';

const lowerFirst = (name) => name[0].toLowerCase() + name.slice(1);

export class BatchdClient {
  /**
   * @param {string} [address] "host:port" or "unix:/path"; default $BATCHD_ADDR, else
   *   127.0.0.1:50051.
   * @param {{token?: string, credentials?: object, channelOptions?: object}} [options]
   *
   * Unary methods (submitBatch, processBatch, getProgress, getBatch, listBatches,
   * cancelBatch, resolveExecutionOrder, assignTasks, listExecutors) return a Promise of the
   * answer; streaming ones (streamResults, watchProgress) an async iterable of messages. Each
   * takes (request, callOptions) where callOptions are grpc-js's ({deadline}).
   */
  constructor(address = defaultAddress(), options = {}) {
    /** The underlying grpc-js client, for what the wrapper does not cover. */
    this.stub = makeStub(BatchService, address, options);
    for (const method of root.lookupService('batchd.v1.BatchService').methodsArray) {
      const call = method.responseStream ? this.#streaming(method) : this.#unary(method);
      this[lowerFirst(method.name)] = call;
    }
  }

  #unary(method) {
    const requestType = method.resolvedRequestType.fullName.slice(1);
    const responseType = method.resolvedResponseType.fullName.slice(1);
    return (request = {}, callOptions = {}) =>
      new Promise((resolve, reject) => {
        this.stub[method.name](toMessage(requestType, request), callOptions, (error, response) =>
          error ? reject(new BatchdError(error)) : resolve(fromMessage(responseType, response)),
        );
      });
  }

  #streaming(method) {
    const requestType = method.resolvedRequestType.fullName.slice(1);
    const responseType = method.resolvedResponseType.fullName.slice(1);
    const stub = this.stub;
    return async function* stream(request = {}, callOptions = {}) {
      const call = stub[method.name](toMessage(requestType, request), callOptions);
      try {
        for await (const message of call) yield fromMessage(responseType, message);
      } catch (error) {
        throw error.code !== undefined ? new BatchdError(error) : error;
      } finally {
        call.cancel(); // a no-op once the call finished; stops it when the reader broke off
      }
    };
  }

  /** Closes the channel; calls in progress fail with CANCELLED. */
  close() {
    this.stub.close();
  }
}
