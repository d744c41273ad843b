// grpc-js client construction shared by BatchdClient and Worker: the address, credentials and
// the bearer token (an interceptor, because grpc-js refuses call credentials on insecure
// channels and the daemon checks the token on plaintext loopback too).
import grpc from '@grpc/grpc-js';

export const defaultAddress = () => process.env.BATCHD_ADDR || '127.0.0.1:50051';

function tokenInterceptor(token) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/**
 * A grpc-js client of `Service` at `address` ("host:port" or "unix:/path"). Options: `token`
 * (sent as `authorization: Bearer`), `credentials` (grpc.credentials.createSsl(...) for TLS;
 * default plaintext), `channelOptions` (grpc-js channel options).
 */
export function makeStub(Service, address, { token, credentials, channelOptions = {} } = {}) {
  const options = { ...channelOptions };
  if (token) options.interceptors = [...(options.interceptors ?? []), tokenInterceptor(token)];
  return new Service(address, credentials ?? grpc.credentials.createInsecure(), options);
}
