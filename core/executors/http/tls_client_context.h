// The TLS client settings of the http executor's https:// requests: TLS 1.2 or newer, the
// server's certificate verified against the system's trust store (/etc/ssl/certs) plus the CAs of
// --http-ca-file, the host name checked against it, and the name sent as SNI. Built once at
// start-up and shared by every request (OpenSSL contexts are thread-safe once set up).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct ssl_st;

namespace batchd::core {

// `ca_file` ("" for none): PEM CAs trusted besides the system's. INVALID_ARGUMENT naming the
// file when it cannot be loaded.
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsClientContext(
    const std::string& ca_file);

// Before the handshake of `ssl` with `host` (a name or an IP literal): sends the name as SNI
// (not for IP literals) and makes verification check the certificate against it.
void ExpectTlsPeer(ssl_st* ssl, const std::string& host);

// Why the handshake's certificate verification failed ("" when it did not), e.g. "unable to
// get local issuer certificate" or "hostname mismatch".
std::string TlsVerifyFailure(ssl_st* ssl);

}  // namespace batchd::core
