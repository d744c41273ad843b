#include "tests/reliability/soak_client.h"

#include <grpc/grpc.h>  // GRPC_ARG_*
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace batchd::soak {
namespace {

using grpc::StatusCode;

constexpr std::chrono::seconds kUnaryDeadline{30};
constexpr std::chrono::seconds kStreamDeadline{60};
constexpr uint32_t kWatchIntervalMs = 20;

void SetDeadline(grpc::ClientContext& context, std::chrono::seconds after) {
  context.set_deadline(std::chrono::system_clock::now() + after);
}

bool IsFinal(v1::BatchState s) {
  return s == v1::BATCH_STATE_SUCCEEDED || s == v1::BATCH_STATE_FAILED ||
         s == v1::BATCH_STATE_CANCELLED;
}

}  // namespace

SoakClient::SoakClient(SoakClientOptions options, SoakTally& tally, const std::atomic<bool>& stop)
    : options_(std::move(options)),
      tally_(tally),
      stop_(stop),
      rng_(options_.seed),
      next_serial_(options_.first_serial) {}

void SoakClient::Run() {
  Connect();
  while (!stop_.load()) {
    RunOnce();
    // Clients come and go: now and then one drops its connection and opens a new one.
    if (std::bernoulli_distribution(0.03)(rng_)) {
      Connect();
      tally_.Count("client reconnects");
    }
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(10, 100)(rng_)));
  }
}

void SoakClient::Connect() {
  // A subchannel of its own, so each client has its own TCP connection like a separate process.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  // A fresh channel's first TCP connect to the loopback port failed once on a busy machine
  // ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:…: No such file
  // or directory"), and every call then failed fast for the channel's ~1 s backoff. The soak
  // is about what batchd does with calls, so wait for the channel (it retries by itself); a
  // daemon that does not accept within the bound is still a problem.
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(15))) {
    tally_.Problem(absl::StrCat("client could not connect to ", options_.address, " in 15 s"));
  }
  stub_ = v1::BatchService::NewStub(std::move(channel));
}

void SoakClient::RunOnce() {
  const SoakBatch batch = SoakBatch::Random(rng_, next_serial_++, options_.worker_executor);
  tally_.Count("batches");
  tally_.Count("tasks", static_cast<int64_t>(batch.size()));
  const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
  if (roll < 35) {
    Streaming(batch);
  } else if (roll < 55) {
    Processing(batch);
  } else if (roll < 80) {
    Cancelling(batch);
  } else {
    Watching(batch);
  }
}

void SoakClient::Streaming(const SoakBatch& batch) {
  const std::optional<std::string> id = Submit(batch);
  if (!id.has_value()) return;
  const int max_drops =
      std::bernoulli_distribution(0.5)(rng_) ? std::uniform_int_distribution<int>(1, 3)(rng_) : 0;
  const std::optional<Streamed> streamed = StreamToEnd(*id, max_drops);
  if (!streamed.has_value()) return;
  Verify(batch, streamed->results, {streamed->summary, ""}, "streamed");
  // Now and then, the stored summary must agree with what was streamed.
  if (std::bernoulli_distribution(0.2)(rng_)) {
    if (std::optional<v1::BatchSummary> summary = GetBatch(*id)) {
      const std::vector<v1::TaskResult> results(summary->results().begin(),
                                                summary->results().end());
      Verify(batch, results, {*summary, ""}, "GetBatch after stream");
    }
  }
}

void SoakClient::Processing(const SoakBatch& batch) {
  grpc::ClientContext context;
  SetDeadline(context, kStreamDeadline);
  v1::ProcessBatchResponse response;
  const grpc::Status status = stub_->ProcessBatch(&context, batch.ProcessRequest(), &response);
  if (!tally_.Call("ProcessBatch", status, {StatusCode::OK}, absl::StrCat("#", batch.serial()))) {
    return;
  }
  const v1::BatchSummary& summary = response.summary();
  if (summary.batch_id() != response.batch_id()) {
    tally_.Problem(absl::StrCat("ProcessBatch #", batch.serial(), ": summary of '",
                                summary.batch_id(), "' for batch '", response.batch_id(), "'"));
  }
  const std::vector<v1::TaskResult> results(summary.results().begin(), summary.results().end());
  Verify(batch, results, {summary, ""}, "processed");
}

void SoakClient::Cancelling(const SoakBatch& batch) {
  const std::optional<std::string> id = Submit(batch);
  if (!id.has_value()) return;
  absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 60)(rng_)));
  const std::string reason = absl::StrCat("soak cancel #", batch.serial());
  grpc::ClientContext context;
  SetDeadline(context, kUnaryDeadline);
  v1::CancelBatchRequest request;
  request.set_batch_id(*id);
  request.set_reason(reason);
  v1::CancelBatchResponse response;
  const grpc::Status status = stub_->CancelBatch(&context, request, &response);
  if (!tally_.Call("CancelBatch", status, {StatusCode::OK, StatusCode::FAILED_PRECONDITION}, *id)) {
    return;
  }
  SoakEnding ending;
  if (status.ok()) {
    ending.accepted_cancel = reason;
    tally_.Count("cancels accepted");
    if (response.progress().state() != v1::BATCH_STATE_CANCELLED) {
      tally_.Problem(absl::StrCat("CancelBatch ", *id, ": answered state ",
                                  v1::BatchState_Name(response.progress().state())));
    }
  } else {
    tally_.Count("cancels after the end");
    if (!absl::StrContains(status.error_message(), "already finished")) {
      tally_.Problem(absl::StrCat("CancelBatch ", *id, ": FAILED_PRECONDITION '",
                                  status.error_message(), "'"));
    }
  }
  const std::optional<Streamed> streamed =
      StreamToEnd(*id, std::uniform_int_distribution<int>(0, 1)(rng_));
  if (!streamed.has_value()) return;
  ending.summary = streamed->summary;
  Verify(batch, streamed->results, ending, "cancelled");
}

void SoakClient::Watching(const SoakBatch& batch) {
  const std::optional<std::string> id = Submit(batch);
  if (!id.has_value()) return;
  if (!WatchToEnd(*id, static_cast<uint32_t>(batch.size()),
                  std::uniform_int_distribution<int>(0, 2)(rng_))) {
    return;
  }
  const std::optional<v1::BatchSummary> summary = GetBatch(*id);
  if (!summary.has_value()) return;
  const std::vector<v1::TaskResult> results(summary->results().begin(), summary->results().end());
  Verify(batch, results, {*summary, ""}, "watched");
}

std::optional<std::string> SoakClient::Submit(const SoakBatch& batch) {
  grpc::ClientContext context;
  SetDeadline(context, kUnaryDeadline);
  v1::SubmitBatchResponse response;
  const grpc::Status status = stub_->SubmitBatch(&context, batch.SubmitRequest(), &response);
  if (!tally_.Call("SubmitBatch", status, {StatusCode::OK}, absl::StrCat("#", batch.serial()))) {
    return std::nullopt;
  }
  size_t layered = 0;
  for (const v1::Layer& layer : response.layers()) layered += layer.task_ids_size();
  if (response.batch_id().empty() || layered != batch.size()) {
    tally_.Problem(absl::StrCat("SubmitBatch #", batch.serial(), ": id '", response.batch_id(),
                                "', ", layered, " tasks in layers of ", batch.size()));
  }
  return response.batch_id();
}

std::optional<SoakClient::Streamed> SoakClient::StreamToEnd(const std::string& batch_id,
                                                            int max_drops) {
  Streamed out;
  uint64_t last_sequence = 0;
  bool have_summary = false;
  for (int drops = 0;; ++drops) {
    grpc::ClientContext context;
    SetDeadline(context, kStreamDeadline);
    v1::StreamResultsRequest request;
    request.set_batch_id(batch_id);
    request.set_after_sequence(last_sequence);
    if (drops > 0) tally_.Count("stream reconnects");
    // Drop this stream after that many messages (0: before reading any), or read it to the end.
    const int drop_after = drops < max_drops ? std::uniform_int_distribution<int>(0, 2)(rng_) : -1;
    bool dropped = false;
    const auto drop = [&] {
      context.TryCancel();
      dropped = true;
      tally_.Count("streams dropped");
    };
    std::unique_ptr<grpc::ClientReader<v1::StreamResultsResponse>> reader =
        stub_->StreamResults(&context, request);
    if (drop_after == 0) drop();
    int messages = 0;
    v1::StreamResultsResponse message;
    while (reader->Read(&message)) {
      ++messages;
      if (have_summary) {
        tally_.Problem(absl::StrCat("StreamResults ", batch_id, ": message after the summary"));
      } else if (message.has_summary()) {
        have_summary = true;
        out.summary = message.summary();
        if (message.results_size() != 0 || message.sequence() != last_sequence ||
            message.summary().batch_id() != batch_id) {
          tally_.Problem(absl::StrCat("StreamResults ", batch_id, ": summary message with ",
                                      message.results_size(), " results, sequence ",
                                      message.sequence(), " after ", last_sequence, ", for '",
                                      message.summary().batch_id(), "'"));
        }
      } else {
        const uint64_t expected = last_sequence + static_cast<uint64_t>(message.results_size());
        if (message.results_size() == 0 || message.sequence() != expected) {
          tally_.Problem(absl::StrCat("StreamResults ", batch_id, ": ", message.results_size(),
                                      " results with sequence ", message.sequence(), " after ",
                                      last_sequence, " (resumed ", drops, " times)"));
        }
        for (v1::TaskResult& r : *message.mutable_results()) out.results.push_back(std::move(r));
        last_sequence = message.sequence();
      }
      if (!dropped && messages == drop_after) drop();
    }
    const grpc::Status status = reader->Finish();
    if (!tally_.Call(dropped ? "StreamResults(dropped)" : "StreamResults", status,
                     dropped
                         ? std::initializer_list<StatusCode>{StatusCode::OK, StatusCode::CANCELLED}
                         : std::initializer_list<StatusCode>{StatusCode::OK},
                     batch_id)) {
      return std::nullopt;
    }
    if (have_summary) return out;
    if (status.ok()) {
      tally_.Problem(absl::StrCat("StreamResults ", batch_id, ": OK without a summary"));
      return std::nullopt;
    }
  }
}

bool SoakClient::WatchToEnd(const std::string& batch_id, uint32_t total_tasks, int max_drops) {
  uint32_t last_completed = 0;
  bool final_seen = false;
  for (int drops = 0;; ++drops) {
    grpc::ClientContext context;
    SetDeadline(context, kStreamDeadline);
    v1::WatchProgressRequest request;
    request.set_batch_id(batch_id);
    request.set_min_interval_ms(kWatchIntervalMs);
    if (drops > 0) tally_.Count("watch reconnects");
    const int drop_after = drops < max_drops ? std::uniform_int_distribution<int>(1, 3)(rng_) : -1;
    bool dropped = false;
    std::unique_ptr<grpc::ClientReader<v1::WatchProgressResponse>> reader =
        stub_->WatchProgress(&context, request);
    int messages = 0;
    v1::WatchProgressResponse message;
    while (reader->Read(&message)) {
      ++messages;
      const v1::BatchProgress& p = message.progress();
      if (final_seen || p.total_tasks() != total_tasks || p.completed_tasks() < last_completed ||
          p.batch_id() != batch_id) {
        tally_.Problem(absl::StrCat("WatchProgress ", batch_id, ": ", p.ShortDebugString(),
                                    " after ", last_completed, " completed",
                                    final_seen ? " and the final progress" : ""));
      }
      last_completed = p.completed_tasks();
      if (IsFinal(p.state())) {
        final_seen = true;
        if (p.completed_tasks() != total_tasks || p.running_tasks() != 0 ||
            p.pending_tasks() != 0) {
          tally_.Problem(
              absl::StrCat("WatchProgress ", batch_id, ": final ", p.ShortDebugString()));
        }
      }
      if (!dropped && !final_seen && messages == drop_after) {
        context.TryCancel();
        dropped = true;
        tally_.Count("watches dropped");
      }
    }
    const grpc::Status status = reader->Finish();
    if (!tally_.Call(dropped ? "WatchProgress(dropped)" : "WatchProgress", status,
                     dropped
                         ? std::initializer_list<StatusCode>{StatusCode::OK, StatusCode::CANCELLED}
                         : std::initializer_list<StatusCode>{StatusCode::OK},
                     batch_id)) {
      return false;
    }
    if (final_seen) return true;
    if (status.ok()) {
      tally_.Problem(absl::StrCat("WatchProgress ", batch_id, ": OK without the final progress"));
      return false;
    }
  }
}

std::optional<v1::BatchSummary> SoakClient::GetBatch(const std::string& batch_id) {
  grpc::ClientContext context;
  SetDeadline(context, kUnaryDeadline);
  v1::GetBatchRequest request;
  request.set_batch_id(batch_id);
  v1::GetBatchResponse response;
  const grpc::Status status = stub_->GetBatch(&context, request, &response);
  if (!tally_.Call("GetBatch", status, {StatusCode::OK}, batch_id)) return std::nullopt;
  return response.summary();
}

void SoakClient::Verify(const SoakBatch& batch, const std::vector<v1::TaskResult>& results,
                        const SoakEnding& ending, const char* how) {
  const SoakCheck check = batch.Check(results, ending);
  for (const std::string& problem : check.problems)
    tally_.Problem(absl::StrCat(how, ": ", problem));
  tally_.Count(absl::StrCat("batches ", how));
  tally_.Count("results checked", static_cast<int64_t>(results.size()));
  if (check.worker_lost > 0) tally_.Count("worker tasks failed 'Worker lost'", check.worker_lost);
}

}  // namespace batchd::soak
