// batchd_test_worker: a scriptable callback worker for integration tests. Each assignment's
// input object says what to do ({"sleep_ms": N}, {"fail": "msg"}, {"non_retryable": true},
// {"retry_after_ms": N}, {"hang": true}); --events-file records what the worker saw.
// Exits 0 on SIGTERM/SIGINT (once it is set up: it prints "registered <id>" on stdout when the
// daemon accepted it), 1 when the daemon rejects its registration, 2 on bad flags.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/cpp/stop_signal_watcher.h"
#include "client/worker/worker_session.h"

namespace batchd::testing {
namespace {

namespace v1 = batchd::v1;
using google::protobuf::Value;

struct Flags {
  client::WorkerSessionOptions session;
  std::string events_file;
  bool ignore_cancel = false;
  double delay_ms = 0;  // every task sleeps this long unless its input says sleep_ms
};

constexpr const char* kUsage =
    "usage: batchd_test_worker --addr ADDR --executor NAME [--executor NAME ...] [--name S] "
    "[--slots N] [--weight W] [--delay-ms N] [--no-heartbeat] [--events-file PATH] "
    "[--ignore-cancel]\n";

std::optional<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  flags.session.name = absl::StrCat("test-worker-", getpid());
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--no-heartbeat") {
      flags.session.send_heartbeats = false;
      continue;
    }
    if (flag == "--ignore-cancel") {
      flags.ignore_cancel = true;
      continue;
    }
    if (i + 1 >= args.size()) return std::nullopt;
    const std::string& value = args[++i];
    if (flag == "--addr") {
      flags.session.address = value;
    } else if (flag == "--name") {
      flags.session.name = value;
    } else if (flag == "--executor") {
      flags.session.executors.push_back(value);
    } else if (flag == "--delay-ms") {
      if (!absl::SimpleAtod(value, &flags.delay_ms)) return std::nullopt;
    } else if (flag == "--events-file") {
      flags.events_file = value;
    } else if (flag == "--slots") {
      if (!absl::SimpleAtoi(value, &flags.session.slots)) return std::nullopt;
    } else if (flag == "--weight") {
      if (!absl::SimpleAtod(value, &flags.session.weight)) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (flags.session.address.empty()) return std::nullopt;
  return flags;
}

// Appends one line per write(2), so each event is in the file as soon as it happened.
class EventLog {
 public:
  explicit EventLog(const std::string& path)
      : fd_(path.empty() ? -1
                         : open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;
  ~EventLog() {
    if (fd_ >= 0) close(fd_);
  }

  void Write(const std::string& line) {
    if (fd_ < 0) return;
    const std::string text = line + "\n";
    absl::MutexLock lock(&mu_);
    const ssize_t written = write(fd_, text.data(), text.size());
    static_cast<void>(written);
  }

 private:
  const int fd_;
  absl::Mutex mu_;
};

const Value* Field(const v1::TaskAssignment& assignment, const std::string& name) {
  if (!assignment.input().has_struct_value()) return nullptr;
  const auto& fields = assignment.input().struct_value().fields();
  const auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

double Number(const v1::TaskAssignment& assignment, const std::string& name) {
  const Value* value = Field(assignment, name);
  return value != nullptr && value->has_number_value() ? value->number_value() : 0;
}

// The answer the input asks for: failure when it names fail, non_retryable or retry_after_ms.
v1::TaskOutcome Answer(const v1::TaskAssignment& assignment, const std::string& worker_name) {
  v1::TaskOutcome outcome;
  const Value* fail = Field(assignment, "fail");
  const Value* non_retryable = Field(assignment, "non_retryable");
  const double retry_after_ms = Number(assignment, "retry_after_ms");
  if (fail != nullptr || non_retryable != nullptr || retry_after_ms > 0) {
    outcome.set_error(fail != nullptr && fail->has_string_value() ? fail->string_value()
                                                                  : "test worker failure");
    outcome.set_non_retryable(non_retryable != nullptr && non_retryable->bool_value());
    outcome.set_retry_after_ms(static_cast<uint32_t>(retry_after_ms));
    return outcome;
  }
  outcome.set_success(true);
  auto& fields = *outcome.mutable_output()->mutable_struct_value()->mutable_fields();
  fields["worker"].set_string_value(worker_name);
  fields["task_id"].set_string_value(assignment.task_id());
  fields["attempt"].set_number_value(assignment.attempt());
  fields["input"] = assignment.input();
  auto& dependencies = *fields["dependency_outputs"].mutable_struct_value()->mutable_fields();
  for (const auto& [task_id, output] : assignment.dependency_outputs()) {
    dependencies[task_id] = output;
  }
  return outcome;
}

// Answers at once, after a sleep (one timer thread for all sleeps), or never (hang).
class ScriptedHandler final : public client::TaskHandler {
 public:
  ScriptedHandler(std::string worker_name, bool ignore_cancel, double delay_ms, EventLog& events)
      : worker_name_(std::move(worker_name)),
        ignore_cancel_(ignore_cancel),
        delay_ms_(delay_ms),
        events_(events) {}
  ScriptedHandler(const ScriptedHandler&) = delete;
  ScriptedHandler& operator=(const ScriptedHandler&) = delete;
  ~ScriptedHandler() override {
    {
      absl::MutexLock lock(&mu_);
      quit_ = true;
    }
    timer_.join();
  }

  void Start(const v1::TaskAssignment& assignment, Reply reply) override {
    events_.Write(absl::StrCat("assigned ", assignment.task_id(), " ", assignment.assignment_id(),
                               " ", assignment.attempt()));
    const Value* hang = Field(assignment, "hang");
    const double sleep_ms =
        Field(assignment, "sleep_ms") != nullptr ? Number(assignment, "sleep_ms") : delay_ms_;
    if ((hang == nullptr || !hang->bool_value()) && sleep_ms <= 0) {
      reply(Answer(assignment, worker_name_));
      return;
    }
    absl::MutexLock lock(&mu_);
    Pending& pending = pending_[assignment.assignment_id()];
    pending.assignment = assignment;
    pending.reply = std::move(reply);
    if (sleep_ms > 0) {
      pending.due = absl::Now() + absl::Milliseconds(sleep_ms);
      ++sleeps_started_;
    }
  }

  void Cancel(const std::string& assignment_id) override {
    Reply reply;
    {
      absl::MutexLock lock(&mu_);
      const auto it = pending_.find(assignment_id);
      if (it == pending_.end()) return;  // already answered
      events_.Write(absl::StrCat("cancel ", it->second.assignment.task_id(), " ", assignment_id));
      if (ignore_cancel_) {
        it->second.cancel_ignored = true;  // keeps "running", never answers, so never acked
        return;
      }
      reply = std::move(it->second.reply);
      pending_.erase(it);
    }
    v1::TaskOutcome cancelled;
    cancelled.set_error("cancelled");
    reply(std::move(cancelled));
  }

 private:
  struct Pending {
    v1::TaskAssignment assignment;
    Reply reply;
    std::optional<absl::Time> due;  // none: hang
    bool cancel_ignored = false;
  };

  // Answers sleeps that are due; wakes at the next due time or when told to quit.
  void RunTimer() {
    absl::MutexLock lock(&mu_);
    while (!quit_) {
      absl::Time next = absl::InfiniteFuture();
      const absl::Time now = absl::Now();
      std::vector<std::pair<Reply, v1::TaskOutcome>> answers;
      for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& pending = it->second;
        if (!pending.due.has_value() || pending.cancel_ignored) {
          ++it;
        } else if (*pending.due <= now) {
          answers.emplace_back(std::move(pending.reply), Answer(pending.assignment, worker_name_));
          pending_.erase(it++);
        } else {
          next = std::min(next, *pending.due);
          ++it;
        }
      }
      if (!answers.empty()) {
        mu_.Unlock();
        for (auto& [reply, outcome] : answers) reply(std::move(outcome));
        mu_.Lock();
        continue;
      }
      // A new sleep may be due sooner than `next`.
      const uint64_t seen = sleeps_started_;
      const auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return quit_ || sleeps_started_ != seen;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), next);
    }
  }

  const std::string worker_name_;
  const bool ignore_cancel_;
  const double delay_ms_;
  EventLog& events_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t sleeps_started_ ABSL_GUARDED_BY(mu_) = 0;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_{[this] { RunTimer(); }};  // last: starts once the rest is constructed
};

int Main(const std::vector<std::string>& args) {
  std::optional<Flags> flags = ParseFlags(args);
  if (!flags.has_value()) {
    std::cerr << kUsage;
    return 2;
  }
  EventLog events(flags->events_file);
  flags->session.on_registered = [&events](const v1::WorkerRegistered& registered) {
    events.Write(absl::StrCat("registered ", registered.worker_id()));
    // On stdout too, for tests that must not signal the worker before its handlers are in.
    std::cout << "registered " << registered.worker_id() << std::endl;
  };
  ScriptedHandler handler(flags->session.name, flags->ignore_cancel, flags->delay_ms, events);
  client::WorkerSession session(flags->session, handler);
  absl::Status status;
  {
    const client::StopSignalWatcher watcher([&session] { session.Stop(); });
    status = session.Run();
  }
  if (!status.ok()) {
    std::cerr << "batchd_test_worker: " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace batchd::testing

int main(int argc, char** argv) {
  return batchd::testing::Main(std::vector<std::string>(argv + 1, argv + argc));
}
