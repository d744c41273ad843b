// One soak client: loops until told to stop, each time submitting a random small batch and then
// following it one way — StreamResults to the end (sometimes dropping the stream and
// reconnecting after the last sequence seen), ProcessBatch, CancelBatch after a random delay,
// or WatchProgress — and checks every status code and every result against SoakBatch.
// Has its own channel (as a separate client process would), renewed now and then.
// Run on one thread; reports into a shared SoakTally.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "batchd/v1/batch_service.grpc.pb.h"
#include "tests/reliability/soak_batch.h"
#include "tests/reliability/soak_tally.h"

namespace batchd::soak {

struct SoakClientOptions {
  std::string address;
  std::string worker_executor;
  uint64_t seed = 0;
  uint64_t first_serial = 0;  // batches get serials first_serial, first_serial + 1, ...
};

class SoakClient {
 public:
  SoakClient(SoakClientOptions options, SoakTally& tally, const std::atomic<bool>& stop);
  SoakClient(const SoakClient&) = delete;
  SoakClient& operator=(const SoakClient&) = delete;

  void Run();

 private:
  struct Streamed {
    std::vector<v1::TaskResult> results;
    v1::BatchSummary summary;
  };

  void Connect();
  void RunOnce();
  void Streaming(const SoakBatch& batch);
  void Processing(const SoakBatch& batch);
  void Cancelling(const SoakBatch& batch);
  void Watching(const SoakBatch& batch);

  std::optional<std::string> Submit(const SoakBatch& batch);
  // Every result to the summary, reconnecting after each drop (at most `max_drops`).
  std::optional<Streamed> StreamToEnd(const std::string& batch_id, int max_drops);
  // Progress updates to the final one, reconnecting after each drop (at most `max_drops`).
  bool WatchToEnd(const std::string& batch_id, uint32_t total_tasks, int max_drops);
  std::optional<v1::BatchSummary> GetBatch(const std::string& batch_id);
  void Verify(const SoakBatch& batch, const std::vector<v1::TaskResult>& results,
              const SoakEnding& ending, const char* how);

  const SoakClientOptions options_;
  SoakTally& tally_;
  const std::atomic<bool>& stop_;
  std::mt19937_64 rng_;
  uint64_t next_serial_;
  std::unique_ptr<v1::BatchService::Stub> stub_;
};

}  // namespace batchd::soak
