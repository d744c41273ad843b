// Hostile requests against one real daemon (issue 9, "Bad inputs"): a table of what a careless
// or malicious client may send, each expecting a specific error or a correct run, and after
// every row the daemon must still answer. Single-threaded except the abandoned-stream row.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd {
namespace {

using ::batchd::testing::DaemonProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using Code = grpc::StatusCode;

// Generous: ASan builds of the million-task rows and a busy 2-core machine.
constexpr std::chrono::seconds kCallTimeout{120};
constexpr absl::Duration kBatchTimeout = absl::Seconds(300);
constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// What gRPC 1.51's callback API answers, before batchd sees anything, when a request does not
// parse (invalid UTF-8 in a string, nesting past protobuf's recursion limit of 100, garbage):
// UNIMPLEMENTED with an empty message (server_callback_handlers.h). Not fixable in batchd
// short of its own deserialization; documented here so a gRPC upgrade that improves it shows.
constexpr grpc::StatusCode kUnparsable = grpc::StatusCode::UNIMPLEMENTED;

// The clients a row may use.
struct Clients {
  DaemonProcess& daemon;
  v1::BatchService::Stub& batches;  // gRPC's default 4 MiB receive limit, as most clients
  v1::BatchService::Stub& big;      // unlimited receive: answers about a million tasks
  v1::WorkerService::Stub& workers;
  grpc::GenericStub& raw;  // hand-encoded request bytes
};

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

// ---- request builders -------------------------------------------------------------------------

template <typename Request>
v1::Task* AddTask(Request& request, const std::string& id,
                  const std::vector<std::string>& dependencies = {}) {
  v1::Task* task = request.add_tasks();
  task->set_id(id);
  for (const std::string& d : dependencies) task->add_dependencies(d);
  return task;
}

// `n` echo tasks (the default executor) with ids t0000000, t0000001, ...; `chained` makes each
// depend on the one before.
template <typename Request>
Request ManyTasks(int n, bool chained = false) {
  Request request;
  request.mutable_tasks()->Reserve(n);
  char id[16];
  char previous[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(id, sizeof(id), "t%07d", i);
    v1::Task* task = request.add_tasks();
    task->set_id(id);
    if (chained && i > 0) task->add_dependencies(previous);
    std::memcpy(previous, id, sizeof(id));
  }
  return request;
}

// ---- hand-encoded protobuf wire format --------------------------------------------------------

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string VarintField(int number, uint64_t value) {
  return Varint(static_cast<uint64_t>(number) << 3) + Varint(value);
}

std::string BytesField(int number, absl::string_view bytes) {
  return absl::StrCat(Varint((static_cast<uint64_t>(number) << 3) | 2), Varint(bytes.size()),
                      bytes);
}

// A google.protobuf.Value nested `depth` times as {"a": {"a": ... null}}. Encoded back to front
// without recursion: each level's header is appended (reversed) once the length of what it
// encloses is known; the C++ runtime itself would recurse to serialize it.
std::string NestedValueBytes(int depth) {
  std::string reversed = "\x00\x08";  // Value{null_value: 0}, reversed
  reversed.reserve(static_cast<size_t>(depth) * 12 + 2);
  const auto prepend = [&reversed](const std::string& header) {
    reversed.append(header.rbegin(), header.rend());
  };
  for (int level = 0; level < depth; ++level) {
    prepend("\x12" + Varint(reversed.size()));  // map entry: value = the inner Value
    prepend(
        std::string("\x0a\x01"
                    "a",
                    3));                        // map entry: key = "a"
    prepend("\x0a" + Varint(reversed.size()));  // Struct.fields
    prepend("\x2a" + Varint(reversed.size()));  // Value.struct_value
  }
  return std::string(reversed.rbegin(), reversed.rend());
}

// A ProcessBatchRequest with one task of raw Task bytes.
std::string OneRawTaskRequest(const std::string& task_bytes) { return BytesField(2, task_bytes); }

// ---- calls ------------------------------------------------------------------------------------

grpc::Status Process(v1::BatchService::Stub& stub, const v1::ProcessBatchRequest& request,
                     v1::ProcessBatchResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  return stub.ProcessBatch(&context, request, response);
}

grpc::Status Submit(v1::BatchService::Stub& stub, const v1::SubmitBatchRequest& request,
                    v1::SubmitBatchResponse* response) {
  grpc::ClientContext context;
  SetDeadline(&context);
  return stub.SubmitBatch(&context, request, response);
}

// Calls `method` with `request` as the raw message bytes.
grpc::Status CallRaw(grpc::GenericStub& stub, const std::string& method, const std::string& request,
                     std::string* response_bytes) {
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (status.ok() && response_bytes != nullptr) {
    std::vector<grpc::Slice> slices;
    (void)response_buffer.Dump(&slices);
    response_bytes->clear();
    for (const grpc::Slice& s : slices) {
      response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  return status;
}

grpc::Status ProcessRaw(Clients& c, const std::string& request, v1::ProcessBatchResponse* out) {
  std::string bytes;
  grpc::Status status = CallRaw(c.raw, "/batchd.v1.BatchService/ProcessBatch", request, &bytes);
  if (status.ok() && !out->ParseFromString(bytes)) {
    return grpc::Status(Code::DATA_LOSS, "unparsable ProcessBatchResponse");
  }
  return status;
}

v1::BatchProgress Progress(v1::BatchService::Stub& stub, const std::string& batch_id) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::GetProgressRequest request;
  request.set_batch_id(batch_id);
  v1::GetProgressResponse response;
  const grpc::Status status = stub.GetProgress(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.progress();
}

// Polls GetProgress (small answers, unlike GetBatch's million results) until the batch ends.
v1::BatchProgress WaitForEnd(v1::BatchService::Stub& stub, const std::string& batch_id) {
  const absl::Time deadline = absl::Now() + kBatchTimeout;
  v1::BatchProgress progress;
  while (absl::Now() < deadline) {
    progress = Progress(stub, batch_id);
    if (progress.state() != v1::BATCH_STATE_PENDING &&
        progress.state() != v1::BATCH_STATE_RUNNING) {
      return progress;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << "batch " << batch_id << " did not finish";
  return progress;
}

// Submits a big batch and checks it runs to SUCCEEDED with every task done.
// SubmitBatch through a client with gRPC's default receive limit: the answer always fits (the
// layers are left out above 1 MiB of task ids, `expected_layers` nullopt), and the batch runs.
grpc::Status SubmitAndExpectSuccess(Clients& c, const v1::SubmitBatchRequest& request,
                                    std::optional<size_t> expected_layers) {
  v1::SubmitBatchResponse submitted;
  grpc::Status status = Submit(c.batches, request, &submitted);
  if (!status.ok()) return status;
  if (expected_layers.has_value()) {
    EXPECT_FALSE(submitted.layers_omitted());
    EXPECT_EQ(static_cast<size_t>(submitted.layers_size()), *expected_layers);
  } else {
    EXPECT_TRUE(submitted.layers_omitted());
    EXPECT_EQ(submitted.layers_size(), 0);
  }
  const v1::BatchProgress end = WaitForEnd(c.batches, submitted.batch_id());
  EXPECT_EQ(end.state(), v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(end.total_tasks(), static_cast<uint32_t>(request.tasks_size()));
  EXPECT_EQ(end.successful_tasks(), static_cast<uint32_t>(request.tasks_size()));
  return status;
}

// ProcessBatch that must run: the summary has `state` and one result per task.
grpc::Status ProcessExpecting(Clients& c, const v1::ProcessBatchRequest& request,
                              v1::BatchState state, v1::ProcessBatchResponse* response = nullptr) {
  v1::ProcessBatchResponse local;
  if (response == nullptr) response = &local;
  grpc::Status status = Process(c.batches, request, response);
  if (!status.ok()) return status;
  EXPECT_EQ(response->summary().state(), state);
  EXPECT_EQ(response->summary().results_size(), request.tasks_size());
  return status;
}

std::string SubmitSleeper(Clients& c, uint32_t ms) {
  v1::SubmitBatchRequest request;
  v1::Task* task = AddTask(request, "sleeper");
  task->set_executor("sleep");
  task->mutable_input()->set_number_value(ms);
  v1::SubmitBatchResponse submitted;
  const grpc::Status status = Submit(c.batches, request, &submitted);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return submitted.batch_id();
}

std::string FinishedEchoBatch(Clients& c) {
  v1::ProcessBatchRequest request;
  AddTask(request, "x");
  v1::ProcessBatchResponse response;
  const grpc::Status status = Process(c.batches, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.batch_id();
}

// ---- the daemon's process ---------------------------------------------------------------------

size_t OpenFds(pid_t pid) {
  size_t n = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++n;
  }
  return n;
}

// A "Name:   value" line of /proc/<pid>/status, as a number (0 when absent).
int64_t ProcStatus(pid_t pid, absl::string_view name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, name) || !absl::ConsumePrefix(&rest, ":")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    int64_t value = 0;
    return absl::SimpleAtoi(rest, &value) ? value : 0;
  }
  return 0;
}

// ---- the abandoned streams ----------------------------------------------------------------------

// Opens a result or progress stream on `batch_id`, waits until the daemon has answered its
// first message (so the daemon has set the stream up), then cancels it without reading.
void OpenAndAbandon(v1::BatchService::Stub& stub, const std::string& batch_id, bool progress) {
  grpc::ClientContext context;
  SetDeadline(&context);
  if (progress) {
    v1::WatchProgressRequest request;
    request.set_batch_id(batch_id);
    request.set_min_interval_ms(kMaxU32);
    auto reader = stub.WatchProgress(&context, request);
    reader->WaitForInitialMetadata();
    context.TryCancel();
    (void)reader->Finish();
  } else {
    v1::StreamResultsRequest request;
    request.set_batch_id(batch_id);
    auto reader = stub.StreamResults(&context, request);
    reader->WaitForInitialMetadata();
    context.TryCancel();
    (void)reader->Finish();
  }
}

// A whole StreamResults of a finished batch: OK with its summary, or the error.
grpc::Status ReadWholeStream(v1::BatchService::Stub& stub, const std::string& batch_id) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::StreamResultsRequest request;
  request.set_batch_id(batch_id);
  auto reader = stub.StreamResults(&context, request);
  v1::StreamResultsResponse message;
  bool summary = false;
  while (reader->Read(&message)) summary = message.has_summary();
  grpc::Status status = reader->Finish();
  if (status.ok() && !summary) return grpc::Status(Code::DATA_LOSS, "stream ended without summary");
  return status;
}

// 10,000 result and progress streams, 16 in flight at once, each opened on a batch that keeps
// running (so the daemon's side stays parked waiting for a change) and abandoned. Afterwards
// new streams must open (no stream slot leaked past --max-streams-per-client=256) and the
// daemon's fds and threads must be back near where they started.
grpc::Status AbandonTenThousandStreams(Clients& c) {
  const pid_t pid = c.daemon.pid();
  // One result exists at once (the echo task), so each stream gets a first message at once.
  v1::SubmitBatchRequest request;
  AddTask(request, "quick");
  v1::Task* slow = AddTask(request, "slow");
  slow->set_executor("sleep");
  slow->mutable_input()->set_number_value(120000);
  v1::SubmitBatchResponse held;
  if (grpc::Status s = Submit(c.batches, request, &held); !s.ok()) return s;
  absl::SleepFor(absl::Milliseconds(200));
  const size_t fds_before = OpenFds(pid);
  const int64_t threads_before = ProcStatus(pid, "Threads");

  constexpr int kStreams = 10000;
  constexpr int kInFlight = 16;
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kInFlight; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kStreams; i = next++) {
        OpenAndAbandon(c.batches, held.batch_id(), /*progress=*/i % 4 == 3);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  // The daemon handles the cancellations asynchronously: allow it a moment.
  const std::string finished = FinishedEchoBatch(c);
  grpc::Status fresh;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    fresh = ReadWholeStream(c.batches, finished);
    if (fresh.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(fresh.ok()) << "a new stream after 10,000 abandoned ones: " << fresh.error_code()
                          << " " << fresh.error_message();
  size_t fds_after = 0;
  int64_t threads_after = 0;
  do {
    fds_after = OpenFds(pid);
    threads_after = ProcStatus(pid, "Threads");
    if (fds_after <= fds_before + 8 && threads_after <= threads_before + 8) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_LE(fds_after, fds_before + 8) << "fds before " << fds_before;
  EXPECT_LE(threads_after, threads_before + 8) << "threads before " << threads_before;
  std::printf("  abandoned streams: fds %zu -> %zu, threads %lld -> %lld, VmRSS %lld kB\n",
              fds_before, fds_after, static_cast<long long>(threads_before),
              static_cast<long long>(threads_after),
              static_cast<long long>(ProcStatus(pid, "VmRSS")));

  grpc::ClientContext context;
  SetDeadline(&context);
  v1::CancelBatchRequest cancel;
  cancel.set_batch_id(held.batch_id());
  v1::CancelBatchResponse cancelled;
  return c.batches.CancelBatch(&context, cancel, &cancelled);
}

// ---- the table --------------------------------------------------------------------------------

struct Row {
  std::string name;
  // Sends the hostile request(s); a row that must run checks its result itself.
  std::function<grpc::Status(Clients&)> send;
  Code code;
  std::string message;  // expected substring of the error message ("" for OK)
};

v1::ProcessBatchRequest OneTask(const std::string& id) {
  v1::ProcessBatchRequest request;
  AddTask(request, id);
  return request;
}

// One task `a` with its retry policy set by `edit`.
v1::ProcessBatchRequest WithRetryPolicy(const std::function<void(v1::RetryPolicy*)>& edit) {
  v1::ProcessBatchRequest request = OneTask("a");
  edit(request.mutable_tasks(0)->mutable_retry_policy());
  return request;
}

grpc::Status ExpectValidationError(Clients& c, const v1::ProcessBatchRequest& request) {
  v1::ProcessBatchResponse response;
  return Process(c.batches, request, &response);
}

std::vector<Row> Rows() {
  std::vector<Row> rows;
  const auto invalid = [&rows](std::string name, v1::ProcessBatchRequest request,
                               std::string message) {
    rows.push_back(
        {std::move(name),
         [request = std::move(request)](Clients& c) { return ExpectValidationError(c, request); },
         Code::INVALID_ARGUMENT, std::move(message)});
  };
  const auto runs = [&rows](std::string name, v1::ProcessBatchRequest request,
                            v1::BatchState state = v1::BATCH_STATE_SUCCEEDED) {
    rows.push_back({std::move(name),
                    [request = std::move(request), state](Clients& c) {
                      return ProcessExpecting(c, request, state);
                    },
                    Code::OK, ""});
  };

  // -- sizes and shapes
  runs("empty batch", v1::ProcessBatchRequest());
  rows.push_back({"1,000,000 tasks (exactly --max-batch-tasks) run",
                  [](Clients& c) {
                    return SubmitAndExpectSuccess(c, ManyTasks<v1::SubmitBatchRequest>(1000000),
                                                  std::nullopt);
                  },
                  Code::OK, ""});
  rows.push_back({"1,000,001 tasks are refused naming the limit",
                  [](Clients& c) {
                    v1::ProcessBatchResponse response;
                    return Process(c.batches, ManyTasks<v1::ProcessBatchRequest>(1000001),
                                   &response);
                  },
                  Code::INVALID_ARGUMENT,
                  "Batch has 1000001 tasks; the limit is 1000000 (--max-batch-tasks)"});
  rows.push_back({"a 1,000,000-task chain runs",
                  [](Clients& c) {
                    return SubmitAndExpectSuccess(
                        c, ManyTasks<v1::SubmitBatchRequest>(1000000, /*chained=*/true),
                        std::nullopt);
                  },
                  Code::OK, ""});
  rows.push_back({"100,000-wide fan-in runs (its 1.1 MB of layers are left out)",
                  [](Clients& c) {
                    v1::SubmitBatchRequest request = ManyTasks<v1::SubmitBatchRequest>(100000);
                    v1::Task* sink = AddTask(request, "sink");
                    for (int i = 0; i < 100000; ++i) sink->add_dependencies(request.tasks(i).id());
                    return SubmitAndExpectSuccess(c, request, std::nullopt);
                  },
                  Code::OK, ""});
  rows.push_back({"50,000 tasks: their layers (550 KB of ids) are in the answer",
                  [](Clients& c) {
                    return SubmitAndExpectSuccess(c, ManyTasks<v1::SubmitBatchRequest>(50000), 1);
                  },
                  Code::OK, ""});
  rows.push_back({"100,000-wide fan-out under a failing root: all skipped",
                  [](Clients& c) {
                    v1::SubmitBatchRequest request;
                    AddTask(request, "root")->set_executor("fail");
                    for (int i = 0; i < 100000; ++i)
                      AddTask(request, absl::StrCat("leaf", i), {"root"});
                    request.mutable_options()->mutable_retry_policy()->set_kind(
                        v1::RETRY_KIND_NONE);
                    v1::SubmitBatchResponse submitted;
                    grpc::Status status = Submit(c.big, request, &submitted);
                    if (!status.ok()) return status;
                    const v1::BatchProgress end = WaitForEnd(c.batches, submitted.batch_id());
                    EXPECT_EQ(end.state(), v1::BATCH_STATE_FAILED);
                    EXPECT_EQ(end.completed_tasks(), 100001u);
                    EXPECT_EQ(end.failed_tasks(), 100001u);
                    return status;
                  },
                  Code::OK, ""});

  // -- ids
  {
    v1::ProcessBatchRequest r = OneTask("a");
    AddTask(r, "b");
    AddTask(r, "a");
    invalid("duplicate ids", r, "Duplicate task id 'a'");
  }
  invalid("empty id", OneTask(""), "Task at index 0 has an empty id");
  rows.push_back({"invalid UTF-8 id",
                  [](Clients& c) {
                    v1::ProcessBatchResponse response;
                    return ProcessRaw(c, OneRawTaskRequest(BytesField(1, "a\xff\xfe")), &response);
                  },
                  kUnparsable, ""});
  rows.push_back({"ids with NUL bytes run and come back intact",
                  [](Clients& c) {
                    v1::ProcessBatchRequest request = OneTask(std::string("a\0b", 3));
                    AddTask(request, std::string("a\0c", 3), {std::string("a\0b", 3)});
                    v1::ProcessBatchResponse response;
                    grpc::Status status =
                        ProcessExpecting(c, request, v1::BATCH_STATE_SUCCEEDED, &response);
                    if (status.ok()) {
                      EXPECT_EQ(response.summary().results(0).task_id(), std::string("a\0b", 3));
                    }
                    return status;
                  },
                  Code::OK, ""});
  rows.push_back({"64 KiB ids run and come back intact",
                  [](Clients& c) {
                    const std::string id(64 << 10, 'i');
                    v1::ProcessBatchRequest request = OneTask(id);
                    v1::ProcessBatchResponse response;
                    grpc::Status status =
                        ProcessExpecting(c, request, v1::BATCH_STATE_SUCCEEDED, &response);
                    if (status.ok()) {
                      EXPECT_EQ(response.summary().results(0).task_id(), id);
                    }
                    return status;
                  },
                  Code::OK, ""});
  {
    v1::ProcessBatchRequest r;
    for (int i = 0; i < 200; ++i) AddTask(r, std::string(64 << 10, 'd'));
    invalid("200 duplicate 64 KiB ids: an error that fits in trailers", r,
            "Duplicate task id 'ddd");
  }

  // -- dependencies
  invalid(
      "dependency on itself",
      [] {
        v1::ProcessBatchRequest r;
        AddTask(r, "a", {"a"});
        return r;
      }(),
      "Task 'a' depends on itself");
  rows.push_back({"unknown dependency is named as such, not as a cycle",
                  [](Clients& c) {
                    v1::ProcessBatchRequest r = OneTask("a");
                    AddTask(r, "b", {"ghost"});
                    grpc::Status status = ExpectValidationError(c, r);
                    EXPECT_THAT(status.error_message(), Not(HasSubstr("ircular")));
                    return status;
                  },
                  Code::INVALID_ARGUMENT, "Unknown dependency 'ghost' of task 'b'"});
  invalid(
      "2-cycle names its tasks",
      [] {
        v1::ProcessBatchRequest r;
        AddTask(r, "a", {"b"});
        AddTask(r, "b", {"a"});
        return r;
      }(),
      "Circular dependency: a -> b -> a");
  invalid(
      "100 unknown dependencies at once",
      [] {
        v1::ProcessBatchRequest r;
        for (int i = 0; i < 100; ++i)
          AddTask(r, absl::StrCat("task", i), {absl::StrCat("ghost", i)});
        return r;
      }(),
      "Unknown dependency 'ghost0' of task 'task0' (and 99 more)");

  // -- numbers
  invalid(
      "NaN priority",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_tasks(0)->set_priority(kNaN);
        return r;
      }(),
      "Priority of task 'a' must be finite");
  invalid(
      "+inf priority",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_tasks(0)->set_priority(kInf);
        return r;
      }(),
      "Priority of task 'a' must be finite");
  invalid(
      "-inf priority",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_tasks(0)->set_priority(-kInf);
        return r;
      }(),
      "Priority of task 'a' must be finite");
  invalid(
      "max_concurrent 0",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_options()->set_max_concurrent(0);
        return r;
      }(),
      "max_concurrent must be greater than 0");
  runs("max_concurrent 2^32-1", [] {
    v1::ProcessBatchRequest r = OneTask("a");
    r.mutable_options()->set_max_concurrent(kMaxU32);
    return r;
  }());
  invalid(
      "batch timeout_ms 0",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_options()->set_timeout_ms(0);
        return r;
      }(),
      "timeout_ms must be greater than 0");
  runs("timeout_ms 2^32-1 (49.7 days) on batch and task", [] {
    v1::ProcessBatchRequest r = OneTask("a");
    r.mutable_options()->set_timeout_ms(kMaxU32);
    r.mutable_tasks(0)->set_timeout_ms(kMaxU32);
    return r;
  }());
  rows.push_back({"negative timeout_ms and max_concurrent on the wire (64-bit -1)",
                  [](Clients& c) {
                    const std::string task = BytesField(1, "neg") + VarintField(5, ~uint64_t{0});
                    const std::string options =
                        VarintField(1, ~uint64_t{0}) + VarintField(2, ~uint64_t{0});
                    v1::ProcessBatchResponse response;
                    grpc::Status status =
                        ProcessRaw(c, OneRawTaskRequest(task) + BytesField(3, options), &response);
                    if (status.ok()) {
                      EXPECT_EQ(response.summary().state(), v1::BATCH_STATE_SUCCEEDED);
                    }
                    return status;
                  },
                  Code::OK, ""});
  invalid("retry multiplier NaN",
          WithRetryPolicy([](v1::RetryPolicy* p) { p->set_multiplier(kNaN); }),
          "Retry multiplier must be a finite number >= 0");
  invalid("retry multiplier +inf",
          WithRetryPolicy([](v1::RetryPolicy* p) { p->set_multiplier(kInf); }),
          "Retry multiplier must be a finite number >= 0");
  invalid("retry multiplier -2", WithRetryPolicy([](v1::RetryPolicy* p) { p->set_multiplier(-2); }),
          "Retry multiplier must be a finite number >= 0");
  rows.push_back({"max_retries 2^32-1 with delays of 2^32-1 ms: cancellable, no overflow",
                  [](Clients& c) {
                    v1::SubmitBatchRequest request;
                    v1::Task* task = AddTask(request, "doomed");
                    task->set_executor("fail");
                    v1::RetryPolicy* p = task->mutable_retry_policy();
                    p->set_max_retries(kMaxU32);
                    p->set_initial_delay_ms(0);
                    p->set_multiplier(1e300);
                    p->set_max_delay_ms(0);
                    v1::SubmitBatchResponse submitted;
                    grpc::Status status = Submit(c.batches, request, &submitted);
                    if (!status.ok()) return status;
                    absl::SleepFor(absl::Milliseconds(200));
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    v1::CancelBatchRequest cancel;
                    cancel.set_batch_id(submitted.batch_id());
                    v1::CancelBatchResponse cancelled;
                    status = c.batches.CancelBatch(&context, cancel, &cancelled);
                    if (status.ok()) {
                      EXPECT_EQ(WaitForEnd(c.batches, submitted.batch_id()).state(),
                                v1::BATCH_STATE_CANCELLED);
                    }
                    return status;
                  },
                  Code::OK, ""});

  // -- names, enums, labels, inputs
  invalid(
      "unknown executor",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_tasks(0)->set_executor("nope");
        return r;
      }(),
      "Unknown executor 'nope' of task 'a' (known: echo, external, fail, http, sleep)");
  invalid(
      "unknown enum number 99 (aggregation)",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_options()->set_aggregation(static_cast<v1::Aggregation>(99));
        return r;
      }(),
      "options.aggregation: unknown value 99");
  invalid(
      "negative enum number (retry kind -1)",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        r.mutable_tasks(0)->mutable_retry_policy()->set_kind(static_cast<v1::RetryKind>(-1));
        return r;
      }(),
      "tasks[0].retry_policy.kind: unknown value -1");
  invalid(
      "every enum unknown at once",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        v1::BatchOptions* o = r.mutable_options();
        o->set_load_balancer(static_cast<v1::LoadBalancer>(7));
        o->set_on_dependency_failure(static_cast<v1::DependencyFailure>(8));
        o->mutable_retry_policy()->set_jitter(static_cast<v1::Jitter>(9));
        return r;
      }(),
      "unknown value");
  invalid(
      "a 1 MiB label value",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        (*r.mutable_labels())["huge"] = std::string(1 << 20, 'l');
        return r;
      }(),
      "Label 'huge' has a value of 1048576 bytes; the limit is 4096");
  invalid(
      "65 labels",
      [] {
        v1::ProcessBatchRequest r = OneTask("a");
        for (int i = 0; i < 65; ++i) (*r.mutable_labels())[absl::StrCat("k", i)] = "v";
        return r;
      }(),
      "Batch has 65 labels; the limit is 64");
  rows.push_back({"labels at their limits (64, 4 KiB values) run; progress carries them",
                  [](Clients& c) {
                    v1::ProcessBatchRequest r = OneTask("a");
                    for (int i = 0; i < 64; ++i) {
                      (*r.mutable_labels())[absl::StrCat("k", i)] = std::string(4096, 'l');
                    }
                    v1::ProcessBatchResponse response;
                    grpc::Status status =
                        ProcessExpecting(c, r, v1::BATCH_STATE_SUCCEEDED, &response);
                    if (status.ok()) {
                      const v1::BatchProgress p = Progress(c.batches, response.batch_id());
                      EXPECT_EQ(p.labels_size(), 64);
                      EXPECT_EQ(p.labels().at("k63").size(), 4096u);
                    }
                    return status;
                  },
                  Code::OK, ""});
  rows.push_back({"input Struct nested 30 deep (under protobuf's limit) is echoed",
                  [](Clients& c) {
                    const std::string task =
                        BytesField(1, "deep") + BytesField(3, NestedValueBytes(30));
                    v1::ProcessBatchResponse response;
                    grpc::Status status = ProcessRaw(c, OneRawTaskRequest(task), &response);
                    if (status.ok()) {
                      const google::protobuf::Value* v = &response.summary().results(0).output();
                      int depth = 0;
                      while (v->has_struct_value()) {
                        v = &v->struct_value().fields().at("a");
                        ++depth;
                      }
                      EXPECT_EQ(depth, 30);
                    }
                    return status;
                  },
                  Code::OK, ""});
  rows.push_back({"input Struct nested 10,000 deep",
                  [](Clients& c) {
                    const std::string task =
                        BytesField(1, "deep") + BytesField(3, NestedValueBytes(10000));
                    v1::ProcessBatchResponse response;
                    return ProcessRaw(c, OneRawTaskRequest(task), &response);
                  },
                  kUnparsable, ""});
  rows.push_back({"garbage bytes as a ProcessBatchRequest",
                  [](Clients& c) {
                    v1::ProcessBatchResponse response;
                    return ProcessRaw(c, std::string("\xff\xff\xff\xff\x0f garbage", 13),
                                      &response);
                  },
                  kUnparsable, ""});

  // -- the other calls
  rows.push_back({"WatchProgress min_interval 2^32-1 ms on a finished batch ends at once",
                  [](Clients& c) {
                    const std::string id = FinishedEchoBatch(c);
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    v1::WatchProgressRequest request;
                    request.set_batch_id(id);
                    request.set_min_interval_ms(kMaxU32);
                    auto reader = c.batches.WatchProgress(&context, request);
                    v1::WatchProgressResponse message;
                    int messages = 0;
                    while (reader->Read(&message)) ++messages;
                    EXPECT_EQ(messages, 1);
                    EXPECT_EQ(message.progress().state(), v1::BATCH_STATE_SUCCEEDED);
                    return reader->Finish();
                  },
                  Code::OK, ""});
  rows.push_back({"StreamResults after_sequence 2^64-1 gets only the summary",
                  [](Clients& c) {
                    const std::string id = FinishedEchoBatch(c);
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    v1::StreamResultsRequest request;
                    request.set_batch_id(id);
                    request.set_after_sequence(std::numeric_limits<uint64_t>::max());
                    auto reader = c.batches.StreamResults(&context, request);
                    v1::StreamResultsResponse message;
                    int messages = 0;
                    while (reader->Read(&message)) {
                      ++messages;
                      EXPECT_EQ(message.results_size(), 0);
                    }
                    EXPECT_EQ(messages, 1);
                    EXPECT_EQ(message.summary().state(), v1::BATCH_STATE_SUCCEEDED);
                    return reader->Finish();
                  },
                  Code::OK, ""});
  rows.push_back({"GetBatch with a 1 MB id",
                  [](Clients& c) {
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    v1::GetBatchRequest request;
                    request.set_batch_id(std::string(1000000, 'b'));
                    v1::GetBatchResponse response;
                    return c.batches.GetBatch(&context, request, &response);
                  },
                  Code::NOT_FOUND, "Batch 'bbbb"});
  rows.push_back({"ListBatches limit 2^32-1",
                  [](Clients& c) {
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    v1::ListBatchesRequest request;
                    request.set_limit(kMaxU32);
                    v1::ListBatchesResponse response;
                    grpc::Status status = c.big.ListBatches(&context, request, &response);
                    if (status.ok()) {
                      EXPECT_GE(response.batches_size(), 10);
                    }
                    return status;
                  },
                  Code::OK, ""});
  rows.push_back({"CancelBatch twice",
                  [](Clients& c) {
                    const std::string id = SubmitSleeper(c, 60000);
                    v1::CancelBatchRequest cancel;
                    cancel.set_batch_id(id);
                    v1::CancelBatchResponse response;
                    grpc::ClientContext first;
                    SetDeadline(&first);
                    const grpc::Status status = c.batches.CancelBatch(&first, cancel, &response);
                    EXPECT_TRUE(status.ok()) << status.error_message();
                    EXPECT_EQ(WaitForEnd(c.batches, id).state(), v1::BATCH_STATE_CANCELLED);
                    grpc::ClientContext second;
                    SetDeadline(&second);
                    return c.batches.CancelBatch(&second, cancel, &response);
                  },
                  Code::FAILED_PRECONDITION, "already finished (CANCELLED)"});
  rows.push_back({"worker Connect whose first message is not a registration",
                  [](Clients& c) {
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    auto stream = c.workers.Connect(&context);
                    v1::ConnectRequest request;
                    request.add_cancel_acks("nothing");
                    request.add_outcomes()->set_assignment_id("forged");
                    stream->Write(request);
                    stream->WritesDone();
                    v1::ConnectResponse response;
                    while (stream->Read(&response)) {
                    }
                    return stream->Finish();
                  },
                  Code::INVALID_ARGUMENT,
                  "the first message of WorkerService.Connect must carry a registration"});
  rows.push_back({"worker Connect with garbage bytes",
                  [](Clients& c) {
                    return CallRaw(c.raw, "/batchd.v1.WorkerService/Connect",
                                   std::string("\x0a\xff\xff\xff\xff\x7f", 6), nullptr);
                  },
                  // On a stream gRPC reports an unparsable message as a failed read, which the
                  // daemon cannot tell from the worker half-closing: the stream ends OK, with
                  // no worker registered.
                  Code::OK, ""});
  rows.push_back({"worker registration without slots (0)",
                  [](Clients& c) {
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    auto stream = c.workers.Connect(&context);
                    v1::ConnectRequest request;
                    request.mutable_registration()->add_executors("w");
                    stream->Write(request);
                    v1::ConnectResponse response;
                    while (stream->Read(&response)) {
                    }
                    return stream->Finish();
                  },
                  Code::INVALID_ARGUMENT, "registration.slots must be at least 1 (got 0)"});
  rows.push_back({"worker registration with NaN weight",
                  [](Clients& c) {
                    grpc::ClientContext context;
                    SetDeadline(&context);
                    auto stream = c.workers.Connect(&context);
                    v1::ConnectRequest request;
                    request.mutable_registration()->add_executors("w");
                    request.mutable_registration()->set_slots(1);
                    request.mutable_registration()->set_weight(kNaN);
                    stream->Write(request);
                    v1::ConnectResponse response;
                    while (stream->Read(&response)) {
                    }
                    return stream->Finish();
                  },
                  Code::INVALID_ARGUMENT, "registration.weight must be between 0 and"});
  rows.push_back(
      {"a stream opened and abandoned 10,000 times", AbandonTenThousandStreams, Code::OK, ""});
  return rows;
}

TEST(HostileInputTest, EveryRowGetsAClearErrorOrRunsAndTheDaemonKeepsServing) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started = DaemonProcess::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  DaemonProcess& daemon = **started;
  grpc::ChannelArguments unlimited;
  unlimited.SetMaxReceiveMessageSize(-1);
  unlimited.SetMaxSendMessageSize(-1);
  auto big_channel =
      grpc::CreateCustomChannel(daemon.address(), grpc::InsecureChannelCredentials(), unlimited);
  auto batches = daemon.NewBatchStub();
  auto big = v1::BatchService::NewStub(big_channel);
  auto workers = daemon.NewWorkerStub();
  grpc::GenericStub raw(daemon.NewChannel());
  Clients clients{daemon, *batches, *big, *workers, raw};

  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    const absl::Time start = absl::Now();
    const grpc::Status status = row.send(clients);
    std::printf("%-72s %6.0f ms  %d %.120s\n", row.name.c_str(),
                absl::ToDoubleMilliseconds(absl::Now() - start), status.error_code(),
                status.error_message().c_str());
    std::fflush(stdout);
    EXPECT_EQ(status.error_code(), row.code) << status.error_message();
    if (!row.message.empty()) {
      EXPECT_THAT(status.error_message(), HasSubstr(row.message));
    }

    // The daemon still serves: a tiny echo batch runs.
    v1::ProcessBatchResponse echo;
    const grpc::Status alive = Process(*batches, OneTask("ping"), &echo);
    ASSERT_TRUE(alive.ok()) << "after '" << row.name << "': " << alive.error_message()
                            << "\nbatchd stderr:\n"
                            << daemon.Stderr().substr(0, 20000);
    ASSERT_EQ(echo.summary().state(), v1::BATCH_STATE_SUCCEEDED);
  }
  EXPECT_EQ(daemon.WaitForExit(absl::ZeroDuration()).status().code(),
            absl::StatusCode::kDeadlineExceeded)
      << "the daemon exited";
  std::printf("daemon VmRSS at the end: %lld kB, VmHWM %lld kB\n",
              static_cast<long long>(ProcStatus(daemon.pid(), "VmRSS")),
              static_cast<long long>(ProcStatus(daemon.pid(), "VmHWM")));
  if (HasFailure()) std::cerr << "batchd stderr (tail):\n" << daemon.Stderr().substr(0, 20000);
}

// The focused form of the abandoned-stream row: with room for 4 streams, 12 streams abandoned
// while their batch keeps running must not use the room up (their calls are over).
TEST(HostileInputTest, AbandonedStreamsGiveTheirSlotBack) {
  absl::StatusOr<std::unique_ptr<DaemonProcess>> started =
      DaemonProcess::Start({"--max-streams-per-client=4"});
  ASSERT_TRUE(started.ok()) << started.status();
  DaemonProcess& daemon = **started;
  auto batches = daemon.NewBatchStub();
  v1::SubmitBatchRequest request;
  AddTask(request, "quick");
  v1::Task* slow = AddTask(request, "slow");
  slow->set_executor("sleep");
  slow->mutable_input()->set_number_value(60000);
  v1::SubmitBatchResponse held;
  ASSERT_TRUE(Submit(*batches, request, &held).ok());
  absl::SleepFor(absl::Milliseconds(100));
  for (int i = 0; i < 12; ++i) OpenAndAbandon(*batches, held.batch_id(), /*progress=*/i % 2 == 1);

  v1::ProcessBatchRequest echo;
  AddTask(echo, "x");
  v1::ProcessBatchResponse finished;
  ASSERT_TRUE(Process(*batches, echo, &finished).ok());
  grpc::Status status;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    status = ReadWholeStream(*batches, finished.batch_id());
    if (status.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
}

}  // namespace
}  // namespace batchd
