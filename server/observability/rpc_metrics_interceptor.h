// Counts every finished RPC by method and status code into PrometheusMetrics, as a gRPC server
// interceptor (so no handler needs instrumenting). Thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "server/observability/prometheus_metrics.h"

namespace batchd::server {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(PrometheusMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  PrometheusMetrics& metrics_;
};

}  // namespace batchd::server
