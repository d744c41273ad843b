// batch_load: the C++ load generator of bench/run_all.py. Submits batches to a running batchd
// with SubmitBatch and reads every result through StreamResults, one JSON line per run on
// stdout (wall time, client CPU, and the daemon's CPU and RSS when --daemon-pid is given).
//   batch_load --addr ADDR --workload echo|sleep|shell|fanout|uneven [--tasks N]
//              [--max-concurrent C] [--sleep-ms MS] [--runs R] [--warmup W]
//              [--daemon-pid PID] [--barrier 0|1] [--results-after 0|1]
// Workloads: echo (no-op), sleep (N x sleep MS), shell (N x `true`), fanout (root -> N leaves
// of 10..100 ms -> sink) and uneven (root -> 8 uneven chains -> sink, critical path 180 ms).
// --barrier 1 runs a DAG layer by layer instead: one batch per layer, each after the last.
// --results-after 1 (a diagnostic) polls GetProgress every millisecond and reads the results
// only once the batch finished, so no result is streamed while the batch runs.
// Single-threaded; exits 1 on any failed call or task.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "bench/proc_stat.h"

namespace batchd::bench {
namespace {

namespace v1 = batchd::v1;

struct Options {
  std::string address;
  std::string workload = "echo";
  uint32_t tasks = 100000;
  uint32_t max_concurrent = 1024;
  uint32_t sleep_ms = 10;
  int runs = 5;
  int warmup = 1;
  int daemon_pid = 0;
  bool barrier = false;
  bool results_after = false;
};

bool Parse(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--addr") {
      o->address = value;
    } else if (flag == "--workload") {
      o->workload = value;
    } else if (flag == "--tasks") {
      ok = absl::SimpleAtoi(value, &o->tasks);
    } else if (flag == "--max-concurrent") {
      ok = absl::SimpleAtoi(value, &o->max_concurrent);
    } else if (flag == "--sleep-ms") {
      ok = absl::SimpleAtoi(value, &o->sleep_ms);
    } else if (flag == "--runs") {
      ok = absl::SimpleAtoi(value, &o->runs);
    } else if (flag == "--warmup") {
      ok = absl::SimpleAtoi(value, &o->warmup);
    } else if (flag == "--daemon-pid") {
      ok = absl::SimpleAtoi(value, &o->daemon_pid);
    } else if (flag == "--barrier") {
      o->barrier = value == "1";
    } else if (flag == "--results-after") {
      o->results_after = value == "1";
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "batch_load: bad flag %s %s\n", flag.c_str(), value.c_str());
      return false;
    }
  }
  if (argc % 2 != 1 || o->address.empty()) {
    std::fprintf(stderr, "usage: see the header of bench/batch_load.cc\n");
    return false;
  }
  return true;
}

struct TaskDef {
  std::string id;
  std::string executor;
  uint32_t sleep_ms = 0;
  std::vector<std::string> dependencies;
};

struct Workload {
  std::vector<TaskDef> tasks;
  double critical_path_ms = 0;  // DAGs only
};

TaskDef Sleep(std::string id, uint32_t ms, std::vector<std::string> deps = {}) {
  return {std::move(id), "sleep", ms, std::move(deps)};
}

// root (10 ms) -> N leaves sleeping 10..100 ms -> sink (10 ms): critical path 120 ms.
Workload FanOutFanIn(uint32_t leaves) {
  Workload w;
  w.tasks.push_back(Sleep("root", 10));
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < leaves; ++i) {
    ids.push_back(absl::StrFormat("leaf%05d", i));
    w.tasks.push_back(Sleep(ids.back(), 10 + 10 * (i % 10), {"root"}));
  }
  w.tasks.push_back(Sleep("sink", 10, ids));
  const uint32_t longest_leaf = leaves == 0 ? 0 : 10 + 10 * (std::min(leaves, 10u) - 1);
  w.critical_path_ms = 10 + longest_leaf + 10;
  return w;
}

// root (10 ms) -> 8 chains, chain b of b steps, its first step 20*(9-b) ms and the rest 20 ms
// -> sink (10 ms). Every chain takes 160 ms, critical path 180 ms; layer by layer, layer 1
// waits for the 160 ms step and layers 2..8 for 20 ms each: 320 ms.
Workload UnevenDag() {
  Workload w;
  w.tasks.push_back(Sleep("root", 10));
  std::vector<std::string> tails;
  for (int b = 1; b <= 8; ++b) {
    std::string prev = "root";
    for (int k = 0; k < b; ++k) {
      std::string id = absl::StrCat("b", b, "_", k);
      w.tasks.push_back(Sleep(id, k == 0 ? 20 * (9 - b) : 20, {prev}));
      prev = id;
    }
    tails.push_back(prev);
  }
  w.tasks.push_back(Sleep("sink", 10, tails));
  w.critical_path_ms = 180;
  return w;
}

Workload Independent(const Options& o) {
  Workload w;
  w.tasks.reserve(o.tasks);
  for (uint32_t i = 0; i < o.tasks; ++i) {
    TaskDef t{absl::StrCat("t", i), o.workload, o.sleep_ms, {}};
    w.tasks.push_back(std::move(t));
  }
  return w;
}

// Kahn layers of a DAG: layer k holds the tasks whose longest dependency chain has k links.
std::vector<std::vector<TaskDef>> Layers(const std::vector<TaskDef>& tasks) {
  std::map<std::string, size_t> depth;
  std::vector<std::vector<TaskDef>> layers;
  for (const TaskDef& t : tasks) {  // tasks are listed after their dependencies
    size_t d = 0;
    for (const std::string& dep : t.dependencies) d = std::max(d, depth[dep] + 1);
    depth[t.id] = d;
    if (layers.size() <= d) layers.resize(d + 1);
    TaskDef without_deps = t;
    without_deps.dependencies.clear();
    layers[d].push_back(std::move(without_deps));
  }
  return layers;
}

void FillRequest(const std::vector<TaskDef>& tasks, uint32_t max_concurrent,
                 v1::SubmitBatchRequest* request) {
  request->mutable_options()->set_max_concurrent(max_concurrent);
  request->mutable_options()->set_aggregation(v1::AGGREGATION_UNORDERED);
  request->mutable_options()->set_timeout_ms(600000);
  request->mutable_tasks()->Reserve(static_cast<int>(tasks.size()));
  for (const TaskDef& d : tasks) {
    v1::Task* t = request->add_tasks();
    t->set_id(d.id);
    t->set_executor(d.executor);
    if (d.executor == "sleep") {
      (*t->mutable_input()->mutable_struct_value()->mutable_fields())["ms"].set_number_value(
          d.sleep_ms);
    } else if (d.executor == "shell") {
      google::protobuf::ListValue* argv =
          (*t->mutable_input()->mutable_struct_value()->mutable_fields())["argv"]
              .mutable_list_value();
      argv->add_values()->set_string_value("true");
    }
    for (const std::string& dep : d.dependencies) t->add_dependencies(dep);
  }
}

struct BatchOutcome {
  bool ok = false;
  uint64_t results = 0;
  uint32_t successful = 0;
  double batch_ms = 0;  // the daemon's own submit-to-finish time
};

// Polls the batch's progress until it finished; false on a failed call.
bool WaitUntilFinished(v1::BatchService::Stub& stub, const std::string& batch_id) {
  v1::GetProgressRequest request;
  request.set_batch_id(batch_id);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::GetProgressResponse response;
    const grpc::Status status = stub.GetProgress(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "batch_load: GetProgress: %s\n", status.error_message().c_str());
      return false;
    }
    const v1::BatchState state = response.progress().state();
    if (state != v1::BATCH_STATE_PENDING && state != v1::BATCH_STATE_RUNNING) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Submits one batch and reads its results to the end.
BatchOutcome RunBatch(v1::BatchService::Stub& stub, const v1::SubmitBatchRequest& request,
                      bool results_after) {
  BatchOutcome outcome;
  v1::SubmitBatchResponse submitted;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    const grpc::Status status = stub.SubmitBatch(&context, request, &submitted);
    if (!status.ok()) {
      std::fprintf(stderr, "batch_load: SubmitBatch: %s\n", status.error_message().c_str());
      return outcome;
    }
  }
  if (results_after && !WaitUntilFinished(stub, submitted.batch_id())) return outcome;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  v1::StreamResultsRequest stream_request;
  stream_request.set_batch_id(submitted.batch_id());
  auto reader = stub.StreamResults(&context, stream_request);
  v1::StreamResultsResponse message;
  while (reader->Read(&message)) {
    outcome.results += message.results_size();
    if (message.has_summary()) {
      outcome.successful = message.summary().successful_count();
      outcome.batch_ms = message.summary().total_duration_ms();
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "batch_load: StreamResults: %s\n", status.error_message().c_str());
    return outcome;
  }
  outcome.ok = outcome.results == static_cast<uint64_t>(request.tasks_size()) &&
               outcome.successful == static_cast<uint32_t>(request.tasks_size());
  if (!outcome.ok) {
    std::fprintf(stderr, "batch_load: %llu results, %u successful of %d tasks\n",
                 static_cast<unsigned long long>(outcome.results), outcome.successful,
                 request.tasks_size());
  }
  return outcome;
}

int Main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, &o)) return 2;
  Workload workload;
  if (o.workload == "fanout") {
    workload = FanOutFanIn(o.tasks);
  } else if (o.workload == "uneven") {
    workload = UnevenDag();
  } else if (o.workload == "echo" || o.workload == "sleep" || o.workload == "shell") {
    workload = Independent(o);
  } else {
    std::fprintf(stderr, "batch_load: unknown workload %s\n", o.workload.c_str());
    return 2;
  }
  std::vector<std::vector<TaskDef>> batches;
  if (o.barrier) {
    batches = Layers(workload.tasks);
  } else {
    batches.push_back(workload.tasks);
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  auto channel = grpc::CreateCustomChannel(o.address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
    std::fprintf(stderr, "batch_load: cannot connect to %s\n", o.address.c_str());
    return 1;
  }
  auto stub = v1::BatchService::NewStub(channel);

  for (int run = -o.warmup; run < o.runs; ++run) {
    std::vector<v1::SubmitBatchRequest> requests(batches.size());
    const auto build_start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < batches.size(); ++i) {
      FillRequest(batches[i], o.max_concurrent, &requests[i]);
    }
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
    const long rss_before = ResidentKib(o.daemon_pid);
    const double daemon_cpu_before = ProcessCpuSeconds(o.daemon_pid);
    const double client_cpu_before = SelfCpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    double batch_ms = 0;
    for (const v1::SubmitBatchRequest& request : requests) {
      const BatchOutcome outcome = RunBatch(*stub, request, o.results_after);
      if (!outcome.ok) return 1;
      batch_ms += outcome.batch_ms;
    }
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double client_cpu_s = SelfCpuSeconds() - client_cpu_before;
    const double daemon_cpu_s = ProcessCpuSeconds(o.daemon_pid) - daemon_cpu_before;
    const long rss_after = ResidentKib(o.daemon_pid);
    if (run < 0) continue;
    std::printf(
        "{\"workload\": \"%s\", \"barrier\": %s, \"run\": %d, \"tasks\": %zu, \"batches\": %zu, "
        "\"max_concurrent\": %u, \"wall_s\": %.6f, \"batch_ms\": %.3f, \"build_s\": %.6f, "
        "\"client_cpu_s\": %.6f, \"daemon_cpu_s\": %.6f, \"daemon_rss_before_kib\": %ld, "
        "\"daemon_rss_after_kib\": %ld, \"critical_path_ms\": %.1f}\n",
        o.workload.c_str(), o.barrier ? "true" : "false", run, workload.tasks.size(),
        batches.size(), o.max_concurrent, wall_s, batch_ms, build_s, client_cpu_s, daemon_cpu_s,
        rss_before, rss_after, workload.critical_path_ms);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace batchd::bench

int main(int argc, char** argv) { return batchd::bench::Main(argc, argv); }
