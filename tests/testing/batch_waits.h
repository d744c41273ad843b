// Bounded polling of a batch through GetBatch, shared by integration tests that drive work
// from outside ProcessBatch (callback workers). Single-threaded, like the tests that use it.
#pragma once

#include <grpcpp/client_context.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "gtest/gtest.h"

namespace batchd::testing {

// Polls until the batch is finished; its summary. Adds a test failure when `timeout` passes
// first or GetBatch fails.
inline v1::BatchSummary WaitForBatchEnd(v1::BatchService::Stub& stub, const std::string& batch_id,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  v1::GetBatchResponse response;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::GetBatchRequest request;
    request.set_batch_id(batch_id);
    if (!stub.GetBatch(&context, request, &response).ok()) break;
    const v1::BatchState s = response.summary().state();
    if (s != v1::BATCH_STATE_PENDING && s != v1::BATCH_STATE_RUNNING) return response.summary();
    absl::SleepFor(absl::Milliseconds(10));
  }
  ADD_FAILURE() << "batch " << batch_id << " did not finish";
  return response.summary();
}

}  // namespace batchd::testing
