#include "core/executors/http/http_executor.h"

#include <cassert>
#include <utility>

#include "absl/status/statusor.h"
#include "core/base/status_macros.h"
#include "core/executors/http/http_request_spec.h"
#include "core/executors/http/tls_client_context.h"

namespace batchd::core {

HttpExecutor::HttpExecutor(Strand scheduler_strand, const Clock& clock,
                           std::shared_ptr<HttpTransport> transport)
    : scheduler_strand_(std::move(scheduler_strand)),
      clock_(clock),
      transport_(std::move(transport)) {}

void HttpExecutor::Start(const ExecutionRequest& request, CompletionSink& sink) {
  assert(scheduler_strand_.running_in_this_thread());
  absl::StatusOr<HttpRequestSpec> spec = ParseHttpRequestSpec(request.input);
  if (!spec.ok()) {
    sink.Complete(request.token, ExecutionOutcome::Failure(std::string(spec.status().message()),
                                                           /*non_retryable=*/true));
    return;
  }
  spec->units_header = std::string(request.units_header);
  const AttemptToken token = request.token;
  auto exchange = std::make_shared<HttpExchange>(
      clock_, *std::move(spec), transport_,
      [in_flight = in_flight_, token, &sink](ExecutionOutcome outcome) {
        {
          absl::MutexLock lock(&in_flight->mu);
          in_flight->requests.erase(token);
        }
        sink.Complete(token, std::move(outcome));
      });
  {
    absl::MutexLock lock(&in_flight_->mu);
    in_flight_->requests[token] = exchange;
  }
  exchange->Start();
}

void HttpExecutor::Cancel(const AttemptToken& token) {
  assert(scheduler_strand_.running_in_this_thread());
  std::shared_ptr<HttpExchange> exchange;
  {
    absl::MutexLock lock(&in_flight_->mu);
    auto it = in_flight_->requests.find(token);
    if (it == in_flight_->requests.end()) return;
    exchange = it->second.lock();
    in_flight_->requests.erase(it);
  }
  if (exchange != nullptr) exchange->Abort();
}

absl::StatusOr<std::shared_ptr<const ConnectionPool>> RegisterHttpExecutor(
    ExecutorEnvironment& environment, const HttpExecutorOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<boost::asio::ssl::context> tls,
                   MakeTlsClientContext(options.ca_file));
  auto transport = std::make_shared<HttpTransport>(
      environment.io, std::move(tls), std::make_shared<const EgressPolicy>(options.egress),
      options.transport);
  std::shared_ptr<const ConnectionPool> pool = transport->shared_pool();
  RETURN_IF_ERROR(environment.registry.Register(
      {"http", "builtin", 0, 0},
      std::make_unique<HttpExecutor>(environment.strand, environment.clock, std::move(transport))));
  return pool;
}

}  // namespace batchd::core
