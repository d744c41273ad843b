// The `http` executor: one HTTP/1.1 request per attempt, http:// or https:// (TLS 1.2+, the
// server's certificate and name verified; tls_client_context.h), redirects followed (up to
// input.max_redirects, never from https:// to http://), over connections kept alive between
// requests (connection_pool.h), through the environment's proxies (proxy_config.h), to where
// the egress policy allows (egress_policy.h); asynchronous on the daemon's io_context, so
// waiting requests hold no thread. Start and Cancel run on the
// scheduler's strand and never block; requests run on their own.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/executor.h"
#include "core/executors/executor_environment.h"
#include "core/executors/http/egress_policy.h"
#include "core/executors/http/http_exchange.h"
#include "core/executors/http/http_transport.h"
#include "core/time/clock.h"

namespace batchd::core {

// Input {"method", "url", "headers", "body", "timeout_ms", "max_redirects"}; output {"status",
// "headers", "body", "elapsed_ms", and "url" when redirected}. Connection errors and 5xx are
// retryable, 429/503 honour Retry-After, other 4xx are final (see http_response_outcome.h).
class HttpExecutor final : public Executor {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // `scheduler_strand` is only used to check that Start and Cancel run on it.
  HttpExecutor(Strand scheduler_strand, const Clock& clock,
               std::shared_ptr<HttpTransport> transport);
  void Start(const ExecutionRequest& request, CompletionSink& sink) override;
  void Cancel(const AttemptToken& token) override;

  ConnectionPoolStats pool_stats() const { return transport_->pool().stats(); }

 private:
  // Requests in flight by attempt. Shared with the requests' completion callbacks, which run on
  // the requests' strands and remove their entry; weak so the table keeps no request alive.
  struct InFlight {
    absl::Mutex mu;
    absl::flat_hash_map<AttemptToken, std::weak_ptr<HttpExchange>> requests ABSL_GUARDED_BY(mu);
  };

  const Strand scheduler_strand_;
  const Clock& clock_;
  const std::shared_ptr<HttpTransport> transport_;
  const std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();
};

struct HttpExecutorOptions {
  std::string ca_file;  // --http-ca-file: PEM CAs trusted besides the system's ("" for none)
  EgressPolicy egress;  // from --http-deny and --http-allow (egress_policy.h)
  HttpTransportOptions transport;  // pool bounds, DNS and proxies (http_transport.h)
};

// Registers `http` (kind "builtin") on the environment's io_context; returns its connection
// pool (for its figures). INVALID_ARGUMENT naming the file when the CAs cannot be loaded.
absl::StatusOr<std::shared_ptr<const ConnectionPool>> RegisterHttpExecutor(
    ExecutorEnvironment& environment, const HttpExecutorOptions& options = {});

}  // namespace batchd::core
