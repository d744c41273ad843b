// worker_bench: end-to-end throughput of the callback-worker path. Submits one batch of N no-op
// tasks for a worker-served executor with ProcessBatch (submit, run, wait, all results back)
// and reports tasks per second from the call's start to its answer, best of --runs.
//   worker_bench --addr ADDR [--executor noop] [--tasks 100000] [--max-concurrent 4096] [--runs 3]
// Run bench/worker_throughput.sh, which starts batchd and bench/noop_worker first.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "batchd/v1/batch_service.grpc.pb.h"

namespace {

namespace v1 = batchd::v1;

struct Options {
  std::string address = "127.0.0.1:50051";
  std::string executor = "noop";
  uint32_t tasks = 100000;
  uint32_t max_concurrent = 4096;
  int runs = 3;
};

bool Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--addr") {
      o->address = value;
    } else if (flag == "--executor") {
      o->executor = value;
    } else if (flag == "--tasks" && absl::SimpleAtoi(value, &o->tasks)) {
    } else if (flag == "--max-concurrent" && absl::SimpleAtoi(value, &o->max_concurrent)) {
    } else if (flag == "--runs" && absl::SimpleAtoi(value, &o->runs)) {
    } else {
      std::fprintf(stderr, "worker_bench: bad flag %s %s\n", flag.c_str(), value.c_str());
      return false;
    }
  }
  return true;
}

// Waits (bounded) until a worker serves the executor.
bool WaitForWorker(v1::BatchService::Stub& stub, const std::string& executor) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListExecutorsResponse response;
    if (stub.ListExecutors(&context, {}, &response).ok()) {
      for (const v1::ExecutorInfo& e : response.executors()) {
        if (e.name() == executor && e.workers() > 0) return true;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, &options)) return 2;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::BatchService::NewStub(channel);
  if (!WaitForWorker(*stub, options.executor)) {
    std::fprintf(stderr, "worker_bench: no worker serves '%s'\n", options.executor.c_str());
    return 1;
  }
  v1::ProcessBatchRequest request;
  request.mutable_options()->set_max_concurrent(options.max_concurrent);
  for (uint32_t i = 0; i < options.tasks; ++i) {
    v1::Task* t = request.add_tasks();
    t->set_id(absl::StrCat("t", i));
    t->set_executor(options.executor);
  }
  std::vector<double> rates;
  for (int run = 0; run < options.runs; ++run) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    v1::ProcessBatchResponse response;
    const absl::Time start = absl::Now();
    const grpc::Status status = stub->ProcessBatch(&context, request, &response);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (!status.ok()) {
      std::fprintf(stderr, "worker_bench: %s\n", status.error_message().c_str());
      return 1;
    }
    const v1::BatchSummary& s = response.summary();
    if (s.successful_count() != options.tasks) {
      std::fprintf(stderr, "worker_bench: only %u of %u tasks succeeded\n", s.successful_count(),
                   options.tasks);
      return 1;
    }
    const double rate = options.tasks / seconds;
    rates.push_back(rate);
    std::printf("run %d: %u tasks in %.1f ms end to end (%.0f tasks/s); in daemon %.1f ms\n", run + 1,
                options.tasks, seconds * 1000, rate, s.total_duration_ms());
  }
  std::printf("best: %.0f tasks/s through one worker connection\n",
              *std::max_element(rates.begin(), rates.end()));
  return 0;
}
