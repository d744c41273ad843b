// worker_bench: end-to-end throughput of the callback-worker path. Submits one batch of N no-op
// tasks for a worker-served executor with ProcessBatch (submit, run, wait, all results back)
// and reports tasks per second from the call's start to its answer, best of --runs.
//   worker_bench --addr ADDR [--executor noop] [--tasks 100000] [--max-concurrent 4096] [--runs 3]
//                [--warmup 0] [--json 1 --daemon-pid PID --worker-pid PID]
// Run bench/worker_throughput.sh, which starts batchd and bench/noop_worker first. With --json 1
// (bench/run_all.py) each run is one JSON line with the CPU seconds the daemon and the worker
// process used during it (from /proc/PID/stat).
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
#include "bench/proc_stat.h"

namespace {

namespace v1 = batchd::v1;
using batchd::bench::ProcessCpuSeconds;
using batchd::bench::SelfCpuSeconds;

struct Options {
  std::string address = "127.0.0.1:50051";
  std::string executor = "noop";
  uint32_t tasks = 100000;
  uint32_t max_concurrent = 4096;
  int runs = 3;
  int warmup = 0;
  bool json = false;
  int daemon_pid = 0;
  int worker_pid = 0;
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
    } else if (flag == "--warmup" && absl::SimpleAtoi(value, &o->warmup)) {
    } else if (flag == "--daemon-pid" && absl::SimpleAtoi(value, &o->daemon_pid)) {
    } else if (flag == "--worker-pid" && absl::SimpleAtoi(value, &o->worker_pid)) {
    } else if (flag == "--json") {
      o->json = value == "1";
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
  auto channel =
      grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
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
  for (int run = -options.warmup; run < options.runs; ++run) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    v1::ProcessBatchResponse response;
    const double daemon_cpu = ProcessCpuSeconds(options.daemon_pid);
    const double worker_cpu = ProcessCpuSeconds(options.worker_pid);
    const double client_cpu = SelfCpuSeconds();
    const absl::Time start = absl::Now();
    const grpc::Status status = stub->ProcessBatch(&context, request, &response);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    const double daemon_cpu_s = ProcessCpuSeconds(options.daemon_pid) - daemon_cpu;
    const double worker_cpu_s = ProcessCpuSeconds(options.worker_pid) - worker_cpu;
    const double client_cpu_s = SelfCpuSeconds() - client_cpu;
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
    if (run < 0) continue;
    rates.push_back(rate);
    if (options.json) {
      std::printf(
          "{\"run\": %d, \"tasks\": %u, \"wall_s\": %.6f, \"batch_ms\": %.3f, "
          "\"daemon_cpu_s\": %.6f, \"worker_cpu_s\": %.6f, \"client_cpu_s\": %.6f}\n",
          run, options.tasks, seconds, s.total_duration_ms(), daemon_cpu_s, worker_cpu_s,
          client_cpu_s);
      std::fflush(stdout);
      continue;
    }
    std::printf("run %d: %u tasks in %.1f ms end to end (%.0f tasks/s); in daemon %.1f ms\n",
                run + 1, options.tasks, seconds * 1000, rate, s.total_duration_ms());
  }
  if (!options.json && !rates.empty()) {
    std::printf("best: %.0f tasks/s through one worker connection\n",
                *std::max_element(rates.begin(), rates.end()));
  }
  return 0;
}
